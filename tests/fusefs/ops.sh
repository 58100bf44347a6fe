# SPDX-License-Identifier: MIT
#
# ops.sh - every acknowledged CLI operation survives a power cut on the
# FUSE test file system (issue 9): write, create, cp, mv, patch, rm, txn,
# and the library's batch (afile_write_many) and transaction.  Each one is
# followed by its own power cut (holdfs killed: data no fsync reached is
# lost) and a check of the new state.  With --no-dirsync (directory
# fsync refused with EINVAL) and --no-rename-flags (renameat2 flags
# refused) the operations degrade and still keep what they acknowledged.
# O_TMPFILE is always refused there, so every writer takes its fallback.
#
# Usage: bash ops.sh CLI HOLDFS DRIVER [--no-dirsync|--no-rename-flags]

. "$(dirname "$0")/lib.sh"

require_fuse
setup
mount_fs
[ "$(stat -f -c %T "$MNT")" = fuseblk ] || [ "$(stat -f -c %t "$MNT")" = 65735546 ] ||
	fail "expected $MNT to be a FUSE mount, got $(stat -f -c %T "$MNT")"

head -c 70001 /dev/urandom >"$WORK/new"
head -c 3000 /dev/urandom >"$WORK/new2"
printf 'old contents\n' >"$WORK/old"

run() {
	"$@" 2>"$WORK/err" || fail "expected '$*' to succeed, got exit $? ($(cat "$WORK/err"))"
}

same() {
	cmp -s "$1" "$2" || fail "after the power cut following $3, expected $2 to be $1, got $(wc -c <"$2" 2>/dev/null || echo no) bytes that differ"
}

# Seeds, made durable with the tool itself (checked by the first cut).
run "$AFILE" write "$MNT/w" <"$WORK/old"
run "$AFILE" write "$MNT/p" <"$WORK/new"
run "$AFILE" write "$MNT/mvsrc" <"$WORK/new"
run "$AFILE" write "$MNT/rmme" <"$WORK/old"
mkdir -p "$MNT/d1" "$MNT/d2"
run "$AFILE" write "$MNT/d1/x" <"$WORK/new2"
power_cut
same "$WORK/old" "$MNT/w" "write of a new file"
same "$WORK/new" "$MNT/p" "write of a new file"

run "$AFILE" write "$MNT/w" <"$WORK/new"
power_cut
same "$WORK/new" "$MNT/w" "write over a file"

run "$AFILE" create "$MNT/c" <"$WORK/new2"
power_cut
same "$WORK/new2" "$MNT/c" "create"

run "$AFILE" cp "$MNT/p" "$MNT/cp"
power_cut
same "$WORK/new" "$MNT/cp" "cp"

run "$AFILE" mv "$MNT/mvsrc" "$MNT/mvdst"
power_cut
same "$WORK/new" "$MNT/mvdst" "mv"
[ ! -e "$MNT/mvsrc" ] || fail "expected the source of mv gone after the power cut, got it back"

run "$AFILE" mv "$MNT/d1/x" "$MNT/d2/x"
power_cut
same "$WORK/new2" "$MNT/d2/x" "mv between directories"
[ ! -e "$MNT/d1/x" ] || fail "expected the source of mv between directories gone, got it back"

printf 'PATCH' | run "$AFILE" patch --offset=10 "$MNT/p"
cp "$WORK/new" "$WORK/patched"
printf 'PATCH' | dd of="$WORK/patched" bs=1 seek=10 conv=notrunc status=none
power_cut
same "$WORK/patched" "$MNT/p" "patch"

run "$AFILE" rm "$MNT/rmme"
power_cut
[ ! -e "$MNT/rmme" ] || fail "expected rm's file gone after the power cut, got it back"

run "$AFILE" txn -C "$MNT" put a "$WORK/new" put b "$WORK/new2" put d1/c "$WORK/new"
power_cut
run "$AFILE" recover "$MNT"
same "$WORK/new" "$MNT/a" "txn (issue 9: was empty)"
same "$WORK/new2" "$MNT/b" "txn (issue 9: was empty)"
same "$WORK/new" "$MNT/d1/c" "txn"

run "$AFILE" txn -C "$MNT" put a "$WORK/new2" rm b mv d1/c d2/c
power_cut
run "$AFILE" recover "$MNT"
same "$WORK/new2" "$MNT/a" "txn put"
[ ! -e "$MNT/b" ] || fail "expected txn's removed file gone after the power cut"
same "$WORK/new" "$MNT/d2/c" "txn mv"

# RENAME_NOREPLACE (refused with --no-rename-flags: link + unlink).
run "$AFILE" mv --no-clobber "$MNT/c" "$MNT/c2"
power_cut
same "$WORK/new2" "$MNT/c2" "mv --no-clobber"
[ ! -e "$MNT/c" ] || fail "expected the source of mv --no-clobber gone after the power cut"

# From another file system: copy_file_range and FICLONE across mounts
# refused (EXDEV), the copy reads and writes.
run "$AFILE" cp "$WORK/new2" "$MNT/xcp"
power_cut
same "$WORK/new2" "$MNT/xcp" "cp from another file system"

# OFD locks on FUSE (the kernel keeps them when the server has none).
run "$AFILE" lock "$MNT/w" -- "$AFILE" write "$MNT/locked" <"$WORK/old"
power_cut
same "$WORK/old" "$MNT/locked" "write under lock"

# The library's batch and transaction (the driver's whole-file pattern),
# and the level they report: full, or data where directory fsync is
# refused.
want=0
case " ${SWITCHES[*]} " in *" --no-dirsync "*) want=1 ;; esac
mkdir "$MNT/lib"
lt=$("$DRIVER" txn "$MNT/lib" 5 7) || fail "driver txn failed: $lt"
lm=$("$DRIVER" many "$MNT/lib" 5 8) || fail "driver many failed: $lm"
[ "$lt" = "level $want" ] || fail "expected the transaction to report 'level $want', got '$lt'"
[ "$lm" = "level $want" ] || fail "expected afile_write_many to report 'level $want', got '$lm'"
power_cut
run "$AFILE" recover "$MNT/lib"
out=$("$DRIVER" check "$MNT/lib") || fail "after txn and afile_write_many and a power cut: $out"
[ "$out" = "txn 7
many 8" ] || fail "expected generations 'txn 7, many 8' after the power cut, got '$(echo $out)'"

left=$(find "$BACK" -name '*.afile-txn' -o -name '*.afile-tmp' | head -n 3)
[ -z "$left" ] || fail "expected no temps left after acknowledged operations, got: $left"
echo "ok: $TEST_NAME: 15 acknowledged operations kept across power cuts"
