/* SPDX-License-Identifier: MIT */
/*
 * stress.c - child processes, pipes and shared checks for the stress tests.
 *
 * State: the registry of children that are not reaped yet (so that a test
 * that fails half-way leaves no process running) and whether the syscall
 * table was changed.  Tests run one at a time in one process, so plain
 * statics suffice.  The checks call the OS directly, never the library,
 * except where a test is about the library's own view (the counter).
 */
#include "stress.h"

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "sys.h"

#define S_MAX_CHILDREN 64

/* Children not reaped yet, with the parent's ends of their pipes. */
static struct s_child s_live[S_MAX_CHILDREN];

static void
s_track(const struct s_child *k)
{
	for (int i = 0; i < S_MAX_CHILDREN; i++)
		if (s_live[i].pid == 0) {
			s_live[i] = *k;
			return;
		}
	/* Full: the child is still reaped by s_reap(), just not by teardown. */
}

static void
s_untrack(pid_t pid)
{
	for (int i = 0; i < S_MAX_CHILDREN; i++)
		if (s_live[i].pid == pid)
			s_live[i].pid = 0;
}

int
s_setup(void **state)
{
	return h_setup(state);
}

/* Remove the temps that children killed by s_teardown() left behind. */
static void
s_remove_temps(const struct h_ctx *c)
{
	size_t slen = strlen(H_TMP_SUFFIX);
	struct dirent *de;
	DIR *d = opendir(c->dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > slen &&
		    strcmp(de->d_name + len - slen, H_TMP_SUFFIX) == 0 &&
		    unlinkat(c->dfd, de->d_name, 0) == 0)
			print_error("teardown: removed %s of a killed child\n",
			    de->d_name);
	}
	closedir(d);
}

