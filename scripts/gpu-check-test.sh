#!/bin/bash
# gpu-check-test.sh: tests the bundle make gpu-check built (dist/gpu-check)
# on a machine without a GPU, as CI does after make gpu-check:
#   1. no nvidia-smi: run.sh 60 exits 0 within 10 s, says "no NVIDIA
#      device", prints at most 40 lines, writes a valid summary.json with
#      device null;
#   2. an nvidia-smi that cannot reach a driver: the same;
#   3. a fake device (an nvidia-smi stub that lists an H100, the real
#      binaries that then find no GPU): every stage runs under its cap and
#      is recorded failed or skipped, not fatal; run.sh exits 1 within the
#      budget, prints at most 40 lines, and summary.json names the stub's
#      device, the PTX the kernels package picks for it, and the failures.
set -u
cd "$(dirname "$0")/.."
bundle=$PWD/dist/gpu-check
[ -x "$bundle/run.sh" ] || { echo "gpu-check-test: $bundle/run.sh missing: run make gpu-check first"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "gpu-check-test: FAIL: $*"
	fails=$((fails + 1))
}

valid_json() {
	if command -v jq >/dev/null; then jq -e . "$1" >/dev/null; else python3 -m json.tool "$1" >/dev/null; fi
}

# field FILE EXPR: a jq or python expression on summary.json.
field() {
	if command -v jq >/dev/null; then
		jq -r "$2" "$1"
	else
		python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$1" "$3"
	fi
}

# A PATH with the usual tools but no nvidia-smi, plus a stub directory.
mkdir -p "$tmp/bin-none" "$tmp/bin-broken" "$tmp/bin-fake"
for tool in bash sh env date mkdir cat tr printf head tail grep awk sed sort timeout getconf ldd ldconfig ls cut wc python3 jq kill sleep rm cp mv dirname basename true false uname; do
	p=$(command -v "$tool" 2>/dev/null) && ln -sf "$p" "$tmp/bin-none/$tool"
done
cat >"$tmp/bin-broken/nvidia-smi" <<'EOF'
#!/bin/sh
echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2
exit 9
EOF
cat >"$tmp/bin-fake/nvidia-smi" <<'EOF'
#!/bin/sh
# A stand-in H100 for the stage logic; the real binaries still find no GPU.
case "$*" in
-L) echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-00000000-0000-0000-0000-000000000000)" ;;
*--query-gpu=name*) echo "NVIDIA H100 80GB HBM3, 550.54.15, 9.0, 1980 MHz, 2619 MHz, 700.00 W, Disabled, Enabled, 81559 MiB, 00000000:18:00.0" ;;
*--query-gpu=timestamp*) i=0; while [ $i -lt 600 ]; do echo "2026/01/01 00:00:00.000, $((1000 + i)), 50, 300.5, 1980"; i=$((i + 1)); sleep 0.5; done ;;
-q) echo "    CUDA Version                          : 12.4" ;;
dmon*) i=0; while [ $i -lt 600 ]; do echo "    0   300    50     -    50    10     0     0  2619  1980"; i=$((i + 1)); sleep 1; done ;;
*) echo "NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4" ;;
esac
EOF
chmod +x "$tmp/bin-broken/nvidia-smi" "$tmp/bin-fake/nvidia-smi"

# nodevice NAME PATH: cases 1 and 2.
nodevice() {
	local name=$1 path=$2 out=$tmp/$1
	local t0 rc secs lines
	t0=$(date +%s)
	PATH=$path OUT=$out "$bundle/run.sh" 60 >"$tmp/$name.stdout" 2>&1
	rc=$?
	secs=$(($(date +%s) - t0))
	lines=$(wc -l <"$tmp/$name.stdout")
	[ "$rc" -eq 0 ] || fail "$name: exit $rc, want 0"
	[ "$secs" -le 10 ] || fail "$name: took ${secs}s, want <= 10"
	[ "$lines" -le 40 ] || fail "$name: printed $lines lines, want <= 40"
	grep -q "no NVIDIA device" "$tmp/$name.stdout" || fail "$name: stdout does not say no NVIDIA device"
	if valid_json "$out/summary.json"; then
		[ "$(field "$out/summary.json" '.device' "d['device']")" = null ] || [ "$(field "$out/summary.json" '.device' "d['device']")" = None ] ||
			fail "$name: summary.json device is not null"
		field "$out/summary.json" '.no_device' "d['no_device']" | grep -q "no NVIDIA device" || fail "$name: summary.json lacks no_device"
	else
		fail "$name: summary.json missing or not valid JSON"
	fi
	echo "gpu-check-test: $name: exit $rc in ${secs}s, $lines lines"
}
nodevice no-nvidia-smi "$tmp/bin-none"
nodevice broken-driver "$tmp/bin-broken:$tmp/bin-none"

# 3. Fake device.
out=$tmp/fake
t0=$(date +%s)
PATH="$tmp/bin-fake:$PATH" OUT=$out TRAINER_GPU_REVIEWS=3000 TRAINER_GPU_BENCH_STEPS=5 "$bundle/run.sh" 60 >"$tmp/fake.stdout" 2>&1
rc=$?
secs=$(($(date +%s) - t0))
lines=$(wc -l <"$tmp/fake.stdout")
[ "$rc" -eq 1 ] || fail "fake device: exit $rc, want 1 (stages fail without a real GPU)"
[ "$secs" -le 75 ] || fail "fake device: took ${secs}s with a budget of 60"
[ "$lines" -le 40 ] || fail "fake device: printed $lines lines, want <= 40"
if valid_json "$out/summary.json"; then
	s=$out/summary.json
	[ "$(field "$s" '.device.name' "d['device']['name']")" = "NVIDIA H100 80GB HBM3" ] || fail "fake device: summary.json device name"
	field "$s" '.device.ptx_chosen' "d['device']['ptx_chosen']" | grep -q "compute_90" || fail "fake device: PTX for cc 9.0 is not compute_90"
	for st in environment correctness go-bench; do
		field "$s" '.stages[].name' "' '.join(x['name'] for x in d['stages'])" | grep -qw "$st" || fail "fake device: stage $st not recorded"
	done
	field "$s" '.stages[] | select(.status != "ok") | .name' "' '.join(x['name'] for x in d['stages'] if x['status'] != 'ok')" | grep -q . ||
		fail "fake device: no stage recorded as failed"
else
	fail "fake device: summary.json missing or not valid JSON"
fi
[ -s "$out/logs/correctness.log" ] || fail "fake device: no correctness log"
echo "gpu-check-test: fake device: exit $rc in ${secs}s, $lines lines"
if [ "$fails" -gt 0 ]; then
	echo "--- fake device stdout:"
	cat "$tmp/fake.stdout"
	exit 1
fi
echo "gpu-check-test: ok"
