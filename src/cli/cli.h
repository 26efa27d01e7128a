/* cli.h: the subcommands of the `gloss` program. Each returns the exit status.
 * The program uses the library only through the public header gloss.h. */
#ifndef GL_CLI_H
#define GL_CLI_H

int cmd_embed(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);

/* Exit statuses */
enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_STOPPED = 3 };

/* Parse a whole decimal int in [lo, hi]; prints a usage error naming opt otherwise. */
int cli_int(const char *opt, const char *s, int lo, int hi, int *out);

#endif
