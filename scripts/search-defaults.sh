#!/usr/bin/env bash
# search-defaults.sh: the search behind `trainer train`'s default model.
# Trains every candidate below on the shared Amazon and IMDB sets with two
# seeds and prints one TSV line per run (candidate, data, seed, best dev
# accuracy, its epoch, wall seconds), then the mean per candidate and data.
# Data (read from ../shared/data, never copied into the repository):
#   amazon: polarity train + FDU-MTL train (25,967 reviews) / polarity dev (4,000)
#   imdb:   IMDB train minus its last 2,000 (22,903) / those 2,000
#   mtl:    FDU-MTL train / FDU-MTL dev, reported beside them
# Usage: scripts/search-defaults.sh [OUT] [CANDIDATE...]
#   OUT defaults to search-out; CANDIDATE names from the table (default all).
#   DATASETS="amazon imdb mtl" SEEDS="1 2" scripts/search-defaults.sh
# Run on an otherwise idle machine: the seconds column is part of the result.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-search-out}
shift || true
shared=${SHARED:-../shared/data}
datasets=${DATASETS:-amazon imdb}
seeds=${SEEDS:-1 2}
mkdir -p "$out/data" "$out/runs"

# Candidates: name, then the flags that differ from the built-in defaults.
# "defaults" is what `trainer train` does with no flags.
declare -A cand=(
	[defaults]=""
	# Every candidate before the learned vectors keeps its random embedding
	# start (--learn-vectors 0), so that it still measures what it did.
	[old-defaults]="--bidirectional=false --pool mean --ngrams 0 --word-dropout 0 --weight-decay 0 --learn-vectors 0"
	[uni-mean-wdrop]="--bidirectional=false --pool mean --ngrams 0 --weight-decay 0 --learn-vectors 0"
	[uni-max-wdrop]="--bidirectional=false --ngrams 0 --learn-vectors 0"
	[bi-max]="--ngrams 0 --word-dropout 0 --learn-vectors 0"
	[bi-max-wdrop]="--ngrams 0 --learn-vectors 0"
	[bi-max-wdrop.25]="--ngrams 0 --word-dropout 0.25 --learn-vectors 0"
	[bi-max-wdrop.2-ngrams]="--word-dropout 0.2 --learn-vectors 0"
	[bi-h64-ngrams]="--hidden 64 --learn-vectors 0"
	[bi-h96-ngrams]="--hidden 96 --learn-vectors 0"
	[bi-h128-ngrams]="--hidden 128 --learn-vectors 0"
	[bi-ngrams-len400]="--max-len 400 --learn-vectors 0"
	# One change each to the defaults above (bidirectional H=64, max pooling,
	# --ngrams 2, 400 tokens), then the pairs of those that helped; layers2 and
	# layers2-h32 measure depth against the prediction bound (docs/accuracy.md).
	[vocab50k]="--vocab-size 50000 --learn-vectors 0"
	[vocab100k-min1]="--vocab-size 100000 --min-count 1 --learn-vectors 0"
	[embed1024]="--embed-dim 1024 --learn-vectors 0"
	[lr1.5e-3]="--lr 1.5e-3 --learn-vectors 0"
	[lr3e-3]="--lr 3e-3 --learn-vectors 0"
	[epochs7]="--epochs 7 --learn-vectors 0"
	[wd0.05]="--weight-decay 0.05 --learn-vectors 0"
	[wdrop.15]="--word-dropout 0.15 --learn-vectors 0"
	[ngrams3]="--ngrams 3 --learn-vectors 0"
	[buckets2m]="--buckets 2097152 --learn-vectors 0"
	[batch64]="--batch-size 64 --learn-vectors 0"
	[treebank]="--tokenizer treebank --learn-vectors 0"
	[keep-special]="--remove-special=false --learn-vectors 0"
	[layers2]="--layers 2 --learn-vectors 0"
	[layers2-h32]="--layers 2 --hidden 32 --learn-vectors 0"
	[layers2-tb]="--layers 2 --tokenizer treebank --learn-vectors 0"
	# The training settings of the 20-minute tune's winner (docs/tune.md) on the default model.
	[tune-opt]="--batch-size 64 --lr 0.00374 --weight-decay 0.1 --word-dropout 0.2 --tokenizer treebank --learn-vectors 0"
	[wdrop.05]="--word-dropout 0.05 --learn-vectors 0"
	[tb-vocab50k]="--tokenizer treebank --vocab-size 50000 --learn-vectors 0"
	[tb-vocab100k-min1]="--tokenizer treebank --vocab-size 100000 --min-count 1 --learn-vectors 0"
	# The embedding started from vectors learned on the training reviews
	# (the defaults since): without them (the defaults before), with fewer
	# passes, and with the two changes that helped before them.
	[no-learn]="--learn-vectors 0"
	[learn2]="--learn-vectors 2"
	[learn-treebank]="--tokenizer treebank"
	[learn-layers2]="--layers 2"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || mapfile -t names < <(printf '%s\n' "${!cand[@]}" | sort)

amz="$out/data/amazon-train.ft.txt"
[ -s "$amz" ] || cat "$shared/amazon_polarity/train.ft.txt" "$shared/amazon_mtl/train.ft.txt" >"$amz"
imdb_all="$shared/imdb/train.ft.txt.gz"
if [ ! -s "$out/data/imdb-dev.ft.txt" ]; then
	zcat "$imdb_all" | head -n -2000 >"$out/data/imdb-train.ft.txt"
	zcat "$imdb_all" | tail -n 2000 >"$out/data/imdb-dev.ft.txt"
fi

go build -o "$out/trainer" ./cmd/trainer
results="$out/results.tsv"
[ -s "$results" ] || printf 'candidate\tdata\tseed\tdev_accuracy\tbest_epoch\tseconds\n' >"$results"

for name in "${names[@]}"; do
	[ -n "${cand[$name]+x}" ] || { echo "search-defaults: unknown candidate $name" >&2; exit 2; }
	for ds in $datasets; do
		case $ds in
		amazon) tr=$amz dev=$shared/amazon_polarity/dev.ft.txt ;;
		imdb) tr=$out/data/imdb-train.ft.txt dev=$out/data/imdb-dev.ft.txt ;;
		mtl) tr=$shared/amazon_mtl/train.ft.txt dev=$shared/amazon_mtl/dev.ft.txt ;;
		*) echo "search-defaults: unknown data $ds" >&2; exit 2 ;;
		esac
		for seed in $seeds; do
			if grep -q "^$name	$ds	$seed	" "$results"; then continue; fi
			run="$out/runs/$name-$ds-$seed"
			rm -rf "$run"
			start=$(date +%s.%N)
			# shellcheck disable=SC2086 # the candidate's flags are a list
			"$out/trainer" train --train "$tr" --dev "$dev" --out "$run" --cache-dir "$out/cache" \
				--seed "$seed" ${cand[$name]} >"$run.log" 2>&1 ||
				{ echo "search-defaults: $name $ds seed $seed failed, see $run.log" >&2; exit 1; }
			secs=$(echo "$(date +%s.%N) - $start" | bc)
			best=$(python3 -c '
import json, sys
best = max((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["accuracy"])
print("%.4f\t%d" % (best["accuracy"], best["epoch"]))' "$run/metrics.jsonl")
			printf '%s\t%s\t%s\t%s\t%.0f\n' "$name" "$ds" "$seed" "$best" "$secs" | tee -a "$results"
		done
	done
done

echo
python3 - "$results" <<'PY'
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
agg = collections.defaultdict(list)
for r in rows:
    agg[(r["candidate"], r["data"])].append(r)
print("candidate\tdata\tseeds\tmean_dev_accuracy\tmean_seconds")
for (c, d), rs in sorted(agg.items()):
    acc = sum(float(r["dev_accuracy"]) for r in rs) / len(rs)
    sec = sum(float(r["seconds"]) for r in rs) / len(rs)
    print(f"{c}\t{d}\t{len(rs)}\t{acc:.4f}\t{sec:.0f}")
PY
