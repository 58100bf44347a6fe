/* SPDX-License-Identifier: MIT */
/*
 * common.c - options, messages, exit codes and signals shared by the
 * subcommands of the atomicfile tool.
 *
 * Every failure message has one form, which scripts may parse:
 *
 *	atomicfile: VERB 'PATH': STEP: REASON
 *
 * PATH is the operand as the user typed it (never the library's resolved
 * path), STEP is the failing step the library reported (left out when it
 * reported none) and REASON is afile_strerror() of the code.
 *
 * Signals.  The writing subcommands catch SIGINT, SIGTERM and SIGPIPE
 * with a handler that only records the signal in cli_signal, installed
 * without SA_RESTART so that a wait for input returns EINTR.  write,
 * create and patch keep these signals blocked except while waiting for
 * input in ppoll(), which unblocks them atomically: no signal can slip
 * in between the check of cli_signal and the wait, and none interrupts
 * the library halfway.  On a signal the subcommand discards its
 * unpublished file and calls cli_signals_reraise(), which dies by the
 * same signal, so that the caller (a shell, make, timeout(1)) sees what
 * happened.  cp leaves them unblocked and cancels the copy from its
 * progress callback.  The invariant every subcommand keeps: death by one
 * of these signals means nothing was published.
 *
 * Locks.  A subcommand that catches these signals cannot let the
 * library wait for an AFILE_LOCK: the library waits with the signals
 * blocked (or retries after EINTR), so Ctrl-C would do nothing until
 * the lock came.  Such a subcommand tries the lock with AFILE_LOCK_TRY
 * and waits between tries itself, in cli_lock_wait(), where a caught
 * signal ends the wait.  Subcommands that leave the signals at their
 * defaults (rm, mv) let the library wait: a signal ends the tool there.
 *
 * Invariants:
 *  1. cli_signal is 0 until a caught signal arrives, then the signal.
 *  2. With blocking on, the caught signals are blocked everywhere except
 *     inside cli_read()'s ppoll() and cli_signals_check().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

volatile sig_atomic_t cli_signal;
bool cli_stdin_closed;

static const int caught_signals[] = {SIGINT, SIGTERM, SIGPIPE};

void
cli_init(struct cli *c, const char *verb, char **argv)
{
	/*
	 * getopt prefixes its own messages with argv[0]; name the
	 * subcommand there rather than just "write".
	 */
	static char progname[64];

	memset(c, 0, sizeof(*c));
	c->verb = verb;
	c->opts.size = sizeof(c->opts);
	c->opts.err = &c->err;
	c->timeout_ms = -1;
	(void)snprintf(progname, sizeof(progname), "atomicfile %s", verb);
	argv[0] = progname;
	/* Restart getopt: main() has already used it for global options. */
	optind = 0;
}

static int
parse_mode(const char *s, mode_t *ret)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '7')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno != 0 || *end != '\0' || v > 07777)
		return -EINVAL;
	*ret = (mode_t)v;
	return 0;
}

enum cli_optres
cli_common_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_SYNC:
		if (strcmp(arg, "full") == 0)
			c->opts.sync = AFILE_SYNC_FULL;
		else if (strcmp(arg, "data") == 0)
			c->opts.sync = AFILE_SYNC_DATA;
		else if (strcmp(arg, "none") == 0)
			c->opts.sync = AFILE_SYNC_NONE;
		else {
			(void)cli_usage_error(c,
			    "invalid --sync value '%s' (full, data or none)",
			    arg);
			return CLI_OPT_USAGE;
		}
		return CLI_OPT_DONE;
	case OPT_MODE:
		if (parse_mode(arg, &c->opts.mode) < 0) {
			(void)cli_usage_error(c,
			    "invalid --mode '%s' (octal, at most 7777)", arg);
			return CLI_OPT_USAGE;
		}
		c->flags |= AFILE_SET_MODE;
		return CLI_OPT_DONE;
	case OPT_NO_FOLLOW:
		c->flags |= AFILE_NOFOLLOW;
		return CLI_OPT_DONE;
	case OPT_BREAK_HARDLINKS:
		c->flags |= AFILE_BREAK_HARDLINKS;
		return CLI_OPT_DONE;
	case OPT_ALLOW_OWNER_CHANGE:
		c->flags |= AFILE_OWNER_BEST_EFFORT;
		return CLI_OPT_DONE;
	case OPT_STATS:
		c->stats = true;
		return CLI_OPT_DONE;
	case OPT_LOCK:
		c->flags |= AFILE_LOCK;
		return CLI_OPT_DONE;
	case OPT_TIMEOUT:
		if (cli_parse_seconds(arg, &c->timeout_ms) < 0) {
			(void)cli_usage_error(c,
			    "invalid --timeout '%s' (seconds, such as 10 or "
			    "0.5)",
			    arg);
			return CLI_OPT_USAGE;
		}
		return CLI_OPT_DONE;
	case 'q':
		c->quiet = true;
		return CLI_OPT_DONE;
	case 'h':
		return CLI_OPT_HELP;
	case 'V':
		(void)printf("atomicfile %s\n", afile_version());
		return CLI_OPT_VERSION;
	case '?':
		/* getopt_long has printed what was wrong. */
		(void)cli_usage_error(c, NULL);
		return CLI_OPT_USAGE;
	default:
		return CLI_OPT_UNKNOWN;
	}
}

