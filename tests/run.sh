#!/bin/sh
# Runs each test program (binaries, or .sh scripts) given on the command line;
# fails if any fails.
# The test programs run with the OpenBLAS kernels gloss chooses for itself
# (src/util/blas_core.h); on a CPU model OpenBLAS does not know they would
# otherwise run its SSE3 fallback, 4 times slower.
#
# Skipped tests are counted apart from passed ones: a test program that cannot
# run at all here (python3 missing, ...) exits with status 77 (automake's
# convention) and counts as skipped; one that runs but leaves some of its
# checks out (numpy or scikit-learn missing, no /dev/full, ...) says so on its
# output and adds a line "PROGRAM: what was not run (why)" to the file
# $GLOSS_SKIP_LOG (tests/check.h: check_skip; shell tests: their skip
# function). The summary lists both.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -x "${BUILD:-build}/gloss" ]; then
    core=$("${BUILD:-build}/gloss" --version 2>/dev/null | sed -n 's/^BLAS kernels: //p')
    [ -n "$core" ] && export OPENBLAS_CORETYPE="$core"
fi
GLOSS_SKIP_LOG=$(mktemp "${TMPDIR:-/tmp}/gloss-skipped.XXXXXX") || exit 2
export GLOSS_SKIP_LOG
trap 'rm -f "$GLOSS_SKIP_LOG"' EXIT
fail=0 passed=0 failed=0 skipped=0 skipped_names=""
for t in "$@"; do
    case "$t" in
    *.sh) sh "$t" ;;
    *) "$t" ;;
    esac
    rc=$?
    if [ $rc -eq 77 ]; then
        echo "SKIPPED: $t"
        skipped=$((skipped + 1))
        skipped_names="$skipped_names ${t##*/}"
    elif [ $rc -ne 0 ]; then
        echo "FAIL: $t"
        fail=1
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
done
parts=$(grep -c . "$GLOSS_SKIP_LOG")
echo "test programs: $passed passed, $skipped skipped${skipped_names:+ (${skipped_names# })}, $failed failed;" \
    "skipped parts of programs that ran: $parts"
sed 's/^/  skipped: /' "$GLOSS_SKIP_LOG"
if [ $fail -eq 0 ]; then
    if [ $skipped -eq 0 ]; then echo "all test programs passed"; else echo "all test programs passed or were skipped"; fi
fi
exit $fail
