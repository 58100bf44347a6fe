# txn.sh - transactions from the command line and from scripts: all or
# nothing, escapes refused, usage errors, interruption (SIGTERM, kill -9
# then recover), and cat -C reading a root as one version.
. "$(dirname "$0")/lib.sh"

# state: a listing of the root with every file's checksum, to compare
# before and after a refused transaction (.atomicfile/ left out).
# Staged and temporary files are left out too: no_staged checks them.
state() {
	find . -path '*/.atomicfile' -prune -o -type f \
	    ! -name '*.afile-txn' ! -name '*.afile-tmp' -print |
		LC_ALL=C sort | while read -r f; do
		printf '%s=%s\n' "$f" "$(md5sum <"$f")"
	done
}
# same_state FILE: the root is as recorded in FILE.
same_state() {
	state >"$O/now"
	cmp -s "$O/now" "$1" || fail "the root changed: $(diff "$1" "$O/now" || :)"
}
# no_staged: no staged file of a transaction and no journal remain.
no_staged() {
	local left
	left=$(find . -name '*.afile-txn' -o -name '*.afile-tmp' | tr '\n' ' ')
	[ -z "$left" ] || fail "staged or temporary files left: $left"
	[ ! -e .atomicfile/journal ] && [ ! -e .atomicfile/intent ] ||
		fail "a journal or intent log was left"
}

mkdir -p sub "$WORK/outside"
printf 'one\n' >"$O/one"
printf 'two\n' >"$O/two"
printf 'old a\n' >a
printf 'old b\n' >sub/b
printf 'doomed\n' >doomed
printf 'mover\n' >mover

# Every kind of operation, committed together.
run 0 "$AF" txn put a "$O/one" create sub/new "$O/two" rm doomed mv mover sub/moved
expect_no_err
expect_out ""
expect_content a "one
"
expect_content sub/new "two
"
[ ! -e doomed ] || fail "rm did not remove doomed"
[ ! -e mover ] || fail "mv left its source"
expect_content sub/moved "mover
"
no_staged
run 0 "$AF" verify .

# A create whose target exists: exit 3, and NOTHING changes, not even
# the put staged before it.
state >"$O/before"
run 3 "$AF" txn put a "$O/two" rm sub/moved create sub/b "$O/one"
expect_err "atomicfile: txn 'sub/b': create: File exists"
same_state "$O/before"
no_staged
run 3 "$AF" txn -q put a "$O/two" create sub/b "$O/one"
expect_no_err

# Failures at staging or commit: exit 1, a message naming the operation
# and the path, nothing changed.
run 1 "$AF" txn put a "$O/two" rm missing
expect_err_re "^atomicfile: txn 'missing': rm: (.+: )?No such file or directory$"
run 1 "$AF" txn put a "$O/two" mv missing elsewhere
expect_err_re "^atomicfile: txn 'missing': mv: (.+: )?No such file or directory$"
run 1 "$AF" txn put a "$O/two" put x "$O/no-such-source"
expect_err_re "^atomicfile: txn '$O/no-such-source': put: open source: No such file or directory$"
run 1 "$AF" txn put a "$O/two" create x "$O/no-such-source"
expect_err_re "^atomicfile: txn '$O/no-such-source': create: open source: No such file or directory$"
run 1 "$AF" txn put a "$O/two" put nodir/x "$O/one"
expect_err_re "^atomicfile: txn 'nodir/x': put: (.+: )?No such file or directory$"
run 1 "$AF" txn put a "$O/two" put sub "$O/one"
expect_err_re "^atomicfile: txn 'sub': put: (.+: )?Is a directory$"
same_state "$O/before"
no_staged

# Escapes from the root are refused, and nothing changes anywhere.
ln -s "$WORK/outside" escape
state >"$O/before"
for dest in ../x "$WORK/outside/x" escape/x sub/../../x ./x; do
	run 1 "$AF" txn put a "$O/two" put "$dest" "$O/one"
	expect_err_re "^atomicfile: txn '$dest': put: (.+: )?(Invalid argument|Invalid cross-device link) \(paths must be relative and stay beneath ROOT\)$"
