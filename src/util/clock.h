/* clock.h: a monotonic clock for timings and rates. */
#ifndef GL_CLOCK_H
#define GL_CLOCK_H

double gl_now(void); /* monotonic seconds */

#endif
