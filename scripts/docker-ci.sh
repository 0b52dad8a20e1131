#!/usr/bin/env bash
# docker-ci.sh: builds both targets of Dockerfile.cuda (cpu, cuda) with
# podman and smoke-tests the images, on a machine with no Docker engine and
# no registry: the base images (debian:bookworm-slim, golang:1.26-bookworm)
# are made locally, the first with debootstrap from the machine's own apt
# mirror, the second from it plus the host's Go toolchain and CA bundle.
# They, the layer cache and the logs stay under $TRAINER_PODMAN_DIR (default
# /var/tmp/trainer-podman), so a second run on the same machine rebuilds
# only what changed. docs/docker.md describes every check.
#
#   scripts/docker-ci.sh                    # build, smoke-test, print sizes
#   scripts/docker-ci.sh --self-test-break  # instead build a cpu image that
#                                           # lacks libopenblas0 and pass
#                                           # only if its smoke test fails
#
# Runs as root (CI) or with sudo. podman settings: scripts/podman/*.conf.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

self_test_break=0
case "${1:-}" in
"") ;;
--self-test-break) self_test_break=1 ;;
*)
	echo "usage: scripts/docker-ci.sh [--self-test-break]" >&2
	exit 2
	;;
esac

state=${TRAINER_PODMAN_DIR:-/var/tmp/trainer-podman}
cpu_limit_mb=150
debian_image=localhost/debian:bookworm-slim
golang_image=localhost/golang:1.26-bookworm
export CONTAINERS_CONF=$repo/scripts/podman/containers.conf
export CONTAINERS_STORAGE_CONF=$repo/scripts/podman/storage.conf
export PATH=/usr/local/go/bin:$PATH

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

pm() { $sudo env CONTAINERS_CONF="$CONTAINERS_CONF" CONTAINERS_STORAGE_CONF="$CONTAINERS_STORAGE_CONF" TMPDIR="$state/tmp" \
	podman --root "$state/storage" --runroot "$state/run" "$@"; }
say() { printf 'docker-ci: %s\n' "$*"; }
fail() {
	printf 'docker-ci: %s: %s\n' "${fail_label:-FAIL}" "$*" >&2
	exit 1
}
since() { echo "$(($(date +%s) - $1)) s"; }

# apt_uri SUITE prints the first URI the machine's own apt sources use for
# SUITE (deb822 .sources files, then one-line .list files), or nothing.
apt_uri() {
	local suite=$1 f
	{
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -e "$f" ] || continue
			awk -v s="$suite" '
				function emit() { if (u != "" && ok) { print u; exit } u = ""; ok = 0 }
				/^[[:space:]]*$/ { emit(); next }
				/^URIs:/ { u = $2 }
				/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
				END { emit() }' "$f"
		done
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -e "$f" ] || continue
			awk -v s="$suite" '$1 == "deb" {
				i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i + 1) == s) { print $i; exit } }' "$f"
		done
	} | awk 'NR == 1'
}

