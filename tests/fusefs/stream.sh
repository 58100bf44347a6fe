# SPDX-License-Identifier: MIT
#
# stream.sh - power cuts at random points of a stream of transactions and
# batches on the FUSE test file system (issue 9).  Each round runs the
# driver's stream (a transaction of 5 files, then an afile_write_many of
# 5 files, alternately, each acknowledged on stdout), cuts the power
# after a random delay, mounts again, runs `atomicfile recover` and
# checks: the transaction's files all of one generation (all or nothing),
# no older than the last acknowledged one; every batch file whole and no
# older than the last acknowledged batch; no transaction temp left.
# Seeded (AFILE_SEED, printed) so a failing round can be replayed.
#
# Usage: bash stream.sh CLI HOLDFS DRIVER [SWITCHES...]

. "$(dirname "$0")/lib.sh"

require_fuse
setup
SEED=${AFILE_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
ROUNDS=${AFILE_FUSE_ROUNDS:-12}
echo "seed $SEED (replay: AFILE_SEED=$SEED), $ROUNDS rounds"
RANDOM=$SEED
mount_fs
mkdir "$MNT/r"
last_txn=0
last_many=0
for round in $(seq "$ROUNDS"); do
	g0=$((round * 100000))
	"$DRIVER" stream "$MNT/r" "$g0" 100000 >"$WORK/acks" 2>"$WORK/driver.err" &
	dpid=$!
	# 20 to 600 ms: from the first transaction's staging to deep in.
	sleep "0.$(printf '%03d' $((20 + RANDOM % 580)))"
	unmount_fs
	wait "$dpid" 2>/dev/null || true
	mount_fs
	t=$(awk '$2 == "txn" { g = $3 } END { print g + 0 }' "$WORK/acks")
	m=$(awk '$2 == "many" { g = $3 } END { print g + 0 }' "$WORK/acks")
	[ "$t" -gt 0 ] && last_txn=$t
	[ "$m" -gt 0 ] && last_many=$m
	"$AFILE" recover "$MNT/r" 2>"$WORK/err" ||
		fail "round $round (seed $SEED): recover failed: $(cat "$WORK/err")"
	out=$("$DRIVER" check "$MNT/r") ||
		fail "round $round (seed $SEED, last acknowledged txn $last_txn, batch $last_many): $out"
	gt=$(echo "$out" | awk '$1 == "txn" { print $2 }')
	gm=$(echo "$out" | awk '$1 == "many" { print $2 }')
	[ "$gt" -ge "$last_txn" ] ||
		fail "round $round (seed $SEED): transaction $last_txn was acknowledged, after the power cut the files are of generation $gt"
	[ "$gm" -ge "$last_many" ] ||
		fail "round $round (seed $SEED): batch $last_many was acknowledged, after the power cut a file is of generation $gm"
	left=$(find "$BACK" -name '*.afile-txn' | head -n 3)
	[ -z "$left" ] || fail "round $round (seed $SEED): transaction temps left after recover: $left"
	echo "round $round: acknowledged txn $t, batch $m; on disk txn $gt, batch >= $gm"
	# The next round's generations are all newer.
	last_txn=0 last_many=0
done
echo "ok: $TEST_NAME: $ROUNDS power cuts, all or nothing, nothing acknowledged lost"
