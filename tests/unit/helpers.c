/* SPDX-License-Identifier: MIT */
/*
 * helpers.c - fixtures and assertions shared by the unit tests.
 *
 * State: h_skipped counts the tests skipped in this process, so that
 * h_main_result() can report a skip to CTest.  Everything else lives in
 * the struct h_ctx of the running test.  The helpers call the OS
 * directly, never the library, so that a library bug cannot hide itself
 * in the checks.
 */
#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static int h_skipped;

static int h_unlock_dir(
    const char *path, const struct stat *st, int type, struct FTW *ftw);
static int h_rm(
    const char *path, const struct stat *st, int type, struct FTW *ftw);

/* Unmount everything mounted under dir (a crashed run's tmpfs). */
static void
h_umount_under(const char *dir)
{
	size_t n = strlen(dir);
	char line[2 * PATH_MAX], mnt[PATH_MAX];
	int again = 1;

	while (again) {
		FILE *f = fopen("/proc/self/mounts", "re");

		again = 0;
		if (f == NULL)
			return;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "%*s %4095s", mnt) != 1)
				continue;
			if (strncmp(mnt, dir, n) == 0 && mnt[n] == '/' &&
			    umount2(mnt, MNT_DETACH) == 0)
				again = 1;
		}
		fclose(f);
	}
}

/*
 * A test process that crashed (a sanitizer abort, a signal) could not run
 * its teardown: remove the directories of test processes that are gone.
 */
static void
h_sweep_stale(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *de;
	char p[PATH_MAX];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		long pid;
		char *end;

		if (strncmp(de->d_name, "afile-unit.", 11) != 0)
			continue;
		pid = strtol(de->d_name + 11, &end, 10);
		if (end == de->d_name + 11 || *end != '.' || pid <= 0 ||
		    pid > INT_MAX || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(p, sizeof(p), "/tmp/%s", de->d_name) >=
		    (int)sizeof(p))
			continue;
		h_umount_under(p);
		nftw(p, h_unlock_dir, 16, FTW_PHYS);
		nftw(p, h_rm, 16, FTW_PHYS | FTW_DEPTH | FTW_MOUNT);
	}
	closedir(d);
}

void
h_init(void)
{
	const char *f = getenv("AFILE_TEST_FILTER");

	h_sweep_stale();
	if (f != NULL && *f != '\0')
		cmocka_set_test_filter(f);
	f = getenv("AFILE_TEST_SKIP");
	if (f != NULL && *f != '\0')
		cmocka_set_skip_filter(f);
}

int
h_main_result(int failed)
{
	if (failed != 0)
		return failed;
	if (h_skipped > 0) {
		fprintf(
		    stderr, "SKIP: %d test(s) skipped; see above\n", h_skipped);
		return 77;
	}
	return 0;
}

void
h_skip_or_fail(const char *reason, const char *file, int line)
{
	const char *req = getenv("AFILE_REQUIRE_PRIV_TESTS");

	if (req != NULL && strcmp(req, "1") == 0) {
		print_error(
		    "cannot run (AFILE_REQUIRE_PRIV_TESTS=1): %s\n", reason);
		_fail(file, line);
	}
	fprintf(stderr, "SKIP: %s (%s:%d)\n", reason, file, line);
	h_skipped++;
	_skip(file, line);
}

void
h_require_root_at(const char *file, int line)
{
	if (geteuid() != 0)
		h_skip_or_fail("needs root", file, line);
}

int
h_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	/* Do not count the descriptor of the listing itself. */
	return n - 1;
}

static void
h_list_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char p[300], t[PATH_MAX];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%s", de->d_name);
		n = readlink(p, t, sizeof(t) - 1);
		t[n < 0 ? 0 : n] = '\0';
		print_error("  fd %s -> %s\n", de->d_name, t);
	}
	closedir(d);
}

int
h_setup(void **state)
{
	struct h_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	c->nfd = h_count_fds();
	snprintf(c->dir, sizeof(c->dir), "/tmp/afile-unit.%ld.XXXXXX",
	    (long)getpid());
	if (mkdtemp(c->dir) == NULL) {
		print_error("mkdtemp: %s\n", strerror(errno));
		free(c);
		return -1;
	}
	/* Searchable by the unprivileged user of h_run_as(). */
	if (chmod(c->dir, 0755) < 0)
		return -1;
	c->dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dfd < 0)
		return -1;
	*state = c;
	return 0;
}

static int h_temps_found;

