# rm.sh - rm of several files, symlinks, failures and their messages.
. "$(dirname "$0")/lib.sh"

printf 1 >a
printf 2 >b
printf 3 >c
run 0 "$AF" rm a b
[ ! -e a ] && [ ! -e b ] || fail "rm a b: files still exist"
expect_content c 3
expect_no_err

# A symlink is removed itself, never its target.
ln -s c lnk
run 0 "$AF" rm lnk
[ ! -L lnk ] || fail "rm lnk: the symlink still exists"
expect_content c 3
ln -s nowhere dangling
run 0 "$AF" rm dangling
[ ! -L dangling ] || fail "rm of a dangling symlink failed"

# A failure does not stop the others; exit 1 and one exact message each.
printf 1 >a
printf 2 >b
run 1 "$AF" rm a missing b
[ ! -e a ] && [ ! -e b ] || fail "rm a missing b: a or b still exists"
expect_err_re "^atomicfile: rm 'missing': (.+: )?No such file or directory$"
mkdir d
run 1 "$AF" rm d
expect_err_re "^atomicfile: rm 'd': (.+: )?Is a directory$"
[ -d d ] || fail "rm removed a directory"
run 1 "$AF" rm nodir/x
expect_err_re "^atomicfile: rm 'nodir/x': (.+: )?No such file or directory$"
run 1 "$AF" rm -q missing
expect_no_err
run 1 "$AF" rm --quiet missing other-missing
expect_no_err

# --sync levels and --stats.
for s in full data none; do
	printf x >"f-$s"
	run 0 "$AF" rm --stats --sync=$s "f-$s"
	[ ! -e "f-$s" ] || fail "rm --sync=$s: file still exists"
	[ "$(stat_value ops)" = 1 ] || fail "rm --stats: expected ops: 1, got '$(stat_value ops)'"
done
printf x >g
run 0 "$AF" rm --stats --sync=full g
[ "$(stat_value dir_syncs)" -ge 1 ] || fail "rm --sync=full: expected a directory sync"
printf x >g
run 0 "$AF" rm --stats --sync=none g
[ "$(stat_value dir_syncs)" = 0 ] || fail "rm --sync=none: expected no directory sync"
echo "PASS"
