#!/bin/sh
# ptx-check.sh: regenerates kernels/*.ptx with `make ptx` and fails when the
# result differs from the files that were there before (in CI: the committed
# ones), so the PTX embedded in the binaries never drifts from the .cu
# sources. Needs nvcc (Debian nvidia-cuda-toolkit, CUDA 11.8): other nvcc
# versions write other PTX.
set -eu
cd "$(dirname "$0")/.."
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
for f in kernels/*.ptx; do
	[ -e "$f" ] && cp "$f" "$before/"
done
make -s ptx >/dev/null
status=0
for f in kernels/*.ptx; do
	old="$before/$(basename "$f")"
	if [ ! -e "$old" ]; then
		echo "ptx-check: $f is new: run make ptx and commit it"
		status=1
	elif ! cmp -s "$old" "$f"; then
		echo "ptx-check: $f differs from the committed file: run make ptx and commit it"
		diff -u "$old" "$f" | head -20 || true
		status=1
	fi
done
for old in "$before"/*.ptx; do
	[ -e "$old" ] || continue
	if [ ! -e "kernels/$(basename "$old")" ]; then
		echo "ptx-check: kernels/$(basename "$old") has no .cu source any more: remove it"
		status=1
	fi
done
[ "$status" -eq 0 ] && echo "ptx-check: kernels/*.ptx match their sources"
exit "$status"