install_tools() {
	local p missing=()
	for p in podman runc debootstrap; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return
	say "installing ${missing[*]}"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# make_debian imports a minbase debootstrap of bookworm, trimmed the way the
# official -slim image is (no docs, man pages or locales; apt keeps no
# .debs or lists) and with the same deb822 sources file, pointing at the
# machine's mirror, so that Dockerfile.cuda's sed on debian.sources works.
make_debian() {
	local mirror security rootfs t0
	mirror=$(apt_uri bookworm)
	security=$(apt_uri bookworm-security)
	[ -n "$mirror" ] || fail "no apt source for bookworm in /etc/apt: cannot debootstrap"
	rootfs=$state/rootfs
	$sudo rm -rf "$rootfs"
	t0=$(date +%s)
	say "debootstrap --variant=minbase bookworm (mirror from /etc/apt)"
	$sudo debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$logs/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$logs/debootstrap.log" >&2; fail "debootstrap failed (log: $logs/debootstrap.log)"; }
	$sudo sh -s "$rootfs" "$mirror" "$security" <<'EOF'
set -eu
r=$1 mirror=$2 security=$3
rm -f "$r/etc/apt/sources.list"
{
	printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror"
	[ -z "$security" ] || printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security"
} >"$r/etc/apt/sources.list.d/debian.sources"
cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'X'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
X
cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'X'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
X
echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$r/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$r/usr/share/groff" "$r/usr/share/info" "$r/usr/share/linda" "$r/usr/share/lintian" \
	"$r/usr/share/locale" "$r/usr/share/man" \
	"$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* \
	"$r"/var/log/*.log "$r/var/log/apt" "$r/var/cache/debconf"/*-old "$r/var/lib/dpkg"/*-old
mkdir -p "$r/var/log/apt"
: >"$r/etc/resolv.conf"
: >"$r/etc/machine-id"
echo localhost >"$r/etc/hostname"
EOF
	$sudo tar -C "$rootfs" -c . | pm import -q --change 'CMD ["bash"]' - "$debian_image" >/dev/null
	$sudo rm -rf "$rootfs"
	say "made $debian_image in $(since "$t0")"
}


# make_golang builds the stand-in golang image from debian:bookworm-slim,
# the host's Go toolchain and the host's CA bundle (see the Containerfile).
make_golang() {
	local goroot t0
	goroot=$(go env GOROOT 2>/dev/null) || fail "Go is not installed: needed for the local $golang_image"
	t0=$(date +%s)
	pm build --pull=never -q -v "$goroot:/mnt/go:ro" -v /etc/ssl/certs/ca-certificates.crt:/mnt/host-ca.crt:ro \
		-t "$golang_image" -f scripts/podman/golang.Containerfile scripts/podman >"$logs/golang.log" 2>&1 ||
		{ tail -n 30 "$logs/golang.log" >&2; fail "building $golang_image failed (log: $logs/golang.log)"; }
	say "made $golang_image ($(go version | cut -d' ' -f3)) in $(since "$t0")"
}

# build_image TARGET TAG [DOCKERFILE] builds one target of Dockerfile.cuda
# (or of a variant of it) with the layer cache under $state.
build_image() {
	local target=$1 tag=$2 file=${3:-Dockerfile.cuda} t0 log
	log=$logs/build-${tag##*:}.log
	t0=$(date +%s)
	pm build --pull=never --layers --build-arg VERSION="$version" -f "$file" --target "$target" -t "$tag" . \
		>"$log" 2>&1 || { tail -n 30 "$log" >&2; fail "podman build --target $target failed (log: $log)"; }
	say "built $tag in $(since "$t0")"
}

# pick_reviews sets reviews (a host folder, mounted read-only at /reviews)
# and train_file/test_file (names in it): the shared Amazon polarity files
# beside the checkout, as the Go tests find them, or else a synthetic
# corpus that the image itself writes into the volume.
pick_reviews() {
	local shared=$repo/../shared/data/amazon_polarity image=$1
	if [ -r "$shared/dev.ft.txt" ]; then
		reviews=$(cd "$shared" && pwd)
		test_file=dev.ft.txt
		train_file=dev.ft.txt
		[ -r "$shared/train.ft.txt" ] && train_file=train.ft.txt
		say "reviews: $reviews/{$train_file,$test_file} (read-only)"
		return
	fi
	if [ "$self_test_break" = 1 ]; then
		# A broken image cannot write a corpus; its smoke test stops at
		# `trainer version`, before any review is read.
		reviews=$work train_file=none test_file=none
		return
	fi
	say "no ../shared/data: training on a synthetic corpus made by $image synth"
	pm run --rm --pull=never --network none -v "$work:/data" "$image" synth -n 3000 --out /data/synth/synth.ft.txt \
		>"$logs/synth.log" 2>&1 || { tail -n 20 "$logs/synth.log" >&2; fail "trainer synth failed"; }
	reviews=$work/synth
	train_file=synth.ft.txt
	test_file=synth.ft.txt
}

# run_sealed runs IMAGE with the review folder read-only at /reviews, the
# work volume at /data, no network and a read-only root with no tmpfs, so a
# write anywhere but /data fails the command.
run_sealed() {
	local image=$1
	shift
	pm run --rm --pull=never --network none --read-only --read-only-tmpfs=false \
		-v "$reviews:/reviews:ro" -v "$work:/data" "$image" "$@"
}

# smoke_cpu IMAGE: version, a short training run on real reviews, and an
# evaluation of the model it wrote; exits non-zero on the first problem.
smoke_cpu() {
	local image=$1 out user owner n acc lines
	out=$(pm run --rm --pull=never --network none "$image" version 2>&1) || fail "$image version: $out"
	say "$image: $out"
	user=$(pm image inspect --format '{{.Config.User}}' "$image")
	case ${user%%:*} in "" | 0 | root) fail "$image runs as root (USER '$user')" ;; esac
	run_sealed "$image" train --train "/reviews/$train_file" --out /data/run --epochs 2 --cpu-workers 2 \
		--embed-dim 64 --hidden 32 --max-len 128 --seed 1 >"$logs/train-${image##*:}.log" 2>&1 ||
		{ tail -n 20 "$logs/train-${image##*:}.log" >&2; fail "$image train failed"; }
	[ -s "$work/run/model.bin" ] || fail "$image train wrote no /data/run/model.bin"
	owner=$(stat -c %u "$work/run/model.bin")
	[ "$owner" != 0 ] || fail "$image wrote its model as root"
	out=$(run_sealed "$image" eval --model /data/run/model.bin --test "/reviews/$test_file" --json 2>&1) ||
		fail "$image eval failed: $out"
	n=$(printf '%s\n' "$out" | sed -n 's/.*"n":\([0-9]*\).*/\1/p' | tail -n 1)
	acc=$(printf '%s\n' "$out" | sed -n 's/.*"accuracy":\([0-9.eE+-]*\).*/\1/p' | tail -n 1)
	lines=$(wc -l <"$reviews/$test_file")
	[ "$n" = "$lines" ] || fail "$image eval scored ${n:-no} reviews of $lines: $out"
	awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }' || fail "$image eval accuracy ${acc:-missing} is no better than chance"
	say "$image: trained as uid $owner with a read-only root; eval on $test_file: $n reviews, accuracy $acc"
}

