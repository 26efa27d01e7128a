#!/bin/sh
# test_layers.sh: tools/check_layers.sh, the include-direction check.
#  - on a tiny fake tree where every folder includes only downward it passes,
#    also with --cli-strict;
#  - one file added that includes a higher layer (plain or "../" path, any
#    spacing after #), a sibling layer, the public header from below api, or
#    a file in a folder that has no layer: exit status 1, and the message
#    names the file, the line, the include and the rule;
#  - src/cli including a lower layer passes, and fails with --cli-strict;
#  - a known exception (GLOSS_LAYER_EXCEPTIONS: src/io/table.c -> text/utf8.h)
#    holds for that file and that include only, and is reported once stale;
#  - a bad option is exit status 2;
#  - the real tree passes.
set -u
CHECK=tools/check_layers.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
n=0
fail() {
    echo "FAIL test_layers: $*"
    fails=$((fails + 1))
}

# the fake tree: each folder includes the layer just below it
B=$T/base
mkdir -p "$B/include" "$B/src/util" "$B/src/kernels" "$B/src/text" "$B/src/io" "$B/src/model" \
    "$B/src/loss" "$B/src/train" "$B/src/api" "$B/src/cli"
printf '#include <stddef.h>\n' >"$B/src/util/u.h"
printf '#include "util/u.h"\n' >"$B/src/kernels/k.h"
printf '#include "util/u.h"\n' >"$B/src/text/t.h"
printf '#include "util/u.h"\n' >"$B/src/io/i.h"
printf '#include "m.h"\n#include "io/i.h"\n#include "kernels/k.h"\n#include "text/t.h"\n' >"$B/src/model/m.c"
printf '#include "util/u.h"\n' >"$B/src/model/m.h"
printf '#include "model/m.h"\n' >"$B/src/loss/l.h"
printf '#include "loss/l.h"\n' >"$B/src/train/tr.h"
printf '#include "gloss.h"\n#include "train/tr.h"\n' >"$B/src/api/a.c"
printf '#include "gloss.h"\n#include "cli/c.h"\n#include <stdio.h>\n' >"$B/src/cli/c.c"
printf '/* c.h */\n' >"$B/src/cli/c.h"
printf '/* gloss.h */\n' >"$B/include/gloss.h"

# case NAME FILE CONTENT: a copy of the fake tree with FILE (under it) added
case_tree() {
    rm -rf "$T/$1"
    cp -R "$B" "$T/$1"
    mkdir -p "$(dirname "$T/$1/$2")"
    printf '%b' "$3" >"$T/$1/$2"
}

# expect RC NAME TEXT -- ARGS: check_layers.sh ARGS exits RC and, when TEXT is
# not empty, prints TEXT
expect() {
    want=$1 name=$2 text=$3
    shift 4
    n=$((n + 1))
    sh "$CHECK" "$@" >"$T/out" 2>&1
    rc=$?
    if [ $rc -ne "$want" ]; then
        fail "$name: exit status $rc, expected $want; output: $(cat "$T/out")"
    elif [ -n "$text" ] && ! grep -qF -- "$text" "$T/out"; then
        fail "$name: the output lacks '$text'; it is: $(cat "$T/out")"
    fi
}

expect 0 clean "follow the layer order" -- "$B"
expect 0 clean-strict "(--cli-strict)" -- --cli-strict "$B"
GLOSS_LAYER_EXCEPTIONS='src/io/table.c text/utf8.h a move still to be made'
export GLOSS_LAYER_EXCEPTIONS
expect 0 stale-exception 'known exception "src/io/table.c text/utf8.h" no longer occurs' -- "$B"

case_tree up src/model/bad.c '/* comment */\n#include <stdio.h>\n#include "train/tr.h"\n'
expect 1 up 'src/model/bad.c:3: #include "train/tr.h": model (layer 2) may not include the higher layer train (layer 4)' -- "$T/up"
expect 1 up-summary "check_layers: 1 violation in 1 file" -- "$T/up"

case_tree up-h src/util/bad.h '#include "kernels/k.h"\n'
expect 1 up-header 'src/util/bad.h:1: #include "kernels/k.h": util (layer 0) may not include the higher layer kernels (layer 1)' -- "$T/up-h"

case_tree relative src/model/rel.c '#include "../loss/l.h"\n'
expect 1 relative 'src/model/rel.c:1: #include "../loss/l.h": model (layer 2) may not include the higher layer loss (layer 3)' -- "$T/relative"

case_tree spaced src/io/sp.c '  #  include   "model/m.h"\n'
expect 1 spaced 'src/io/sp.c:1: #include "model/m.h": io (layer 1) may not include the higher layer model (layer 2)' -- "$T/spaced"

case_tree sibling src/io/bad.c '#include "util/u.h"\n#include "text/t.h"\n'
expect 1 sibling 'src/io/bad.c:2: #include "text/t.h": io and text are sibling layers and may not include each other' -- "$T/sibling"

case_tree sibling-k src/kernels/bad.c '#include "io/i.h"\n'
expect 1 sibling-kernels 'src/kernels/bad.c:1: #include "io/i.h": kernels and io are sibling layers' -- "$T/sibling-k"

case_tree public src/loss/bad.c '#include "gloss.h"\n'
expect 1 public 'src/loss/bad.c:1: #include "gloss.h": the public header include/gloss.h is for src/api and src/cli only' -- "$T/public"

case_tree unlayered src/tensor/x.c '#include "util/u.h"\n'
expect 1 unlayered 'src/tensor/x.c: folder src/tensor has no layer' -- "$T/unlayered"

case_tree top src/x.c '/* x.c */\n'
expect 1 top-level 'src/x.c: a file directly in src/ has no layer' -- "$T/top"

case_tree cli src/cli/x.c '#include "cli/c.h"\n#include "train/tr.h"\n'
expect 0 cli-lenient "" -- "$T/cli"
expect 1 cli-strict 'src/cli/x.c:2: #include "train/tr.h": src/cli may include only "gloss.h" and src/cli/ headers (--cli-strict)' -- \
    --cli-strict "$T/cli"

case_tree exception src/io/table.c '#include "text/utf8.h"\n'
expect 0 exception 'src/io/table.c:1: #include "text/utf8.h" is a known exception' -- "$T/exception"
case_tree exception-other-include src/io/table.c '#include "text/t.h"\n'
expect 1 exception-other-include 'src/io/table.c:1: #include "text/t.h": io and text are sibling layers' -- "$T/exception-other-include"
case_tree exception-other-file src/io/reader.c '#include "text/utf8.h"\n'
expect 1 exception-other-file 'src/io/reader.c:1: #include "text/utf8.h": io and text are sibling layers' -- "$T/exception-other-file"

unset GLOSS_LAYER_EXCEPTIONS

expect 2 bad-option "usage:" -- --bogus "$B"
expect 2 no-src "no such directory" -- "$T/nowhere"

# the real tree (what `make check` runs)
expect 0 real-tree "follow the layer order" --

[ $fails -eq 0 ] && echo "test_layers.sh: all $n checks passed"
[ $fails -eq 0 ]
