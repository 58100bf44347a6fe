# lock.sh - the lock subcommand (exit statuses, shared and exclusive
# locks, inheritance across a killed tool, serialized increments) and
# --lock/--timeout on write, create, cp, mv, patch and rm.
. "$(dirname "$0")/lib.sh"
export AF

# The command's exit status is the tool's; 128+N for death by signal N.
run 0 "$AF" lock f -- true
run 7 "$AF" lock f -- sh -c 'exit 7'
run 137 "$AF" lock f -- sh -c 'kill -s KILL $$'
run 143 "$AF" lock f -- sh -c 'kill -s TERM $$'
run 0 "$AF" lock f -- sh -c 'echo "$0:$1"' one two
expect_out "one:two
"
expect_no_err
# The lock is FILE's whether FILE exists or not; FILE is not created.
[ ! -e f ] || fail "lock created FILE"
# A command that is not found, or cannot be executed, as shells say.
run 127 "$AF" lock f -- no-such-command-here
expect_err "atomicfile: lock 'no-such-command-here': run command: No such file or directory"
printf 'not a program\n' >noexec
run 126 "$AF" lock f -- ./noexec
expect_err "atomicfile: lock './noexec': run command: Permission denied"
run 127 "$AF" lock -q f -- no-such-command-here
expect_no_err
# The lock cannot be taken at all: exit 1.
run 1 "$AF" lock nodir/f -- true
expect_err_re "^atomicfile: lock 'nodir/f': lock: (.+: )?No such file or directory$"

# Exclusive against exclusive and shared; exit 4 on timeout.
hold a f
run 4 "$AF" lock --timeout=0 f -- true
expect_err "atomicfile: lock 'f': lock not acquired before the timeout"
run 4 "$AF" lock --timeout=0.2 f -- true
run 4 "$AF" lock --shared --timeout=0 f -- true
run 4 "$AF" lock -q --timeout=0 f -- true
expect_no_err
# Another file's lock is free.
run 0 "$AF" lock --timeout=0 g -- true
release a
run 0 "$AF" lock --timeout=0 f -- true

# Shared locks admit each other, not an exclusive one.
hold s --shared f
run 0 "$AF" lock --shared --timeout=0 f -- true
run 4 "$AF" lock --timeout=0 f -- true
release s

# Waiting: a second locker without --timeout waits for the first.
hold a f
"$AF" lock f -- sh -c 'echo second >"$0"' "$O/second" &
waiter=$!
run 4 "$AF" lock --timeout=0 f -- true
[ ! -e "$O/second" ] || fail "the waiting locker ran while the lock was held"
release a
wait $waiter || fail "the waiting locker failed"
[ -e "$O/second" ] || fail "the waiting locker did not run"

# The command inherits the lock: killing the tool alone lets nobody in
# while the command runs; the lock goes when the command ends.
hold k f
kill -s KILL "$(cat "$O/tool.k")"
wait "$(cat "$O/tool.k")" 2>/dev/null || :
kill -0 "$(cat "$O/cmd.k")" || fail "the command died with the tool"
run 4 "$AF" lock --timeout=0 f -- true
run 4 "$AF" lock --shared --timeout=0 f -- true
release k
run 0 "$AF" lock --timeout=0 f -- true

# Serialized read-modify-write: 4 processes x 50 increments through
# lock + cat + write lose no update.
printf 0 >counter
incr() {
	local _
	for _ in $(seq 1 50); do
		"$AF" lock counter -- sh -c \
		    'n=$("$AF" cat counter) && echo $((n + 1)) |
			"$AF" write --sync=none counter' || return 1
	done
}
incr &
p1=$!
incr &
p2=$!
incr &
p3=$!
incr &
p4=$!
for p in $p1 $p2 $p3 $p4; do
	wait $p || fail "an incrementing process failed"
done
expect_content counter "200
"
no_temps

# --lock: each mutating subcommand waits for FILE's (DST's) lock; with
# --timeout it gives up with exit 4 and changes nothing.
printf 'old\n' >w
printf 'src\n' >src
hold a w
printf 'new\n' | run 4 "$AF" write --lock --timeout=0.2 w
expect_err "atomicfile: write 'w': lock not acquired before the timeout"
printf 'new\n' | run 4 "$AF" write --lock --timeout=0 w
printf 'new\n' | run 4 "$AF" write -q --lock --timeout=0 w
expect_no_err
printf 'new\n' | run 4 "$AF" create --lock --timeout=0 w
expect_err "atomicfile: create 'w': lock not acquired before the timeout"
printf 'XY' | run 4 "$AF" patch --lock --timeout=0 --offset=0 w
expect_err "atomicfile: patch 'w': lock not acquired before the timeout"
run 4 "$AF" cp --lock --timeout=0.1 src w
expect_err "atomicfile: cp 'w': lock not acquired before the timeout"
run 4 "$AF" mv --lock --timeout=0 src w
expect_err "atomicfile: mv 'w': lock not acquired before the timeout"
run 4 "$AF" rm --lock --timeout=0 w
expect_err "atomicfile: rm 'w': lock not acquired before the timeout"
expect_content w "old
"
expect_content src "src
"
# Without --lock nothing waits: the lock is advisory.
printf 'unlocked\n' | run 0 "$AF" write w
printf 'old\n' | run 0 "$AF" write w
# A waiting write publishes once the lock is released.
printf 'after release\n' >"$O/in"
"$AF" write --lock w <"$O/in" &
writer=$!
release a
wait $writer || fail "write --lock failed after the release"
expect_content w "after release
"
# A write waiting for the lock dies by SIGTERM, publishing nothing.
hold a w
set -m
"$AF" write --lock w <"$O/in" &
writer=$!
set +m
sleep 0.2
kill -s TERM $writer
got=0
wait $writer || got=$?
[ "$got" = 143 ] || fail "write --lock, SIGTERM while waiting: expected 143, got $got"
release a
expect_content w "after release
"
no_temps
# Free locks: every --lock form succeeds.
printf 'locked write\n' | run 0 "$AF" write --lock --timeout=1 w
expect_content w "locked write
"
printf 'c\n' | run 0 "$AF" create --lock c1
printf 'XY' | run 0 "$AF" patch --lock --timeout=0 --offset=0 w
expect_content w "XYcked write
"
run 0 "$AF" cp --lock src w
expect_content w "src
"
run 0 "$AF" mv --lock --timeout=0 c1 moved
expect_content moved "c
"
run 0 "$AF" rm --lock moved
[ ! -e moved ] || fail "rm --lock did not remove"
no_temps
echo "PASS"
