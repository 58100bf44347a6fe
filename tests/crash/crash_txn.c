/* SPDX-License-Identifier: MIT */
/*
 * crash_txn.c - kill a transaction at every system call, then recover.
 *
 * A child process runs a transaction (puts, a create, a rename, a remove,
 * a streamed put) through the fault shims, which _exit() it right before
 * its n-th system call: a process crash at that point.  The parent then
 * recovers the root with the real system calls and checks:
 *
 *   - every file is in the old state, or every file in the new state;
 *   - the new state, if the child's commit had returned 0;
 *   - no staged temp (.afile-txn), no temp (.afile-tmp), no journal and
 *     no intent log remain.
 *
 * Depth 2: for every crash point that leaves work for recovery, the
 * recovery itself is killed at each of its system calls, then run again
 * to the end, and the same checks apply.  n runs 1, 2, ... until the
 * child finishes without reaching the n-th call.
 *
 * Each failure prints a line that replays it:
 *	crash_txn VARIANT N1 [N2]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomicfile.h"
#include "fault.h"

struct file {
	const char *path;
	const char *old; /* NULL: absent */
	const char *new;
};

static const struct file files[] = {
    {"a", "old a\n", "new a, longer than before\n"},
    {"sub/b", "old b\n", "new b\n"},
    {"c", NULL, "created c\n"},
    {"old", "to be renamed\n", NULL},
    {"renamed", NULL, "to be renamed\n"},
    {"gone", "to be removed\n", NULL},
    {"big", "old big\n", "streamed big\n"},
};
#define NFILES (sizeof(files) / sizeof(files[0]))

static char root[4096];
static unsigned long checks, failures;
static const char *variant_name;

static void
fail(unsigned long n1, long n2, const char *fmt, ...)
{
	va_list ap;

	failures++;
	printf("not ok - %s n1=%lu n2=%ld: ", variant_name, n1, n2);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n# replay: crash_txn %s %lu", variant_name, n1);
	if (n2 >= 0)
		printf(" %ld", n2);
	printf("\n");
}

static void
sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		fprintf(stderr, "crash_txn: failed: %s\n", cmd);
		exit(2);
	}
}

static void
put_file(const char *path, const char *text)
{
	char p[8192];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, path);
	f = fopen(p, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(p);
		exit(2);
	}
}

/* Remove everything under the directory @dfd (following no symlink). */
static void
rm_tree(int dfd)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		int sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			continue;
		sub = openat(dirfd(d), e->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			rm_tree(sub);
		(void)unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
	}
	if (d)
		closedir(d);
}

static void
reset(void)
{
	char sub[8192];
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0)
		rm_tree(fd);
	snprintf(sub, sizeof(sub), "%s/sub", root);
	if ((mkdir(root, 0755) < 0 && errno != EEXIST) ||
	    mkdir(sub, 0755) < 0) {
		perror(sub);
		exit(2);
	}
	for (size_t i = 0; i < NFILES; i++)
		if (files[i].old)
			put_file(files[i].path, files[i].old);
}

/* 1 if @path holds @text (NULL: absent), else 0. */
static int
is(const char *path, const char *text)
{
	char p[8192], buf[256];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", root, path);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return text == NULL && errno == ENOENT;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return text && n == (ssize_t)strlen(text) &&
	    !memcmp(buf, text, (size_t)n);
}

/* Does a directory hold a leftover? */
static const char *
leftover(const char *dir)
{
	static char found[8192 + 512];
	DIR *d = opendir(dir);
	struct dirent *e;

	found[0] = '\0';
	while (d && (e = readdir(d))) {
		if (strstr(e->d_name, ".afile-txn") ||
		    strstr(e->d_name, ".afile-tmp") ||
		    !strcmp(e->d_name, "journal") ||
		    !strcmp(e->d_name, "intent"))
			snprintf(found, sizeof(found), "%s/%s", dir, e->d_name);
	}
	if (d)
		closedir(d);
	return found[0] ? found : NULL;
}

