#!/bin/bash
# Training throughput of trainer against the PyTorch reference, side by side
# on the same machine, data and model size (E=128, H=256, one layer, batch
# 128, length-bucketed batches of real Amazon polarity reviews), with
# trainer's embedding step lazy (its default) and dense (PyTorch's).
#
# Usage: scripts/bench-train.sh [TRAIN] [TEST] [EPOCHS]
#        [TRAINER_ARGS='--lr 1e-3'] scripts/bench-train.sh accuracy TRAIN DEV [EPOCHS=5]
# Speed mode prints one line per run: real (non-padding) tokens/s, and the
# 2-worker scaling ratio. Run it on an otherwise idle machine: every number
# here is per core, and other processes on those cores distort the
# comparison. Accuracy mode trains trainer, the PyTorch reference and
# fastText (unigram, bigram) on the same files and epochs and prints their
# dev accuracies.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = accuracy ]; then
  train=$2 dev=$3 epochs=${4:-5}
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  go build -o "$out/trainer" ./cmd/trainer
  # shellcheck disable=SC2086 # TRAINER_ARGS is a list of extra flags
  "$out/trainer" train --train "$train" --dev "$dev" --epochs "$epochs" --cpu-workers 2 --out "$out/run" \
    --cache-dir "$out/cache" --log-format json ${TRAINER_ARGS:-} >"$out/summary.txt" 2>/dev/null
  cat "$out/summary.txt"
  /usr/bin/python3 ../shared/peers/torch_lstm.py --train "$train" --test "$dev" --epochs "$epochs" --threads 1 \
    --bucket --ddp --workers 2 | grep summary | python3 -c 'import json,sys; print("pytorch final_test_acc", json.load(sys.stdin)["final_test_acc"])'
  ../shared/peers/fasttext_baseline.sh "$train" "$dev" | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l); print("fasttext", r["setting"], r["p_at_1"])'
  exit 0
fi
train=${1:-../shared/data/amazon_polarity/train.ft.txt}
test=${2:-../shared/data/amazon_polarity/dev.ft.txt}
epochs=${3:-1}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/trainer" ./cmd/trainer

echo "== engine benchmark (go test -bench Engine): steps of one global batch"
go test ./train -run '^$' -bench 'Engine$/' -benchtime 40x | grep -E 'Benchmark|ok'

tokps() { python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(round(sum(x["tokens"] for x in r)/sum(x["seconds"] for x in r)))' "$1"; }
rss() { awk -F': ' '/Maximum resident/ {print int($2/1024) " MB"}' "$1"; }

# The reference's model: E=128, H=256, one layer, its last-step pooling.
ref=(--embed-dim 128 --hidden 256 --pool last --learn-vectors 0)
declare -A tp
for u in lazy dense; do
  for w in 1 2; do
    /usr/bin/time -v "$out/trainer" train --train "$train" --dev "$test" --epochs "$epochs" --cpu-workers "$w" \
      "${ref[@]}" --embed-update "$u" --out "$out/w$w$u" --cache-dir "$out/cache" --patience 0 --log-format json \
      >/dev/null 2>"$out/w$w$u.err"
    tp[$w$u]=$(tokps "$out/w$w$u/metrics.jsonl")
    echo "trainer --cpu-workers $w --embed-update $u: ${tp[$w$u]} tokens/s, peak RSS $(rss "$out/w$w$u.err")"
  done
  python3 -c "print('trainer scaling 1 -> 2 workers, $u: %.2fx' % (${tp[2$u]} / ${tp[1$u]}))"
done

peer=../shared/peers/torch_lstm.py
/usr/bin/time -v /usr/bin/python3 "$peer" --train "$train" --test "$test" --epochs "$epochs" --threads 1 --bucket \
  >"$out/t1.json" 2>"$out/t1.err"
echo "pytorch 1 thread: $(grep summary "$out/t1.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])') tokens/s, peak RSS $(rss "$out/t1.err")"
/usr/bin/python3 "$peer" --train "$train" --test "$test" --epochs "$epochs" --threads 1 --bucket --ddp --workers 2 \
  >"$out/t2.json" 2>"$out/t2.err"
echo "pytorch DDP 2x1: $(grep summary "$out/t2.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])') tokens/s"
