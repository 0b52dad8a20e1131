#!/usr/bin/env bash
# Exports small models of every shape the trainer has (uni- and
# bidirectional, pooling last/mean/max, one and two layers, with and
# without the wide n-gram path), runs each in ONNX Runtime
# (onnxruntime-node) on real reviews fed with the ids and n-gram features
# `trainer encode` prints, and checks P(positive) against
# `trainer predict --precision fp32` within TOL.
#
# Installs node (Debian's nodejs/npm) when absent and onnxruntime-node
# (npm install --ignore-scripts: its CPU libraries ship in the package; the
# install script only fetches GPU parts) into ORT_DIR, outside the repo.
#
# Environment: DATA (../shared/data/amazon_polarity), N reviews (1000),
# TOL (1e-4), ORT_DIR (~/.cache/trainer/onnxruntime-node), ORT_VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/amazon_polarity}
N=${N:-1000}
TOL=${TOL:-1e-4}
ORT_DIR=${ORT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trainer/onnxruntime-node}
ORT_VERSION=${ORT_VERSION:-1.31.1}

if [[ ! -f $DATA/train.ft.txt || ! -f $DATA/dev.ft.txt ]]; then
	echo "onnx-check: no real reviews in $DATA (train.ft.txt, dev.ft.txt)" >&2
	exit 1
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "onnx-check: installing node and npm (Debian packages)"
	SUDO=""
	[[ $(id -u) -ne 0 ]] && SUDO=sudo
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq nodejs npm
fi
if [[ ! -f $ORT_DIR/node_modules/onnxruntime-node/package.json ]]; then
	echo "onnx-check: installing onnxruntime-node@$ORT_VERSION into $ORT_DIR"
	mkdir -p "$ORT_DIR"
	[[ -f $ORT_DIR/package.json ]] || echo '{"private": true}' >"$ORT_DIR/package.json"
	npm install --prefix "$ORT_DIR" --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ORT_VERSION"
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
go build -o "$WORK/trainer" ./cmd/trainer
T=$WORK/trainer
head -n 400 "$DATA/train.ft.txt" >"$WORK/train.txt"
head -n "$N" "$DATA/dev.ft.txt" >"$WORK/dev.txt"

# name and model flags; --max-len 48 cuts most reviews, so truncation is checked too.
# train's defaults are bidirectional with the bigram path, so the LSTM-only
# shapes say --ngrams 0 and the unidirectional ones --bidirectional=false.
shapes=(
	"uni-last|--bidirectional=false --pool last --ngrams 0"
	"uni-mean|--bidirectional=false --pool mean --ngrams 0"
	"uni-max|--bidirectional=false --pool max --ngrams 0"
	"bi-last|--bidirectional --pool last --ngrams 0"
	"bi-mean|--bidirectional --pool mean --ngrams 0"
	"bi-max|--bidirectional --pool max --ngrams 0"
	"uni-2layers-last|--bidirectional=false --layers 2 --pool last --ngrams 0"
	"bi-2layers-mean|--layers 2 --bidirectional --pool mean --ngrams 0"
	"bi-2layers-max|--layers 2 --bidirectional --pool max --ngrams 0"
	"default-ngrams2|--ngrams 2"
	"uni-last-ngrams3|--bidirectional=false --pool last --ngrams 3"
	"uni-mean-ngrams1|--bidirectional=false --pool mean --ngrams 1"
)
fail=0
for s in "${shapes[@]}"; do
	name=${s%%|*}
	# shellcheck disable=SC2086 # the flags are words
	"$T" train --train "$WORK/train.txt" --epochs 1 --embed-dim 16 --hidden 16 --max-len 48 \
		--vocab-size 3000 --cpu-workers 1 --cache-dir "$WORK/cache" --out "$WORK/$name" ${s#*|} >/dev/null 2>&1 ||
		{ echo "onnx-check: $name: training failed" >&2; exit 1; }
	"$T" export --model "$WORK/$name/model.bin" --format onnx --out "$WORK/$name" >/dev/null
	"$T" encode --model "$WORK/$name/model.bin" --file "$WORK/dev.txt" >"$WORK/$name/ids.txt"
	"$T" predict --model "$WORK/$name/model.bin" --precision fp32 --json --file "$WORK/dev.txt" >"$WORK/$name/predict.jsonl"
	NODE_PATH=$ORT_DIR/node_modules node scripts/onnx/check.js "$WORK/$name/model.onnx" \
		"$WORK/$name/ids.txt" "$WORK/$name/predict.jsonl" "$TOL" || fail=1
done
# The same shapes at full precision against internal/predict (predict
# prints 4 decimals, which hides differences under 5e-5).
ORT_DIR=$ORT_DIR go test -count=1 -run TestONNXRuntimeMatchesPredict -v ./internal/onnx | grep -E 'reviews|^(ok|FAIL|---)' || fail=1
if [[ $fail -ne 0 ]]; then
	echo "onnx-check: FAILED: ONNX Runtime differs from trainer predict" >&2
	exit 1
fi
echo "onnx-check: every shape within $TOL of trainer predict on $N real reviews"