static void
check(unsigned long n1, long n2, int child_status)
{
	char d[8192];
	const char *lo;
	bool all_old = true, all_new = true;

	checks++;
	for (size_t i = 0; i < NFILES; i++) {
		all_old = all_old && is(files[i].path, files[i].old);
		all_new = all_new && is(files[i].path, files[i].new);
	}
	if (!all_old && !all_new)
		fail(n1, n2, "a mix of old and new files");
	if (child_status == 0 && !all_new)
		fail(
		    n1, n2, "commit returned 0 but the new state is not there");
	const char *dirs[] = {"", "/sub", "/.atomicfile"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(d, sizeof(d), "%s%s", root, dirs[i]);
		lo = leftover(d);
		if (lo)
			fail(n1, n2, "left behind: %s", lo);
	}
}

/* The workload; its exit status: 0 committed, 1 failed, 2 setup error. */
static int
workload(void)
{
	struct afile_writer *w = NULL;
	struct afile_txn *t = NULL;
	int r;

	r = afile_txn_begin(AT_FDCWD, root, 0, NULL, &t);
	if (r == 0)
		r = afile_txn_put(
		    t, "a", files[0].new, strlen(files[0].new), 0);
	if (r == 0)
		r = afile_txn_put(
		    t, "sub/b", files[1].new, strlen(files[1].new), 0);
	if (r == 0)
		r = afile_txn_create(
		    t, "c", files[2].new, strlen(files[2].new), 0);
	if (r == 0)
		r = afile_txn_rename(t, "old", "renamed", 0);
	if (r == 0)
		r = afile_txn_remove(t, "gone", 0);
	if (r == 0)
		r = afile_txn_writer(t, "big", 0, &w);
	if (r == 0)
		r = afile_writer_write(w, files[6].new, strlen(files[6].new));
	if (r == 0)
		r = afile_writer_commit(w);
	afile_writer_free(w);
	if (r == 0)
		r = afile_txn_commit(t);
	afile_txn_free(t);
	return r == 0 ? 0 : 1;
}

/* Run @fn in a child killed before its n-th system call. */
static int
run_killed(int (*fn)(void), unsigned int hide, unsigned long n)
{
	pid_t pid = fork();
	int st;

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		fault_install(hide);
		if (n)
			fault_arm(n, 0, FAULT_KILL);
		_exit(fn());
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st)) {
		fprintf(stderr, "crash_txn: child died oddly\n");
		exit(2);
	}
	return WEXITSTATUS(st);
}

static int
recover_child(void)
{
	return afile_recover(AT_FDCWD, root, 0, NULL) == 0 ? 0 : 1;
}

static int
recover_now(unsigned long n1, long n2)
{
	struct afile_recover_report rep = {.size = sizeof(rep)};
	int r = afile_recover(AT_FDCWD, root, 0, &rep);

	if (r < 0)
		fail(n1, n2, "recovery failed: %s", afile_err_name(r));
	return rep.action;
}

/* Leave the state of crash point n1 (for depth 2). */
static int
crash_at(unsigned int hide, unsigned long n1)
{
	reset();
	return run_killed(workload, hide, n1);
}

/* Crash point n1, then recovery crashed at n2 (0: not), then recovery. */
static int
one(unsigned int hide, unsigned long n1, long n2)
{
	int st = crash_at(hide, n1), rs = 0;

	if (n2 > 0)
		rs = run_killed(recover_child, hide, (unsigned long)n2);
	(void)recover_now(n1, n2);
	check(n1, n2, st);
	return n2 > 0 ? rs : st;
}

