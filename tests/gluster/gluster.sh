# SPDX-License-Identifier: MIT
#
# gluster.sh - two clients of one GlusterFS replica-2 volume (issue 9).
#
# Usage: gluster.sh ATOMICFILE-CLI AFILE_GLUSTER_INCR
#
# Starts glusterd (directly: there is no systemd in CI) unless one is
# running, creates a replica-2 volume on two bricks inside a loop-mounted
# xfs image (bricks on one host need "force"), and mounts it twice with
# the glusterfs FUSE client: two mounts on one machine stand for two
# machines.  Then, in two modes:
#
# coherent  the client caches off (performance.quick-read, io-cache,
#           stat-prefetch, open-behind, read-ahead, readdir-ahead) and the
#           mounts with entry-timeout=0,attribute-timeout=0,
#           negative-timeout=0: every check must pass.
#             - a replacement on one client is seen by the other;
#             - a lock excludes across clients, both ways;
#             - 2 x 100 locked increments through afile_update() and
#               through `atomicfile lock` give 200;
#             - transactions on one client are never half-seen by
#               `cat -C` on the other;
#             - create races have exactly one winner;
#             - kill -9 of a transaction on one client, recovery from the
#               other: all old or all new.
#           plus `atomicfile doctor` on a mount (fuse.glusterfs, warning).
# default   the volume's and the mounts' defaults: the caches may show a
#           client a stale view, so the only promise is the library's:
#           2 x 100 afile_update() increments lose no acknowledged
#           update; an increment that could not get a fresh view fails
#           with a clear error (and is not counted).
#
# Teardown runs whatever happens (EXIT trap): both mounts unmounted, the
# volume stopped and deleted, glusterd killed if we started it, the
# image's loop device detached.  A volume of that name left by an earlier
# run (a killed test) is removed first, so it cannot break the next run.

set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../realfs/lib.sh
. "$HERE/../realfs/lib.sh"
INCR=${2:?usage: $0 ATOMICFILE-CLI AFILE_GLUSTER_INCR}
VOL=afiletest
GLUSTERD_PID=
C1=
C2=

require_gluster() {
	require_priv xfs
	local tool
	for tool in glusterd gluster glusterfs mount.glusterfs; do
		command -v "$tool" >/dev/null 2>&1 ||
			skip "$tool is not installed (Debian: glusterfs-server glusterfs-client)"
	done
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	[ -x "$INCR" ] || fail "the driver '$INCR' is not an executable file"
}

g() {
	timeout 60 gluster --mode=script "$@"
}

# umount_glusterfs MNT... - the FUSE mounts of our volume, wherever.
umount_vol_mounts() {
	local m
	# Field 5 is the mount point, the source follows the " - " separator.
	for m in $(awk -v src="$(hostname):/$VOL" -v src2="localhost:/$VOL" \
		'{ for (i = 7; i <= NF; i++) if ($i == "-") break;
		   if ($(i+1) == "fuse.glusterfs" && ($(i+2) == src || $(i+2) == src2)) print $5 }' \
		/proc/self/mountinfo); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
}

remove_volume() {
	if g volume info "$VOL" >/dev/null 2>&1; then
		g volume stop "$VOL" force >/dev/null 2>&1 || true
		g volume delete "$VOL" >/dev/null 2>&1 ||
			echo "WARNING: could not delete volume $VOL" >&2
	fi
}

gcleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM HUP
	# Our own background jobs (drivers, lock holders) first: they keep
	# the mounts busy.
	local j
	for j in $(jobs -p); do kill "$j" 2>/dev/null; done
	wait 2>/dev/null
	umount_vol_mounts
	remove_volume
	if [ -n "$GLUSTERD_PID" ]; then
		kill "$GLUSTERD_PID" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$GLUSTERD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$GLUSTERD_PID" 2>/dev/null
	fi
	stop_shd
	(exit "$rc")
	cleanup
}

