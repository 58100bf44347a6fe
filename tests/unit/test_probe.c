/* SPDX-License-Identifier: MIT */
/*
 * test_probe.c - afile_probe() (src/probe.c): argument checks, findings
 * that follow what the syscall table lets work, the documented error when
 * the probe file cannot be created, and nothing left behind.  The real
 * file systems are in tests/realfs/probe.sh and tests/gluster/gluster.sh.
 */
#include "helpers.h"

#include "internal.h"
#include "sys.h"

static unsigned long magic;
static bool fake_magic, refuse_rename2, refuse_ofd, refuse_create;
static bool refuse_dir_fsync, refuse_file_fsync;

/* Directory fsync refused as FUSE refuses it; file fsync as a dead disk. */
static int
fake_fsync(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 &&
	    (S_ISDIR(st.st_mode) ? refuse_dir_fsync : refuse_file_fsync)) {
		errno = S_ISDIR(st.st_mode) ? EINVAL : EIO;
		return -1;
	}
	return afile__sys_default.fsync(fd);
}

static int
fake_fs_magic(int fd, unsigned long *ret)
{
	if (!fake_magic)
		return afile__sys_default.fs_magic(fd, ret);
	*ret = magic;
	return 0;
}

static int
fake_renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
	if (refuse_rename2) {
		errno = EINVAL;
		return -1;
	}
	return afile__sys_default.renameat2(sdfd, src, ddfd, dst, flags);
}

static int
fake_fcntl_lock(int fd, int cmd, struct flock *fl)
{
	if (refuse_ofd) {
		errno = EINVAL;
		return -1;
	}
	return afile__sys_default.fcntl_lock(fd, cmd, fl);
}

static int
fake_openat(int dfd, const char *path, int flags, mode_t mode)
{
	if (refuse_create &&
	    ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)) {
		errno = EACCES;
		return -1;
	}
	return afile__sys_default.openat(dfd, path, flags, mode);
}

static int
setup(void **state)
{
	int r = h_setup(state);

	fake_magic = refuse_rename2 = refuse_ofd = refuse_create = false;
	refuse_dir_fsync = refuse_file_fsync = false;
	afile__sys.fs_magic = fake_fs_magic;
	afile__sys.renameat2 = fake_renameat2;
	afile__sys.fcntl_lock = fake_fcntl_lock;
	afile__sys.openat = fake_openat;
	return r;
}

static int
teardown(void **state)
{
	afile__sys_reset();
	return h_teardown(state);
}

static void
test_arguments(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	assert_int_equal(afile_probe(c->dfd, NULL, 0, &p), -EINVAL);
	assert_int_equal(afile_probe(c->dfd, "", 0, &p), -EINVAL);
	assert_int_equal(afile_probe(c->dfd, ".", 0, NULL), -EINVAL);
	assert_int_equal(afile_probe(c->dfd, ".", 0x100, &p), -EINVAL);
	p.size = sizeof(p) - 1;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), -EINVAL);
	p.size = sizeof(p);
	assert_int_equal(afile_probe(c->dfd, "missing", 0, &p), -ENOENT);
	assert_int_equal(afile_probe(c->dfd, "missing/x", 0, &p), -ENOENT);
}

/* The findings on the test directory, and the directory unchanged. */
static void
test_findings(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	h_puts(c, "file", "x");
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_int_equal(p.size, sizeof(p));
	assert_true(p.fstype[0] != '\0');
	assert_true(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_true(p.works & AFILE_PROBE_OFD_LOCKS);
	if (p.kind & AFILE_PROBE_VOLATILE)
		assert_int_equal(p.durability, AFILE_SYNC_NONE);
	else if (p.works & AFILE_PROBE_DIR_FSYNC)
		assert_int_equal(p.durability, AFILE_SYNC_FULL);
	assert_entries(c, ".", "file");
	/* A file's directory is probed, with the same findings. */
	struct afile_probe q = {.size = sizeof(q)};
	assert_int_equal(afile_probe(c->dfd, "file", 0, &q), 0);
	assert_int_equal(q.works, p.works);
	assert_string_equal(q.fstype, p.fstype);
	assert_entries(c, ".", "file");
}

/* What the table makes fail is found missing, nothing else changes. */
static void
test_refused_primitives(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	refuse_rename2 = refuse_ofd = true;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_false(p.works & AFILE_PROBE_RENAME_NOREPLACE);
	assert_false(p.works & AFILE_PROBE_RENAME_EXCHANGE);
	assert_false(p.works & AFILE_PROBE_OFD_LOCKS);
	assert_true(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_empty_dir(c, ".");
}

/*
 * A refused directory fsync, then a refused file fsync too, found
 * missing, with the durability each leaves (on a file system that keeps
 * data: ext4's magic, whatever the test directory is on).
 */
static void
test_refused_syncs(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	fake_magic = true;
	magic = 0xEF53UL;
	afile__sys.fsync = fake_fsync;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_true(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_true(p.works & AFILE_PROBE_DIR_FSYNC);
	assert_int_equal(p.durability, AFILE_SYNC_FULL);
	refuse_dir_fsync = true;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_true(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_false(p.works & AFILE_PROBE_DIR_FSYNC);
	assert_int_equal(p.durability, AFILE_SYNC_DATA);
	refuse_file_fsync = true;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_false(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_false(p.works & AFILE_PROBE_DIR_FSYNC);
	assert_int_equal(p.durability, AFILE_SYNC_NONE);
	assert_empty_dir(c, ".");
}

/* The kind follows fstype.c's table: FUSE is neither local nor syncfs. */
static void
test_kinds(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	fake_magic = true;
	magic = 0x65735546UL; /* fuse */
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_string_equal(p.fstype, "fuse");
	assert_int_equal(p.magic, magic);
	assert_true(p.kind & AFILE_PROBE_FUSE);
	assert_false(p.kind & (AFILE_PROBE_LOCAL | AFILE_PROBE_VOLATILE));
	assert_false(p.works & AFILE_PROBE_SYNCFS);
	magic = 0x6969UL; /* nfs */
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_true(p.kind & AFILE_PROBE_NETWORK);
	assert_true(p.kind & AFILE_PROBE_SHARED);
	magic = 0x01021994UL; /* tmpfs */
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_true(p.kind & AFILE_PROBE_VOLATILE);
	assert_int_equal(p.durability, AFILE_SYNC_NONE);
	magic = 0x12345678UL;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_string_equal(p.fstype, "unknown");
	assert_int_equal(p.kind, 0);
	assert_empty_dir(c, ".");
}

/* No probe file: the documented error, the identity still filled. */
static void
test_cannot_create(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	refuse_create = true;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), -EACCES);
	assert_true(p.fstype[0] != '\0');
	assert_int_equal(p.works & ~AFILE_PROBE_SYNCFS, 0);
	assert_int_equal(p.durability, AFILE_SYNC_NONE);
	assert_empty_dir(c, ".");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_arguments),
	    T(test_findings),
	    T(test_refused_primitives),
	    T(test_refused_syncs),
	    T(test_kinds),
	    T(test_cannot_create),
	};
#undef T

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