static void
sweep(unsigned int hide, bool depth2)
{
	unsigned long before = failures;
	unsigned long points = 0, deep = 0;

	for (unsigned long n1 = 1;; n1++) {
		int st = one(hide, n1, -1);

		points++;
		if (st != FAULT_KILLED) {
			if (st != 0)
				fail(n1, -1, "the workload failed uncrashed");
			break;
		}
		/* Depth 2: crash the recovery too, at each of its calls. */
		for (long n2 = 1; depth2 && one(hide, n1, n2) == FAULT_KILLED;
		     n2++)
			deep++;
	}
	printf("%s - %s: %lu crash points, %lu crashes during recovery\n",
	    failures != before ? "not ok" : "ok", variant_name, points, deep);
}

/* All files as they were before the transaction? */
static bool
all_old(void)
{
	for (size_t i = 0; i < NFILES; i++)
		if (!is(files[i].path, files[i].old))
			return false;
	return true;
}

static bool
journal_present(void)
{
	char p[8192];

	snprintf(p, sizeof(p), "%s/.atomicfile/journal", root);
	return access(p, F_OK) == 0;
}

/*
 * Torn and damaged journals: take the last crash point where the journal
 * is on disk and nothing is applied yet, then truncate the journal at
 * every length, and flip every byte, and recover: each must be refused
 * and rolled back to the old state, with nothing left behind.
 */