# smoke_cuda IMAGE: version names the CUDA build, and training on cuda:0
# without a GPU ends with one line saying what is missing, not a crash.
smoke_cuda() {
	local image=$1 out rc=0 last driver
	out=$(pm run --rm --pull=never --network none "$image" version 2>&1) || fail "$image version: $out"
	grep -q 'features=[a-z,]*cuda' <<<"$out" || fail "$image version does not report a CUDA build: $out"
	say "$image: $out"
	out=$(run_sealed "$image" train --train "/reviews/$train_file" --device cuda:0 --out /data/cuda-run 2>&1) || rc=$?
	last=$(printf '%s\n' "$out" | tail -n 1)
	[ "$rc" -ne 0 ] || fail "$image trained on cuda:0 on a machine without a GPU?"
	[ "$rc" -lt 126 ] || fail "$image train --device cuda:0: exit $rc (could not start or was killed): $out"
	if grep -qE 'panic|goroutine [0-9]|SIGSEGV|runtime error' <<<"$out"; then
		fail "$image train --device cuda:0 crashed: $out"
	fi
	grep -qE '^trainer: .*(NVIDIA driver|CUDA device)' <<<"$last" ||
		fail "$image train --device cuda:0 (exit $rc) does not say what it needs: $out"
	say "$image without a GPU: exit $rc: $last"

	# nvidia-container-toolkit mounts the host's libcuda.so.1 and runs
	# ldconfig; with a real driver library mounted that way (this machine's,
	# if it has one) the image must pick it over its stub: no device files
	# are passed in, so the driver itself answers "no device".
	driver=$(ldconfig -p | awk '$1 == "libcuda.so.1" && /x86-64/ && d == "" { d = $NF } END { print d }')
	driver=$(readlink -f "${driver:-/nonexistent}" || true)
	case $driver in
	"" | */stubs/* | /nonexistent) say "no NVIDIA driver library on this machine: stub-versus-driver check skipped" ;;
	*)
		out=$(pm run --rm --pull=never --network none --user 0 --entrypoint sh \
			-v "$driver:/usr/lib/x86_64-linux-gnu/libcuda.so.1:ro" -v "$reviews:/reviews:ro" -v "$work:/data" "$image" \
			-c "ldconfig && exec /usr/local/bin/trainer train --train /reviews/$train_file --device cuda:0 --out /data/cuda-run-driver" 2>&1) || true
		grep -q 'CUDA_ERROR_NO_DEVICE' <<<"$out" ||
			fail "$image with a driver mounted as nvidia-container-toolkit does did not use it: $(printf '%s\n' "$out" | tail -n 1)"
		say "$image with this machine's driver library mounted: the driver, not the stub, answers: $(printf '%s\n' "$out" | tail -n 1)"
		;;
	esac
}

# image_mb IMAGE prints its size in MB (10^6 bytes, as docker and podman
# images show it).
image_mb() { pm image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f", $1 / 1e6 }'; }

t_all=$(date +%s)
install_tools
$sudo mkdir -p "$state/tmp"
logs=$state/logs
$sudo mkdir -p "$logs"
version=$(git describe --always --dirty 2>/dev/null || echo dev)
pm image exists "$debian_image" || make_debian
pm image exists "$golang_image" || make_golang

work=$($sudo mktemp -d "$state/smoke.XXXXXX")
trap '$sudo rm -rf "$work"' EXIT
# The images run as nobody (65534); the volume is theirs to write.
$sudo chown 65534:65534 "$work"

if [ "$self_test_break" = 1 ]; then
	# The cpu stage without libopenblas0: the binary cannot start, and the
	# smoke test must say so.
	broken=$state/Dockerfile.cpu-without-openblas
	awk '/^FROM .* AS /{ stage = $NF } stage == "cpu" { gsub(/ libopenblas0(-serial)?( |$)/, " ") } { print }' Dockerfile.cuda |
		$sudo tee "$broken" >/dev/null
	awk '/^FROM .* AS /{ stage = $NF } stage == "cpu" && /libopenblas0/ { found = 1 } END { exit found }' "$broken" ||
		fail "could not remove libopenblas0 from the cpu stage"
	build_image cpu localhost/trainer:cpu-without-openblas "$broken"
	pick_reviews localhost/trainer:cpu-without-openblas
	if (fail_label="FAIL (expected)" && smoke_cpu localhost/trainer:cpu-without-openblas); then
		fail "the cpu smoke test passed on an image without libopenblas0: it proves nothing"
	fi
	pm rmi localhost/trainer:cpu-without-openblas >/dev/null
	say "PASS: the cpu smoke test fails on an image without libopenblas0, as it must ($(since "$t_all"))"
	exit 0
fi

build_image cpu localhost/trainer:cpu
build_image cuda localhost/trainer:cuda
pick_reviews localhost/trainer:cpu
smoke_cpu localhost/trainer:cpu
smoke_cuda localhost/trainer:cuda

cpu_mb=$(image_mb localhost/trainer:cpu)
cuda_mb=$(image_mb localhost/trainer:cuda)
say "image sizes: localhost/trainer:cpu $cpu_mb MB (limit $cpu_limit_mb MB), localhost/trainer:cuda $cuda_mb MB"
awk -v s="$cpu_mb" -v l="$cpu_limit_mb" 'BEGIN { exit !(s < l) }' ||
	fail "the cpu image is $cpu_mb MB, over the $cpu_limit_mb MB limit"
say "PASS: both images built and smoke-tested in $(since "$t_all")"
