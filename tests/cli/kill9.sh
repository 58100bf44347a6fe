# shellcheck shell=bash
# kill9.sh - the CLI killed with SIGKILL before every one of its system
# calls, and at random moments, on a plain directory (issue 5, item 7;
# crash-testing.md §3d, §3f).
#
# Method (no code in the library or the tool):
#  - Deterministic kills.  Each scenario (a CLI command on a small tree)
#    runs once cleanly under "strace -f"; that trace gives the plan: every
#    system call from the tool's first own call (main() starts with
#    fcntl(0, F_GETFD); ASan's start-up before it is left out) to its
#    exit_group, as (NAME, K) = the K-th NAME call of the process.  The
#    allocator's calls (mmap, munmap, madvise, mprotect, brk) are left
#    out too: they are ASan's, not the tool's.  Then, for every (NAME, K),
#    the tree is rebuilt from its template and the command runs under
#    "strace -e inject=NAME:signal=SIGKILL:when=K", which kills the
#    process on entry to that call: killing before call i+1 is killing
#    after call i, and the kill before exit_group is the kill after the
#    last call.  Every run proves that the plan is exact: strace must
#    report the kill after exactly K NAME calls, the last one on the
#    same descriptor as in the clean trace.  (--seccomp-bpf would be
#    faster, but strace 6.1 then injects no signal.)
#  - Depth 2: for each transaction, the recovery ("atomicfile recover")
#    of a state to roll back and of one to roll forward is itself killed
#    before each of its calls, then recovered again.
#  - Random kills: commands writing MiBs (from a file, from a pipe, cp,
#    a transaction) get SIGKILL after a delay drawn from $RANDOM seeded
#    with SEED+i, uniform below the shortest of 3 clean runs.
#
# After each kill the next process's recovery runs: "atomicfile recover"
# for transactions, "atomicfile clean" of the directories for the
# others.  A state is the tree's listing (type, mode, link count, size,
# symlink target, MD5, user.* xattrs of every entry); the invariants:
#  (a) single-file commands: right after the kill, the tree (temps left
#      out) is exactly the old or exactly the new one, never partial;
#  (b) after recovery the tree is exactly old or new (transactions: all
#      old or all new), with no *.afile-tmp, *.afile-txn, journal or
#      intent left; clean changes nothing else; a second recover after
#      one that did something has nothing to do;
#  (c) a command that exited 0 before the kill (random kills) leaves
#      only the new tree.
# Lock sidecars (*.afile-lock) may exist or not: the library never
# removes them.  Every violation prints one FAIL line with the
# AFILE_KILL9_ONLY spec that replays it (det:SCEN:NAME:K is the strace
# spec inject=NAME:signal=SIGKILL:when=K; rand:SCEN:SEED:DELAY_US).
#
# tests/realfs/kill9-powercut.sh sources this file with K9_LIB=1 (only
# the functions) and cuts the power after each kill.
#
# Usage: bash kill9.sh PATH-TO-atomicfile
# Environment: AFILE_SOAK=K multiplies the random kills and the depth-2
# sweeps and adds the --sync=none and --sync=data variants; AFILE_KILL9_SEED sets the
# seed; AFILE_KILL9_ONLY=SPEC reruns one case; AFILE_KILL9_DIR the
# directory (default /dev/shm).
set -eu

# --- Shared part (also used by tests/realfs/kill9-powercut.sh) ---------

# Syscalls of the allocator, not of the tool: left out of the plans.
K9_SKIP_RE='^(mmap|munmap|madvise|mprotect|brk)$'
K9_DET=0 K9_DET2=0 K9_RAND=0 K9_RAND_DONE=0 K9_RAND_OLD=0 K9_CUTS=0 K9_VIOL=0
K9_OUTCOME=
K9_POWERCUT=0
K9_TAG=kill9
K9_REPLAY=
K9_MAXFAIL=30
K9_GETFATTR=

k9_die() {
	echo "FAIL: $K9_TAG: harness: $*" >&2
	exit 1
}

