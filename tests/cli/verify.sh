# verify.sh - verify reports hot journals, interrupted staging and
# leftover temps anywhere beneath a root, skips what live writers and
# transactions own, changes nothing, and exits 1 on findings.
# Run as "bash verify.sh PATH-TO-atomicfile PATH-TO-ofdhold".
. "$(dirname "$0")/lib.sh"
HOLD=${2:?usage: $0 PATH-TO-atomicfile PATH-TO-ofdhold}
case $HOLD in
/*) ;;
*) HOLD=$OLDPWD/$HOLD ;;
esac
[ -x "$HOLD" ] || fail "$HOLD is not an executable"

# listing: every name beneath the current directory with its size, to
# check that verify changed nothing.
listing() {
	find . -printf '%p %s %T@\n' | LC_ALL=C sort
}

# A clean root, the default root, several roots.
mkdir -p r/sub/deeper r2
printf 'x\n' >r/f
run 0 "$AF" verify r
expect_out "r: nothing found
"
expect_no_err
(cd r && "$AF" verify) >"$O/out" || fail "verify in r found something"
expect_out ".: nothing found
"
run 0 "$AF" verify r r2
expect_out "r: nothing found
r2: nothing found
"
# The files of a used root (.atomicfile/, lock sidecars) are no findings.
printf 'y\n' >"$O/y"
run 0 "$AF" txn -C r put f "$O/y"
printf 'z\n' | run 0 "$AF" write --lock r/sub/z
run 0 "$AF" verify r
# Nothing under .atomicfile/ is looked at, even a temp-shaped name; a
# trailing slash names the same root.
: >r/.atomicfile/.j.CCCCCCCCCCCC.afile-tmp
run 0 "$AF" verify r/
expect_out "r/: nothing found
"
rm r/.atomicfile/.j.CCCCCCCCCCCC.afile-tmp

# An abandoned temp deep inside, and a staged file of a transaction.
: >r/sub/deeper/.z.AAAAAAAAAAAA.afile-tmp
: >r/sub/.f.BBBBBBBBBBBB.afile-txn
listing >"$O/before"
run 1 "$AF" verify r
got=$(LC_ALL=C sort "$O/out")
[ "$got" = "r/sub/.f.BBBBBBBBBBBB.afile-txn: staged file of an unfinished transaction
r/sub/deeper/.z.AAAAAAAAAAAA.afile-tmp: abandoned temporary file (run 'atomicfile clean')" ] ||
	fail "verify: unexpected report '$got'"
expect_no_err
run 1 "$AF" verify -q r
expect_out ""
listing >"$O/after"
cmp -s "$O/before" "$O/after" || fail "verify changed something: $(diff "$O/before" "$O/after")"
# Only the root with findings makes it fail.
run 1 "$AF" verify r2 r
grep -qx "r2: nothing found" "$O/out" || fail "r2 not reported clean"
rm r/sub/.f.BBBBBBBBBBBB.afile-txn

# A live writer's temp is not a leftover.
mkfifo "$O/fifo"
"$HOLD" r/sub/deeper/.z.AAAAAAAAAAAA.afile-tmp <"$O/fifo" >"$O/held" &
holder=$!
exec 3>"$O/fifo"
until [ -s "$O/held" ]; do sleep 0.05; done
run 0 "$AF" verify r
exec 3>&-
wait $holder
run 1 "$AF" verify r
rm r/sub/deeper/.z.AAAAAAAAAAAA.afile-tmp

# Interrupted staging: an intent log.
printf '#CCCCCC\n/\n' >r/.atomicfile/intent
: >r/.f.CCCCCCDDDDDD.afile-txn
run 1 "$AF" verify r
got=$(LC_ALL=C sort "$O/out")
[ "$got" = "r/.f.CCCCCCDDDDDD.afile-txn: staged file of an unfinished transaction
r: interrupted staging (run 'atomicfile recover')" ] ||
	fail "verify: unexpected report '$got'"
# ... unless a transaction holds the root: then they are its own.
hold t r/.atomicfile/txn
run 0 "$AF" verify r
expect_out "r: transaction in progress
r: nothing found
"
release t

# A hot journal; verify cannot tell a damaged one from a committed one,
# and says to run recover in both cases.
printf 'not a journal' >r/.atomicfile/journal
run 1 "$AF" verify r
grep -qx "r: hot journal (run 'atomicfile recover')" "$O/out" ||
	fail "verify: no hot journal in '$(cat "$O/out")'"
[ -e r/.atomicfile/journal ] && [ -e r/.atomicfile/intent ] ||
	fail "verify changed the journal"
rm r/.atomicfile/journal
run 0 "$AF" recover r
run 0 "$AF" verify r

# Failures: exit 1 with a message.
run 1 "$AF" verify nowhere
expect_err "atomicfile: verify 'nowhere': open directory: No such file or directory"
run 1 "$AF" verify r/f
expect_err "atomicfile: verify 'r/f': open directory: Not a directory"
run 2 "$AF" verify --bogus

# An in-place patch's redo log: part of its file's state while the file
# is there; found when the file is gone.
mkdir u
printf 'data' >u/f
: >u/.f.afile-redo
run 0 "$AF" verify u
printf 'x' >u/.f.afile-redo
run 0 "$AF" verify u
rm u/f
run 1 "$AF" verify u
expect_out "u/.f.afile-redo: redo log of in-place patches of a file that no longer exists (safe to remove)
"
echo "PASS"
