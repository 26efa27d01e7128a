#!/bin/sh
# Install what gloss needs to build and run on Debian 12: a C compiler, OpenBLAS
# (OpenMP variant), utf8proc, jansson; then fetch the default model.
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
need=""
for p in build-essential libopenblas-openmp-dev libutf8proc-dev libjansson-dev unzip python3-pip; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
    echo "installing:$need"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi
sh "$(dirname "$0")/fetch_model.sh"
