#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test trainer.
# Idempotent: packages already present are left alone. With --cuda it also
# enables Debian's contrib/non-free components and installs the CUDA toolkit
# (nvcc, cuda.h) needed by `make ptx`, `make cuda` and the kernel checks.
set -euo pipefail

want_cuda=0
[ "${1:-}" = "--cuda" ] && want_cuda=1

pkgs=(build-essential pkg-config git ca-certificates bzip2 time libopenblas-dev libopenmpi-dev openmpi-bin)
[ "$want_cuda" = 1 ] && pkgs+=(nvidia-cuda-toolkit nvidia-cuda-dev)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

if [ "$want_cuda" = 1 ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
	# nvcc and cuda.h live in Debian's contrib and non-free components.
	$sudo sed -i 's/^Components: main$/Components: main contrib non-free/' /etc/apt/sources.list.d/debian.sources
fi

if [ "${#missing[@]}" -gt 0 ]; then
	echo "installing: ${missing[*]}"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	echo "Go 1.26 or newer is required: install it from the Go project and put it on PATH" >&2
	exit 1
fi