done
run 1 "$AF" txn put a "$O/two" create escape/x "$O/one"
run 1 "$AF" txn put a "$O/two" rm ../t/a
run 1 "$AF" txn put a "$O/two" rm escape/y
run 1 "$AF" txn put a "$O/two" mv sub/b ../b
run 1 "$AF" txn -C sub put a "$O/two" mv b ../a
same_state "$O/before"
[ -z "$(ls -A "$WORK/outside")" ] || fail "a transaction wrote outside its root"
no_staged

# -C ROOT: the paths are the root's, SRC is the current directory's.
mkdir root
printf 'r\n' >root/r
printf 'src\n' >src
run 0 "$AF" txn -C root put r src put s src
expect_content root/r "src
"
expect_content root/s "src
"
[ ! -e r ] && [ ! -e s ] || fail "-C ROOT: files written outside ROOT"
run 1 "$AF" txn -C nowhere put r src
expect_err_re "^atomicfile: txn 'nowhere': (.+: )?No such file or directory$"

# Scripts: one operation a line, comments, blank lines, blanks.
cat >"$O/script" <<EOF
# a comment
put a $O/one   # the rest of a line too

	create	sub/scripted	$O/two
mv sub/scripted sub/renamed
rm sub/renamed
EOF
run 0 "$AF" txn --script="$O/script"
expect_content a "one
"
[ ! -e sub/scripted ] && [ ! -e sub/renamed ] || fail "--script: wrong result"
printf 'put a %s\n' "$O/two" | run 0 "$AF" txn --script=-
expect_content a "two
"
printf 'put a %s\ncreate sub/b %s\n' "$O/one" "$O/one" >"$O/script"
run 3 "$AF" txn --script="$O/script"
expect_content a "two
"
run 1 "$AF" txn --script="$O/no-such-script"
expect_err "atomicfile: txn '$O/no-such-script': read script: No such file or directory"

# Usage errors: exit 2, nothing changed.
state >"$O/before"
usage() {
	run 2 "$@" </dev/null
	[ -s "$O/err" ] || fail "'$*': no message"
}
usage "$AF" txn
usage "$AF" txn frob a b
grep -q "unknown operation 'frob'" "$O/err" || fail "no 'unknown operation' message"
usage "$AF" txn put a
grep -q "'put' takes DEST and SRC" "$O/err" || fail "no arity message"
usage "$AF" txn put a "$O/one" mv x
usage "$AF" txn rm
usage "$AF" txn --script="$O/script" put a b
usage "$AF" txn --sync=bogus put a "$O/one"
usage "$AF" txn --timeout=x put a "$O/one"
usage "$AF" txn --mode=644 put a "$O/one"
printf 'put a %s\nfrob x\n' "$O/one" >"$O/bad"
usage "$AF" txn --script="$O/bad"
grep -q "$O/bad:2: unknown operation 'frob'" "$O/err" || fail "no FILE:LINE in '$(cat "$O/err")'"
printf 'put a\n' >"$O/bad"
usage "$AF" txn --script="$O/bad"
grep -q "$O/bad:1: 'put' takes DEST and SRC" "$O/err" || fail "no arity message for a script"
printf 'rm a b\n' >"$O/bad"
usage "$AF" txn --script="$O/bad"
printf '# nothing\n\n' >"$O/bad"
usage "$AF" txn --script="$O/bad"
same_state "$O/before"

# --sync, --stats, --break-hardlinks.
for s in full data none; do
	run 0 "$AF" txn --stats --sync=$s put a "$O/one"
	[ "$(stat_value ops)" -ge 1 ] || fail "--stats: no ops counted"
done
run 0 "$AF" txn --stats --sync=none put a "$O/two"
[ "$(stat_value syncs)" = 0 ] && [ "$(stat_value dir_syncs)" = 0 ] ||
	fail "--sync=none synced"