# k9_violation SPEC WHAT - one FAIL line that replays the case.
k9_violation() {
	K9_VIOL=$((K9_VIOL + 1))
	[ "$K9_VIOL" -le "$K9_MAXFAIL" ] || return 0
	echo "FAIL: $K9_TAG $1: $2; replay: AFILE_KILL9_ONLY=$1 $K9_REPLAY" >&2
	[ "$K9_VIOL" -lt "$K9_MAXFAIL" ] ||
		echo "$K9_TAG: (further FAIL lines suppressed)" >&2
}

# k9_init CLI WORK TESTDIR - inputs and the template tree in WORK; the
# scenarios act on TESTDIR (rebuilt for every run; its path never
# changes, so listings compare as text).
k9_init() {
	AF=$1 W=$2 D=$3
	mkdir -p "$W/in" "$W/tpl"
	head -c 3000 /dev/urandom >"$W/in/old"
	head -c 5000 /dev/urandom >"$W/in/new"
	head -c 4096 /dev/urandom >"$W/in/patch"
	head -c 30000 /dev/urandom | base64 >"$W/in/text"
	head -c $((4 << 20)) /dev/urandom >"$W/in/big"
	head -c $((3 << 20)) /dev/urandom >"$W/in/big2"
	printf 'put f %s\nrm a\nmv doomed sub/d\ncreate sub/n %s\n' \
		"$W/in/new" "$W/in/old" >"$W/in/script"
	K9_TEXT=$(cat "$W/in/text")
	# The template: a file with a mode and an xattr to keep, small
	# files, a subdirectory, a symlink, a pair of hard links.
	local t=$W/tpl
	mkdir "$t/sub"
	cp "$W/in/old" "$t/f"
	chmod 640 "$t/f"
	printf 'aaa\n' >"$t/a"
	printf 'doomed\n' >"$t/doomed"
	printf 'in sub\n' >"$t/sub/s"
	ln -s f "$t/l"
	printf 'linked\n' >"$t/h1"
	ln "$t/h1" "$t/h2"
	if command -v setfattr >/dev/null 2>&1 && command -v getfattr >/dev/null 2>&1 &&
		setfattr -n user.k9 -v kept "$t/f" 2>/dev/null; then
		K9_GETFATTR=1
	fi
	# A FIFO that nobody writes, for waits without a sleep process.
	mkfifo "$W/sleep"
	exec {K9_SLEEPFD}<>"$W/sleep"
	# The random cp copies a big file.
	cp -a "$t" "$W/tplbig"
	cp "$W/in/big" "$W/tplbig/big"
	# strace cannot host LeakSanitizer (ptrace), and its exit-time scan
	# doubles the cost of each of the thousands of short runs (the other
	# CLI tests look for leaks).  The caller's other ASan options stay.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
}