static void
torn(void)
{
	unsigned long before = failures;
	unsigned long n1, last = 0;
	char jpath[8192];
	unsigned char jbuf[65536];
	ssize_t jlen = 0;
	unsigned long cases = 0;
	int fd;

	variant_name = "torn";
	for (n1 = 1; crash_at(0, n1) == FAULT_KILLED; n1++)
		if (journal_present() && all_old())
			last = n1;
	if (!last) {
		fail(
		    0, -1, "no crash point with a journal and nothing applied");
		return;
	}
	snprintf(jpath, sizeof(jpath), "%s/.atomicfile/journal", root);
	(void)crash_at(0, last);
	fd = open(jpath, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		jlen = read(fd, jbuf, sizeof(jbuf));
	if (fd >= 0)
		close(fd);
	if (jlen <= 0) {
		fail(last, -1, "cannot read the journal");
		return;
	}
	for (long i = 0; i < 2 * jlen; i++) {
		bool flip = i >= jlen;
		long at = flip ? i - jlen : i;
		int st = crash_at(0, last), action;

		if (!journal_present() || !all_old()) {
			fail(last, i,
			    "crash point not reproduced: journal %d, "
			    "all old %d",
			    journal_present(), all_old());
			continue;
		}
		fd = open(jpath, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			fail(last, i, "journal vanished");
			continue;
		}
		if (flip) {
			/*
			 * Flip the byte this run's journal holds: the txn id,
			 * temp names and checksums are new in every run.
			 */
			unsigned char b = 0;

			if (pread(fd, &b, 1, at) == 1) {
				b ^= 0xff;
				(void)pwrite(fd, &b, 1, at);
			}
		} else {
			(void)ftruncate(fd, at);
		}
		close(fd);
		action = recover_now(last, i);
		cases++;
		if (!all_old())
			fail(last, i,
			    "a %s journal was applied (recovery action %d)",
			    flip ? "damaged" : "torn", action);
		check(last, i, st);
	}
	printf("%s - torn: %lu truncations and byte flips of a %zd-byte "
	       "journal rolled back\n",
	    failures != before ? "not ok" : "ok", cases, jlen);
}

/*
 * Sequences: a transaction, then a single-file write, then another
 * transaction, killed at every system call.  After recovery the root must
 * be exactly one of the four states, and at least the state of the last
 * call that had returned (the child reports each one through a pipe).
 */
static const char *const seq_states[4][2] = {
    {"x0", "y0"}, {"x1", "y1"}, {"x2", "y1"}, {NULL, "y2"}};
static int seq_pipe[2];

static int
seq_txn(const char *x, const char *y)
{
	struct afile_txn *t = NULL;
	int r = afile_txn_begin(AT_FDCWD, root, 0, NULL, &t);

	if (r == 0 && x)
		r = afile_txn_put(t, "x", x, strlen(x), 0);
	if (r == 0 && !x)
		r = afile_txn_remove(t, "x", 0);
	if (r == 0)
		r = afile_txn_put(t, "y", y, strlen(y), 0);
	if (r == 0)
		r = afile_txn_commit(t);
	afile_txn_free(t);
	return r;
}

static int
seq_workload(void)
{
	char x[8192];

	snprintf(x, sizeof(x), "%s/x", root);
	if (seq_txn("x1", "y1") < 0 || write(seq_pipe[1], "1", 1) != 1)
		return 1;
	if (afile_write(AT_FDCWD, x, "x2", 2, 0, NULL) < 0 ||
	    write(seq_pipe[1], "2", 1) != 1)
		return 1;
	if (seq_txn(NULL, "y2") < 0 || write(seq_pipe[1], "3", 1) != 1)
		return 1;
	return 0;
}

static void
sequences(void)
{
	unsigned long before = failures;
	unsigned long n1, points = 0;
	char buf[8];
	int st, done, found;

	variant_name = "sequence";
	if (pipe(seq_pipe) < 0 || fcntl(seq_pipe[0], F_SETFL, O_NONBLOCK) < 0) {
		perror("pipe");
		exit(2);
	}
	for (n1 = 1;; n1++) {
		reset();
		put_file("x", "x0");
		put_file("y", "y0");
		st = run_killed(seq_workload, 0, n1);
		done = (int)read(seq_pipe[0], buf, sizeof(buf));
		done = done < 0 ? 0 : done;
		(void)recover_now(n1, -1);
		found = -1;
		for (int k = 0; k < 4 && found < 0; k++)
			if (is("x", seq_states[k][0]) &&
			    is("y", seq_states[k][1]))
				found = k;
		checks++;
		points++;
		if (found < 0)
			fail(n1, -1, "not one of the four states");
		else if (found < done)
			fail(n1, -1, "state %d, but call %d had returned",
			    found, done);
		if (st != FAULT_KILLED)
			break;
	}
	close(seq_pipe[0]);
	close(seq_pipe[1]);
	printf("%s - sequence: %lu crash points\n",
	    failures != before ? "not ok" : "ok", points);
}

int
main(int argc, char **argv)
{
	/*
	 * Recovery runs the same code whatever the staging path was, so
	 * depth 2 is swept once, below the native variant.
	 */
	static const struct {
		const char *name;
		unsigned int hide;
		bool depth2;
	} variants[] = {
	    {"native", 0, true},
	    {"fallback",
		FEAT_NO_TMPFILE | FEAT_NO_RENAMEAT2 | FEAT_NO_FICLONE |
		    FEAT_NO_CFR,
		false},
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(root, sizeof(root), "%s/crash.%d",
	    getenv("CRASH_DIR") ? getenv("CRASH_DIR") : ".", (int)getpid());
	for (size_t v = 0; v < 2; v++) {
		if (argc > 1 && strcmp(argv[1], variants[v].name))
			continue;
		variant_name = variants[v].name;
		if (argc > 2) /* replay one case */
			(void)one(variants[v].hide, strtoul(argv[2], NULL, 10),
			    argc > 3 ? strtol(argv[3], NULL, 10) : -1);
		else
			sweep(variants[v].hide, variants[v].depth2);
	}
	if (argc == 1 || !strcmp(argv[1], "torn"))
		torn();
	if (argc == 1 || !strcmp(argv[1], "sequence"))
		sequences();
	sh("rm -rf '%s'", root);
	printf("# %lu states checked, %lu violations\n", checks, failures);
	/* A state can fail several checks: count states, not messages. */
	printf("%lu passed, %lu failed\n",
	    checks > failures ? checks - failures : 0, failures);
	return failures ? 1 : 0;
}