static int
h_find_temp(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t n = strlen(path), s = strlen(H_TMP_SUFFIX);

	(void)st;
	(void)type;
	(void)ftw;
	if (n >= s && strcmp(path + n - s, H_TMP_SUFFIX) == 0) {
		print_error("temporary file left behind: %s\n", path);
		h_temps_found++;
	}
	return 0;
}

void
h_assert_no_temps(const char *dir, const char *file, int line)
{
	h_temps_found = 0;
	nftw(dir, h_find_temp, 16, FTW_PHYS);
	if (h_temps_found > 0)
		_fail(file, line);
}

static int
h_unlock_dir(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	/* Let a non-root run delete what a test made read-only. */
	if (type == FTW_D && (st->st_mode & 0700) != 0700)
		chmod(path, 0700);
	return 0;
}

static int
h_rm(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

int
h_teardown(void **state)
{
	struct h_ctx *c = *state;
	int ret = 0, n;

	if (c == NULL)
		return 0;
	h_temps_found = 0;
	nftw(c->dir, h_find_temp, 16, FTW_PHYS);
	if (h_temps_found > 0)
		ret = -1;
	while (c->nmounts > 0) {
		c->nmounts--;
		if (umount2(c->mounts[c->nmounts], MNT_DETACH) < 0)
			print_error("umount %s: %s\n", c->mounts[c->nmounts],
			    strerror(errno));
	}
	close(c->dfd);
	n = h_count_fds();
	if (n != c->nfd) {
		print_error("descriptor leak: %d open before the test, %d "
			    "after\n",
		    c->nfd, n);
		h_list_fds();
		ret = -1;
	}
	nftw(c->dir, h_unlock_dir, 16, FTW_PHYS);
	nftw(c->dir, h_rm, 16, FTW_PHYS | FTW_DEPTH | FTW_MOUNT);
	free(c);
	*state = NULL;
	return ret;
}

const char *
h_path(const struct h_ctx *c, const char *name)
{
	static char bufs[8][PATH_MAX];
	static unsigned int next;
	char *b = bufs[next++ % 8];

	if (snprintf(b, PATH_MAX, "%s/%s", c->dir, name) >= PATH_MAX)
		b[0] = '\0';
	return b;
}

static void
h_die(const char *what, const char *name, int err, const char *file, int line)
{
	print_error("%s %s: %s\n", what, name, strerror(err));
	_fail(file, line);
}

void
h_put_at(const struct h_ctx *c, const char *name, const void *data, size_t len,
    mode_t mode, const char *file, int line)
{
	const char *p = data;
	int fd;

	fd = openat(c->dfd, name,
	    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		h_die("create", name, errno, file, line);
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			int e = errno;

			close(fd);
			h_die("write", name, e, file, line);
		}
		p += n;
		len -= (size_t)n;
	}
	/* The umask must not change what the test asked for. */
	if (fchmod(fd, mode) < 0 || close(fd) < 0)
		h_die("fchmod/close", name, errno, file, line);
}

void
h_mkdir_at(const struct h_ctx *c, const char *name, mode_t mode,
    const char *file, int line)
{
	if (mkdirat(c->dfd, name, mode) < 0)
		h_die("mkdir", name, errno, file, line);
	if (fchmodat(c->dfd, name, mode, 0) < 0)
		h_die("chmod", name, errno, file, line);
}

void
h_symlink_at(const struct h_ctx *c, const char *target, const char *name,
    const char *file, int line)
{
	if (symlinkat(target, c->dfd, name) < 0)
		h_die("symlink", name, errno, file, line);
}

