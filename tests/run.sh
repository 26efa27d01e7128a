#!/bin/sh
# Runs each test binary given on the command line; fails if any fails.
fail=0
for t in "$@"; do
    if ! "$t"; then
        echo "FAIL: $t"
        fail=1
    fi
done
[ $fail -eq 0 ] && echo "all test programs passed"
exit $fail
