#!/usr/bin/env bash
# bench-prep.sh: `trainer prep` end to end on a synthetic Amazon-shaped corpus
# (reviews/s, MB/s, peak RSS, cold and cached), and the Python reference
# preprocessing (../shared/peers/torch_lstm.py, split and NLTK tokenizers) on
# the same file, same machine, one run, reported as ratios of reviews/s.
#
#   scripts/bench-prep.sh                  # 3.6M reviews, Python split on 600k, NLTK on 100k
#   N=200000 SPLIT_N=0 NLTK_N=20000 scripts/bench-prep.sh
#
# The machine should be otherwise idle: wall-clock rates on a shared machine
# measure the share of it each program got. User and system CPU seconds are
# printed beside them.
#
# SPLIT_N/NLTK_N bound the reviews the Python runs read (--max-train; 0 = all):
# its speed per review does not depend on the file size, and the whole file
# would take minutes. PEERS points at the peers folder. Needs /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-3600000}
SEED=${SEED:-1}
SPLIT_N=${SPLIT_N:-600000}
NLTK_N=${NLTK_N:-100000}
PEERS=${PEERS:-../shared/peers}
PY=${PY:-/usr/bin/python3}
WORK=${WORK:-$(mktemp -d)}
KEEP=${KEEP:-0}

mkdir -p "$WORK"
corpus="$WORK/synth-$N-$SEED.txt"
go build -o bin/trainer ./cmd/trainer
if [ ! -s "$corpus" ]; then
	bin/trainer synth --n "$N" --seed "$SEED" --out "$corpus"
fi

rm -rf "$WORK/cache"
echo "== trainer prep, cold (builds the cache)" >&2
/usr/bin/time -v bin/trainer prep --train "$corpus" --cache-dir "$WORK/cache" --json --log-format json \
	>"$WORK/cold.json" 2>"$WORK/cold.err"
echo "== trainer prep, cached" >&2
/usr/bin/time -v bin/trainer prep --train "$corpus" --cache-dir "$WORK/cache" --json --log-format json \
	>"$WORK/warm.json" 2>"$WORK/warm.err"

run_peer() { # name tokenizer limit
	if [ ! -f "$PEERS/torch_lstm.py" ]; then
		echo '{"skipped": "peers not found"}' >"$WORK/$1.json"
		return
	fi
	echo "== python reference, $2 tokenizer, ${3:-all} reviews" >&2
	/usr/bin/time -v -o "$WORK/$1.time" "$PY" "$PEERS/torch_lstm.py" --train "$corpus" --preprocess-only \
		--tokenizer "$2" --max-train "$3" | grep '"preprocess"' >"$WORK/$1.json"
}
run_peer py-split split "$SPLIT_N"
run_peer py-nltk nltk "$NLTK_N"

"$PY" - "$WORK" "$corpus" <<'PY'
import json, os, re, sys
work, corpus = sys.argv[1], sys.argv[2]
def timev(path):
    t = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
    secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall.split(":"))))
    g = lambda k: float(re.search(k + r": (\S+)", t).group(1))
    return {"wall_s": round(secs, 2), "user_s": g("User time \\(seconds\\)"), "sys_s": g("System time \\(seconds\\)"),
            "peak_rss_mb": round(g("Maximum resident set size \\(kbytes\\)") / 1024, 1)}
size = os.path.getsize(corpus)
out = {}
for run in ("cold", "warm"):
    rep = json.load(open(f"{work}/{run}.json"))
    t = timev(f"{work}/{run}.err")
    t.update(reviews=rep["reviews_read"], cache_hit=rep["cache_hit"],
             reviews_per_s=round(rep["reviews_read"] / t["wall_s"]), mb_per_s=round(size / 1e6 / t["wall_s"], 1))
    out["trainer_prep_" + run] = t
for name in ("py-split", "py-nltk"):
    try:
        p = json.load(open(f"{work}/{name}.json"))
    except Exception as e:
        out[name] = {"error": str(e)}
        continue
    out[name] = {k: p.get(k) for k in ("n_train", "total_s", "reviews_per_s", "peak_rss_mb", "nltk_preserve_line")}
    out[name]["process"] = timev(f"{work}/{name}.time")  # whole process, torch import included
    if "reviews_per_s" in p:
        out[name]["trainer_ratio"] = round(out["trainer_prep_cold"]["reviews_per_s"] / p["reviews_per_s"], 1)
out["cpus"] = os.cpu_count()
out["corpus_mb"] = round(size / 1e6, 1)
print(json.dumps(out, indent=1))
PY

if [ "$KEEP" = 0 ]; then
	rm -rf "$WORK"
fi
