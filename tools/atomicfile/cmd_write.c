/* SPDX-License-Identifier: MIT */
/*
 * cmd_write.c - the subcommands that publish standard input: write,
 * create and patch.
 *
 * write and create stream standard input into an afile_writer through one
 * fixed buffer, so memory stays bounded whatever the size.  Everything is
 * read before anything is published, which makes
 * "sort f | atomicfile write f" safe.  patch needs its bytes in one
 * buffer, so it caps them (patches are small by nature).
 *
 * If the input fails or a signal arrives before publication, the writer
 * is freed (which removes the temporary file) and the tool reports the
 * error or dies by the signal: in both cases the target is unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"

/* Input is moved in chunks of this size: large enough for throughput. */
#define CHUNK_SIZE ((size_t)1 << 20)
/* The largest patch accepted on standard input. */
#define PATCH_MAX  ((size_t)64 << 20)

static const struct option write_longopts[] = {
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

static const struct option patch_longopts[] = {
    {"offset", required_argument, NULL, OPT_OFFSET},
    {"in-place", no_argument, NULL, OPT_IN_PLACE},
    CLI_LOPT_SYNC,
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

static void
write_usage(const char *verb)
{
	if (strcmp(verb, "create") == 0)
		(void)fputs("Usage: atomicfile create [OPTIONS] FILE\n"
			    "Create FILE from standard input, atomically. "
			    "Exit 3 if FILE exists.\n",
		    stdout);
	else
		(void)fputs("Usage: atomicfile write [OPTIONS] FILE\n"
			    "Replace FILE with standard input, atomically "
			    "(streamed, any size).\n",
		    stdout);
	(void)fputs(
	    "Nothing is published if reading fails or the tool is "
	    "interrupted.\n"
	    "\n"
	    "Options:\n" CLI_HELP_SYNC CLI_HELP_MODE CLI_HELP_NO_FOLLOW
		CLI_HELP_BREAK_HARDLINKS CLI_HELP_ALLOW_OWNER_CHANGE
		    CLI_HELP_LOCK CLI_HELP_STATS CLI_HELP_QUIET CLI_HELP_HELP,
	    stdout);
}

static void
patch_usage(void)
{
	(void)fputs(
	    "Usage: atomicfile patch [OPTIONS] --offset=N FILE\n"
	    "Replace bytes N.. of FILE with standard input (at most "
	    "64 MiB), atomically.\n"
	    "Like pwrite(2): FILE grows as needed; an offset past "
	    "the end leaves a hole.\n"
	    "\n"
	    "Options:\n"
	    "      --offset=N             byte offset in FILE "
	    "(decimal; required)\n"
	    "      --in-place             write into FILE behind a redo "
	    "log: costs the\n"
	    "                             size of the change; readers "
	    "that lock (cat)\n"
	    "                             see old or new, others may "
	    "see a mix\n" CLI_HELP_SYNC CLI_HELP_NO_FOLLOW
		CLI_HELP_BREAK_HARDLINKS CLI_HELP_ALLOW_OWNER_CHANGE
		    CLI_HELP_LOCK CLI_HELP_STATS CLI_HELP_QUIET CLI_HELP_HELP,
	    stdout);
}

/* The bytes left in standard input when it is a regular file, else 0. */
static uint64_t
input_size(void)
{
	struct stat st;
	off_t pos;

	if (fstat(STDIN_FILENO, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	pos = lseek(STDIN_FILENO, 0, SEEK_CUR);
	if (pos < 0 || pos >= st.st_size)
		return 0;
	return (uint64_t)(st.st_size - pos);
}

/*
 * Fill buf from standard input.  Returns the count (less than len only
 * at end of input), -EINTR when a caught signal arrived, or -errno.
 */
static ssize_t
read_full(unsigned char *buf, size_t len)
{
	size_t fill = 0;
	ssize_t n;

	while (fill < len) {
		n = cli_read(STDIN_FILENO, buf + fill, len - fill);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		fill += (size_t)n;
	}
	return (ssize_t)fill;
}

/*
 * Standard input that is a regular file is copied inside the kernel
 * (copy_file_range: no trip through user space, extents shared where the
 * file system can), in 8 MiB steps so that a signal is noticed between
 * them.  Returns 0 when everything was copied, 1 when this input cannot
 * be copied that way (not a regular file, another file system, an old
 * kernel: read it instead), -EINTR on a signal, or -errno.
 */
static int
copy_stdin(struct afile_writer *w)
{
	int out = afile_writer_fd(w);
	bool copied = false;
	struct stat st;
	ssize_t n;

	if (out < 0)
		return out;
	if (fstat(STDIN_FILENO, &st) < 0 || !S_ISREG(st.st_mode))
		return 1;
	for (;;) {
		if (cli_signals_check())
			return -EINTR;
		n = copy_file_range(
		    STDIN_FILENO, NULL, out, NULL, (size_t)8 << 20, 0);
		if (n == 0)
			return 0;
		if (n > 0) {
			copied = true;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (!copied &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			errno == EOPNOTSUPP || errno == EBADF))
			return 1;
		return -errno;
	}
}

static int
stream(struct cli *c, const char *path)
{
	struct afile_writer *w = NULL;
	struct cli_lock_wait lw;
	unsigned char *buf;
	ssize_t n;
	int r, status;

	if (cli_stdin_closed)
		return cli_fail_msg(
		    c, path, "read standard input", afile_strerror(-EBADF));
	buf = malloc(CHUNK_SIZE);
	if (buf == NULL)
		return cli_fail_msg(c, path, NULL, afile_strerror(-ENOMEM));
	c->opts.size_hint = input_size();
	/* Open first: a write that cannot succeed fails before any input. */
	cli_lock_wait_init(c, &lw);
	do
		r = afile_writer_open(AT_FDCWD, path, c->flags, &c->opts, &w);
	while (cli_lock_wait(c, r, &lw));
	if (cli_signal != 0)
		goto interrupted;
	if (r < 0) {
		status = cli_fail(c, path, r);
		goto out;
	}
	r = copy_stdin(w);
	if (r == -EINTR)
		goto interrupted;
	if (r < 0) {
		status = cli_fail_msg(
		    c, path, "read standard input", afile_strerror(r));
		goto out;
	}
	n = r == 0 ? 0 : (ssize_t)CHUNK_SIZE; /* 1: read it below */
	while ((size_t)n == CHUNK_SIZE) {
		n = read_full(buf, CHUNK_SIZE);
		if (n == -EINTR)
			goto interrupted;
		if (n < 0) {
			status = cli_fail_msg(c, path, "read standard input",
			    afile_strerror((int)n));
			goto out;
		}
		if (n > 0) {
			r = afile_writer_write(w, buf, (size_t)n);
			if (r < 0) {
				status = cli_fail(c, path, r);
				goto out;
			}
		}
	}
	if (cli_signals_check())
		goto interrupted;
	r = afile_writer_commit(w);
	status = r < 0 ? cli_fail(c, path, r) : EXIT_OK;
out:
	afile_writer_free(w);
	free(buf);
	return status;
interrupted:
	afile_writer_free(w);
	free(buf);
	cli_signals_reraise();
}

static int
run_write(int argc, char **argv, const char *verb, unsigned int flags)
{
	struct cli c;
	int opt;

	cli_init(&c, verb, argv);
	c.flags = flags;
	while (
	    (opt = getopt_long(argc, argv, "qh", write_longopts, NULL)) != -1) {
		switch (cli_common_option(&c, opt, optarg)) {
		case CLI_OPT_DONE:
			break;
		case CLI_OPT_VERSION:
			return EXIT_OK;
		case CLI_OPT_HELP:
			write_usage(verb);
			return EXIT_OK;
		case CLI_OPT_USAGE:
			return EXIT_USAGE;
		case CLI_OPT_UNKNOWN:
			return cli_usage_error(&c, NULL);
		}
	}
	if (!cli_lock_options(&c))
		return EXIT_USAGE;
	if (optind >= argc)
		return cli_usage_error(&c, "missing FILE operand");
	if (argc - optind > 1)
		return cli_usage_error(
		    &c, "extra operand '%s'", argv[optind + 1]);
	cli_signals_catch(true);
	return cli_finish(&c, stream(&c, argv[optind]));
}

int
cmd_write(int argc, char **argv)
{
	return run_write(argc, argv, "write", 0);
}

int
cmd_create(int argc, char **argv)
{
	return run_write(argc, argv, "create", AFILE_NOREPLACE);
}

/*
 * Read all of standard input, at most PATCH_MAX bytes, into *ret_buf.
 * Returns 0, -EINTR (a caught signal), -EFBIG (too large) or -errno.
 */
static int
slurp(unsigned char **ret_buf, size_t *ret_len)
{
	unsigned char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (len == cap) {
			if (cap > PATCH_MAX) {
				free(buf);
				return -EFBIG;
			}
			/* One byte beyond the cap tells "too large". */
			cap = cap == 0 ? 65536 : cap * 2;
			if (cap > PATCH_MAX + 1)
				cap = PATCH_MAX + 1;
			nbuf = realloc(buf, cap);
			if (nbuf == NULL) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
		}
		n = cli_read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0) {
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > PATCH_MAX) {
		free(buf);
		return -EFBIG;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int
cmd_patch(int argc, char **argv)
{
	struct cli c;
	struct cli_lock_wait lw;
	unsigned char *buf = NULL;
	const char *path;
	uint64_t offset = 0;
	bool have_offset = false;
	size_t len = 0;
	int opt, r, status;

	cli_init(&c, "patch", argv);
	while (
	    (opt = getopt_long(argc, argv, "qh", patch_longopts, NULL)) != -1) {
		switch (cli_common_option(&c, opt, optarg)) {
		case CLI_OPT_DONE:
			continue;
		case CLI_OPT_VERSION:
			return EXIT_OK;
		case CLI_OPT_HELP:
			patch_usage();
			return EXIT_OK;
		case CLI_OPT_USAGE:
			return EXIT_USAGE;
		case CLI_OPT_UNKNOWN:
			break;
		}
		if (opt == OPT_IN_PLACE) {
			c.flags |= AFILE_INPLACE;
			continue;
		}
		if (opt != OPT_OFFSET)
			return cli_usage_error(&c, NULL);
		if (cli_parse_u64(optarg, &offset) < 0)
			return cli_usage_error(&c,
			    "invalid --offset '%s' (a decimal byte count)",
			    optarg);
		have_offset = true;
	}
	if (!have_offset)
		return cli_usage_error(&c, "--offset=N is required");
	if (!cli_lock_options(&c))
		return EXIT_USAGE;
	if ((c.flags & AFILE_INPLACE) &&
	    (c.flags & (AFILE_BREAK_HARDLINKS | AFILE_OWNER_BEST_EFFORT)))
		return cli_usage_error(&c,
		    "--in-place keeps the inode: no --break-hardlinks or "
		    "--allow-owner-change");
	if (optind >= argc)
		return cli_usage_error(&c, "missing FILE operand");
	if (argc - optind > 1)
		return cli_usage_error(
		    &c, "extra operand '%s'", argv[optind + 1]);
	path = argv[optind];

	if (cli_stdin_closed)
		return cli_finish(&c,
		    cli_fail_msg(&c, path, "read standard input",
			afile_strerror(-EBADF)));
	cli_signals_catch(true);
	r = slurp(&buf, &len);
	if (r == -EINTR)
		cli_signals_reraise();
	if (r == -EFBIG)
		return cli_finish(&c,
		    cli_fail_msg(&c, path, "read standard input",
			"more than 64 MiB; patch takes small changes"));
	if (r < 0)
		return cli_finish(&c,
		    cli_fail_msg(
			&c, path, "read standard input", afile_strerror(r)));
	if (cli_signals_check()) {
		free(buf);
		cli_signals_reraise();
	}
	cli_lock_wait_init(&c, &lw);
	do
		r = afile_patch(
		    AT_FDCWD, path, offset, buf, len, c.flags, &c.opts);
	while (cli_lock_wait(&c, r, &lw));
	if (cli_signal != 0) {
		free(buf);
		cli_signals_reraise();
	}
	status = r < 0 ? cli_fail(&c, path, r) : EXIT_OK;
	free(buf);
	return cli_finish(&c, status);
}
