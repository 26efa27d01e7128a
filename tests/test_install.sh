#!/bin/sh
# test_install.sh: `make install` into a scratch prefix gives a usable library:
# a program outside the tree, compiled and linked with nothing but
# `pkg-config --cflags --libs gloss`, loads a model through the installed
# libgloss.so and embeds a sentence; the header's worked example compiles.
set -u
command -v pkg-config >/dev/null 2>&1 || { echo "test_install: skipped: pkg-config not installed"; exit 77; }
B=${BUILD:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL test_install: $*" >&2; exit 1; }
make -s BUILD="$B" install PREFIX="$T/prefix" >"$T/install.log" 2>&1 || fail "make install: $(tail -5 "$T/install.log")"
for f in bin/gloss include/gloss.h lib/libgloss.a lib/libgloss.so lib/pkgconfig/gloss.pc; do
    [ -e "$T/prefix/$f" ] || fail "make install did not write $f"
done
export PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig"
[ "$(pkg-config --modversion gloss)" = "$(sed -n 's/^#define GLOSS_VERSION "\(.*\)"/\1/p' include/gloss.h)" ] ||
    fail "pkg-config --modversion gloss: $(pkg-config --modversion gloss 2>&1)"
# a sanitizer build's library needs the program built with the same runtime
san=""
if nm -D "$B/libgloss.so" 2>/dev/null | grep -q '__asan_init'; then
    san="-fsanitize=address,undefined"
fi
cat >"$T/app.c" <<'C'
#include <gloss.h>
#include <stdio.h>
int main(int argc, char **argv) {
    gloss_model *m = gloss_model_load(argv[1]);
    if (!m) return fprintf(stderr, "%s\n", gloss_last_error()), 1;
    const char *t[] = {"installed and linked"};
    float e[1024];
    gloss_status st = gloss_embed(m, t, 1, GLOSS_POOL_MEAN, 0, 0, e, NULL);
    printf("gloss %s: %s, hidden %d\n", gloss_version(), gloss_status_name(st), gloss_model_hidden_size(m));
    gloss_model_free(m);
    return st != GLOSS_OK || argc < 2;
}
C
cc $san "$T/app.c" -o "$T/app" $(pkg-config --cflags --libs gloss) 2>"$T/cc.log" || fail "compile: $(cat "$T/cc.log")"
out=$("$T/app" tests/fixtures/model/tiny) || fail "the installed program failed: $out"
case $out in *"ok, hidden 32"*) ;; *) fail "unexpected output: $out" ;; esac
# the worked example at the top of the header compiles as written
awk '/^ \*     #include <gloss.h>/ { on = 1 } /^ \* Errors\./ { on = 0 } on' include/gloss.h |
    sed 's/^ \*     //; s/^ \*$//' >"$T/example.c"
[ -s "$T/example.c" ] || fail "no worked example found in include/gloss.h"
cc -std=c11 -Wall -Werror -c "$T/example.c" -o "$T/example.o" $(pkg-config --cflags gloss) 2>"$T/ex.log" ||
    fail "the header's example does not compile: $(cat "$T/ex.log")"
cc $san "$T/example.o" -o "$T/example" $(pkg-config --libs gloss) 2>"$T/exl.log" || fail "the example does not link: $(cat "$T/exl.log")"
echo "test_install: make install, pkg-config, an outside program and the header's example: ok ($out)"
