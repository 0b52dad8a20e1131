#!/usr/bin/env bash
# The quick-start job: train and evaluate on the files given, or, with none,
# on a small synthetic corpus generated on the spot.
# Usage: scripts/run.sh TRAIN TEST [extra trainer train flags...]
set -euo pipefail
train=${1:-}
test=${2:-}
shift 2 || true
bin=bin/trainer
out=${OUT:-runs/quickstart}
if [ -z "$train" ]; then
	mkdir -p runs/synthetic
	train=runs/synthetic/train.ft.txt
	test=runs/synthetic/test.ft.txt
	echo "No TRAIN file given: generating a small SYNTHETIC corpus (20000 train / 4000 test reviews)."
	echo "Accuracy on synthetic reviews says nothing about real ones; pass TRAIN=... TEST=... for real data."
	if [ ! -f "$train" ] || [ ! -f "$test" ]; then
		# One corpus, split: a seed also picks the made-up vocabulary and its
		# polar words, so train and test must come from the same seed.
		$bin synth --n 24000 --seed 1 --out runs/synthetic/all.ft.txt
		head -n 20000 runs/synthetic/all.ft.txt >"$train"
		tail -n 4000 runs/synthetic/all.ft.txt >"$test"
		rm -f runs/synthetic/all.ft.txt
	fi
fi
args=(train --train "$train" --device cpu --out "$out")
[ -n "$test" ] && args+=(--test "$test")
echo "+ $bin ${args[*]} $*"
$bin "${args[@]}" "$@"
