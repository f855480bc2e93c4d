#!/usr/bin/env bash
# Configures and builds vfm into build/ (binaries in build/bin/). Extra arguments go to cmake's
# configure step, e.g. -DCMAKE_PREFIX_PATH=/opt/libtorch for the official LibTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
