#!/bin/bash
# How much two independent single-worker training processes slow each other
# on two CPUs: the one-worker engine benchmark alone on CPU 0, then two
# copies at once on CPUs 0 and 1, ROUNDS times (default 3). Nothing is shared
# between the two processes but the machine, so the slowdown is the part of
# the 2-worker scaling gap that no change to the engine can win back.
# Usage: scripts/bench-contention.sh   (needs taskset, two CPUs, ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
bin=$(mktemp)
trap 'rm -f "$bin" "$bin".*' EXIT
go test -c -o "$bin" ./train
bench() { # cpu -> tokens/s
  (cd train && taskset -c "$1" "$bin" -test.run '^$' -test.bench 'Engine$/workers=1/embed=lazy$' -test.benchtime 40x) |
    awk '/tokens\/s/ {for (i = 1; i < NF; i++) if ($(i+1) == "tokens/s") print $i}'
}
for r in $(seq "$rounds"); do
  alone=$(bench 0)
  bench 0 >"$bin.a" & bench 1 >"$bin.b"; wait
  python3 -c "
a, x, y = $alone, $(cat "$bin.a"), $(cat "$bin.b")
print('round $r: alone %.0f tokens/s; together %.0f and %.0f: %.1f%% and %.1f%% slower' % (a, x, y, 100*(1-x/a), 100*(1-y/a)))"
done
