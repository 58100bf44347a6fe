/* SPDX-License-Identifier: MIT */
/*
 * test_read.c - afile_read(): contents, the NUL terminator, sizes, and
 * the errors, with *ret_buf NULL and *ret_len 0 after every failure.
 * ESTALE (a file replaced on another NFS or GlusterFS client) played
 * through the syscall table: the whole open and read retried, bounded.
 */
#include "helpers.h"

#include "internal.h"
#include "sys.h"

/* Call afile_read() and check the documented state after a failure. */
static int
read_checked(int dfd, const char *path, unsigned int flags,
    const struct afile_opts *o, void **buf, size_t *len)
{
	int r;

	*buf = (void *)buf; /* garbage the call must overwrite */
	*len = 12345;
	r = afile_read(dfd, path, buf, len, flags, o);
	if (r < 0) {
		assert_null(*buf);
		assert_int_equal(*len, 0);
	}
	return r;
}

static void
test_contents(void **state)
{
	struct h_ctx *c = *state;
	void *buf;
	size_t len;

	h_puts(c, "f", "hello, world\n");
	assert_ok(read_checked(c->dfd, "f", 0, NULL, &buf, &len));
	assert_int_equal(len, 13);
	assert_memory_equal(buf, "hello, world\n", 13);
	assert_int_equal(((char *)buf)[len], '\0');
	free(buf);
	/* Absolute path with AT_FDCWD, and an options struct. */
	{
		struct afile_opts o = AFILE_OPTS_INIT;

		assert_ok(
		    read_checked(AT_FDCWD, h_path(c, "f"), 0, &o, &buf, &len));
		assert_int_equal(len, 13);
		assert_memory_equal(buf, "hello, world\n", 13);
		free(buf);
	}
	assert_entries(c, ".", "f");
}

static void
test_binary_with_nuls(void **state)
{
	struct h_ctx *c = *state;
	static const char data[] = {'a', '\0', 'b', '\0', '\0', 'c'};
	void *buf;
	size_t len;

	h_put(c, "f", data, sizeof(data), 0644);
	assert_ok(read_checked(c->dfd, "f", 0, NULL, &buf, &len));
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(buf, data, sizeof(data));
	assert_int_equal(((char *)buf)[len], '\0');
	free(buf);
}

static void
test_empty(void **state)
{
	struct h_ctx *c = *state;
	void *buf;
	size_t len;

	h_puts(c, "f", "");
	assert_ok(read_checked(c->dfd, "f", 0, NULL, &buf, &len));
	assert_int_equal(len, 0);
	/* Still a buffer, holding just the terminator. */
	assert_non_null(buf);
	assert_int_equal(((char *)buf)[0], '\0');
	free(buf);
}

static void
test_large(void **state)
{
	struct h_ctx *c = *state;
	size_t want = 3 * 1024 * 1024 + 4097;
	char *data = malloc(want);
	void *buf;
	size_t len;

	assert_non_null(data);
	h_pattern(data, want, 7);
	h_put(c, "big", data, want, 0644);
	assert_ok(read_checked(c->dfd, "big", 0, NULL, &buf, &len));
	assert_int_equal(len, want);
	assert_memory_equal(buf, data, want);
	assert_int_equal(((char *)buf)[len], '\0');
	free(buf);
	free(data);
}

static void
test_proc_file(void **state)
{
	void *buf;
	size_t len;

	(void)state;
	/* stat says 0 bytes, but there are contents: read to EOF. */
	assert_ok(
	    read_checked(AT_FDCWD, "/proc/self/status", 0, NULL, &buf, &len));
	assert_true(len > 0);
	assert_non_null(strstr(buf, "Name:"));
	free(buf);
}

