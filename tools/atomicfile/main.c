/* SPDX-License-Identifier: MIT */
/*
 * main.c - entry point of the atomicfile tool: global options, the list
 * of subcommands, and dispatch.
 *
 * Global options (--help, --version) come before the subcommand; every
 * other option belongs to a subcommand and is parsed by it.  The usage
 * text mirrors docs/man/atomicfile.1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct subcommand subcommands[] = {
    {"write", cmd_write},
    {"create", cmd_create},
    {"cat", cmd_cat},
    {"rm", cmd_rm},
    {"cp", cmd_cp},
    {"mv", cmd_mv},
    {"patch", cmd_patch},
    {"lock", cmd_lock},
    {"clean", cmd_clean},
    {"txn", cmd_txn},
    {"recover", cmd_recover},
    {"verify", cmd_verify},
    {"doctor", cmd_doctor},
};

static void
usage(FILE *f)
{
	(void)fputs(
	    "Usage: atomicfile [--help | --version]\n"
	    "       atomicfile SUBCOMMAND [OPTIONS] ARGS...\n"
	    "\n"
	    "Atomic, crash-safe file operations: every FILE holds its whole\n"
	    "old contents or its whole new contents, whatever happens.\n"
	    "\n"
	    "Subcommands:\n"
	    "  write  [OPTIONS] FILE          standard input -> FILE\n"
	    "  create [OPTIONS] FILE          as write; FILE must not exist\n"
	    "  cat    [-C ROOT] FILE...       print files\n"
	    "  rm     [OPTIONS] FILE...       delete files durably\n"
	    "  cp     [OPTIONS] SRC DST       copy, keeping metadata\n"
	    "  mv     [OPTIONS] SRC DST       rename durably\n"
	    "  patch  [OPTIONS] --offset=N FILE\n"
	    "                                 standard input replaces bytes "
	    "of FILE\n"
	    "  lock   [OPTIONS] FILE -- COMMAND [ARG...]\n"
	    "                                 run COMMAND holding FILE's "
	    "lock\n"
	    "  clean  [OPTIONS] DIR...        remove abandoned temporary "
	    "files\n"
	    "  txn    [OPTIONS] [-C ROOT] OP...\n"
	    "                                 change several files all or "
	    "nothing\n"
	    "  recover [ROOT...]              finish or roll back "
	    "interrupted transactions\n"
	    "  verify [ROOT...]               report leftovers of "
	    "interruptions\n"
	    "  doctor PATH...                 what the file system under "
	    "PATH supports\n"
	    "\n"
	    "Run 'atomicfile SUBCOMMAND --help' for its options.\n"
	    "\n"
	    "Exit status: 0 success, 1 failure, 2 usage error, 3 target "
	    "exists,\n"
	    "4 lock not acquired before the timeout; lock: the command's "
	    "status.\n",
	    f);
}

/*
 * Make sure descriptors 0, 1 and 2 are open.  Were one closed, the
 * library's next open() would get it, and a message meant for stderr
 * would land in a file being written (or input would be read from it).
 * A closed stdin is remembered: write must fail then, not publish an
 * empty file.
 */
static void
guard_std_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (fd == STDIN_FILENO)
			cli_stdin_closed = true;
		/* open() returns the lowest free descriptor: this one. */
		if (open("/dev/null",
			fd == STDIN_FILENO ? O_RDONLY : O_WRONLY) != fd)
			_exit(EXIT_FAIL);
	}
}

/*
 * --version with one write(2): through stdio it cost an fstat, an ioctl
 * and malloc's first use (getrandom, two brk) on top.
 */
static int
print_version(void)
{
	char line[64];
	int n =
	    snprintf(line, sizeof(line), "atomicfile %s\n", afile_version());

	if (n <= 0 || (size_t)n >= sizeof(line))
		return EXIT_FAIL;
	for (const char *p = line; n > 0;) {
		ssize_t w = write(STDOUT_FILENO, p, (size_t)n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return EXIT_FAIL;
		p += w;
		n -= (int)w;
	}
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	static char progname[] = "atomicfile";
	const char *name;
	size_t i;
	int c;

	guard_std_fds();
	argv[0] = progname;
	/* "+": stop at the subcommand; its options are its own. */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			return print_version();
		default:
			(void)fputs("Try 'atomicfile --help' for more "
				    "information.\n",
			    stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		(void)fputs("atomicfile: missing subcommand\n", stderr);
		usage(stderr);
		return EXIT_USAGE;
	}
	name = argv[optind];
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(name, subcommands[i].name) == 0)
			return subcommands[i].run(argc - optind, argv + optind);
	(void)fprintf(stderr,
	    "atomicfile: unknown subcommand '%s'\n"
	    "Try 'atomicfile --help' for more information.\n",
	    name);
	return EXIT_USAGE;
}
