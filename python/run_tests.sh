#!/bin/sh
# Install the Python package into a virtual environment under build/pyenv
# (pip install ./python[test], which builds libgloss.so with make) and run its
# tests with pytest. Arguments go to pytest.
# Environment: PYTHON (default python3); GLOSS_PYENV (default build/pyenv);
# GLOSS_BIN, the `gloss` program the tests compare with (default
# $BUILD/gloss, BUILD defaulting to build).
# Exit status: pytest's (or pip's when the install fails); 77 when Python or
# its venv module is missing (the tests are then skipped).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
py=${PYTHON:-python3}

if ! command -v "$py" >/dev/null 2>&1; then
    echo "python/run_tests.sh: $py not found: Python tests skipped" >&2
    exit 77
fi
if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "python/run_tests.sh: $py has no venv module with ensurepip (Debian: apt-get install python3-venv):" \
        "Python tests skipped" >&2
    exit 77
fi

env_dir=${GLOSS_PYENV:-$root/build/pyenv}
if [ ! -x "$env_dir/bin/python" ]; then
    "$py" -m venv "$env_dir" || exit $?
fi
"$env_dir/bin/python" -m pip install -q --disable-pip-version-check "$here[test]" || exit $?

if [ -z "${GLOSS_BIN:-}" ]; then
    case ${BUILD:-build} in
    /*) GLOSS_BIN=$BUILD/gloss ;;
    *) GLOSS_BIN=$root/${BUILD:-build}/gloss ;;
    esac
    export GLOSS_BIN
fi
cd "$root" || exit 1
"$env_dir/bin/python" -m pytest -q -p no:cacheprovider "$here/tests" "$@"
