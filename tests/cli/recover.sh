# recover.sh - recover's report for each case (nothing to do, rolled
# back, finished, damaged journal), several roots, failures, -q.
. "$(dirname "$0")/lib.sh"

printf 'one\n' >"$O/one"
mkdir r1 r2
printf 'old\n' >r1/f
printf 'old\n' >r2/f

# Nothing to do: a root never used for transactions, then a used one.
run 0 "$AF" recover r1
expect_out "r1: nothing to do
"
expect_no_err
[ ! -e r1/.atomicfile ] || fail "recover created .atomicfile/"
run 0 "$AF" txn -C r1 put f "$O/one"
run 0 "$AF" recover r1 r2
expect_out "r1: nothing to do
r2: nothing to do
"
# ROOT defaults to the current directory.
(cd r1 && "$AF" recover) >"$O/out" || fail "recover in r1 failed"
expect_out ".: nothing to do
"

# Rolled back: staging was interrupted (an intent log and its temp).
mkdir -p r2/.atomicfile
printf 'staged\n' >r2/.f.AAAAAABBBBBB.afile-txn
printf '#AAAAAA\n/\n' >r2/.atomicfile/intent
run 0 "$AF" recover r2
expect_out "r2: rolled back an unfinished transaction (1 temps removed)
"
expect_content r2/f "old
"
[ ! -e r2/.f.AAAAAABBBBBB.afile-txn ] && [ ! -e r2/.atomicfile/intent ] ||
	fail "rollback left its files"
run 0 "$AF" verify r2

# Finished: committed, then killed before the apply (a snapshot reader
# holds the apply lock meanwhile).
: >r1/gone-soon
hold r --shared r1/.atomicfile/apply
"$AF" txn -C r1 put f "$O/one" rm gone-soon put g "$O/one" 2>/dev/null &
pid=$!
wait_for r1/.atomicfile/journal
kill -s KILL $pid
wait $pid 2>/dev/null || :
release r
run 0 "$AF" recover --stats r1
grep -Eqx 'r1: finished transaction [0-9a-f]{16} \(3 operations\)' "$O/out" ||
	fail "recover: expected 'finished transaction', got '$(cat "$O/out")'"
[ "$(stat_value recoveries)" = 1 ] || fail "--stats: expected recoveries: 1"
expect_content r1/g "one
"
[ ! -e r1/gone-soon ] || fail "the finished transaction did not remove gone-soon"
run 0 "$AF" recover r1
expect_out "r1: nothing to do
"

# A damaged journal whose apply had begun (a staged temp is gone):
# nothing is changed, everything is kept, exit 1.
mkdir -p r3/.atomicfile
printf 'old\n' >r3/f
printf 'garbage, not a journal\n' >r3/.atomicfile/journal
# Two files were staged (=2); one of them is already gone.
printf '#AAAAAA\n/\n=2\n' >r3/.atomicfile/intent
printf 'staged\n' >r3/.g.AAAAAABBBBBC.afile-txn
run 1 "$AF" recover r3
expect_err "atomicfile: recover 'r3': damaged journal (.atomicfile/journal): nothing was changed and every staged file was kept for salvage"
expect_out ""
[ -e r3/.atomicfile/journal ] && [ -e r3/.atomicfile/intent ] &&
	[ -e r3/.g.AAAAAABBBBBC.afile-txn ] || fail "recover changed a damaged root"
expect_content r3/f "old
"
run 1 "$AF" recover -q r3
expect_no_err
# The other roots are still recovered; the status says one failed.
run 1 "$AF" recover r1 r3 r2
expect_out "r1: nothing to do
r2: nothing to do
"
# A missing root; a regular file: its in-place patches (none here); a FIFO.
run 1 "$AF" recover nowhere
expect_err_re "^atomicfile: recover 'nowhere': (.+: )?No such file or directory$"
run 0 "$AF" recover r1/f
expect_out "r1/f: nothing to do
"
mkfifo r1/p
run 1 "$AF" recover r1/p
expect_err_re "^atomicfile: recover 'r1/p': (.+: )?Not a directory$"
rm r1/p
run 0 "$AF" recover -q r1
expect_out ""
run 2 "$AF" recover --bogus
echo "PASS"
