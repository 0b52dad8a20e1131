#!/bin/sh
# gpu-check.sh (make gpu-check): builds, on this machine, everything one run
# on a GPU machine needs, into dist/gpu-check/: the CUDA test binaries (the
# host-emulated kernel and replica tests, rebuilt to run on the GPU, and the
# device tests with the Go side of the benchmark), the CUDA trainer, the
# PyTorch side of the benchmark, a small synthetic corpus and run.sh, which
# runs it all there in one command with a time limit. The GPU machine needs
# the NVIDIA driver, python3 with PyTorch, and no Go.
#
# The binaries are built with the purego tag (pure-Go BLAS for the CPU
# reference), so that they need no OpenBLAS on the GPU machine: only libc,
# libstdc++ and the driver's libcuda.so.1.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
out=dist/gpu-check
test -f /usr/include/cuda.h || { echo "gpu-check: cuda.h not found (install nvidia-cuda-dev from Debian contrib/non-free)"; exit 1; }
rm -rf "$out"
mkdir -p "$out"
tags=cuda,purego
# As in make kernel-test: the go build cache does not see the kernel sources
# the emulator includes from kernels/, so their hash goes into the flags.
CGO_CXXFLAGS="-O2 -g -DKERNEL_SRC_HASH=$(cat kernels/*.cu kernels/*.cuh cuda/emu/*.h cuda/emu/*.cc | sha256sum | cut -c1-16)"
export CGO_CXXFLAGS
echo "gpu-check: building test binaries and the CUDA trainer (-tags $tags)"
$GO test -c -tags "$tags" -o "$out/kernels.test" ./cuda/emu/
$GO test -c -tags "$tags" -o "$out/cuda.test" ./cuda/
$GO build -tags "$tags" -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o "$out/trainer-cuda" ./cmd/trainer
cp scripts/gpu_bench.py "$out/"
echo "gpu-check: writing a 20000-review synthetic corpus"
"$out/trainer-cuda" synth -n 20000 --seed 7 --out "$out/sample.ft.txt" >/dev/null

cat > "$out/run.sh" <<'RUN'
#!/bin/bash
# run.sh: the CUDA checks and the GPU benchmark, in one command, on a
# machine with an NVIDIA GPU (driver, python3 + PyTorch; no Go needed).
# Usage: ./run.sh [TOTAL_SECONDS]   (default 540; each step gets what is left)
# Environment: TRAINER_TEST_DEVICE (default cuda:0), TRAINER_GPU_BENCH_STEPS
# (default 200), TRAINER_GPU_BENCH_PRECISIONS (default fp16,bf16,fp32).
# Everything is logged under results/; the summary is printed at the end.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
limit=${1:-540}
start=$(date +%s)
out=$here/results
rm -rf "$out"
mkdir -p "$out"
export TRAINER_TEST_DEVICE=${TRAINER_TEST_DEVICE:-cuda:0}
steps=${TRAINER_GPU_BENCH_STEPS:-200}
failed=()

step() { # name command...
	local name=$1
	shift
	local left=$((limit - ($(date +%s) - start)))
	if [ "$left" -le 5 ]; then
		echo "== $name: not run, time limit of ${limit}s reached"
		failed+=("$name(not run)")
		return
	fi
	echo "== $name (at most ${left}s): $*"
	timeout --kill-after=10 "$left" "$@" > >(tee "$out/$name.log") 2>&1
	local rc=$?
	echo "== $name: exit $rc"
	[ "$rc" -eq 0 ] || failed+=("$name(exit $rc)")
}

step info bash -c 'nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; ./trainer-cuda version'
step kernels ./kernels.test -test.v -test.count=1
step device ./cuda.test -test.v -test.count=1 -test.run 'TestDeviceOpen|TestBenchBatches'
step go-bench env TRAINER_GPU_BENCH="$out" TRAINER_GPU_BENCH_STEPS="$steps" ./cuda.test -test.v -test.count=1 -test.run TestGPUBench -test.timeout 0
step torch-bench python3 gpu_bench.py --batches "$out/batches.bin" --go "$out/go.json" --json "$out/pytorch.json" --steps "$steps"
step train ./trainer-cuda train --train sample.ft.txt --device "$TRAINER_TEST_DEVICE" --epochs 1 --out "$out/train"

echo "== summary ($(($(date +%s) - start))s)"
grep -h -E '^(--- FAIL|ok|FAIL|PASS)|go-cuda|pytorch-cudnn|floors' "$out"/*.log 2>/dev/null
if [ "${#failed[@]}" -gt 0 ]; then
	echo "gpu-check: FAILED: ${failed[*]}"
	exit 1
fi
echo "gpu-check: all steps passed"
RUN
chmod +x "$out/run.sh"
glibc=$(objdump -T "$out"/*.test "$out/trainer-cuda" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2 -n -u | tail -1 || true)
echo "gpu-check: dist/gpu-check ready ($(du -sh "$out" | cut -f1), needs ${glibc:-glibc} and libcuda.so.1)"
echo "gpu-check: copy dist/gpu-check to the GPU machine and run: ./run.sh 540"
