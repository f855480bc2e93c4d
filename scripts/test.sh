#!/usr/bin/env bash
# Installs what is needed (Debian 12), builds, and runs the whole test suite.
# Tests that need ../shared (real weights, labelled data) skip when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)"