ln a a-link
run 1 "$AF" txn put a "$O/one"
expect_err_re "^atomicfile: txn 'a': put: (.+: )?the file has other hard links"
run 0 "$AF" txn --break-hardlinks put a "$O/one"
expect_content a-link "two
"
rm a-link

# A source of any size is streamed.
head -c $((20 << 20)) /dev/urandom >"$O/big"
run 0 "$AF" txn --sync=none put big "$O/big" put a "$O/two"
expect_same big "$O/big"

# --timeout: another transaction holds the root (its lock is the
# sidecar of ROOT/.atomicfile/txn).
hold t .atomicfile/txn
run 4 "$AF" txn --timeout=0 put a "$O/one"
expect_err "atomicfile: txn '.': lock not acquired before the timeout"
run 4 "$AF" txn --timeout=0.2 put a "$O/one"
release t
expect_content a "two
"

# SIGTERM while a put streams from a FIFO: rolled back, nothing left,
# death by the signal.
set -m
state >"$O/before"
mkfifo "$O/fifo"
"$AF" txn put a "$O/one" put big "$O/fifo" &
pid=$!
exec 3>"$O/fifo"
head -c 100000 /dev/zero >&3
wait_for .atomicfile/intent
kill -s TERM $pid
got=0
wait $pid || got=$?
exec 3>&-
[ "$got" = 143 ] || fail "txn, SIGTERM: expected 143, got $got"
same_state "$O/before"
no_staged

# kill -9 during a put: the staged put stays until recovery, which
# restores the old state and leaves nothing.
"$AF" txn put a "$O/one" put big "$O/fifo" &
pid=$!
exec 3>"$O/fifo"
head -c 100000 /dev/zero >&3
wait_for .atomicfile/intent
kill -s KILL $pid
wait $pid 2>/dev/null || :
exec 3>&-
set +m
same_state "$O/before"
run 1 "$AF" verify
grep -q '^\.: interrupted staging' "$O/out" || fail "verify: no interrupted staging in '$(cat "$O/out")'"
grep -q '\.afile-txn: staged file' "$O/out" || fail "verify: staged file not reported"
run 0 "$AF" recover
expect_out ".: rolled back an unfinished transaction (2 temps removed)
"
same_state "$O/before"
no_staged
run 0 "$AF" verify

# Committed but not applied (killed at the apply lock, held here by a
# snapshot reader): the next reader finishes it, and reads all of it.
printf 'x1\n' >x1
printf 'x2\n' >x2
hold r --shared .atomicfile/apply
"$AF" txn put x1 "$O/one" put x2 "$O/two" &
pid=$!
wait_for .atomicfile/journal
kill -s KILL $pid
wait $pid 2>/dev/null || :
release r
expect_content x1 "x1
"
run 1 "$AF" verify
grep -q '^\.: hot journal' "$O/out" || fail "verify: no hot journal in '$(cat "$O/out")'"
run 0 "$AF" cat -C . x1 x2
expect_out "one
two
"
no_staged
run 0 "$AF" verify

# cat -C reads under the snapshot lock: not while a transaction applies.
hold w .atomicfile/apply
"$AF" cat -C . x1 x2 >"$O/cat" &
pid=$!
sleep 0.3
kill -0 $pid 2>/dev/null || fail "cat -C read while a transaction was applying"
release w
wait $pid || fail "cat -C failed after the apply"
[ "$(cat "$O/cat")" = "one
two" ] || fail "cat -C: wrong output '$(cat "$O/cat")'"

# mv whose destination directory leads out of the root, or does not
# exist: refused before the commit point, nothing changed, the root
# usable afterwards.
state >"$O/before"
run 1 "$AF" txn put a "$O/two" mv sub/b escape/b
same_state "$O/before"
no_staged
run 1 "$AF" txn put a "$O/two" mv sub/b nodir/b
same_state "$O/before"
no_staged
run 0 "$AF" verify
echo "PASS"