# The self-heal daemon that glusterd started for our volume (by its pid
# file), when glusterd is gone and left it behind.
stop_shd() {
	local f pid
	[ -n "$GLUSTERD_PID" ] || return 0
	for f in /var/run/gluster/shd/"$VOL"/*.pid /var/run/gluster/vols/"$VOL"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
		rm -f "$f"
	done
}

# What a killed run of this test left: its glusterd is adopted (and
# killed at the end), its brick image unmounted and detached, its scratch
# directory removed (after the volume is gone: see reap_bricks).  Only
# scratch directories of this test (holding glusterd.pid) are touched.
adopt_glusterd() {
	local pid
	for pid in $(pgrep -x glusterd); do
		case $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null) in
		*"${TMPDIR:-/tmp}/afile-realfs."*/glusterd.pid*)
			echo "adopting glusterd $pid of an earlier run"
			GLUSTERD_PID=$pid
			;;
		esac
	done
}

reap_bricks() {
	local d
	for d in "${TMPDIR:-/tmp}"/afile-realfs.*; do
		[ "$d" != "$WORK" ] && [ -e "$d/glusterd.pid" ] || continue
		echo "removing what an earlier run left in $d"
		for m in "$d/c1" "$d/c2" "$d/bricks"; do
			mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
		done
		for dev in $(losetup -j "$d/xfs-bricks.img" | cut -d: -f1); do
			losetup -d "$dev"
		done
		rm -rf "$d"
	done
}

start_glusterd() {
	adopt_glusterd
	if pgrep -x glusterd >/dev/null 2>&1; then
		echo "glusterd is already running: using it"
	else
		# A volume of ours left by a killed run: its bricks are gone.
		rm -rf "/var/lib/glusterd/vols/$VOL"
		glusterd -p "$WORK/glusterd.pid" --log-file="$WORK/glusterd.log" ||
			fail "glusterd did not start (see $WORK/glusterd.log)"
		GLUSTERD_PID=$(cat "$WORK/glusterd.pid")
	fi
	for _ in $(seq 100); do
		g volume list >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	fail "glusterd does not answer 'gluster volume list'"
}

# A name for this host that glusterd accepts for a brick (not localhost).
brick_host() {
	local h
	h=$(hostname)
	if getent hosts "$h" >/dev/null 2>&1; then
		echo "$h"
		return
	fi
	h=$(hostname -I 2>/dev/null | awk '{ print $1 }')
	[ -n "$h" ] || skip "this host has neither a resolvable name nor an address for a brick"
	echo "$h"
}

COHERENT_OPTS="performance.quick-read performance.io-cache performance.stat-prefetch performance.open-behind performance.read-ahead performance.readdir-ahead"

# mount_clients coherent|default
mount_clients() {
	local o mopts= pairs=()
	if [ "$1" = coherent ]; then
		for o in $COHERENT_OPTS; do pairs+=("$o" off); done
		# One call for all (each costs a volfile change), else one each.
		if ! g volume set "$VOL" "${pairs[@]}" >/dev/null 2>&1; then
			for o in $COHERENT_OPTS; do
				g volume set "$VOL" "$o" off >/dev/null || fail "volume set $o off"
			done
		fi
	else
		g volume reset "$VOL" >/dev/null || fail "volume reset"
	fi
	for o in $COHERENT_OPTS; do
		echo "$o: $(g volume get "$VOL" "$o" | awk -v k="$o" '$1 == k { print $2 }')"
	done | tr '\n' ' '
	echo
	[ "$1" = coherent ] && mopts=entry-timeout=0,attribute-timeout=0,negative-timeout=0
	for c in "$C1" "$C2"; do
		mountpoint -q "$c" && umount "$c"
		mount -t glusterfs ${mopts:+-o "$mopts"} "localhost:/$VOL" "$c" ||
			fail "mount of the volume at $c ($1) failed"
	done
}

# wait_file PATH - until PATH exists (a handshake, not a timing).
wait_file() {
	local i
	for i in $(seq 600); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	fail "timed out waiting for $1"
}