void
h_lstat_at(const struct h_ctx *c, const char *name, struct stat *st,
    const char *file, int line)
{
	if (fstatat(c->dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		h_die("lstat", name, errno, file, line);
}

void
h_chown_at(const struct h_ctx *c, const char *name, uid_t uid, gid_t gid,
    const char *file, int line)
{
	if (fchownat(c->dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		h_die("chown", name, errno, file, line);
}

void
h_chmod_at(const struct h_ctx *c, const char *name, mode_t mode,
    const char *file, int line)
{
	if (fchmodat(c->dfd, name, mode, 0) < 0)
		h_die("chmod", name, errno, file, line);
}

int
h_exists(const struct h_ctx *c, const char *name)
{
	struct stat st;

	return fstatat(c->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

char *
h_slurp(const struct h_ctx *c, const char *name, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *buf = NULL;
	int fd, e;

	fd = openat(c->dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n;

		if (buf == NULL || cap - len < 2) {
			char *nb;

			cap *= 2;
			nb = realloc(buf, cap);
			if (nb == NULL)
				goto fail;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
fail:
	e = errno;
	close(fd);
	free(buf);
	errno = e;
	return NULL;
}

void
h_pattern(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

void
h_assert_file(const struct h_ctx *c, const char *name, const void *data,
    size_t len, const char *file, int line)
{
	struct stat st;
	size_t got_len = 0;
	char *got;

	if (fstatat(c->dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		h_die("stat", name, errno, file, line);
	if (!S_ISREG(st.st_mode)) {
		print_error("%s is not a regular file (mode %o)\n", name,
		    (unsigned int)st.st_mode);
		_fail(file, line);
	}
	got = h_slurp(c, name, &got_len);
	if (got == NULL)
		h_die("read", name, errno, file, line);
	if (got_len != len || memcmp(got, data, len) != 0) {
		size_t i = 0;

		while (
		    i < len && i < got_len && got[i] == ((const char *)data)[i])
			i++;
		if (got_len < 200 && len < 200)
			print_error("%s holds \"%.*s\" (%zu bytes), expected "
				    "\"%.*s\" (%zu bytes)\n",
			    name, (int)got_len, got, got_len, (int)len,
			    (const char *)data, len);
		else
			print_error("%s: %zu bytes, expected %zu; first "
				    "difference at byte %zu\n",
			    name, got_len, len, i);
		free(got);
		_fail(file, line);
	}
	free(got);
}

static int
h_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
h_assert_entries(
    const struct h_ctx *c, const char *dir, const char *file, int line, ...)
{
	const char *want[64];
	char *got[256];
	size_t nwant = 0, ngot = 0, i;
	int fd, bad = 0;
	struct dirent *de;
	va_list ap;
	DIR *d;

	va_start(ap, line);
	for (;;) {
		const char *s = va_arg(ap, const char *);

		if (s == NULL || nwant == 64)
			break;
		want[nwant++] = s;
	}
	va_end(ap);
	fd = openat(c->dfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		h_die("open directory", dir, errno, file, line);
	d = fdopendir(fd);
	if (d == NULL)
		h_die("fdopendir", dir, errno, file, line);
	while ((de = readdir(d)) != NULL && ngot < 256) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		got[ngot++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(got, ngot, sizeof(got[0]), h_strcmp_p);
	qsort(want, nwant, sizeof(want[0]), h_strcmp_p);
	if (ngot != nwant)
		bad = 1;
	for (i = 0; !bad && i < ngot; i++)
		if (strcmp(got[i], want[i]) != 0)
			bad = 1;
	if (bad) {
		print_error("directory %s holds:\n", dir);
		for (i = 0; i < ngot; i++)
			print_error("  %s\n", got[i]);
		print_error("expected:\n");
		for (i = 0; i < nwant; i++)
			print_error("  %s\n", want[i]);
	}
	for (i = 0; i < ngot; i++)
		free(got[i]);
	if (bad)
		_fail(file, line);
}

void
h_assert_err(int got, int want, const char *expr, const char *file, int line)
{
	if (got == want)
		return;
	print_error("%s returned %d (%s: %s), expected %d (%s)\n", expr, got,
	    afile_err_name(got), afile_strerror(got), want,
	    afile_err_name(want));
	_fail(file, line);
}

void
h_assert_errinfo(
    const struct afile_errinfo *e, int r, const char *file, int line)
{
	if (e->code != r) {
		print_error(
		    "errinfo.code is %d, the call returned %d\n", e->code, r);
		_fail(file, line);
	}
	/* The cause differs from the code only behind a library code. */
	if (r > -4096 && e->cause != r) {
		print_error(
		    "errinfo.cause is %d, errinfo.code %d\n", e->cause, r);
		_fail(file, line);
	}
	if (e->step == NULL || e->step[0] == '\0') {
		print_error("errinfo.step is NULL or empty after a failure\n");
		_fail(file, line);
	}
	if (memchr(e->path, '\0', sizeof(e->path)) == NULL) {
		print_error("errinfo.path is not NUL-terminated\n");
		_fail(file, line);
	}
}

void
h_assert_mode(const struct h_ctx *c, const char *name, mode_t mode,
    const char *file, int line)
{
	struct stat st;

	h_lstat_at(c, name, &st, file, line);
	if ((st.st_mode & 07777) != mode) {
		print_error("%s has mode %04o, expected %04o\n", name,
		    (unsigned int)(st.st_mode & 07777), (unsigned int)mode);
		_fail(file, line);
	}
}

static int
h_fork_run(
    struct h_ctx *c, int drop, uid_t uid, gid_t gid, h_child_fn *fn, void *arg)
{
	int p[2], status, r = H_CHILD_FAILED;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return H_CHILD_FAILED;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return H_CHILD_FAILED;
	}
	if (pid == 0) {
		int res;

		close(p[0]);
		if (drop &&
		    (setgroups(0, NULL) < 0 || setgid(gid) < 0 ||
			setuid(uid) < 0))
			_exit(2);
		res = fn(c, arg);
		if (write(p[1], &res, sizeof(res)) != sizeof(res))
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &r, sizeof(r)) != sizeof(r))
		r = H_CHILD_FAILED;
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		print_error(
		    "child failed (status 0x%x)\n", (unsigned int)status);
		r = H_CHILD_FAILED;
	}
	return r;
}

int
h_run_child(struct h_ctx *c, h_child_fn *fn, void *arg)
{
	return h_fork_run(c, 0, 0, 0, fn, arg);
}

int
h_run_as(struct h_ctx *c, uid_t uid, gid_t gid, h_child_fn *fn, void *arg)
{
	h_require_root();
	return h_fork_run(c, 1, uid, gid, fn, arg);
}

void
h_mount_tmpfs_at(struct h_ctx *c, const char *name, const char *file, int line)
{
	const char *p = h_path(c, name);
	char reason[PATH_MAX + 64];

	if (geteuid() != 0)
		h_skip_or_fail("mounting a tmpfs needs root", file, line);
	if (c->nmounts == H_MAX_MOUNTS)
		h_die("mount", name, EMFILE, file, line);
	if (mkdirat(c->dfd, name, 0755) < 0 && errno != EEXIST)
		h_die("mkdir", name, errno, file, line);
	if (mount("afile-unit", p, "tmpfs", 0, "size=16m,mode=0755") < 0) {
		snprintf(reason, sizeof(reason),
		    "cannot mount a tmpfs at %s: %s", p, strerror(errno));
		h_skip_or_fail(reason, file, line);
	}
	strcpy(c->mounts[c->nmounts++], p);
}

void
h_remount_ro_at(struct h_ctx *c, const char *name, const char *file, int line)
{
	char reason[PATH_MAX + 64];
	const char *p = h_path(c, name);

	if (mount(NULL, p, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0) {
		snprintf(reason, sizeof(reason),
		    "cannot remount %s read-only: %s", p, strerror(errno));
		h_skip_or_fail(reason, file, line);
	}
}

void
h_setxattr_at(const struct h_ctx *c, const char *name, const char *key,
    const void *value, size_t len, const char *file, int line)
{
	char reason[PATH_MAX + 512];

	if (lsetxattr(h_path(c, name), key, value, len, 0) == 0)
		return;
	if (errno == ENOTSUP) {
		snprintf(reason, sizeof(reason),
		    "the file system of %s does not support xattr %s", c->dir,
		    key);
		h_skip_or_fail(reason, file, line);
	}
	h_die("setxattr", name, errno, file, line);
}

void *
h_getxattr(
    const struct h_ctx *c, const char *name, const char *key, size_t *ret_len)
{
	const char *p = h_path(c, name);
	ssize_t n = lgetxattr(p, key, NULL, 0);
	char *v;

	if (n < 0)
		return NULL;
	v = malloc((size_t)n + 1);
	if (v == NULL)
		return NULL;
	n = lgetxattr(p, key, v, (size_t)n);
	if (n < 0) {
		free(v);
		return NULL;
	}
	*ret_len = (size_t)n;
	return v;
}

void
h_assert_xattr(const struct h_ctx *c, const char *name, const char *key,
    const void *value, size_t len, const char *file, int line)
{
	size_t n = 0;
	char *v = h_getxattr(c, name, key, &n);

	if (v == NULL) {
		print_error(
		    "%s has no xattr %s (%s)\n", name, key, strerror(errno));
		_fail(file, line);
	}
	if (n != len || memcmp(v, value, len) != 0) {
		print_error("%s: xattr %s differs (%zu bytes, expected %zu)\n",
		    name, key, n, len);
		free(v);
		_fail(file, line);
	}
	free(v);
}

int
h_system(const char *fmt, ...)
{
	char cmd[2 * PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(NULL);
	r = system(cmd);
	if (r < 0 || !WIFEXITED(r))
		return -1;
	return WEXITSTATUS(r);
}
