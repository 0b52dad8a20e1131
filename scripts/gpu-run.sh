#!/bin/bash
# run.sh BUDGET_S: the whole GPU check in one command, on a machine with an
# NVIDIA driver and glibc >= 2.34 (no Go; PyTorch optional). Copied into
# dist/gpu-check/ by make gpu-check (scripts/gpu-check.sh); see docs/gpu.md.
#
# Everything goes under ${OUT:-./results}: logs/ (every stage's full log),
# stages.tsv, tests.json, bench/, train/, summary.json. Each stage has its
# own time cap, scaled to BUDGET_S (default 540) and cut to what is left, and
# is recorded even when it fails. stdout gets one line per stage and a
# summary of at most 40 lines in all. Without a GPU it stops at once with
# "no NVIDIA device", writes summary.json and exits 0; otherwise it exits 1
# when a stage failed.
#
# Environment: TRAINER_GPU_REVIEWS (synthetic reviews for the epoch runs;
# default 3600000 when the budget allows, fewer otherwise),
# TRAINER_GPU_BENCH_STEPS (Go and PyTorch benchmark steps, default 200),
# TRAINER_GPU_PRECISIONS (default fp16,bf16,fp32).
set -u
here=$(cd "$(dirname "$0")" && pwd)
budget=${1:-540}
case $budget in '' | *[!0-9]*)
	echo "run.sh: BUDGET_S must be whole seconds, got '$budget'" >&2
	exit 2
	;;
esac
OUT=${OUT:-./results}
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
export OUT
start=$(date +%s)
bin=$here/bin
logs=$OUT/logs
mkdir -p "$logs"
: >"$OUT/stages.tsv"
reserve=8 # seconds kept for the summary
precisions=${TRAINER_GPU_PRECISIONS:-fp16,bf16,fp32}
steps=${TRAINER_GPU_BENCH_STEPS:-200}
failed=0

now() { date +%s; }
left() { echo $((budget - ($(now) - start) - reserve)); }

# record NAME STATUS RC SECONDS NOTE: one row of stages.tsv.
record() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$(printf '%s' "$5" | tr '\t\n' '  ')" >>"$OUT/stages.tsv"
}

# stage NAME CAP_S CMD...: runs CMD under its own timeout (CAP_S scaled to
# the budget, cut to what is left), its output in logs/NAME.log.
stage() {
	local name=$1 cap=$2
	shift 2
	cap=$((cap * budget / 540))
	local l
	l=$(left)
	if [ "$l" -lt 5 ]; then
		record "$name" skipped 0 0 "budget of ${budget}s spent"
		echo "== $name: skipped, budget spent"
		return 1
	fi
	[ "$cap" -gt "$l" ] && cap=$l
	[ "$cap" -lt 5 ] && cap=5
	local t0 rc status
	t0=$(now)
	timeout --kill-after=5 "$cap" "$@" >"$logs/$name.log" 2>&1
	rc=$?
	case $rc in
	0) status=ok ;;
	124 | 137) status=timeout ;;
	*) status=failed ;;
	esac
	record "$name" "$status" "$rc" "$(($(now) - t0))" "cap ${cap}s: $*"
	echo "== $name: $status (exit $rc, $(($(now) - t0))s of ${cap}s)"
	[ "$status" = ok ] || failed=1
	return $rc
}

summarize() {
	if ! "$bin/gpu-report" summarize --out "$OUT" --bundle "$here" --budget "$budget" --elapsed "$(($(now) - start))"; then
		# The report tool is static Go and should always run; if it does
		# not, summary.json still says what happened.
		printf '{"device":null,"error":"gpu-report failed; see stages.tsv and logs/"}\n' >"$OUT/summary.json"
		echo "gpu-check: gpu-report failed; wrote a minimal summary.json"
	fi
}

# 1. Preconditions, each a clear line: the NVIDIA driver, glibc.
nodev=""
if ! command -v nvidia-smi >/dev/null 2>&1; then
	nodev="nvidia-smi not found"
elif ! nvidia-smi -L >"$logs/nvidia-smi-L.log" 2>&1; then
	nodev="nvidia-smi -L failed: $(head -c 200 "$logs/nvidia-smi-L.log" | tr '\n' ' ')"
elif ! grep -q '^GPU ' "$logs/nvidia-smi-L.log"; then
	nodev="nvidia-smi lists no GPU"
elif ! { ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; } && ! ls /usr/lib*/libcuda.so.1 /usr/lib/*/libcuda.so.1 /usr/local/nvidia/lib*/libcuda.so.1 >/dev/null 2>&1; then
	nodev="libcuda.so.1 not found (the driver's CUDA library)"
fi
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
[ -n "$glibc" ] || glibc=$(ldd --version 2>/dev/null | head -1 | grep -o '[0-9]\+\.[0-9]\+$')
printf '%s\n' "${glibc:-unknown}" >"$OUT/glibc.txt"
if [ -n "$nodev" ]; then
	record environment failed 0 0 "no NVIDIA device: $nodev"
	echo "gpu-check: no NVIDIA device ($nodev)"
	summarize
	exit 0
fi
need=$(cat "$here/NEEDS_GLIBC" 2>/dev/null || echo 2.34)
if [ "$(printf '%s\n%s\n' "$need" "${glibc:-0}" | sort -V | head -1)" != "$need" ]; then
	record environment failed 0 0 "glibc ${glibc:-unknown} is older than the $need the binaries need"
	echo "gpu-check: glibc ${glibc:-unknown} is older than $need; the binaries cannot run here"
	failed=1
	summarize
	exit 1
fi

