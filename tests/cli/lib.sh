# shellcheck shell=bash
# lib.sh - helpers sourced by the CLI tests (tests/cli/*.sh).
#
# Each test is run as "bash NAME.sh PATH-TO-atomicfile".  Sourcing this
# file sets "set -eu", makes a private work directory (removed on exit,
# even on failure), and enters its subdirectory "t", which holds only the
# files a test creates, so that a leftover temporary file shows up in
# "ls -A".  Command output is captured under "$O", outside "t".
#
# Every check prints "FAIL: what was expected / what happened" and exits 1
# at the first mismatch.

set -eu

AF=${1:?usage: $0 PATH-TO-atomicfile}
case $AF in
/*) ;;
*) AF=$PWD/$AF ;;
esac
[ -x "$AF" ] || { echo "FAIL: $AF is not an executable" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/afile-cli.XXXXXX")
# On exit, end any background job this test started (a tool it could not
# stop), then remove the work directory.
cleanup() {
	local pids
	pids=$(jobs -p)
	# Commands of "hold" outlive a killed tool: end them too.
	pids="$pids $(cat "$O"/cmd.* 2>/dev/null || :)"
	[ -z "${pids// /}" ] || kill -s KILL $pids 2>/dev/null || :
	cd /
	rm -rf "$WORK"
}
trap cleanup EXIT
T=$WORK/t
O=$WORK/o
mkdir "$T" "$O"
cd "$T"
umask 022

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# run STATUS CMD [ARG...]: run CMD (stdin as the caller redirects it),
# stdout to $O/out, stderr to $O/err, and check its exit status.
run() {
	local want=$1 got=0
	shift
	"$@" >"$O/out" 2>"$O/err" || got=$?
	if [ "$got" != "$want" ]; then
		{
			echo "FAIL: '$*' exited with $got, expected $want"
			echo "--- its stderr:"
			cat "$O/err"
			echo "---"
		} >&2
		exit 1
	fi
}

# expect_content FILE STRING: FILE holds exactly STRING (printf %s).
expect_content() {
	local got
	[ -f "$1" ] || fail "$1: expected a regular file, found none"
	got=$(cat "$1"; printf x)
	got=${got%x}
	[ "$got" = "$2" ] || fail "$1: expected contents '$2', got '$got'"
}

# expect_same FILE REF: FILE is byte-identical to REF.
expect_same() {
	cmp -s "$1" "$2" || fail "$1 differs from $2 ($(cmp "$1" "$2" 2>&1 || :))"
}

# expect_mode FILE OCTAL: the permission bits of FILE.
expect_mode() {
	local got
	got=$(stat -c %a "$1")
	[ "$got" = "$2" ] || fail "$1: expected mode $2, got $got"
}

# expect_err LINE: stderr of the last run is exactly LINE.
expect_err() {
	local got
	got=$(cat "$O/err")
	[ "$got" = "$1" ] || fail "expected stderr '$1', got '$got'"
}

# expect_err_re ERE: stderr of the last run is one line matching ERE.
expect_err_re() {
	local n
	n=$(wc -l <"$O/err")
	[ "$n" = 1 ] && grep -Eq -- "$1" "$O/err" ||
		fail "expected one stderr line matching /$1/, got '$(cat "$O/err")'"
}

# expect_out STRING: stdout of the last run is exactly STRING.
expect_out() {
	local got
	got=$(cat "$O/out"; printf x)
	got=${got%x}
	[ "$got" = "$1" ] || fail "expected stdout '$1', got '$got'"
}

expect_no_err() {
	[ ! -s "$O/err" ] || fail "expected no stderr, got '$(cat "$O/err")'"
}

# no_temps [DIR]: no temporary file of the library is left in DIR.
no_temps() {
	local left
	left=$(find "${1:-.}" -mindepth 1 -maxdepth 1 -name '*afile-tmp*' -printf '%f ')
	[ -z "$left" ] || fail "temporary files left in ${1:-.}: $left"
}

# stat_line NAME: the value of "NAME: value" in the --stats output.
stat_value() {
	sed -n "s/^$1: \\([0-9][0-9]*\\)\$/\\1/p" "$O/err"
}

# sanitized: the tool was built with a sanitizer (memory figures differ).
sanitized() {
	ldd "$AF" 2>/dev/null | grep -Eq 'lib(a|ub|t)san'
}

# wait_for FILE: wait until FILE exists.  The loop only guards against a
# hang (20 s); nothing depends on how long it takes.
wait_for() {
	local _
	for _ in $(seq 1 400); do
		[ ! -e "$1" ] || return 0
		sleep 0.05
	done
	fail "waited in vain for $1"
}

# wait_gone PID: wait until process PID (not necessarily our child) has
# ended.
wait_gone() {
	local _
	for _ in $(seq 1 400); do
		case $(cut -d' ' -f3 /proc/$1/stat 2>/dev/null || echo Z) in
		Z) return 0 ;;
		esac
		sleep 0.05
	done
	fail "process $1 did not end"
}

# hold TAG [OPTIONS] FILE: hold FILE's lock with "atomicfile lock" in the
# background, running a command that waits on the FIFO $O/gate.TAG;
# returns once the command runs (so the lock is held).  Its pid is in
# $O/cmd.TAG, the tool's in $O/tool.TAG.  release TAG ends it.
hold() {
	local tag=$1
	shift
	rm -f "$O/gate.$tag" "$O/cmd.$tag"
	mkfifo "$O/gate.$tag"
	"$AF" lock "$@" -- sh -c 'echo $$ >"$1.tmp" && mv "$1.tmp" "$1" &&
		read x <"$2"' sh "$O/cmd.$tag" "$O/gate.$tag" &
	echo $! >"$O/tool.$tag"
	wait_for "$O/cmd.$tag"
}

# release TAG: let the command of "hold TAG" end, and wait for it.
release() {
	echo >"$O/gate.$1"
	wait_gone "$(cat "$O/cmd.$1")"
	wait "$(cat "$O/tool.$1")" 2>/dev/null || :
}
