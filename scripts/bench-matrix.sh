#!/usr/bin/env bash
# bench-matrix.sh: regenerates the performance matrix of the README.
# Builds the MPI-enabled binary when Open MPI is installed (otherwise the
# plain one, and rows with ranks > 1 are listed as skipped), then runs
# `trainer bench` twice on the same data:
#   1. the reference model (E=128, H=256, one layer): ddp on 1..N CPUs, 1 and 2 ranks;
#   2. a two-layer model (E=H=256) that splits into two balanced pipeline
#      stages: ddp vs ddp-mp (2 stages), for the model-parallel speedup.
# Usage: scripts/bench-matrix.sh [TRAIN TEST [OUT [BUDGET]]]
#   defaults: ../shared/data/amazon_polarity/{train,dev}.ft.txt, bench-out, 30s
# REPEAT (default 3) rounds of each matrix, alternating order; rows report
# their median round.
# Extra flags for both runs: BENCH_ARGS="--cpus 1,2,4 ..." scripts/bench-matrix.sh
set -euo pipefail
cd "$(dirname "$0")/.."

train=${1:-../shared/data/amazon_polarity/train.ft.txt}
test=${2:-../shared/data/amazon_polarity/dev.ft.txt}
out=${3:-bench-out}
budget=${4:-30s}
repeat=${REPEAT:-3}
cpus=${CPUS:-$(seq -s, 1 "$(nproc)")}
[ -f "$train" ] && [ -f "$test" ] || { echo "bench-matrix: $train or $test not found"; exit 1; }

GO=${GO:-go}
if command -v mpicc >/dev/null && command -v mpirun >/dev/null; then
	"$GO" build -tags mpi -o bin/trainer-mpi ./cmd/trainer
	bin=bin/trainer-mpi
	ranks=1,2
else
	echo "bench-matrix: Open MPI not found; building without MPI, rows with 2 ranks will be skipped"
	"$GO" build -o bin/trainer ./cmd/trainer
	bin=bin/trainer
	ranks=1,2
fi

echo "== $(date -u +%FT%TZ) on $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
set -x
"$bin" bench --train "$train" --test "$test" --out "$out/reference" --budget "$budget" --repeat "$repeat" \
	--approaches ddp,amp-hybrid --cpus "$cpus" --ranks "$ranks" --embed-dim 128 --hidden 256 --layers 1 ${BENCH_ARGS:-}
"$bin" bench --train "$train" --test "$test" --out "$out/pipeline" --budget "$budget" --repeat "$repeat" \
	--approaches ddp,ddp-mp --cpus "$cpus" --ranks 1 --embed-dim 256 --hidden 256 --layers 2 --pipeline-stages 2 ${BENCH_ARGS:-}