int
s_teardown(void **state)
{
	bool killed = false;

	/* A failed test may have left children running: stop them first. */
	for (int i = 0; i < S_MAX_CHILDREN; i++) {
		struct s_child *k = &s_live[i];

		if (k->pid <= 0)
			continue;
		kill(k->pid, SIGKILL);
		while (waitpid(k->pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(k->rd);
		close(k->wr);
		k->pid = 0;
		killed = true;
	}
	/*
	 * The test failed already; what the killed children were writing is
	 * not a second failure of the library.
	 */
	if (killed && *state != NULL)
		s_remove_temps(*state);
	afile__sys_reset();
	return h_teardown(state);
}

static void
s_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void
s_spawn(struct h_ctx *c, struct s_child *k, s_child_fn *fn, void *arg)
{
	int up[2], down[2];
	pid_t parent = getpid();

	if (pipe2(up, O_CLOEXEC) < 0)
		fail_msg("pipe: %s", strerror(errno));
	if (pipe2(down, O_CLOEXEC) < 0) {
		close(up[0]);
		close(up[1]);
		fail_msg("pipe: %s", strerror(errno));
	}
	fflush(NULL);
	k->pid = fork();
	if (k->pid < 0) {
		int e = errno;

		close(up[0]);
		close(up[1]);
		close(down[0]);
		close(down[1]);
		fail_msg("fork: %s", strerror(e));
	}
	if (k->pid == 0) {
		int rc;

		/* Die with the test, and never run the parent's cmocka. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(120);
		close(up[0]);
		close(down[1]);
		rc = fn(c, down[0], up[1], arg);
		fflush(NULL);
		_exit(rc);
	}
	close(up[1]);
	close(down[0]);
	k->rd = up[0];
	k->wr = down[1];
	s_track(k);
}

int
s_send(int fd)
{
	char b = 'x';
	ssize_t n;

	do
		n = write(fd, &b, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

int
s_recv(int fd)
{
	char b;
	ssize_t n;

	do
		n = read(fd, &b, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

void
s_wait_at(struct s_child *k, const char *file, int line)
{
	if (s_recv(k->rd) < 0) {
		print_error(
		    "child %ld died before it reported\n", (long)k->pid);
		_fail(file, line);
	}
}

void
s_tell(struct s_child *k)
{
	/* A dead child shows in its exit status; SIGPIPE is ignored below. */
	signal(SIGPIPE, SIG_IGN);
	(void)s_send(k->wr);
}

int
s_reap(struct s_child *k)
{
	int status = -1;

	s_close(&k->wr);
	s_close(&k->rd);
	if (k->pid <= 0)
		return -1;
	while (waitpid(k->pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	s_untrack(k->pid);
	k->pid = 0;
	return status;
}

void
s_reap_ok_at(struct s_child *k, const char *file, int line)
{
	pid_t pid = k->pid;
	int status = s_reap(k);

	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (status != -1 && WIFSIGNALED(status))
			print_error("child %ld killed by signal %d\n",
			    (long)pid, WTERMSIG(status));
		else
			print_error("child %ld failed: status 0x%x\n",
			    (long)pid, (unsigned int)status);
		_fail(file, line);
	}
}

void
s_kill(struct s_child *k)
{
	if (k->pid > 0)
		kill(k->pid, SIGKILL);
	(void)s_reap(k);
}

uint64_t
s_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct s_hold_arg {
	const char *name;
	unsigned int mode;
};

static int
s_holder(struct h_ctx *c, int rd, int wr, void *arg)
{
	const struct s_hold_arg *a = arg;
	struct afile_lock *l = NULL;
	int r;

	r = afile_lock_acquire(c->dfd, a->name, a->mode, -1, &l);
	if (r < 0) {
		fprintf(stderr, "holder: lock %s: %s\n", a->name,
		    afile_strerror(r));
		return 1;
	}
	if (s_send(wr) < 0)
		return 2;
	(void)s_recv(rd); /* a byte, or the parent's end closing */
	afile_lock_release(l);
	return 0;
}

void
s_hold(struct h_ctx *c, struct s_child *k, const char *name, unsigned int mode)
{
	struct s_hold_arg a = {.name = name, .mode = mode};

	/* The child has its own copy of a after fork. */
	s_spawn(c, k, s_holder, &a);
	s_wait(k);
}

void
s_release(struct s_child *k)
{
	s_tell(k);
	s_reap_ok(k);
}

int
s_increment(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	char buf[32];
	long v = 0;
	int n;

	(void)ctx;
	if (old != NULL) {
		char *end;

		errno = 0;
		v = strtol(old, &end, 10);
		/* Anything but a whole number means a torn or mixed file. */
		if (old_len == 0 || errno != 0 ||
		    end != (const char *)old + old_len || v < 0)
			return -EBADMSG;
	}
	n = snprintf(buf, sizeof(buf), "%ld", v + 1);
	return afile_writer_write(w, buf, (size_t)n);
}

long
s_counter_value(const struct h_ctx *c, const char *name)
{
	size_t len;
	char *s = h_slurp(c, name, &len), *end;
	long v;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (len == 0 || errno != 0 || end != s + len)
		v = -1;
	free(s);
	return v;
}

static int
s_no_tmpfile_openat(int dfd, const char *path, int flags, mode_t mode)
{
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return afile__sys_default.openat(dfd, path, flags, mode);
}

void
s_named_temps(void)
{
	afile__sys.openat = s_no_tmpfile_openat;
}

int
s_count_temps(
    const struct h_ctx *c, const char *name, char *first, size_t first_len)
{
	size_t plen = strlen(name) + 2, slen = strlen(H_TMP_SUFFIX);
	char prefix[NAME_MAX + 2];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(prefix, sizeof(prefix), ".%s.", name);
	d = opendir(c->dir);
	if (d == NULL)
		fail_msg("opendir %s: %s", c->dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		/* ".NAME." + 12 random characters + ".afile-tmp" */
		if (len != plen + 12 + slen ||
		    strncmp(de->d_name, prefix, plen) != 0 ||
		    strcmp(de->d_name + len - slen, H_TMP_SUFFIX) != 0)
			continue;
		if (n == 0 && first != NULL)
			snprintf(first, first_len, "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

void
s_figures(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}
