#!/usr/bin/env bash
# mpi-test.sh: builds the MPI test binary and runs it under mpirun on
# localhost, then checks that a rank dying mid-run stops the whole job.
# Usage: scripts/mpi-test.sh [ranks]   (default 2; needs libopenmpi-dev, openmpi-bin)
set -euo pipefail
cd "$(dirname "$0")/.."

NP=${1:-2}
GO=${GO:-go}
command -v mpirun >/dev/null || { echo "mpi-test: mpirun not found (install openmpi-bin libopenmpi-dev)"; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Root in containers and CI; more ranks than cores on small machines.
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np "$NP")

echo "== build: go test -c -tags mpi ./train/mpi"
"$GO" test -c -tags mpi -o "$dir/mpi.test" ./train/mpi

echo "== $NP ranks: collectives, start-up check, distributed training equals one process"
timeout 120 "${MPIRUN[@]}" "$dir/mpi.test" -test.count=1 -test.v -test.run 'Allreduce|Bcast|Allgather|CheckSame|Distributed|LocalFailure|GoPanics|FirstDiff|Launched' \
	> "$dir/ok.log" 2>&1 || { cat "$dir/ok.log"; echo "mpi-test: FAIL (collective tests)"; exit 1; }
grep -E '^(--- |ok|PASS|FAIL)|max \|distributed' "$dir/ok.log" | sort | uniq -c
if grep -q -- '--- FAIL' "$dir/ok.log"; then cat "$dir/ok.log"; exit 1; fi
passes=$(grep -c '^PASS$' "$dir/ok.log" || true)
[ "$passes" -eq "$NP" ] || { cat "$dir/ok.log"; echo "mpi-test: FAIL ($passes of $NP ranks passed)"; exit 1; }

echo "== $NP ranks: the last rank exits at step 5; the job must stop within 60 s with an error"
start=$(date +%s)
set +e
TRAINER_MPI_DIE_AT=5 timeout 60 "${MPIRUN[@]}" -x TRAINER_MPI_DIE_AT "$dir/mpi.test" -test.count=1 -test.run 'RankDies' > "$dir/die.log" 2>&1
rc=$?
set -e
took=$(( $(date +%s) - start ))
if [ "$rc" -eq 124 ]; then cat "$dir/die.log"; echo "mpi-test: FAIL (job hung after a rank died)"; exit 1; fi
if [ "$rc" -eq 0 ]; then cat "$dir/die.log"; echo "mpi-test: FAIL (job reported success after a rank died)"; exit 1; fi
grep -q 'exiting on purpose' "$dir/die.log" || { cat "$dir/die.log"; echo "mpi-test: FAIL (the rank did not die)"; exit 1; }
echo "job stopped in ${took}s with status $rc; messages:"
grep -iE 'exiting on purpose|exited|abort|terminated|did not complete|Process name|Exit code' "$dir/die.log" | sed 's/^/  /' | awk 'NR <= 12'

echo "== $NP ranks: the last rank hangs at step 5; the others' 5 s watchdog must abort the job"
start=$(date +%s)
set +e
TRAINER_MPI_DIE_AT=5 TRAINER_MPI_HANG=1 timeout 60 "${MPIRUN[@]}" -x TRAINER_MPI_DIE_AT -x TRAINER_MPI_HANG "$dir/mpi.test" -test.count=1 -test.run 'RankDies' > "$dir/hang.log" 2>&1
rc=$?
set -e
took=$(( $(date +%s) - start ))
if [ "$rc" -eq 124 ] || [ "$rc" -eq 0 ]; then cat "$dir/hang.log"; echo "mpi-test: FAIL (status $rc after a rank hung)"; exit 1; fi
grep -q 'did not complete within' "$dir/hang.log" || { cat "$dir/hang.log"; echo "mpi-test: FAIL (no watchdog message)"; exit 1; }
echo "job stopped in ${took}s with status $rc; messages:"
grep -iE 'on purpose|did not complete|MPI_ABORT was invoked' "$dir/hang.log" | sed 's/^/  /' | awk 'NR <= 6'

echo "== trainer bench under MPI: 2 ranks x 1 worker train together; mismatched settings are refused"
"$GO" build -tags mpi -o "$dir/trainer" ./cmd/trainer
"$dir/trainer" synth -n 400 --seed 1 --out "$dir/train.ft.txt" >/dev/null 2>&1
"$dir/trainer" synth -n 100 --seed 2 --out "$dir/test.ft.txt" >/dev/null 2>&1
small=(--train "$dir/train.ft.txt" --test "$dir/test.ft.txt" --steps 3 --evals 1 --embed-dim 8 --hidden 8 --batch-size 32)
timeout 120 "$dir/trainer" bench "${small[@]}" --out "$dir/bench" --approaches ddp --cpus 2 --ranks 1,2 \
	--mpirun "${MPIRUN[*]:0:3}" > "$dir/bench.log" 2>&1 || { cat "$dir/bench.log"; echo "mpi-test: FAIL (bench with 2 ranks)"; exit 1; }
