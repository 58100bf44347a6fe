/* SPDX-License-Identifier: MIT */
/*
 * cmd_copy.c - the subcommands with a source and a destination: cp and
 * mv.
 *
 * As with cp(1) and mv(1), a destination that is an existing directory
 * receives the source under its own name.  cp draws a progress bar on a
 * terminal when asked, through the library's progress callback, which is
 * also how an interrupted copy is cancelled cleanly: the callback asks
 * the library to stop, the library removes its temporary file, and the
 * tool dies by the signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"

/* Files smaller than this copy too fast for a progress bar to help. */
#define PROGRESS_MIN       ((uint64_t)4 << 20)
/* Redraw at most this often (nanoseconds), not at every chunk. */
#define PROGRESS_PERIOD_NS 100000000LL
#define BAR_WIDTH          30

static const struct option cp_longopts[] = {
    {"no-clobber", no_argument, NULL, OPT_NO_CLOBBER},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    CLI_LOPT_SYNC,
    CLI_LOPT_MODE,
    CLI_LOPT_NO_FOLLOW,
    CLI_LOPT_BREAK_HARDLINKS,
    CLI_LOPT_ALLOW_OWNER_CHANGE,
    CLI_LOPT_LOCK,
    CLI_LOPT_TIMEOUT,
    CLI_LOPT_STATS,
    CLI_LOPT_QUIET,
    CLI_LOPT_HELP,
    CLI_LOPT_END,
};

static const struct option mv_longopts[] = {
    {"no-clobber", no_argument, NULL, OPT_NO_CLOBBER},
    {"exchange", no_argument, NULL, OPT_EXCHANGE},
    CLI_LOPT_SYNC,
    CLI_LOPT_ALLOW_OWNER_CHANGE,
    CLI_LOPT_LOCK,
    CLI_LOPT_TIMEOUT,
    CLI_LOPT_STATS,
    CLI_LOPT_QUIET,
    CLI_LOPT_HELP,
    CLI_LOPT_END,
};

static void
cp_usage(void)
{
	(void)fputs(
	    "Usage: atomicfile cp [OPTIONS] SRC DST\n"
	    "Copy SRC to DST atomically, keeping its mode, extended "
	    "attributes, ACLs,\n"
	    "modification time and (where permitted) owner. A DST "
	    "that is a directory\n"
	    "receives DST/SRC-NAME.\n"
	    "\n"
	    "Options:\n"
	    "      --no-clobber           fail with exit 3 if DST "
	    "exists\n"
	    "      --progress             show a progress bar on a "
	    "terminal\n" CLI_HELP_SYNC CLI_HELP_MODE CLI_HELP_NO_FOLLOW
		CLI_HELP_BREAK_HARDLINKS CLI_HELP_ALLOW_OWNER_CHANGE
		    CLI_HELP_LOCK CLI_HELP_STATS CLI_HELP_QUIET CLI_HELP_HELP,
	    stdout);
}

static void
mv_usage(void)
{
	(void)fputs(
	    "Usage: atomicfile mv [OPTIONS] SRC DST\n"
	    "Rename SRC to DST durably, also across file systems. A "
	    "DST that is a\n"
	    "directory receives DST/SRC-NAME (except with "
	    "--exchange).\n"
	    "\n"
	    "Options:\n"
	    "      --no-clobber           fail with exit 3 if DST "
	    "exists\n"
	    "      --exchange             swap SRC and DST; both must "
	    "exist\n" CLI_HELP_SYNC CLI_HELP_ALLOW_OWNER_CHANGE CLI_HELP_LOCK
		CLI_HELP_STATS CLI_HELP_QUIET CLI_HELP_HELP,
	    stdout);
}

/*
 * When DST is an existing directory, the path of SRC's name inside it,
 * malloc()ed in *ret; otherwise *ret is NULL.  Returns 0 or -errno.
 */