check_replacements() {
	local d=$1 i got
	mkdir -p "$C1/$d"
	for i in 1 2 3 4 5; do
		printf 'version %s from client 1\n' "$i" | "$AFILE" write "$C1/$d/f"
		got=$(cat "$C2/$d/f") || fail "client 2 could not read $d/f after replacement $i"
		[ "$got" = "version $i from client 1" ] ||
			fail "client 2 saw '$got' after client 1 wrote version $i"
		printf 'version %s from client 2\n' "$i" | "$AFILE" write "$C2/$d/f"
		got=$(cat "$C1/$d/f") || fail "client 1 could not read $d/f after replacement $i"
		[ "$got" = "version $i from client 2" ] ||
			fail "client 1 saw '$got' after client 2 wrote version $i"
	done
	echo "ok: replacements seen by the other client (10)"
}

# check_exclusion A B - a lock held on client A excludes client B.
check_exclusion() {
	local a=$1 b=$2 d=$3 holder rc=0
	rm -f "$WORK/held" "$WORK/release"
	"$AFILE" lock "$a/$d/f" -- sh -c "touch '$WORK/held'; while [ ! -e '$WORK/release' ]; do sleep 0.05; done" &
	holder=$!
	wait_file "$WORK/held"
	"$AFILE" lock --timeout=0 "$b/$d/f" -- true 2>"$WORK/stderr" || rc=$?
	[ "$rc" = 4 ] ||
		fail "a lock held through $a was taken through $b (exit $rc, expected 4: $(cat "$WORK/stderr"))"
	touch "$WORK/release"
	wait "$holder" || fail "the lock holder on $a failed"
	"$AFILE" lock --timeout=30 "$b/$d/f" -- true ||
		fail "the lock released through $a could not be taken through $b"
}

check_locks() {
	check_exclusion "$C1" "$C2" "$1"
	check_exclusion "$C2" "$C1" "$1"
	echo "ok: locks exclude across clients, both ways"
}

# incr_update DIR MODE - 2 x 100 afile_update() increments, one driver
# per client; every acknowledged increment must be in the final count.
incr_update() {
	local d=$1 mode=$2 rc1=0 rc2=0 a1 a2 got
	mkdir -p "$C1/$d"
	"$INCR" "$C1/$d/counter" 100 >"$WORK/incr1" 2>&1 &
	local p1=$!
	"$INCR" "$C2/$d/counter" 100 >"$WORK/incr2" 2>&1 &
	local p2=$!
	wait "$p1" || rc1=$?
	wait "$p2" || rc2=$?
	a1=$(acked "$WORK/incr1") a2=$(acked "$WORK/incr2")
	got=$(read_settled "$C1/$d/counter")
	echo "afile_update ($mode): client 1 acknowledged $a1, client 2 $a2; counter $got;" \
		"retries (stale views waited out): $(sed -n 's/^retries //p' "$WORK/incr1" "$WORK/incr2" | tr '\n' ' ')"
	if [ "$mode" = coherent ] && { [ "$rc1" != 0 ] || [ "$rc2" != 0 ]; }; then
		fail "afile_update increments failed with coherent settings: $(cat "$WORK/incr1" "$WORK/incr2")"
	fi
	for f in "$WORK/incr1" "$WORK/incr2"; do
		if grep -q 'afile_gluster_incr:' "$f"; then
			# A failure is allowed with the defaults, but only a clear one.
			grep -q "Stale file handle\|ESTALE" "$f" ||
				fail "an increment failed without a stale-view error: $(cat "$f")"
			echo "(default settings) $(grep 'afile_gluster_incr:' "$f")"
		fi
	done
	[ "$got" = $((a1 + a2)) ] ||
		fail "afile_update ($mode): $((a1 + a2)) increments acknowledged, the counter says $got: updates lost"
	echo "ok: afile_update increments ($mode): $got, none lost"
}

# acked FILE - the increments the driver reported as acknowledged.
acked() {
	local n
	n=$(sed -n 's/^ok \([0-9]*\)$/\1/p; s/.*; \([0-9]*\) increments acknowledged$/\1/p' "$1")
	[ -n "$n" ] || fail "the driver's output says nothing: $(cat "$1")"
	echo "$n"
}

