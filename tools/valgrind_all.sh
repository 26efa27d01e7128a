#!/bin/sh
# valgrind_all.sh: every test program and every shell test of `make check`
# under valgrind memcheck, the gloss processes the tests start included.
#
#   sh tools/valgrind_all.sh [TEST...]     (make valgrind-all)
#
# TEST is a test program name (test_model) or a shell test (test_cli.sh);
# default: all of them. Test programs run under memcheck directly; for the
# gloss binary that test_interrupt and the shell tests run, BUILD points to a
# directory whose `gloss` is a script that execs memcheck on a copy of the
# real binary, each process logging to its own file. A run fails if a test
# fails or if any log holds an error or a definite/indirect leak. One thread
# (valgrind serialises threads anyway). Takes about an hour.
set -u
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
VG="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect"
# what Open MPI leaves behind in processes that mpirun starts (test_distributed.sh)
VG="$VG --suppressions=$(pwd)/tools/openmpi.supp"
[ -f /usr/share/openmpi/openmpi-valgrind.supp ] && VG="$VG --suppressions=/usr/share/openmpi/openmpi-valgrind.supp"

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM
chmod 755 "$W"
mkdir "$W/logs" && chmod 1777 "$W/logs"
# world-readable copy: test_robust runs gloss as another user
cp "$BUILD/gloss" "$W/gloss.bin" && chmod 755 "$W/gloss.bin"
ln -s "$BUILD/tests" "$W/tests"
cat >"$W/gloss" <<EOF
#!/bin/sh
exec $VG --log-file=$W/logs/gloss.%p.log $W/gloss.bin "\$@"
EOF
chmod 755 "$W/gloss"

if [ $# -eq 0 ]; then
    set --
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] && set -- "$@" "$(basename "$t")"
    done
    for t in tests/test_*.sh; do set -- "$@" "$(basename "$t")"; done
fi

export OMP_NUM_THREADS=1
# valgrind emulates a CPU without AVX-512: the SIMD clones run their AVX2
# copies and --bf16 reports that the CPU lacks AVX512-BF16 (the AVX-512 code
# is covered by the sanitizer build, `make asan`)
export GLOSS_TEST_CPU_NO_BF16=1
# set, so that gloss keeps its process instead of restarting itself with other
# OpenBLAS kernels (util/blas_core.h), which would run outside memcheck
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
fail=0
for t in "$@"; do
    start=$(date +%s)
    case "$t" in
    # the distributed test's deadlines, for processes 20-50 times slower
    test_distributed.sh) BUILD=$W GLOSS_TEST_MEMCHECK=1 sh "tests/$t" >"$W/out" 2>&1 ;;
    *.sh) BUILD=$W sh "tests/$t" >"$W/out" 2>&1 ;;
    # test_train fine-tunes the default model, 35 minutes an epoch under
    # memcheck (about 5 h in all): it runs on the tiny random fixture model,
    # without its checks of what training learned (GLOSS_TEST_MEMCHECK)
    test_train) BUILD=$W GLOSS_MODEL_DIR=tests/fixtures/model/tiny GLOSS_TEST_MEMCHECK=1 \
        $VG --log-file="$W/logs/$t.log" "$BUILD/tests/$t" >"$W/out" 2>&1 ;;
    *) BUILD=$W $VG --log-file="$W/logs/$t.log" "$BUILD/tests/$t" >"$W/out" 2>&1 ;;
    esac
    rc=$?
    bad=""
    for l in "$W"/logs/*.log; do
        [ -s "$l" ] && bad="$bad $l"
    done
    if [ $rc -eq 77 ] && [ -z "$bad" ]; then # tests/run.sh's "skipped" (e.g. no python3)
        echo "skip $t ($(tail -1 "$W/out"))"
    elif [ $rc -ne 0 ] || [ -n "$bad" ]; then
        echo "FAIL $t (exit $rc, $(($(date +%s) - start)) s)"
        tail -20 "$W/out"
        for l in $bad; do echo "--- $l"; head -60 "$l"; done
        fail=1
    else
        echo "ok   $t ($(($(date +%s) - start)) s, $(ls "$W"/logs | wc -l) processes under memcheck)"
    fi
    rm -f "$W"/logs/*.log
done
[ $fail -eq 0 ] && echo "valgrind: every test passed with no memcheck error or leak"
exit $fail
