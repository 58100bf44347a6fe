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
trap 'cd /; rm -rf "$WORK"' EXIT
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
	left=$(ls -A "${1:-.}" | grep -E 'afile-tmp|^\.#' || :)
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