# k9_scen NAME - the command of scenario NAME: K9_CMD (arguments of the
# tool), K9_IN (standard input: a file, or "-" for a here-string of
# $K9_TEXT, which bash 5.1+ passes in a pipe filled before the command
# starts, so that its reads are deterministic), K9_TXN (1: a transaction,
# recovered with "atomicfile recover"), K9_TPL (template).  A suffix
# "+data" or "+none" adds --sync=data / --sync=none.
k9_scen() {
	local name=${1%%+*} sync=
	case $1 in *+*) sync=--sync=${1#*+} ;; esac
	K9_IN=/dev/null K9_TXN=0 K9_TPL=$W/tpl K9_INPLACE=0
	case $name in
	write-replace) K9_CMD=(write "$D/f") K9_IN=$W/in/new ;;
	write-new) K9_CMD=(write "$D/g") K9_IN=$W/in/new ;;
	write-pipe) K9_CMD=(write "$D/f") K9_IN=- ;;
	write-empty) K9_CMD=(write "$D/f") ;;
	write-lock) K9_CMD=(write --lock "$D/f") K9_IN=$W/in/new ;;
	write-symlink) K9_CMD=(write "$D/l") K9_IN=$W/in/new ;;
	write-hardlink) K9_CMD=(write --break-hardlinks "$D/h1") K9_IN=$W/in/new ;;
	create) K9_CMD=(create "$D/sub/n") K9_IN=$W/in/new ;;
	rm) K9_CMD=(rm "$D/f") ;;
	rm-lock) K9_CMD=(rm --lock "$D/a") ;;
	mv-replace) K9_CMD=(mv "$D/a" "$D/f") ;;
	mv-dir) K9_CMD=(mv "$D/a" "$D/sub/x") ;;
	mv-exchange) K9_CMD=(mv --exchange "$D/a" "$D/f") ;;
	cp-replace) K9_CMD=(cp "$D/a" "$D/f") ;;
	cp-new) K9_CMD=(cp "$D/f" "$D/sub/c") ;;
	patch) K9_CMD=(patch --offset=1000 "$D/f") K9_IN=$W/in/patch ;;
	patch-hole) K9_CMD=(patch --offset=10000 "$D/f") K9_IN=$W/in/patch ;;
	# In place: a reader that takes no lock may see half of it until the
	# next recovery ("atomicfile recover FILE"), which k9_check runs.
	patch-inplace)
		K9_CMD=(patch --in-place --offset=1000 "$D/f") K9_IN=$W/in/patch K9_INPLACE=1
		;;
	txn3)
		K9_CMD=(txn -C "$D" put f "$W/in/new" create sub/n "$W/in/old" rm doomed)
		K9_TXN=1
		;;
	txn-mv)
		K9_CMD=(txn -C "$D" mv a sub/b put g "$W/in/new")
		K9_TXN=1
		;;
	txn-script)
		K9_CMD=(txn -C "$D" --script=-) K9_IN=$W/in/script K9_TXN=1
		;;
	# Random-kill scenarios: MiBs to write.
	big-file) K9_CMD=(write "$D/f") K9_IN=$W/in/big ;;
	big-pipe) K9_CMD=(write "$D/f") K9_IN=pipe ;;
	big-cp) K9_CMD=(cp "$D/big" "$D/f") K9_TPL=$W/tplbig ;;
	big-txn)
		K9_CMD=(txn -C "$D" put f "$W/in/big" put sub/n "$W/in/big2" rm doomed)
		K9_TXN=1
		;;
	*) k9_die "unknown scenario '$1'" ;;
	esac
	[ -z "$sync" ] || K9_CMD=("${K9_CMD[0]}" "$sync" "${K9_CMD[@]:1}")
}

# k9_reset - the test directory as the template (durable when the power
# is to be cut).
k9_reset() {
	rm -rf "$D"
	cp -a "$K9_TPL" "$D"
	[ "$K9_POWERCUT" = 0 ] || sync -f "$D"
}

# k9_fp - the state of the test directory, one sorted line per entry
# (lock sidecars, in-place redo logs and .atomicfile itself left out:
# they may or may not exist in either state; k9_check sees that redo
# logs are empty after recover FILE).  Five processes, whatever the tree.
k9_fp() {
	local -a xa=()
	[ -z "$K9_GETFATTR" ] || xa=(-exec getfattr -d -m '^user\.' --absolute-names {} +)
	{
		find "$D" -mindepth 1 ! -name '*.afile-lock' ! -name '*.afile-redo' ! -path "$D/.atomicfile" \( \
			-type d -printf 'd %m %P\n' -o -printf '%y %m %n %s %P %l\n' \
			-type f -exec md5sum {} + "${xa[@]}" \) |
			awk '/^# file:/ { f = $3; next } /^user\./ { print "xattr", f, $0; next } NF'
	} 2>/dev/null | LC_ALL=C sort
}

# k9_strip STATE - STATE without the library's temps and .atomicfile/
# contents: what a single-file command may leave before recovery.
k9_strip() {
	local l out=
	while IFS= read -r l; do
		case $l in
		*.afile-tmp* | *.afile-txn* | *" .atomicfile/"* | *"$D/.atomicfile/"*) ;;
		*) out+=$l$'\n' ;;
		esac
	done <<<"$1"
	printf '%s' "${out%$'\n'}"
}

# k9_run OUT [STRACE-OPTIONS...] - run the scenario's command (under
# strace when options are given, its trace in OUT); K9_RC gets the exit
# status (137: killed).
k9_run() {
	local out=$1
	shift
	local -a pre=()
	[ $# = 0 ] || pre=(strace -f -q -o "$out" "$@" --)
	K9_RC=0
	case $K9_IN in
	-)
		{ "${pre[@]}" "$AF" "${K9_CMD[@]}" <<<"$K9_TEXT" >/dev/null 2>&1; } 2>/dev/null ||
			K9_RC=$?
		;;
	*)
		{ "${pre[@]}" "$AF" "${K9_CMD[@]}" <"$K9_IN" >/dev/null 2>&1; } 2>/dev/null ||
			K9_RC=$?
		;;
	esac
}