static int
into_directory(const char *src, const char *dst, char **ret)
{
	struct stat st;
	char name[4096];
	size_t dlen;

	*ret = NULL;
	if (stat(dst, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (cli_basename(src, name, sizeof(name)) == NULL)
		return -EINVAL;
	dlen = strlen(dst);
	if (asprintf(ret, "%s%s%s", dst,
		dlen > 0 && dst[dlen - 1] == '/' ? "" : "/", name) < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

/*
 * The operand a failure is about, as the user typed it.  The library
 * records the path its failing step acted on; when that is neither
 * operand as typed (a symlink's target), a step on the source says so in
 * its name ("open source"), and anything else is about the destination.
 * "File exists" and a lock not acquired (the lock is DST's) are always
 * about the destination.
 */
static const char *
failed_operand(const struct cli *c, const char *src, const char *dst, int code)
{
	if (code == -EEXIST || cli_lock_timed_out(c, code) ||
	    strcmp(c->err.path, dst) == 0)
		return dst;
	if (strcmp(c->err.path, src) == 0)
		return src;
	if (c->err.step != NULL && strstr(c->err.step, "source") != NULL)
		return src;
	return dst;
}

/* Sizes for people: 1023 B, 4.0 KiB, 12.5 MiB, 3.2 GiB. */
static void
human(char *buf, size_t size, double v)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		(void)snprintf(buf, size, "%.0f %s", v, units[u]);
	else
		(void)snprintf(buf, size, "%.1f %s", v, units[u]);
}

struct progress {
	bool enabled; /* --progress and stderr is a terminal */
	bool drawn;   /* a bar is on the screen: end it with a newline */
	struct timespec start;
	long long last_ns;
};

static long long
elapsed_ns(const struct timespec *start)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - start->tv_sec) * 1000000000LL +
	    (now.tv_nsec - start->tv_nsec);
}

static void
progress_draw(struct progress *p, uint64_t done, uint64_t total, long long ns)
{
	char bar[BAR_WIDTH + 1], sdone[32], stotal[32], srate[32];
	unsigned int pct, fill;

	if (done > total)
		done = total;
	pct = (unsigned int)(done * 100 / total);
	fill = (unsigned int)(done * BAR_WIDTH / total);
	memset(bar, '#', fill);
	memset(bar + fill, '-', BAR_WIDTH - fill);
	bar[BAR_WIDTH] = '\0';
	human(sdone, sizeof(sdone), (double)done);
	human(stotal, sizeof(stotal), (double)total);
	if (ns > 0)
		human(srate, sizeof(srate), (double)done * 1e9 / (double)ns);
	else
		(void)snprintf(srate, sizeof(srate), "-");
	/* \r and "erase to end of line" redraw the bar in place. */
	(void)fprintf(stderr, "\r[%s] %3u%%  %s / %s  %s/s\033[K", bar, pct,
	    sdone, stotal, srate);
	(void)fflush(stderr);
	p->drawn = true;
}

static int
on_progress(uint64_t done, uint64_t total, void *ctx)
{
	struct progress *p = ctx;
	long long ns;

	/* A caught signal cancels the copy; the library cleans up. */
	if (cli_signal != 0)
		return 1;
	if (!p->enabled || total < PROGRESS_MIN)
		return 0;
	ns = elapsed_ns(&p->start);
	if (p->drawn && done < total && ns - p->last_ns < PROGRESS_PERIOD_NS)
		return 0;
	p->last_ns = ns;
	progress_draw(p, done, total, ns);
	return 0;
}

/*
 * Parse the options and operands of cp or mv into c (and *progress);
 * returns -1 to go on, or the exit status to return now.
 */
static int
parse(struct cli *c, int argc, char **argv, const struct option *longopts,
    bool *progress)
{
	int opt;

	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (cli_common_option(c, opt, optarg)) {
		case CLI_OPT_DONE:
			continue;
		case CLI_OPT_VERSION:
			return EXIT_OK;
		case CLI_OPT_HELP:
			if (strcmp(c->verb, "cp") == 0)
				cp_usage();
			else
				mv_usage();
			return EXIT_OK;
		case CLI_OPT_USAGE:
			return EXIT_USAGE;
		case CLI_OPT_UNKNOWN:
			break;
		}
		switch (opt) {
		case OPT_NO_CLOBBER:
			c->flags |= AFILE_NOREPLACE;
			break;
		case OPT_EXCHANGE:
			c->flags |= AFILE_EXCHANGE;
			break;
		case OPT_PROGRESS:
			*progress = true;
			break;
		default:
			return cli_usage_error(c, NULL);
		}
	}
	if ((c->flags & AFILE_NOREPLACE) != 0 &&
	    (c->flags & AFILE_EXCHANGE) != 0)
		return cli_usage_error(
		    c, "--no-clobber and --exchange cannot be combined");
	if (!cli_lock_options(c))
		return EXIT_USAGE;
	if (argc - optind < 2)
		return cli_usage_error(c, "missing %s operand",
		    argc - optind == 0 ? "SRC and DST" : "DST");
	if (argc - optind > 2)
		return cli_usage_error(
		    c, "extra operand '%s'", argv[optind + 2]);
	return -1;
}

