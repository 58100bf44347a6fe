# signals.sh - write/create interrupted by SIGTERM, SIGINT or SIGPIPE
# while reading standard input: nothing is published, no temporary file
# is left, and the tool dies by the signal (status 128+N in the shell).
. "$(dirname "$0")/lib.sh"

# Job control gives background jobs the default SIGINT disposition; a
# non-interactive shell would start them with SIGINT ignored.
set -m

# wait_writing PID: wait until PID has opened its temporary file, i.e. is
# past its setup and reading its input.  The loop only guards against a
# hang; nothing here depends on timing.
wait_writing() {
	local _ fd
	for _ in $(seq 1 400); do
		for fd in /proc/"$1"/fd/*; do
			case $(readlink "$fd" 2>/dev/null || :) in
			"$T"/pipe) ;;
			"$T"/*) return 0 ;;
			esac
		done
		kill -0 "$1" 2>/dev/null || fail "the tool exited before reading its input"
		sleep 0.05
	done
	fail "the tool never opened a temporary file"
}

# reap PID: wait for PID and set $got to its exit status; if it has not
# ended after a long while, kill it and fail rather than hang the test.
reap() {
	local _ ended=no
	got=0
	for _ in $(seq 1 600); do
		case $(cut -d' ' -f3 /proc/$1/stat 2>/dev/null || echo Z) in
		Z)
			ended=yes
			break
			;;
		esac
		sleep 0.05
	done
	if [ "$ended" = no ]; then
		kill -s KILL "$1" 2>/dev/null || :
		wait "$1" 2>/dev/null || :
		fail "the tool did not end after the signal"
	fi
	wait "$1" || got=$?
}

# interrupt SIG STATUS SUBCOMMAND: interrupt SUBCOMMAND f after it has
# read part of its input.
interrupt() {
	local sig=$1 want=$2 sub=$3 pid
	printf 'old\n' >f
	rm -f pipe
	mkfifo pipe
	"$AF" "$sub" f <pipe 2>"$O/err" &
	pid=$!
	exec 3>pipe
	printf 'half of the new contents' >&3
	wait_writing $pid
	kill -s "$sig" $pid
	reap $pid
	exec 3>&-
	[ "$got" = "$want" ] ||
		fail "$sub, SIG$sig: expected exit status $want, got $got"
	rm -f pipe
	no_temps
	expect_no_err
}

interrupt TERM 143 write
expect_content f "old
"
interrupt INT 130 write
expect_content f "old
"
interrupt PIPE 141 write
expect_content f "old
"
# create: the target must not appear.
rm -f f
mkfifo pipe
"$AF" create f <pipe &
pid=$!
exec 3>pipe
printf partial >&3
wait_writing $pid
kill -s TERM $pid
reap $pid
exec 3>&-
[ "$got" = 143 ] || fail "create, SIGTERM: expected exit status 143, got $got"
[ ! -e f ] || fail "interrupted create published f"
rm -f pipe
no_temps

# The same pipe without a signal publishes everything.
printf 'old\n' >f
mkfifo pipe
"$AF" write f <pipe &
pid=$!
exec 3>pipe
printf 'new ' >&3
wait_writing $pid
printf 'contents\n' >&3
exec 3>&-
wait $pid || fail "write from a pipe failed"
expect_content f "new contents
"
rm -f pipe

# A signal the caller ignores stays ignored: SIGINT to a background job
# of a non-interactive shell does not stop the write.
set +m
printf 'old\n' >f
mkfifo pipe
"$AF" write f <pipe &
pid=$!
exec 3>pipe
printf 'new ' >&3
wait_writing $pid
kill -s INT $pid
printf 'despite SIGINT\n' >&3
exec 3>&-
wait $pid || fail "write with SIGINT ignored failed"
expect_content f "new despite SIGINT
"
rm -f pipe
no_temps
echo "PASS"
