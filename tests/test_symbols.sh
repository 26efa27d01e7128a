#!/bin/sh
# test_symbols.sh: libgloss.so exports the public API and nothing else: every
# dynamic symbol it defines starts with gloss_, and every function declared
# GLOSS_API in include/gloss.h is among them.
set -eu
so=${BUILD:-build}/libgloss.so
[ -f "$so" ] || { echo "test_symbols: $so missing (make lib)" >&2; exit 1; }
command -v nm >/dev/null 2>&1 || { echo "test_symbols: skipped: nm not installed"; exit 77; }
exported=$(nm -D --defined-only "$so" | awk 'NF == 3 && $2 ~ /[TDBRVW]/ { print $3 }' | sort)
bad=$(printf '%s\n' "$exported" | grep -v -E '^(gloss_|_init$|_fini$)' || true)
if [ -n "$bad" ]; then
    echo "test_symbols: $so exports symbols outside the gloss_ namespace:" >&2
    printf '  %s\n' $bad >&2
    exit 1
fi
declared=$(sed -n 's/^GLOSS_API [^(]*[ *]\(gloss_[a-z0-9_]*\)(.*/\1/p' include/gloss.h | sort -u)
missing=$(printf '%s\n' "$declared" | while read -r f; do
    printf '%s\n' "$exported" | grep -q -x "$f" || echo "$f"
done)
if [ -n "$missing" ]; then
    echo "test_symbols: declared in include/gloss.h but not exported:" >&2
    printf '  %s\n' $missing >&2
    exit 1
fi
n=$(printf '%s\n' "$declared" | wc -l)
echo "test_symbols: $n public functions exported, nothing else"