# 2. Environment: nvidia-smi (name, driver, CUDA, compute capability, SMs,
# clocks, power, MIG, ECC), torch/cuDNN. The report reads these files.
stage environment 20 bash -c '
	nvidia-smi --query-gpu=name,driver_version,compute_cap,clocks.max.sm,clocks.max.mem,power.limit,mig.mode.current,ecc.mode.current,memory.total,pci.bus_id --format=csv,noheader >"$OUT/gpu.csv"
	nvidia-smi -q >"$OUT/nvidia-smi-q.txt" 2>&1
	nvidia-smi | sed -n "1,4p"
	'"'$bin/trainer-cuda'"' version
	python3 '"'$here/gpu_bench.py'"' --probe-only --json "$OUT/torch.json" || true
	'

# Samples during the benchmarks: nvidia-smi dmon, and memory/power/clock
# queries for the peak device memory.
nvidia-smi dmon -s pucm -d 1 >"$OUT/dmon.txt" 2>&1 &
dmon=$!
nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu,power.draw,clocks.sm --format=csv,noheader,nounits -lms 500 >"$OUT/smi-samples.csv" 2>&1 &
sampler=$!
trap 'kill $dmon $sampler 2>/dev/null' EXIT

# 3. Correctness: every test of every test binary on the device, each test
# in its own process (a fault cannot hide the culprit); a failure is rerun
# alone with CUDA_LAUNCH_BLOCKING=1. Parity and kernel resources come from
# the tests that write them under TRAINER_GPU_REPORT, when the build has them.
mkdir -p "$OUT/report"
export TRAINER_GPU_REPORT=$OUT/report
stage correctness 150 "$bin/gpu-report" tests --out "$OUT" --device cuda:0 "$bin/kernels.test" "$bin/cuda.test"

# 4. Per-phase device time: the benchmarks of cuda.test (CUDA events), if any.
if "$bin/cuda.test" -test.list '^Benchmark' 2>/dev/null | grep -q .; then
	stage phases 40 env TRAINER_TEST_DEVICE=cuda:0 "$bin/cuda.test" -test.run '^$' -test.bench . -test.benchtime 20x -test.benchmem
else
	record phases skipped 0 0 "per-phase timing: not available in this build"
	echo "== phases: per-phase timing not available in this build"
fi

# 5. Go benchmark per precision (writes bench/batches.bin for PyTorch).
mkdir -p "$OUT/bench"
stage go-bench 75 env TRAINER_GPU_BENCH="$OUT/bench" TRAINER_GPU_BENCH_STEPS="$steps" TRAINER_GPU_BENCH_PRECISIONS="$precisions" \
	"$bin/cuda.test" -test.run '^TestGPUBench$' -test.v -test.count=1 -test.timeout 0

# 6. PyTorch + cuDNN on the same batches under autocast.
if ! command -v python3 >/dev/null 2>&1; then
	record pytorch skipped 0 0 "unavailable: python3 not found"
	echo "== pytorch: unavailable, python3 not found"
elif [ -f "$OUT/bench/batches.bin" ]; then
	stage pytorch 75 python3 "$here/gpu_bench.py" --batches "$OUT/bench/batches.bin" --steps "$steps" \
		--precisions "$precisions" --json "$OUT/bench/pytorch.json"
else
	record pytorch skipped 0 0 "no bench/batches.bin from the Go benchmark"
	echo "== pytorch: skipped, the Go benchmark wrote no batches"
fi

# 7. The real path: trainer-cuda train --device cuda:0, one epoch per
# precision over synthetic reviews (the epoch is cut by the stage cap when
# the budget is short; the report then gives the throughput and the reviews
# done, labelled as such).
reviews=${TRAINER_GPU_REVIEWS:-}
if [ -z "$reviews" ]; then
	if [ "$budget" -ge 450 ]; then reviews=3600000; else reviews=$((budget * 4000)); fi
fi
mkdir -p "$OUT/train"
data=$OUT/train/synth.ft.txt
model=(--embed-dim 128 --hidden 256 --layers 1 --pool last --vocab-size 20000 --batch-size 256 --max-len 256 --learn-vectors 0)
common=(--cache-dir "$OUT/train/cache" --epochs 1 --dev-fraction 0.002 --patience 0 --checkpoint-every 0 --log-format json --overwrite)
if stage synth 40 "$bin/trainer-cuda" synth -n "$reviews" --seed 7 --out "$data"; then
	stage prep 45 "$bin/trainer-cuda" prep --train "$data" --cache-dir "$OUT/train/cache" --vocab-size 20000 --json
	for p in ${precisions//,/ }; do
		amp=$p
		[ "$p" = fp32 ] && amp=off
		stage "train-$p" 75 "$bin/trainer-cuda" train --train "$data" --device cuda:0 --amp "$amp" --cpu-workers 0 \
			"${model[@]}" "${common[@]}" --out "$OUT/train/$p"
	done

	# 8. Hybrid: about 30 steps with 4 CPU workers against the GPU alone.
	head -n 8000 "$data" >"$OUT/train/hybrid.ft.txt"
	stage hybrid-gpu 30 "$bin/trainer-cuda" train --train "$OUT/train/hybrid.ft.txt" --device cuda:0 --amp bf16 --cpu-workers 0 \
		"${model[@]}" "${common[@]}" --out "$OUT/train/hybrid-gpu"
	stage hybrid 45 "$bin/trainer-cuda" train --train "$OUT/train/hybrid.ft.txt" --device cuda:0 --amp bf16 --cpu-workers 4 \
		"${model[@]}" "${common[@]}" --out "$OUT/train/hybrid"
fi

kill $dmon $sampler 2>/dev/null
wait 2>/dev/null
trap - EXIT
summarize
exit $failed
