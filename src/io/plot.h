/* plot.h: small self-contained SVG charts for reports: line charts (training
 * curves) and scatter plots (2-D embedding maps), written atomically. */
#ifndef GL_PLOT_H
#define GL_PLOT_H

typedef struct {
    const char *name;  /* legend entry */
    const double *y;   /* n values; NaN = missing point */
    int right_axis;    /* 0: left y axis, 1: right y axis */
} gl_series;

/* Line chart of several series over shared x values (n points each). Axis
 * ranges are computed from the data (nice ticks); right axis used only if a
 * series asks for it. */
int gl_svg_line_chart(const char *path, const char *title, const char *xlabel, const char *ylabel_left,
                      const char *ylabel_right, const double *x, int n, const gl_series *series, int nseries);

/* Scatter plot of n points coloured by class (cls[i] in [0, nclasses)), with a
 * legend of class names (may be NULL: "class k"). */
int gl_svg_scatter(const char *path, const char *title, const double *x, const double *y, const int *cls, int n,
                   int nclasses, const char *const *class_names);

#endif