# read_settled PATH - read once the clients' caches have expired (bounded).
read_settled() {
	local i v
	sleep 1.5
	for i in $(seq 50); do
		if v=$(cat "$1" 2>/dev/null); then
			echo "$v"
			return 0
		fi
		sleep 0.2
	done
	fail "$1 stayed unreadable"
}

incr_cli_one() {
	local c=$1 d=$2 i
	for i in $(seq 100); do
		"$AFILE" lock "$c/$d/n" -- sh -c \
			"n=\$(cat '$c/$d/n') && echo \$((n + 1)) | '$AFILE' write --sync=none '$c/$d/n'" ||
			return 1
	done
}

incr_cli() {
	local d=$1 rc1=0 rc2=0 got
	mkdir -p "$C1/$d"
	echo 0 | "$AFILE" write "$C1/$d/n"
	incr_cli_one "$C1" "$d" &
	local p1=$!
	incr_cli_one "$C2" "$d" &
	local p2=$!
	wait "$p1" || rc1=$?
	wait "$p2" || rc2=$?
	[ "$rc1" = 0 ] && [ "$rc2" = 0 ] || fail "an 'atomicfile lock' increment failed"
	got=$(cat "$C2/$d/n")
	[ "$got" = 200 ] || fail "2 x 100 'atomicfile lock' increments gave $got, expected 200"
	echo "ok: atomicfile lock increments: 200"
}

check_txn_views() {
	local d=$1 i out writer n=0
	mkdir -p "$C1/$d"
	printf '0\n' >"$WORK/v0"
	"$AFILE" txn -C "$C1/$d" put a "$WORK/v0" put b "$WORK/v0"
	for i in $(seq 1 20); do printf '%s\n' "$i" >"$WORK/v$i"; done
	(
		for i in $(seq 1 20); do
			"$AFILE" txn -C "$C1/$d" put a "$WORK/v$i" put b "$WORK/v$i" || exit 1
		done
		touch "$WORK/txn-done"
	) &
	writer=$!
	rm -f "$WORK/txn-done"
	while [ ! -e "$WORK/txn-done" ]; do
		out=$("$AFILE" cat -C "$C2/$d" a b) ||
			fail "cat -C on client 2 failed during client 1's transactions"
		set -- $out
		[ "$#" = 2 ] && [ "$1" = "$2" ] ||
			fail "client 2 saw a half-applied transaction: a=${1:-?} b=${2:-?}"
		n=$((n + 1))
		kill -0 "$writer" 2>/dev/null || break
	done
	wait "$writer" || fail "a transaction on client 1 failed"
	out=$("$AFILE" cat -C "$C2/$d" a b)
	[ "$out" = "20
20" ] || fail "after the transactions client 2 reads '$(flat "$out")'"
	echo "ok: 20 transactions on client 1, $n consistent views from client 2"
}

check_create_races() {
	local d=$1 k rc1 rc2 got
	mkdir -p "$C1/$d"
	for k in $(seq 10); do
		rc1=0 rc2=0
		echo one | "$AFILE" create "$C1/$d/r$k" 2>/dev/null &
		local p1=$!
		echo two | "$AFILE" create "$C2/$d/r$k" 2>/dev/null &
		local p2=$!
		wait "$p1" || rc1=$?
		wait "$p2" || rc2=$?
		got=$(cat "$C1/$d/r$k")
		case "$rc1 $rc2 $got" in
		"0 3 one" | "3 0 two") ;;
		*) fail "create race $k: exits $rc1 (client 1) and $rc2 (client 2), contents '$got'" ;;
		esac
	done
	echo "ok: 10 create races, one winner each"
}

