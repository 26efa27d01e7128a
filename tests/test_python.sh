#!/bin/sh
# test_python.sh: the Python package: installed into a virtual environment with
# pip (which builds libgloss.so), then its pytest suite (python/run_tests.sh;
# exit status 77, skipped, where Python or its venv module is missing).
exec sh "$(dirname "$0")/../python/run_tests.sh"
