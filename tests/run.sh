#!/bin/sh
# Runs each test program (binaries, or .sh scripts) given on the command line;
# fails if any fails.
# The test programs run with the OpenBLAS kernels gloss chooses for itself
# (src/util/blas_core.h); on a CPU model OpenBLAS does not know they would
# otherwise run its SSE3 fallback, 4 times slower.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -x "${BUILD:-build}/gloss" ]; then
    core=$("${BUILD:-build}/gloss" --version 2>/dev/null | sed -n 's/^BLAS kernels: //p')
    [ -n "$core" ] && export OPENBLAS_CORETYPE="$core"
fi
fail=0
for t in "$@"; do
    case "$t" in
    *.sh) sh "$t" ;;
    *) "$t" ;;
    esac
    if [ $? -ne 0 ]; then
        echo "FAIL: $t"
        fail=1
    fi
done
[ $fail -eq 0 ] && echo "all test programs passed"
exit $fail
