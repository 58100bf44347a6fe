/* SPDX-License-Identifier: MIT */
/*
 * cmd_lock.c - the lock subcommand: run a command while holding a file's
 * lock, as flock(1) does, with the library's path locks.
 *
 * The lock lives on an open file description (an OFD lock on the path's
 * sidecar), so it belongs to every process that holds a descriptor of
 * it.  The tool clears FD_CLOEXEC on that descriptor before running the
 * command, and the command inherits it: the lock is released only when
 * both the tool and the command (and anything the command handed the
 * descriptor to) have exited.  Killing the tool alone therefore never
 * lets a second holder in while the command still runs.
 *
 * The tool forwards no signals, again like flock(1): a terminal's SIGINT
 * reaches the whole process group anyway, and a signal sent to the tool
 * alone ends the tool, not the command.
 *
 * Exit status: the command's own (128+N if it died by signal N), 4 when
 * the lock was not acquired in time, 126 when the command cannot be
 * executed and 127 when it is not found (as shells do), 1 when the lock
 * cannot be taken at all, 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"

/* Exit codes for a command that could not be run, as sh(1) uses them. */
enum {
	EXIT_CANNOT_EXEC = 126,
	EXIT_NOT_FOUND = 127,
};

static const struct option lock_longopts[] = {
    {"shared", no_argument, NULL, OPT_SHARED},
    CLI_LOPT_TIMEOUT,
    CLI_LOPT_QUIET,
    CLI_LOPT_HELP,
    CLI_LOPT_END,
};

static void
lock_usage(void)
{
	(void)fputs(
	    "Usage: atomicfile lock [OPTIONS] FILE -- COMMAND [ARG...]\n"
	    "Run COMMAND while holding the lock of FILE (the lock that "
	    "--lock and\n"
	    "afile_lock_acquire() take). COMMAND inherits the lock, as "
	    "with flock(1):\n"
	    "it is released when both the tool and COMMAND have exited. "
	    "FILE need\n"
	    "not exist.\n"
	    "\n"
	    "Options:\n"
	    "      --shared               take a shared lock (default: "
	    "exclusive)\n"
	    "      --timeout=SECONDS      give up (exit 4) after this long; "
	    "0 tries once\n"
	    "                             (default: wait as long as it "
	    "takes)\n" CLI_HELP_QUIET CLI_HELP_HELP "\n"
	    "Exit status: COMMAND's own (128+N if it died by signal N), 4 "
	    "if the lock\n"
	    "was not acquired in time, 126 if COMMAND cannot be executed, "
	    "127 if it is\n"
	    "not found, 1 if the lock cannot be taken, 2 for a usage "
	    "error.\n",
	    stdout);
}

/*
 * In the child: run the command, holding the inherited lock.  Never
 * returns: the exec replaces the process, or the child says why it
 * could not and exits as a shell would.
 */
static void run_child(const struct cli *c, char **cmd)
    __attribute__((noreturn));

static void
run_child(const struct cli *c, char **cmd)
{
	int err;

	(void)execvp(cmd[0], cmd);
	err = errno;
	(void)cli_fail_msg(c, cmd[0], "run command", afile_strerror(-err));
	_exit(err == ENOENT || err == ENOTDIR ? EXIT_NOT_FOUND
					      : EXIT_CANNOT_EXEC);
}

int
cmd_lock(int argc, char **argv)
{
	struct cli c;
	struct afile_lock *lock = NULL;
	unsigned int mode = AFILE_LOCK_EXCLUSIVE;
	const char *path;
	char **cmd;
	pid_t pid;
	int opt, r, fd, flags, wstatus;

	cli_init(&c, "lock", argv);
	/* "+": FILE ends the options; what follows "--" is the command's. */
	while (
	    (opt = getopt_long(argc, argv, "+qh", lock_longopts, NULL)) != -1) {
		switch (cli_common_option(&c, opt, optarg)) {
		case CLI_OPT_DONE:
			continue;
		case CLI_OPT_VERSION:
			return EXIT_OK;
		case CLI_OPT_HELP:
			lock_usage();
			return EXIT_OK;
		case CLI_OPT_USAGE:
			return EXIT_USAGE;
		case CLI_OPT_UNKNOWN:
			break;
		}
		if (opt != OPT_SHARED)
			return cli_usage_error(&c, NULL);
		mode = AFILE_LOCK_SHARED;
	}
	if (optind >= argc)
		return cli_usage_error(&c, "missing FILE operand");
	path = argv[optind];
	if (optind + 1 >= argc || strcmp(argv[optind + 1], "--") != 0)
		return cli_usage_error(&c, "expected '--' after FILE");
	if (optind + 2 >= argc)
		return cli_usage_error(&c, "missing COMMAND after '--'");
	cmd = argv + optind + 2;

	/* The library's timeout: -1 waits forever, 0 tries once. */
	r = afile_lock_acquire(AT_FDCWD, path, mode, c.timeout_ms, &lock);
	if (r == -ETIMEDOUT || r == -EAGAIN)
		return cli_fail_locked(&c, path);
	if (r < 0)
		return cli_fail_msg(&c, path, "lock", afile_strerror(r));
	fd = afile_lock_fd(lock);
	flags = fd < 0 ? -1 : fcntl(fd, F_GETFD);
	if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
		r = fd < 0 ? fd : -errno;
		afile_lock_release(lock);
		return cli_fail_msg(
		    &c, path, "pass the lock on", afile_strerror(r));
	}
	/* Nothing buffered may be written twice, by parent and child. */
	(void)fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		afile_lock_release(lock);
		return cli_fail_msg(
		    &c, cmd[0], "run command", afile_strerror(r));
	}
	if (pid == 0)
		run_child(&c, cmd);
	while (waitpid(pid, &wstatus, 0) < 0) {
		if (errno != EINTR) {
			r = -errno;
			afile_lock_release(lock);
			return cli_fail_msg(
			    &c, cmd[0], "wait for command", afile_strerror(r));
		}
	}
	afile_lock_release(lock);
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return EXIT_FAIL;
}
