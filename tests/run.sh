#!/bin/sh
# Runs each test program (binaries, or .sh scripts) given on the command line;
# fails if any fails.
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
