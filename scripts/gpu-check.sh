#!/bin/sh
# gpu-check.sh (make gpu-check): builds, on this machine, everything one run
# on a GPU machine needs, into dist/gpu-check/ (see docs/gpu.md):
#
#   run.sh            the run itself: OUT=DIR ./run.sh BUDGET_S
#   bin/trainer-cuda  the CUDA trainer (the real path: train --device cuda:0)
#   bin/kernels.test  the kernel and replica tests (cuda/emu), on the device
#                     when TRAINER_TEST_DEVICE is set
#   bin/cuda.test     device tests and the Go side of the benchmark
#   bin/gpu-report    static: runs each test in its own process, writes summary.json
#   gpu_bench.py      the PyTorch + cuDNN side of the benchmark
#   MANIFEST, NEEDS_GLIBC
#
# The kernels package's own tests read the .cu sources and stay in CI; the
# PTX a device gets is named by gpu-report, from kernels.ForDevice.
#
# The binaries are stripped and built with the purego tag (pure-Go BLAS for
# the CPU reference), so the GPU machine needs only glibc, libstdc++ and the
# driver's libcuda.so.1; no Go, no OpenBLAS. The bundle must stay under
# 60 MiB.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
out=dist/gpu-check
limit_mib=60
test -f /usr/include/cuda.h || { echo "gpu-check: cuda.h not found (install nvidia-cuda-dev from Debian contrib/non-free)"; exit 1; }
rm -rf "$out"
mkdir -p "$out/bin"
tags=cuda,purego
version=$(git describe --always --dirty 2>/dev/null || echo dev)
# As in make kernel-test: the go build cache does not see the kernel sources
# the emulator includes from kernels/, so their hash goes into the flags.
CGO_CXXFLAGS="-O2 -g -DKERNEL_SRC_HASH=$(cat kernels/*.cu kernels/*.cuh cuda/emu/*.h cuda/emu/*.cc | sha256sum | cut -c1-16)"
export CGO_CXXFLAGS
strip="-s -w"
echo "gpu-check: building test binaries, the CUDA trainer and gpu-report (-tags $tags, stripped)"
$GO test -c -tags "$tags" -ldflags "$strip" -o "$out/bin/kernels.test" ./cuda/emu/
$GO test -c -tags "$tags" -ldflags "$strip" -o "$out/bin/cuda.test" ./cuda/
$GO build -tags "$tags" -ldflags "$strip -X main.version=$version" -o "$out/bin/trainer-cuda" ./cmd/trainer
CGO_ENABLED=0 $GO build -ldflags "$strip" -o "$out/bin/gpu-report" ./scripts/gpu-report
cp scripts/gpu-run.sh "$out/run.sh"
cp scripts/gpu_bench.py "$out/gpu_bench.py"
chmod +x "$out/run.sh" "$out/gpu_bench.py"

# The newest glibc symbol version any binary needs: run.sh checks it first.
glibc=$(objdump -T "$out"/bin/* 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V -u | tail -1 || true)
echo "${glibc:-2.34}" >"$out/NEEDS_GLIBC"
size_kib=$(du -sk "$out" | cut -f1)
cat >"$out/MANIFEST" <<EOF
version=$version
built_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)
go=$($GO env GOVERSION)
tags=$tags
needs_glibc=${glibc:-2.34}
size_kib=$size_kib
EOF
if [ "$size_kib" -gt $((limit_mib * 1024)) ]; then
	echo "gpu-check: dist/gpu-check is $((size_kib / 1024)) MiB, over the $limit_mib MiB limit"
	exit 1
fi
echo "gpu-check: dist/gpu-check ready ($((size_kib / 1024)) MiB; needs glibc >= ${glibc:-2.34} and the NVIDIA driver)"
echo "gpu-check: copy it to the GPU machine and run: OUT=/some/dir ./run.sh 540"