# k9_plan TRACE - "NAME K ARG" for every call of the tool in a clean
# trace: the K-th NAME call of the process, whose first argument is ARG
# when that is a descriptor (a number or AT_FDCWD), else "-".
k9_plan() {
	awk -v skip="$K9_SKIP_RE" '
		{ sub(/^[0-9]+ +/, "") }
		/^(\+\+\+|---|<\.\.\.)/ { next }
		{
			name = $0; sub(/\(.*/, "", name); n[name]++
			arg = substr($0, length(name) + 2); sub(/[,) ].*/, "", arg)
			if (arg !~ /^([0-9]+|AT_FDCWD)$/) arg = "-"
		}
		!on && /^fcntl\(0, F_GETFD\)/ { on = 1 }
		on && name !~ skip { print name, n[name], arg }' "$1"
}

# k9_kill_at NAME K [ARG] - run the command (K9_CMD) killed on entry to
# its K-th NAME call; returns 1 (after a FAIL line) unless strace killed
# it there, after exactly K NAME calls, the last one on descriptor ARG
# (when given): the plan must be exact, or "every call" is not true.
k9_kill_at() {
	local name=$1 k=$2 arg=${3:--} out=$W/strace.out got l
	local -a lines
	k9_run "$out" -e "trace=$name" -e "inject=$name:signal=SIGKILL:when=$k"
	# The trace holds the K calls of NAME, then the kill.
	mapfile -t lines <"$out"
	got=$((${#lines[@]} - 1))
	l=${lines[got - 1]:-}
	l=${l#*" $name("}
	if [ "$K9_RC" != 137 ] || [ "$got" != "$k" ] ||
		[[ ${lines[got]} != *"+++ killed by SIGKILL +++" ]] ||
		[[ ${lines[got - 1]} != *" $name("* ]] ||
		{ [ "$arg" != - ] && [ "${l%%[,) ]*}" != "$arg" ]; }; then
		k9_violation "$K9_SPEC" "strace did not kill ${K9_CMD[0]} at $name #$k ($arg) (exit $K9_RC, $got calls, last: $(k9_flat "${lines[got - 1]:-}")): the plan is not exact"
		return 1
	fi
}

k9_flat() {
	local s=$1
	printf '%s' "${s//$'\n'/ | }"
}

# k9_diff WANT GOT - a short description of how GOT differs from WANT.
k9_diff() {
	diff <(printf '%s\n' "$1") <(printf '%s\n' "$2") | grep '^[<>]' | head -n 6 |
		tr '\n' ' ' | cut -c 1-600
}

# k9_check - the invariants after a kill (K9_RC: the command's status),
# with a power cut first when K9_POWERCUT=1.  The scenario's states are
# in K9_OLD and K9_NEW.  Then the next process's recovery: recover for a
# transaction (and again, to see that it is done), clean for the others.
k9_check() {
	local post='' out left
	if [ "$K9_POWERCUT" = 1 ]; then
		k9_power_cut
		K9_CUTS=$((K9_CUTS + 1))
	fi
	if [ "$K9_TXN" = 1 ]; then
		out=$("$AF" recover "$D" 2>&1) ||
			{ k9_violation "$K9_SPEC" "atomicfile recover failed: $(k9_flat "$out")"; return 0; }
		if [ "$out" != "$D: nothing to do" ]; then
			out=$("$AF" recover "$D" 2>&1) || :
			[ "$out" = "$D: nothing to do" ] ||
				k9_violation "$K9_SPEC" "a second recover did not find nothing to do: $(k9_flat "$out")"
		fi
	elif [ "$K9_INPLACE" = 1 ]; then
		out=$("$AF" recover "$D/f" 2>&1) ||
			{ k9_violation "$K9_SPEC" "atomicfile recover FILE failed: $(k9_flat "$out")"; return 0; }
		left=$(find "$D" -name '*.afile-redo' -size +0 | tr '\n' ' ')
		[ -z "$left" ] ||
			k9_violation "$K9_SPEC" "recover left a non-empty redo log: $left"
	else
		post=$(k9_fp)
		out=$(k9_strip "$post")
		if [ "$K9_POWERCUT" = 0 ] && [ "$out" != "$K9_OLD" ] && [ "$out" != "$K9_NEW" ]; then
			k9_violation "$K9_SPEC" "after the kill (exit $K9_RC) the tree is neither old nor new: vs old: $(k9_diff "$K9_OLD" "$out") vs new: $(k9_diff "$K9_NEW" "$out")"
			return 0
		fi
		out=$("$AF" clean "$D" "$D/sub" 2>&1) ||
			{ k9_violation "$K9_SPEC" "atomicfile clean failed: $(k9_flat "$out")"; return 0; }
		# Only what clean reports can have changed.
		[ -z "$out" ] || post=
	fi
	[ -n "$post" ] || post=$(k9_fp)
	if [ "$post" = "$K9_NEW" ]; then
		K9_OUTCOME=new
	elif [ "$post" = "$K9_OLD" ]; then
		K9_OUTCOME=old
		[ "$K9_RC" != 0 ] ||
			k9_violation "$K9_SPEC" "the command exited 0 but the tree is the old one"
	else
		left=$(find "$D" -name '*.afile-t[mx][pn]' -o -path '*/.atomicfile/journal' -o \
			-path '*/.atomicfile/intent' | tr '\n' ' ')
		if [ -n "$left" ]; then
			k9_violation "$K9_SPEC" "recovery left temps or a journal (exit $K9_RC): $left"
		else
			k9_violation "$K9_SPEC" "after recovery the tree is neither old nor new (exit $K9_RC): vs old: $(k9_diff "$K9_OLD" "$post") vs new: $(k9_diff "$K9_NEW" "$post")"
		fi
	fi
	return 0
}

# k9_baseline SCEN - set up scenario SCEN, record its old state, run it
# once cleanly under strace (trace in $W/trace.SCEN) and record the new
# state.
k9_baseline() {
	k9_scen "$1"
	k9_reset
	K9_OLD=$(k9_fp)
	k9_run "$W/trace.$1" -e trace=all
	[ "$K9_RC" = 0 ] || k9_die "scenario $1 failed when run cleanly (exit $K9_RC)"
	K9_NEW=$(k9_fp)
	[ "$K9_NEW" = "$(k9_strip "$K9_NEW")" ] || k9_die "scenario $1 left temps when run cleanly"
	[ "$K9_NEW" != "$K9_OLD" ] || k9_die "scenario $1 changed nothing"
	[ "$K9_TXN" = 0 ] || [ ! -e "$D/.atomicfile/journal" ] ||
		k9_die "scenario $1 left its journal when run cleanly"
}

# k9_det_one SCEN NAME K [ARG] - one deterministic kill, checked.
# A transaction's kill that leaves a journal (J: a roll forward to do) or
# only an intent log (I: a rollback) is listed in $W/work.SCEN, for the
# depth-2 sweeps.
k9_det_one() {
	K9_SPEC=det:$1:$2:$3
	k9_reset
	k9_kill_at "$2" "$3" "${4:--}" || return 0
	K9_DET=$((K9_DET + 1))
	if [ "$K9_TXN" = 1 ]; then
		if [ -e "$D/.atomicfile/journal" ]; then
			echo "J $2 $3 ${4:--}" >>"$W/work.$1"
		elif [ -e "$D/.atomicfile/intent" ]; then
			echo "I $2 $3 ${4:--}" >>"$W/work.$1"
		fi
	fi
	k9_check
}

# k9_sweep SCEN [STRIDE [OFFSET]] - every call of the plan (or every
# STRIDE-th one from OFFSET) killed in turn.
k9_sweep() {
	local scen=$1 stride=${2:-1} off=${3:-0} i=0 name k arg
	k9_baseline "$scen"
	: >"$W/work.$scen"
	k9_plan "$W/trace.$scen" >"$W/plan.$scen"
	[ -s "$W/plan.$scen" ] || k9_die "empty plan for $scen (no fcntl(0, F_GETFD) in the trace?)"
	while read -r name k arg; do
		if [ $((i % stride)) = "$off" ]; then
			k9_det_one "$scen" "$name" "$k" "$arg"
		fi
		i=$((i + 1))
	done <"$W/plan.$scen"
}

# k9_depth2 SCEN NAME K ARG - kill SCEN at NAME#K, then kill the
# recovery before each of its calls, recover again and check.  The
# killed state is made anew for each run (by the same kill), not copied:
# a copy would give the files new inode numbers, which the journal's
# inode guards rightly refuse to touch.
k9_depth2() {
	local scen=$1 name=$2 k=$3 arg=${4:--} rname rk rarg
	K9_SPEC=det:$scen:$name:$k
	k9_reset
	k9_kill_at "$name" "$k" "$arg" || return 0
	# The clean trace of the recovery of this state.
	strace -f -q -o "$W/trace.recover" "$AF" recover "$D" >/dev/null 2>&1 ||
		k9_die "recover of $K9_SPEC failed when run cleanly"
	while read -r rname rk rarg; do
		k9_depth2_one "$scen" "$name" "$k" "$rname" "$rk" "$arg" "$rarg"
	done < <(k9_plan "$W/trace.recover")
}

# k9_depth2_one SCEN NAME K RNAME RK [ARG RARG] - one kill of the
# recovery, checked.
k9_depth2_one() {
	K9_SPEC=det2:$1:$2:$3:$4:$5
	k9_reset
	k9_kill_at "$2" "$3" "${6:--}" || return 0
	K9_CMD=(recover "$D") K9_IN=/dev/null
	k9_kill_at "$4" "$5" "${7:--}" || { k9_scen "$1"; return 0; }
	k9_scen "$1"
	K9_DET2=$((K9_DET2 + 1))
	# The transaction itself was killed: its status is not 0.
	K9_RC=137
	k9_check
}

# k9_rand_range SCEN - the delays of SCEN's random kills are drawn
# uniformly from [K9_START, K9_RANGE[SCEN]) microseconds: from the
# tool's start-up time (its shortest --version run out of 3: a kill
# before that only ends ASan's start-up) to its shortest clean run of
# SCEN out of 3 (sizing only: nothing is asserted on times), both timed
# with $EPOCHREALTIME (a date process would take milliseconds of the
# 10-20 measured).  The states of the scenario go to K9_OLDS and K9_NEWS.
declare -A K9_RANGE=() K9_OLDS=() K9_NEWS=()
K9_START=
k9_rand_range() {
	local i t0 t1 min=
	if [ -z "$K9_START" ]; then
		for i in 1 2 3; do
			t0=${EPOCHREALTIME/[.,]/}
			"$AF" --version >/dev/null
			t1=${EPOCHREALTIME/[.,]/}
			[ -n "$K9_START" ] && [ $((t1 - t0)) -ge "$K9_START" ] ||
				K9_START=$((t1 - t0))
		done
	fi
	k9_scen "$1"
	k9_reset
	K9_OLDS[$1]=$(k9_fp)
	for i in 1 2 3; do
		k9_reset
		t0=${EPOCHREALTIME/[.,]/}
		k9_rand_exec 0
		t1=${EPOCHREALTIME/[.,]/}
		[ "$K9_RC" = 0 ] || k9_die "scenario $1 failed when run cleanly (exit $K9_RC)"
		[ -n "$min" ] && [ $((t1 - t0)) -ge "$min" ] || min=$((t1 - t0))
	done
	K9_NEWS[$1]=$(k9_fp)
	K9_RANGE[$1]=$min
	[ "$min" -gt $((K9_START + 1000)) ] || K9_RANGE[$1]=$((K9_START + 1000))
}

# k9_rand_exec DELAY_US - run the command in the background and SIGKILL
# it after DELAY_US (0: let it finish).  The wait is a read with a
# timeout on a FIFO nobody writes: no sleep process to start.
k9_rand_exec() {
	local us=$1 pid t
	if [ "$K9_IN" = pipe ]; then
		# shellcheck disable=SC2002 # a pipe is the point, not a file
		cat "$W/in/big" | "$AF" "${K9_CMD[@]}" >/dev/null 2>&1 &
	else
		"$AF" "${K9_CMD[@]}" <"$K9_IN" >/dev/null 2>&1 &
	fi
	pid=$!
	if [ "$us" != 0 ]; then
		printf -v t '%d.%06d' $((us / 1000000)) $((us % 1000000))
		read -r -t "$t" -u "$K9_SLEEPFD" || :
		kill -s KILL "$pid" 2>/dev/null || :
	fi
	K9_RC=0
	wait "$pid" 2>/dev/null || K9_RC=$?
}

# k9_rand_one SCEN SEED - one random kill: the delay comes from $RANDOM
# seeded with SEED.
k9_rand_one() {
	local scen=$1 seed=$2 us
	k9_scen "$scen"
	K9_OLD=${K9_OLDS[$scen]} K9_NEW=${K9_NEWS[$scen]}
	RANDOM=$seed
	us=$((K9_START + (RANDOM * 32768 + RANDOM) % (K9_RANGE[$scen] - K9_START)))
	K9_SPEC=rand:$scen:$seed:$us
	k9_reset
	k9_rand_exec "$us"
	K9_RAND=$((K9_RAND + 1))
	[ "$K9_RC" != 0 ] || K9_RAND_DONE=$((K9_RAND_DONE + 1))
	case $K9_RC in
	0 | 137) ;;
	*) k9_violation "$K9_SPEC" "the command exited $K9_RC (neither success nor the kill)" ;;
	esac
	K9_OUTCOME=
	k9_check
	[ "$K9_OUTCOME" != old ] || K9_RAND_OLD=$((K9_RAND_OLD + 1))
}

K9_RAND_SCENS=(big-file big-pipe big-cp big-txn)

# k9_random N SEED - N random kills over the random scenarios.
k9_random() {
	local n=$1 seed=$2 i s
	for s in "${K9_RAND_SCENS[@]}"; do
		k9_rand_range "$s"
	done
	for ((i = 0; i < n; i++)); do
		k9_rand_one "${K9_RAND_SCENS[i % ${#K9_RAND_SCENS[@]}]}" $((seed + i))
	done
}

# k9_replay SPEC - rerun the one case a FAIL line named.
k9_replay() {
	local IFS=:
	# shellcheck disable=SC2086
	set -- $1
	unset IFS
	case $1 in
	det)
		k9_baseline "$2"
		k9_det_one "$2" "$3" "$4"
		;;
	det2)
		k9_baseline "$2"
		k9_depth2_one "$2" "$3" "$4" "$5" "$6"
		;;
	rand)
		# The same delay, but not the same moment: timing varies.
		k9_rand_range "$2"
		k9_scen "$2"
		K9_OLD=${K9_OLDS[$2]} K9_NEW=${K9_NEWS[$2]}
		K9_SPEC=rand:$2:$3:$4
		k9_reset
		k9_rand_exec "$4"
		K9_RAND=1
		k9_check
		;;
	*) k9_die "unknown AFILE_KILL9_ONLY spec '$*'" ;;
	esac
}

