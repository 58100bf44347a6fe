#!/bin/bash
# bench/node/run.sh - the Node benchmark (bench.js) on every file system
# at hand, in one run: the disk under BENCH_WORK_PARENT (default this
# directory), /dev/shm, and, as root, an ext4 with a journal and an xfs,
# each on a loop device over a sparse image file on that disk (mounted
# under /tmp/afile-node-XXXXXX; unmounted and removed on exit, also on
# failure).  Then each peer's syncs per write, counted with strace.
# Environment: BENCH_N, BENCH_CONC, BENCH_REPEAT (see bench.js),
# BENCH_WORK_PARENT, BENCH_LOOP=0 to skip the loop file systems.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
# The package under test, built from this checkout (npm does not always
# run the install script of a linked file: dependency), then the peers.
[ -f ../../bindings/node/build/Release/atomicfile.node ] ||
	(cd ../../bindings/node && npm install --no-audit --no-fund)
[ -d node_modules/write-file-atomic ] || npm install --no-audit --no-fund
parent=${BENCH_WORK_PARENT:-$here}
work=$(mktemp -d "$parent/.afile-node-XXXXXX")
mnt=$(mktemp -d /tmp/afile-node-XXXXXX)
loops=()
cleanup() {
	set +e
	for m in "$mnt"/*; do mountpoint -q "$m" && umount "$m"; done
	for l in "${loops[@]}"; do losetup -d "$l"; done
	rm -rf "$work" "$mnt"
}
trap cleanup EXIT

dirs=("$work")
[ -d /dev/shm ] && dirs+=(/dev/shm)
if [ "${BENCH_LOOP:-1}" = 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "run.sh: not root: no ext4-with-journal and xfs loop file systems" >&2
	else
		for fs in ext4 xfs; do
			if ! command -v "mkfs.$fs" >/dev/null; then
				echo "run.sh: no mkfs.$fs: $fs skipped" >&2
				continue
			fi
			# Written out in full and used with direct I/O: a sparse image
			# would make the first syncs allocate blocks of the image file
			# on the disk below (slow, and only for the first rows).
			dd if=/dev/zero of="$work/$fs.img" bs=1M count=512 conv=fsync status=none
			if [ "$fs" = ext4 ]; then
				mkfs.ext4 -q -F -O has_journal "$work/$fs.img"
			else
				mkfs.xfs -q -f "$work/$fs.img"
			fi
			l=$(losetup -f --show --direct-io=on "$work/$fs.img")
			loops+=("$l")
			mkdir "$mnt/$fs"
			mount "$l" "$mnt/$fs"
			dirs+=("$mnt/$fs")
		done
	fi
fi

node bench.js "${dirs[@]}"

if command -v strace >/dev/null; then
	n=50
	echo
	echo "per durable write, strace -f -c over $n sequential async writes (all threads),"
	echo "less a run of the same program that writes nothing:"
	printf '%-12s %-20s %-24s %s\n' 'file system' 'peer' 'fsync+fdatasync+syncfs' 'system calls'
	count() { # count PEER DIR N -> "syncs total"
		BENCH_N=$3 strace -f -c -o "$work/strace.txt" node bench.js --count="$1" "$2" >/dev/null
		awk '$NF ~ /^(fsync|fdatasync|syncfs)$/ { s += $4 } $NF == "total" { t = $4 } END { print s + 0, t + 0 }' "$work/strace.txt"
	}
	for d in "${dirs[@]}"; do
		t=$(mktemp -d "$d/.afile-count-XXXXXX")
		read -r _ base < <(count atomicfile "$t" 0)
		for p in atomicfile write-file-atomic atomically; do
			read -r s tot < <(count "$p" "$t" "$n")
			printf '%-12s %-20s %-24s %s\n' "$(findmnt -n -o FSTYPE -T "$t" | head -1)" "$p" \
				"$(awk -v s="$s" -v n="$n" 'BEGIN { printf "%.2f", s / n }')" \
				"$(awk -v t="$tot" -v b="$base" -v n="$n" 'BEGIN { printf "%.1f", (t - b) / n }')"
		done
		rm -rf "$t"
	done
fi
