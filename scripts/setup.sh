#!/usr/bin/env bash
# Installs what vfm needs on Debian 12 (idempotent) and selects OpenBLAS for LibTorch.
#
# Debian's LibTorch does fp32 matrix products through the selected libblas.so.3; the default
# reference BLAS is ~35x slower than OpenBLAS. The OpenMP flavour is used because the pthread
# one fights LibTorch's OpenMP threads.
set -euo pipefail

pkgs=(build-essential cmake git pkg-config
      libtorch-dev libopencv-dev libcli11-dev nlohmann-json3-dev catch2
      libopenblas0-openmp
      python3-torch python3-torchvision python3-onnx python3-opencv python3-numpy python3-skimage
      python-matplotlib-data)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

# Node.js and npm run the converters' parity references (tfjs, onnxruntime-node); a machine may
# already have them from elsewhere (e.g. NodeSource), so only their absence installs Debian's.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The pthread flavour must not win the alternative.
if dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed"; then
  echo "setup: libopenblas0-pthread is installed; selecting the OpenMP flavour explicitly" >&2
fi
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for lib in libblas.so.3 liblapack.so.3; do
  target=/usr/lib/$arch/openblas-openmp/$lib
  if [ -e "$target" ]; then
    current=$(readlink -f /usr/lib/$arch/$lib || true)
    if [ "$current" != "$(readlink -f "$target")" ]; then
      $sudo update-alternatives --set "$lib-$arch" "$target" >/dev/null
    fi
  fi
done
echo "setup: ok ($(readlink -f /usr/lib/$arch/libblas.so.3))" >&2