grep -q '2 MPI ranks' "$dir/bench.log" && ! grep -qE 'FAILED|skipped' "$dir/bench.log" || { cat "$dir/bench.log"; echo "mpi-test: FAIL (2-rank row missing)"; exit 1; }
grep -E 'CPUs used|MPI ranks' "$dir/bench.log" | sed 's/^/  /'
set +e
timeout 60 mpirun --allow-run-as-root --oversubscribe \
	-np 1 "$dir/trainer" bench "${small[@]}" --out "$dir/bench" --approaches ddp --cpus 2 --ranks 2 --rank-child "$dir/r.json" : \
	-np 1 "$dir/trainer" bench "${small[@]}" --out "$dir/bench" --approaches ddp --cpus 2 --ranks 2 --rank-child "$dir/r.json" --hidden 16 \
	> "$dir/mismatch.log" 2>&1
rc=$?
set -e
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then cat "$dir/mismatch.log"; echo "mpi-test: FAIL (status $rc with mismatched settings)"; exit 1; fi
[ "$(grep -c 'different settings than rank 0' "$dir/mismatch.log")" -eq 2 ] || { cat "$dir/mismatch.log"; echo "mpi-test: FAIL (both ranks must name the mismatch)"; exit 1; }
grep 'different settings' "$dir/mismatch.log" | sed 's/^/  /'
echo "== trainer train under MPI: $NP ranks x 1 worker score like one process x $NP workers; only rank 0 writes"
tt=(train --train "$dir/train.ft.txt" --test "$dir/test.ft.txt" --epochs 2 --embed-dim 8 --hidden 8 --batch-size 32 --seed 3 --log-format json)
timeout 120 "${MPIRUN[@]}" "$dir/trainer" "${tt[@]}" --cpu-workers 1 --out "$dir/ranks" > "$dir/ranks.log" 2>&1 \
	|| { cat "$dir/ranks.log"; echo "mpi-test: FAIL (train with $NP ranks)"; exit 1; }
[ "$(grep -c "^CPUs used" "$dir/ranks.log")" -eq 1 ] && grep -q "^[0-9].* x $NP ranks" "$dir/ranks.log" || { cat "$dir/ranks.log"; echo "mpi-test: FAIL (one summary, from rank 0, expected)"; exit 1; }
[ "$(wc -l < "$dir/ranks/metrics.jsonl")" -eq 2 ] || { cat "$dir/ranks/metrics.jsonl"; echo "mpi-test: FAIL (metrics.jsonl needs one line per epoch)"; exit 1; }
"$dir/trainer" "${tt[@]}" --cpu-workers "$NP" --out "$dir/single" > "$dir/single.log" 2>&1 || { cat "$dir/single.log"; echo "mpi-test: FAIL (single process)"; exit 1; }
"$dir/trainer" eval --model "$dir/ranks/model.bin" --test "$dir/test.ft.txt" > "$dir/ranks.eval"
"$dir/trainer" eval --model "$dir/single/model.bin" --test "$dir/test.ft.txt" > "$dir/single.eval"
cmp -s "$dir/ranks.eval" "$dir/single.eval" || { diff "$dir/ranks.eval" "$dir/single.eval"; echo "mpi-test: FAIL ($NP ranks and one process score differently)"; exit 1; }
grep -E '^(CPUs used|[0-9])' "$dir/ranks.log" | sed 's/^/  /'
set +e
timeout 60 "${MPIRUN[@]}" "$dir/trainer" "${tt[@]}" --cpu-workers 1 --out "$dir/bad" --metrics /nonexistent/metrics.jsonl > "$dir/bad.log" 2>&1
rc=$?
set -e
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then cat "$dir/bad.log"; echo "mpi-test: FAIL (status $rc when rank 0 cannot write)"; exit 1; fi
grep -q 'rank 0: train: metrics log' "$dir/bad.log" || { cat "$dir/bad.log"; echo "mpi-test: FAIL (rank 0's error not reported)"; exit 1; }
grep 'rank 0: train' "$dir/bad.log" | sed 's/^/  /'
echo "== $NP ranks: trainer train's final weights equal the golden hash (cmd/trainer TestGoldenMPI)"
"$GO" test -c -tags mpi -o "$dir/cmd.test" ./cmd/trainer
mkdir -p "$dir/golden"
TRAINER_GOLDEN_OUT="$dir/golden/run" timeout 120 "${MPIRUN[@]}" -x TRAINER_GOLDEN_OUT "$dir/cmd.test" -test.count=1 -test.v -test.run '^TestGoldenMPI$' \
	> "$dir/golden.log" 2>&1 || { cat "$dir/golden.log"; echo "mpi-test: FAIL (golden weights)"; exit 1; }
[ "$(grep -c '^--- PASS: TestGoldenMPI' "$dir/golden.log")" -eq "$NP" ] || { cat "$dir/golden.log"; echo "mpi-test: FAIL (golden weights)"; exit 1; }
echo "mpi-test: PASS"