# kill -9 of a transaction on client 1 as soon as its intent log exists,
# then recovery from client 2: every file all old or all new.
check_kill_recover() {
	local d=$1 i txn args=() old=0 new=0 v
	mkdir -p "$C1/$d"
	for i in $(seq 30); do args+=(put "f$i" "$WORK/old"); done
	echo old >"$WORK/old"
	echo new >"$WORK/new"
	"$AFILE" txn -C "$C1/$d" "${args[@]}"
	args=()
	for i in $(seq 30); do args+=(put "f$i" "$WORK/new"); done
	"$AFILE" txn -C "$C1/$d" "${args[@]}" &
	txn=$!
	for i in $(seq 2000); do
		[ -n "$(ls -A "$C1/$d/.atomicfile" 2>/dev/null | grep -v -e '^lock' -e afile-lock)" ] && break
		kill -0 "$txn" 2>/dev/null || break
		sleep 0.01
	done
	kill -9 "$txn" 2>/dev/null || true
	wait "$txn" 2>/dev/null || true
	"$AFILE" recover "$C2/$d" || fail "recover from client 2 failed"
	for i in $(seq 30); do
		v=$(cat "$C2/$d/f$i")
		case $v in
		old) old=$((old + 1)) ;;
		new) new=$((new + 1)) ;;
		*) fail "f$i holds '$v' after recovery" ;;
		esac
	done
	[ "$old" = 30 ] || [ "$new" = 30 ] ||
		fail "after kill -9 and recovery from client 2: $old files old, $new new"
	"$AFILE" verify "$C2/$d" >/dev/null || fail "verify finds leftovers after recovery"
	[ -z "$(find "$C2/$d" -name '*.afile-txn' -o -name '*.afile-tmp')" ] ||
		fail "temps left after recovery: $(find "$C2/$d" -name '*.afile-t*')"
	echo "ok: kill -9 of a transaction on client 1, recovered from client 2: all $([ "$old" = 30 ] && echo old || echo new)"
}

check_doctor() {
	local k
	"$AFILE" doctor "$C1" >"$WORK/doctor" 2>&1 ||
		fail "doctor on the volume failed: $(cat "$WORK/doctor")"
	cat "$WORK/doctor"
	for k in "file-system: fuse (magic 0x65735546)" \
		"mount-type: fuse.glusterfs" "mount-source: localhost:/$VOL" \
		"kind: fuse network shared" "syncfs: no" "file-fsync: yes" \
		"ofd-locks: yes" "reflink: no" "tmpfile: no" \
		"rename-noreplace: no" "rename-exchange: no" "dir-fsync: yes" \
		"durability: full"; do
		grep -qxF "$k" "$WORK/doctor" || fail "doctor on GlusterFS: expected '$k'"
	done
	grep -q '^warning: FUSE: syncfs' "$WORK/doctor" ||
		fail "doctor on GlusterFS: no FUSE warning"
	grep -q '^warning: GlusterFS: .*attribute-timeout=0' "$WORK/doctor" ||
		fail "doctor on GlusterFS: no warning with the client settings"
	[ -z "$(ls -A "$C1")" ] || fail "doctor left something on the volume: $(ls -A "$C1")"
	echo "ok: doctor on GlusterFS"
}

# step WHAT - how long the run has taken so far (information only).
step() {
	echo "-- $1: $(($(date +%s) - START)) s"
}

require_gluster
setup
trap gcleanup EXIT
START=$(date +%s)

umount_vol_mounts
start_glusterd
remove_volume
reap_bricks
IMG_DIR=$WORK make_fs xfs 320 bricks
BRICKS=$MNT
mkdir -p "$BRICKS/b1" "$BRICKS/b2" "$WORK/c1" "$WORK/c2"
C1=$WORK/c1 C2=$WORK/c2
H=$(brick_host)
g volume create "$VOL" replica 2 "$H:$BRICKS/b1" "$H:$BRICKS/b2" force >/dev/null ||
	fail "volume create failed"
g volume start "$VOL" >/dev/null || fail "volume start failed"

mount_clients coherent
step "mounted (coherent settings)"
check_doctor
check_replacements coherent-replace
check_locks coherent-replace
# The two increment races touch different files: run them side by side.
incr_cli coherent-cli >"$WORK/cli.out" 2>&1 &
CLI_PID=$!
incr_update coherent-update coherent
wait "$CLI_PID" || fail "$(cat "$WORK/cli.out")"
cat "$WORK/cli.out"
step "increments"
check_txn_views coherent-txn
check_create_races coherent-create
check_kill_recover coherent-kill
step "coherent suite"

mount_clients default
incr_update default-update default
step "default settings"
finish