/*
 * Check --lock and --timeout of a subcommand that takes both, and turn
 * the timeout into opts.lock_wait_ms, whose encoding differs from the
 * command line's: there 0 waits forever and AFILE_LOCK_TRY tries once.
 * Returns false after reporting a usage error.
 */
bool
cli_lock_options(struct cli *c)
{
	if (c->timeout_ms >= 0 && (c->flags & AFILE_LOCK) == 0) {
		(void)cli_usage_error(c, "--timeout needs --lock");
		return false;
	}
	if (c->timeout_ms < 0)
		c->opts.lock_wait_ms = 0;
	else if (c->timeout_ms == 0)
		c->opts.lock_wait_ms = AFILE_LOCK_TRY;
	else
		c->opts.lock_wait_ms = c->timeout_ms;
	return true;
}

/*
 * Did a call fail only because the lock it was asked to take (AFILE_LOCK)
 * was held by someone else for longer than the timeout?  A try gives
 * -EAGAIN, a timed wait -ETIMEDOUT; the step tells them from the same
 * codes of other steps.
 */
bool
cli_lock_timed_out(const struct cli *c, int code)
{
	return (code == -ETIMEDOUT || code == -EAGAIN) &&
	    (c->flags & AFILE_LOCK) != 0 && c->err.step != NULL &&
	    strcmp(c->err.step, "lock") == 0;
}

/* Report a lock not acquired in time; returns EXIT_LOCKED. */
int
cli_fail_locked(const struct cli *c, const char *path)
{
	(void)cli_fail_msg(
	    c, path, NULL, "lock not acquired before the timeout");
	return EXIT_LOCKED;
}

/*
 * Report a usage error (fmt may be NULL when getopt already printed one)
 * and return the exit code for it.  Usage errors are printed even with
 * -q: they are mistakes in the command line, not operation failures.
 */
int
cli_usage_error(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		(void)fprintf(stderr, "atomicfile %s: ", c->verb);
		va_start(ap, fmt);
		(void)vfprintf(stderr, fmt, ap);
		va_end(ap);
		(void)fputc('\n', stderr);
	}
	(void)fprintf(stderr,
	    "Try 'atomicfile %s --help' for more information.\n", c->verb);
	return EXIT_USAGE;
}

/*
 * Report a failed library call on PATH and return the exit code: 3 when a
 * no-replace operation found its target existing, 1 otherwise.  The error
 * record is cleared for the next call.
 */
int
cli_fail(struct cli *c, const char *path, int code)
{
	int status = EXIT_FAIL;
	const char *step = c->err.step;

	if (cli_lock_timed_out(c, code)) {
		status = cli_fail_locked(c, path);
		c->err.step = NULL;
		c->err.path[0] = '\0';
		return status;
	}
	/*
	 * "File exists" says all there is to say about a refused create;
	 * the internal step that noticed it would only add noise.
	 */
	if (code == -EEXIST && (c->flags & AFILE_NOREPLACE) != 0) {
		status = EXIT_EXISTS;
		step = NULL;
	}
	(void)cli_fail_msg(c, path, step, afile_strerror(code));
	c->err.step = NULL;
	c->err.path[0] = '\0';
	return status;
}

/* Report a failure the tool itself detected; returns EXIT_FAIL. */
int
cli_fail_msg(
    const struct cli *c, const char *path, const char *step, const char *reason)
{
	if (c->quiet)
		return EXIT_FAIL;
	if (step != NULL && *step != '\0')
		(void)fprintf(stderr, "atomicfile: %s '%s': %s: %s\n", c->verb,
		    path, step, reason);
	else
		(void)fprintf(
		    stderr, "atomicfile: %s '%s': %s\n", c->verb, path, reason);
	return EXIT_FAIL;
}

