#!/bin/sh
# Install what gloss needs to build and run on Debian 12: a C compiler, OpenBLAS
# (OpenMP variant), utf8proc, jansson, liblbfgs, zlib (the .csv.gz data files),
# oneDNN (libdnnl-dev 2.6: the bf16 matrix products on AMX; the build works
# without it), Open MPI (data-parallel training under mpirun:
# docs/distributed.md; the build uses it when mpicc is there, and
# tests/test_distributed.sh runs it); then fetch the default model.
# --fuzz: also the libFuzzer toolchain for `make fuzz-build` / `make fuzz-ci`:
# clang (clang-14) and libclang-rt-14-dev, which holds libclang_rt.fuzzer and
# the sanitizer runtimes (clang-14 only recommends it).
set -eu
pkgs="build-essential libopenblas-openmp-dev libutf8proc-dev libjansson-dev liblbfgs-dev zlib1g-dev libdnnl-dev libopenmpi-dev openmpi-bin unzip python3-pip python3-venv pkg-config"
for a in "$@"; do
    case $a in
    --fuzz) pkgs="$pkgs clang libclang-rt-14-dev" ;;
    *)
        echo "usage: $0 [--fuzz]" >&2
        exit 2
        ;;
    esac
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
need=""
for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
    echo "installing:$need"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi
sh "$(dirname "$0")/fetch_model.sh"