static void
test_symlinks(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	void *buf;
	size_t len;
	int r;

	o.err = &e;
	h_puts(c, "target", "via link");
	h_symlink(c, "target", "link");
	assert_ok(read_checked(c->dfd, "link", 0, NULL, &buf, &len));
	assert_int_equal(len, 8);
	assert_memory_equal(buf, "via link", 8);
	free(buf);
	r = read_checked(c->dfd, "link", AFILE_NOFOLLOW, &o, &buf, &len);
	assert_err(r, -ELOOP);
	assert_errinfo(&e, r);
	h_symlink(c, "loop", "loop");
	assert_err(read_checked(c->dfd, "loop", 0, NULL, &buf, &len), -ELOOP);
	h_symlink(c, "missing", "dangling");
	assert_err(
	    read_checked(c->dfd, "dangling", 0, NULL, &buf, &len), -ENOENT);
}

static void
test_errors(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	void *buf;
	size_t len;
	int r;

	o.err = &e;
	r = read_checked(c->dfd, "missing", 0, &o, &buf, &len);
	assert_err(r, -ENOENT);
	assert_errinfo(&e, r);
	assert_err(
	    read_checked(c->dfd, "nodir/f", 0, NULL, &buf, &len), -ENOENT);
	h_mkdir(c, "d", 0755);
	r = read_checked(c->dfd, "d", 0, &o, &buf, &len);
	assert_err(r, -EISDIR);
	assert_errinfo(&e, r);
	h_puts(c, "file", "x");
	assert_err(
	    read_checked(c->dfd, "file/f", 0, NULL, &buf, &len), -ENOTDIR);
	{
		char name[NAME_MAX + 2];

		memset(name, 'a', NAME_MAX + 1);
		name[NAME_MAX + 1] = '\0';
		assert_err(read_checked(c->dfd, name, 0, NULL, &buf, &len),
		    -ENAMETOOLONG);
	}
}

static void
test_bad_args(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	void *buf = NULL;
	size_t len = 0;

	h_puts(c, "f", "x");
	assert_err(afile_read(c->dfd, NULL, &buf, &len, 0, NULL), -EINVAL);
	assert_err(afile_read(c->dfd, "", &buf, &len, 0, NULL), -EINVAL);
	assert_err(afile_read(c->dfd, "f", NULL, &len, 0, NULL), -EINVAL);
	assert_err(afile_read(c->dfd, "f", &buf, NULL, 0, NULL), -EINVAL);
	assert_err(
	    read_checked(c->dfd, "f", 0x80000000u, NULL, &buf, &len), -EINVAL);
	assert_err(
	    read_checked(c->dfd, "f", AFILE_NOREPLACE << 8, NULL, &buf, &len),
	    -EINVAL);
	o.size = 1;
	assert_err(read_checked(c->dfd, "f", 0, &o, &buf, &len), -EINVAL);
}

static int
read_root_file(struct h_ctx *c, void *arg)
{
	void *buf = (void *)c;
	size_t len = 1;
	int r;

	(void)arg;
	r = afile_read(c->dfd, "secret", &buf, &len, 0, NULL);
	/* Report a violation of the failure contract as its own code. */
	if (r < 0 && (buf != NULL || len != 0))
		return 1;
	free(buf);
	return r;
}

static void
test_no_permission(void **state)
{
	struct h_ctx *c = *state;

	h_require_root();
	h_puts(c, "secret", "root only");
	h_chmod(c, "secret", 0600);
	assert_err(
	    h_run_as(c, H_NOBODY, H_NOBODY, read_root_file, NULL), -EACCES);
}

static void
test_does_not_modify(void **state)
{
	struct h_ctx *c = *state;
	struct stat before, after;
	void *buf;
	size_t len;

	h_puts(c, "f", "unchanged");
	h_chmod(c, "f", 0400);
	h_lstat(c, "f", &before);
	assert_ok(read_checked(c->dfd, "f", 0, NULL, &buf, &len));
	free(buf);
	h_lstat(c, "f", &after);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(before.st_mode, after.st_mode);
	assert_file(c, "f", "unchanged");
	assert_entries(c, ".", "f");
}

/*
 * ESTALE through the syscall table.  Opens of "f" for reading (the
 * target, as afile_read opens it) and reads of the descriptor they
 * returned fail with ESTALE while *_left says so (-1: always); the first
 * stale one also replaces "f" with "new", as another client would.
 */