void
cli_print_stats(void)
{
	struct afile_stats st;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (afile_stats_get(&st) < 0)
		return;
	(void)fprintf(stderr,
	    "ops: %" PRIu64 "\n"
	    "failures: %" PRIu64 "\n"
	    "bytes_written: %" PRIu64 "\n"
	    "bytes_read: %" PRIu64 "\n"
	    "syncs: %" PRIu64 "\n"
	    "dir_syncs: %" PRIu64 "\n"
	    "retries: %" PRIu64 "\n"
	    "recoveries: %" PRIu64 "\n"
	    "sync_ns: %" PRIu64 "\n",
	    st.ops, st.failures, st.bytes_written, st.bytes_read, st.syncs,
	    st.dir_syncs, st.retries, st.recoveries, st.sync_ns);
}

/* The common epilogue of a subcommand: --stats, then the exit status. */
int
cli_finish(const struct cli *c, int status)
{
	if (c->stats)
		cli_print_stats();
	return status;
}

/* Parse a decimal unsigned 64-bit number; no sign, no suffix. */
int
cli_parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*ret = (uint64_t)v;
	return 0;
}

/* Parse a DURATION: 90, 90s, 15m, 2h or 7d, into seconds. */
int
cli_parse_duration(const char *s, uint64_t *ret_seconds)
{
	char *end;
	unsigned long long v;
	uint64_t unit;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	switch (*end) {
	case '\0':
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return -EINVAL;
	}
	if (*end != '\0' && end[1] != '\0')
		return -EINVAL;
	if (v > UINT64_MAX / unit)
		return -ERANGE;
	*ret_seconds = (uint64_t)v * unit;
	return 0;
}

/*
 * Parse a timeout in SECONDS: decimal, with an optional fraction ("10",
 * "0.5", "2.25"), into milliseconds, rounded up so that a positive
 * timeout never becomes "try once".  At most INT_MAX milliseconds
 * (about 24 days).
 */
int
cli_parse_seconds(const char *s, int *ret_ms)
{
	uint64_t ms = 0, scale = 100;
	bool digits = false, rest = false;

	for (; *s >= '0' && *s <= '9'; s++) {
		ms = ms * 10 + (uint64_t)(*s - '0');
		digits = true;
		if (ms > (uint64_t)INT_MAX)
			return -ERANGE;
	}
	ms *= 1000;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++) {
			digits = true;
			if (scale > 0)
				ms += (uint64_t)(*s - '0') * scale;
			else if (*s != '0')
				rest = true;
			scale /= 10;
		}
	}
	if (!digits || *s != '\0')
		return -EINVAL;
	if (rest)
		ms++;
	if (ms > (uint64_t)INT_MAX)
		return -ERANGE;
	*ret_ms = (int)ms;
	return 0;
}

/*
 * The last component of PATH, without trailing slashes, as cp(1) and
 * mv(1) name a file moved into a directory.  Returns NULL when it does
 * not fit in buf or PATH has no name ("/", "").
 */