# --- kill9.sh itself: kills on a plain directory ------------------------

[ "${K9_LIB:-0}" = 1 ] && return 0

AF=${1:?usage: $0 PATH-TO-atomicfile}
case $AF in
/*) ;;
*) AF=$PWD/$AF ;;
esac
[ -x "$AF" ] || k9_die "$AF is not an executable"
# Without strace (or ptrace) there is no test: skip, except in CI.
k9_skip() {
	if [ "${AFILE_REQUIRE_PRIV_TESTS:-0}" = 1 ]; then
		echo "FAIL: kill9 cannot run (AFILE_REQUIRE_PRIV_TESTS=1): $*" >&2
		exit 1
	fi
	echo "SKIP: kill9: $*"
	exit 77
}
command -v strace >/dev/null 2>&1 || k9_skip "strace is not installed"
strace -f -q -o /dev/null true 2>/dev/null || k9_skip "strace cannot trace here (ptrace refused?)"
command -v md5sum >/dev/null 2>&1 || k9_skip "md5sum is not installed"
((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501)) ||
	k9_skip "bash >= 5.1 is needed (here-strings in pipes)"
K9_REPLAY="bash $(cd "$(dirname "$0")" && pwd)/kill9.sh $AF"
SOAK=${AFILE_SOAK:-1}
[ "$SOAK" -ge 1 ] 2>/dev/null || SOAK=1
SEED=${AFILE_KILL9_SEED:-20261127}

# A plain directory, by default in /dev/shm: a kill is a process crash
# (the page cache survives), so durability does not matter here, and
# tmpfs syncs cost nothing (on a disk, each transaction's syncfs would
# wait for the whole file system).  The power cuts are the job of
# tests/realfs/kill9-powercut.sh.
# (It needs about 30 MiB; a container's /dev/shm may be small.)
BASE=${AFILE_KILL9_DIR:-/dev/shm}
if ! [ -d "$BASE" ] || ! [ -w "$BASE" ] ||
	[ "$(df --output=avail -k "$BASE" 2>/dev/null | tail -n 1)" -lt 131072 ] 2>/dev/null; then
	BASE=${TMPDIR:-/tmp}
fi
WORK=$(mktemp -d "$BASE/afile-kill9.XXXXXX")
k9_cleanup() {
	local pids
	pids=$(jobs -p)
	# shellcheck disable=SC2086 # one word per pid
	[ -z "$pids" ] || kill -s KILL $pids 2>/dev/null || :
	cd /
	rm -rf "$WORK"
}
trap k9_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
umask 022
START=$(date +%s)
k9_init "$AF" "$WORK" "$WORK/d"

if [ -n "${AFILE_KILL9_ONLY:-}" ]; then
	k9_replay "$AFILE_KILL9_ONLY"
	echo "$K9_TAG: replayed $AFILE_KILL9_ONLY: $K9_VIOL violations"
	[ "$K9_VIOL" = 0 ]
	exit
fi

# Every call of every scenario (default sync: full; transactions also
# without syncs).  Soak runs add --sync=none (the same protocol without
# its syncs) and --sync=data (fdatasync for fsync) for the single-file
# commands: variants that matter little to a process kill, and would
# cost a third of the time budget in every CI run.
SINGLE=(write-replace write-new write-pipe write-empty write-lock write-symlink
	write-hardlink create rm rm-lock mv-replace mv-dir mv-exchange cp-replace
	cp-new patch patch-hole patch-inplace)
TXNS=(txn3 txn-mv txn-script)
MODES=("")
[ "$SOAK" = 1 ] || MODES+=(+none +data)
VARIANTS=0
for s in "${SINGLE[@]}"; do
	for m in "${MODES[@]}"; do
		k9_sweep "$s$m"
		VARIANTS=$((VARIANTS + 1))
	done
done
for s in "${TXNS[@]}"; do
	# Transactions without syncs always: a different path (no syncfs,
	# no journal sync).  For a transaction, data is full.
	for m in "" +none; do
		k9_sweep "$s$m"
		VARIANTS=$((VARIANTS + 1))
	done
done

# Depth 2: for each transaction, the recovery of SOAK states where a
# rollback is to do and SOAK where a roll forward is (spread over the
# kills that leave them), killed before each of its calls.
for s in "${TXNS[@]}"; do
	for c in I J; do
		grep "^$c " "$W/work.$s" >"$W/pick" || k9_die "no kill of $s leaves class $c to recover"
		n=$(wc -l <"$W/pick")
		want=$SOAK
		[ "$want" -le "$n" ] || want=$n
		for ((j = 0; j < want; j++)); do
			read -r _ name k arg < <(sed -n "$(((2 * j + 1) * n / (2 * want) + 1))p" "$W/pick")
			k9_baseline "$s"
			k9_depth2 "$s" "$name" "$k" "$arg"
		done
	done
done

k9_random $((500 * SOAK)) "$SEED"

echo "$K9_TAG: in $BASE ($(stat -f -c %T "$BASE")): $K9_DET deterministic kills (every call of $VARIANTS command variants), $K9_DET2 kills of recovery, $K9_RAND random kills (seed $SEED; $K9_RAND_DONE finished first, $K9_RAND_OLD left the old tree), 0 power cuts, $K9_VIOL violations ($(($(date +%s) - START)) s)"
[ "$K9_VIOL" = 0 ] || exit 1
echo "PASS: $K9_TAG"
