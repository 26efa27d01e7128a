/* main.c: the `gloss` command line: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: gloss <command> [options]\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "gloss: unknown command '%s' (try gloss --help)\n", argv[1]);
    return 2;
}