const char *
cli_basename(const char *path, char *buf, size_t size)
{
	size_t end = strlen(path), start;

	while (end > 0 && path[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (end == start || end - start >= size)
		return NULL;
	memcpy(buf, path + start, end - start);
	buf[end - start] = '\0';
	return buf;
}

static void
on_signal(int sig)
{
	cli_signal = sig;
}

/* The signal mask to restore while waiting for input (when blocking). */
static sigset_t wait_mask;
static bool blocking;

/*
 * Catch SIGINT, SIGTERM and SIGPIPE.  With block, they are also blocked
 * everywhere except inside cli_read()'s wait: a signal arriving between
 * a check of cli_signal and a blocking read() could otherwise be missed
 * until more input came, and the library's own calls run undisturbed.
 */
void
cli_signals_catch(bool block)
{
	struct sigaction sa, old;
	sigset_t set;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a wait for input must return EINTR. */
	sa.sa_flags = 0;
	(void)sigemptyset(&set);
	for (i = 0; i < sizeof(caught_signals) / sizeof(caught_signals[0]);
	     i++) {
		/*
		 * A signal ignored on entry stays ignored: the shell ignores
		 * SIGINT in background jobs, nohup-like wrappers ignore
		 * others, and that choice belongs to the caller.
		 */
		if (sigaction(caught_signals[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		(void)sigaction(caught_signals[i], &sa, NULL);
		(void)sigaddset(&set, caught_signals[i]);
	}
	if (block) {
		(void)sigprocmask(SIG_BLOCK, &set, &wait_mask);
		blocking = true;
	}
}

/* Tries of a lock are this far apart at first, then twice as far, up to
 * the maximum: quick when the holder is quick, cheap when it is not. */
#define LOCK_BACKOFF_MIN_NS 1000000LL
#define LOCK_BACKOFF_MAX_NS 64000000LL

static long long
monotonic_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Prepare the tool's own wait for an AFILE_LOCK (see the top comment):
 * the library only tries, and cli_lock_wait() waits until --timeout.
 */
void
cli_lock_wait_init(struct cli *c, struct cli_lock_wait *w)
{
	w->forever = c->timeout_ms < 0;
	w->deadline_ns = monotonic_ns() + (long long)c->timeout_ms * 1000000LL;
	w->backoff_ns = LOCK_BACKOFF_MIN_NS;
	if ((c->flags & AFILE_LOCK) != 0)
		c->opts.lock_wait_ms = AFILE_LOCK_TRY;
}

/*
 * After a try that returned code: if it failed only because the lock is
 * held, wait a little and return true to try again.  Returns false when
 * the try succeeded or failed otherwise, when --timeout has passed (the
 * code then says so), or when a caught signal arrived during the wait
 * (cli_signal says so).
 */
bool
cli_lock_wait(struct cli *c, int code, struct cli_lock_wait *w)
{
	struct timespec ts;
	long long now, ns;

	if (!cli_lock_timed_out(c, code) || cli_signal != 0)
		return false;
	now = monotonic_ns();
	if (!w->forever && now >= w->deadline_ns)
		return false;
	ns = w->backoff_ns;
	if (!w->forever && ns > w->deadline_ns - now)
		ns = w->deadline_ns - now;
	ts.tv_sec = (time_t)(ns / 1000000000LL);
	ts.tv_nsec = (long)(ns % 1000000000LL);
	/* A caught signal ends the sleep early: no SA_RESTART. */
	if (blocking)
		(void)ppoll(NULL, 0, &ts, &wait_mask);
	else
		(void)nanosleep(&ts, NULL);
	if (cli_signal != 0)
		return false;
	if (w->backoff_ns < LOCK_BACKOFF_MAX_NS)
		w->backoff_ns *= 2;
	c->err.step = NULL;
	c->err.path[0] = '\0';
	return true;
}

/*
 * Read up to len bytes of input.  Returns the count, 0 at end of input,
 * -EINTR once a caught signal has arrived, or -errno.  The wait happens
 * in ppoll() with the caught signals unblocked, atomically, so that no
 * signal is lost between the check and the wait.
 */
ssize_t
cli_read(int fd, void *buf, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	for (;;) {
		if (cli_signal != 0)
			return -EINTR;
		if (blocking && ppoll(&pfd, 1, NULL, &wait_mask) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		n = read(fd, buf, len);
		if (n >= 0)
			return n;
		/* EAGAIN: a non-blocking input; wait in ppoll() again. */
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

/*
 * Open an input file for reading.  Returns the descriptor, -EINTR once a
 * caught signal has arrived, or -errno.  The open happens with the caught
 * signals let in: opening a FIFO waits for its writer, and the tool must
 * not be deaf to SIGINT meanwhile.  (A signal that lands between the
 * check and the open is seen only when the writer comes: there is no
 * ppoll() for open.)
 */
int
cli_open_input(const char *path)
{
	sigset_t cur;
	int fd, err;

	for (;;) {
		if (cli_signal != 0)
			return -EINTR;
		if (blocking)
			(void)sigprocmask(SIG_SETMASK, &wait_mask, &cur);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		err = errno;
		if (blocking)
			(void)sigprocmask(SIG_SETMASK, &cur, NULL);
		if (fd >= 0)
			return fd;
		if (err != EINTR)
			return -err;
	}
}

/*
 * Let a pending caught signal in, and report whether one has arrived.
 * Called last before publishing: after this point a signal is held back
 * until the tool exits, and an exit discards it, so death by signal keeps
 * meaning "nothing was published".
 */
bool
cli_signals_check(void)
{
	sigset_t cur;

	if (blocking) {
		(void)sigprocmask(SIG_SETMASK, &wait_mask, &cur);
		(void)sigprocmask(SIG_SETMASK, &cur, NULL);
	}
	return cli_signal != 0;
}

void
cli_signals_reraise(void)
{
	int sig = (int)cli_signal;
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(sig, &sa, NULL);
	(void)sigemptyset(&set);
	(void)sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)raise(sig);
	/* Reached only if the signal cannot kill us; say it anyway. */
	_exit(128 + sig);
}
