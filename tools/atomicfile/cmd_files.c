/* SPDX-License-Identifier: MIT */
/*
 * cmd_files.c - the subcommands that act on a list of files: cat and rm.
 *
 * Both go on after a failure, so that one bad operand does not hide the
 * others, and exit 1 if any operand failed.
 *
 * cat -C ROOT reads the files of a transaction root as one version: it
 * holds the root's snapshot lock (afile_txn_snapshot()) around all the
 * reads, so that no transaction applies between two of them, and hands
 * the root to afile_read(), which recovers an interrupted transaction
 * before reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"

static const struct option cat_longopts[] = {
    CLI_LOPT_NO_FOLLOW,
    CLI_LOPT_STATS,
    CLI_LOPT_QUIET,
    CLI_LOPT_HELP,
    CLI_LOPT_END,
};

static const struct option rm_longopts[] = {
    CLI_LOPT_SYNC,
    CLI_LOPT_LOCK,
    CLI_LOPT_TIMEOUT,
    CLI_LOPT_STATS,
    CLI_LOPT_QUIET,
    CLI_LOPT_HELP,
    CLI_LOPT_END,
};

static void
cat_usage(void)
{
	(void)fputs("Usage: atomicfile cat [OPTIONS] [-C ROOT] FILE...\n"
		    "Print each FILE whole to standard output.\n"
		    "\n"
		    "Options:\n"
		    "  -C ROOT                    FILEs are relative to the "
		    "directory ROOT\n" CLI_HELP_NO_FOLLOW CLI_HELP_STATS
			CLI_HELP_QUIET CLI_HELP_HELP,
	    stdout);
}

static void
rm_usage(void)
{
	(void)fputs("Usage: atomicfile rm [OPTIONS] FILE...\n"
		    "Delete each FILE durably (a symlink itself, never its "
		    "target).\n"
		    "\n"
		    "Options:\n" CLI_HELP_SYNC CLI_HELP_LOCK CLI_HELP_STATS
			CLI_HELP_QUIET CLI_HELP_HELP,
	    stdout);
}

/* Write all of buf to standard output; returns 0 or -errno. */
static int
write_out(const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDOUT_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
cmd_cat(int argc, char **argv)
{
	struct cli c;
	struct afile_lock *snap = NULL;
	const char *root = NULL;
	int opt, r, i, dirfd = AT_FDCWD, status = EXIT_OK;

	cli_init(&c, "cat", argv);
	while (
	    (opt = getopt_long(argc, argv, "C:qh", cat_longopts, NULL)) != -1) {
		switch (cli_common_option(&c, opt, optarg)) {
		case CLI_OPT_DONE:
			continue;
		case CLI_OPT_VERSION:
			return EXIT_OK;
		case CLI_OPT_HELP:
			cat_usage();
			return EXIT_OK;
		case CLI_OPT_USAGE:
			return EXIT_USAGE;
		case CLI_OPT_UNKNOWN:
			break;
		}
		if (opt != 'C')
			return cli_usage_error(&c, NULL);
		root = optarg;
	}
	if (optind >= argc)
		return cli_usage_error(&c, "missing FILE operand");

	if (root != NULL) {
		dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return cli_finish(&c,
			    cli_fail_msg(&c, root, "open directory",
				afile_strerror(-errno)));
		r = afile_txn_snapshot(dirfd, ".", -1, &snap);
		/*
		 * A root this reader cannot write (a read-only file system,
		 * no permission to create .atomicfile/ in it) is read
		 * without the snapshot lock: afile_read() still recovers an
		 * interrupted transaction, or fails if it cannot.
		 */
		if (r < 0 && r != -EROFS && r != -EACCES && r != -EPERM) {
			(void)close(dirfd);
			return cli_finish(&c,
			    cli_fail_msg(&c, root, "take a snapshot",
				afile_strerror(r)));
		}
	}
	for (i = optind; i < argc; i++) {
		void *buf = NULL;
		size_t len = 0;

		r = afile_read(dirfd, argv[i], &buf, &len,
		    c.flags & AFILE_NOFOLLOW, &c.opts);
		if (r < 0) {
			status = cli_fail(&c, argv[i], r);
			continue;
		}
		r = write_out(buf, len);
		free(buf);
		if (r < 0) {
			/* Standard output is gone for every later file too. */
			status = cli_fail_msg(&c, argv[i],
			    "write standard output", afile_strerror(r));
			break;
		}
	}
	afile_lock_release(snap);
	if (dirfd >= 0)
		(void)close(dirfd);
	return cli_finish(&c, status);
}

int
cmd_rm(int argc, char **argv)
{
	struct cli c;
	int opt, r, i, status = EXIT_OK;

	cli_init(&c, "rm", argv);
	while ((opt = getopt_long(argc, argv, "qh", rm_longopts, NULL)) != -1) {
		switch (cli_common_option(&c, opt, optarg)) {
		case CLI_OPT_DONE:
			break;
		case CLI_OPT_VERSION:
			return EXIT_OK;
		case CLI_OPT_HELP:
			rm_usage();
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
	for (i = optind; i < argc; i++) {
		r = afile_remove(AT_FDCWD, argv[i], c.flags, &c.opts);
		if (r < 0)
			status = cli_fail(&c, argv[i], r);
	}
	return cli_finish(&c, status);
}