static int stale_open_left, stale_read_left, stale_seen, f_opens;
static int f_fd = -1, stale_dfd = -1;

static void
replace_f(void)
{
	int fd;

	if (stale_seen++ > 0)
		return;
	fd = openat(stale_dfd, "f.other", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "new", 3), 3);
	assert_int_equal(close(fd), 0);
	assert_int_equal(renameat(stale_dfd, "f.other", stale_dfd, "f"), 0);
}

static int
stale_openat(int dfd, const char *path, int flags, mode_t mode)
{
	int fd;

	if (strcmp(path, "f") == 0 && (flags & O_ACCMODE) == O_RDONLY &&
	    !(flags & (O_CREAT | O_DIRECTORY))) {
		f_opens++;
		if (stale_open_left != 0) {
			if (stale_open_left > 0)
				stale_open_left--;
			replace_f();
			errno = ESTALE;
			return -1;
		}
		fd = afile__sys_default.openat(dfd, path, flags, mode);
		f_fd = fd;
		return fd;
	}
	return afile__sys_default.openat(dfd, path, flags, mode);
}

static ssize_t
stale_read(int fd, void *buf, size_t n)
{
	if (fd == f_fd && stale_read_left != 0) {
		if (stale_read_left > 0)
			stale_read_left--;
		replace_f();
		errno = ESTALE;
		return -1;
	}
	return afile__sys_default.read(fd, buf, n);
}

static void
stale_setup(struct h_ctx *c, int opens, int reads)
{
	stale_open_left = opens;
	stale_read_left = reads;
	stale_seen = f_opens = 0;
	f_fd = -1;
	stale_dfd = c->dfd;
	afile__sys.openat = stale_openat;
	afile__sys.read = stale_read;
}

/* ESTALE on the first open: opened again by path, the new file read. */
static void
test_estale_open_retried(void **state)
{
	struct h_ctx *c = *state;
	void *buf;
	size_t len;

	h_puts(c, "f", "old");
	stale_setup(c, 1, 0);
	assert_ok(read_checked(c->dfd, "f", 0, NULL, &buf, &len));
	afile__sys_reset();
	assert_int_equal(f_opens, 2);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "new", 3);
	free(buf);
}

/* ESTALE on the first read: the descriptor closed, the whole read again. */
static void
test_estale_read_retried(void **state)
{
	struct h_ctx *c = *state;
	void *buf;
	size_t len;

	h_puts(c, "f", "old");
	stale_setup(c, 0, 1);
	assert_ok(read_checked(c->dfd, "f", 0, NULL, &buf, &len));
	afile__sys_reset();
	assert_int_equal(f_opens, 2);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "new", 3);
	free(buf);
}

/*
 * A handle that stays stale: -ESTALE after READ_STALE_TRIES (3) tries,
 * naming the path and the retries, no descriptor kept (the teardown
 * counts them too).
 */
static void
test_estale_persists(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo err;
	void *buf;
	size_t len;
	int nfd = h_count_fds();

	o.err = &err;
	for (int on_read = 0; on_read < 2; on_read++) {
		h_puts(c, "f", "old");
		stale_setup(c, on_read ? 0 : -1, on_read ? -1 : 0);
		assert_err(
		    read_checked(c->dfd, "f", 0, &o, &buf, &len), -ESTALE);
		afile__sys_reset();
		assert_int_equal(f_opens, 3);
		assert_int_equal(err.code, -ESTALE);
		assert_non_null(strstr(err.step, "stayed stale after 3 tries"));
		assert_non_null(strstr(err.path, "f"));
		assert_int_equal(h_count_fds(), nfd);
		assert_file(c, "f", "new");
	}
	assert_entries(c, ".", "f");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	    T(test_contents),
	    T(test_binary_with_nuls),
	    T(test_empty),
	    T(test_large),
	    T(test_proc_file),
	    T(test_symlinks),
	    T(test_errors),
	    T(test_bad_args),
	    T(test_no_permission),
	    T(test_does_not_modify),
	    T(test_estale_open_retried),
	    T(test_estale_read_retried),
	    T(test_estale_persists),
#undef T
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