int
cmd_cp(int argc, char **argv)
{
	struct cli c;
	struct cli_lock_wait lw;
	struct progress p;
	const char *src, *dst;
	char *inside = NULL;
	bool progress = false;
	int r, status;

	cli_init(&c, "cp", argv);
	status = parse(&c, argc, argv, cp_longopts, &progress);
	if (status >= 0)
		return status;
	src = argv[optind];
	dst = argv[optind + 1];
	r = into_directory(src, dst, &inside);
	if (r < 0)
		return cli_finish(&c,
		    cli_fail_msg(
			&c, dst, "copy into directory", afile_strerror(r)));
	if (inside != NULL)
		dst = inside;

	memset(&p, 0, sizeof(p));
	p.enabled = progress && isatty(STDERR_FILENO);
	(void)clock_gettime(CLOCK_MONOTONIC, &p.start);
	c.opts.progress = on_progress;
	c.opts.progress_ctx = &p;
	cli_signals_catch(false);

	cli_lock_wait_init(&c, &lw);
	do
		r = afile_copy(AT_FDCWD, src, AT_FDCWD, dst, c.flags, &c.opts);
	while (cli_lock_wait(&c, r, &lw));
	if (p.drawn)
		(void)fputc('\n', stderr);
	if (r < 0 && r != AFILE_EUNSYNCED && cli_signal != 0) {
		free(inside);
		cli_signals_reraise();
	}
	status =
	    r < 0 ? cli_fail(&c, failed_operand(&c, src, dst, r), r) : EXIT_OK;
	free(inside);
	return cli_finish(&c, status);
}

int
cmd_mv(int argc, char **argv)
{
	struct cli c;
	const char *src, *dst;
	char *inside = NULL;
	bool unused = false;
	int r, status;

	cli_init(&c, "mv", argv);
	status = parse(&c, argc, argv, mv_longopts, &unused);
	if (status >= 0)
		return status;
	src = argv[optind];
	dst = argv[optind + 1];
	if ((c.flags & AFILE_EXCHANGE) == 0) {
		r = into_directory(src, dst, &inside);
		if (r < 0)
			return cli_finish(&c,
			    cli_fail_msg(&c, dst, "move into directory",
				afile_strerror(r)));
		if (inside != NULL)
			dst = inside;
	}
	r = afile_rename(AT_FDCWD, src, AT_FDCWD, dst, c.flags, &c.opts);
	status =
	    r < 0 ? cli_fail(&c, failed_operand(&c, src, dst, r), r) : EXIT_OK;
	free(inside);
	return cli_finish(&c, status);
}
