/* SPDX-License-Identifier: MIT */
/*
 * test_view.c - afile_update() against stale views of a shared file
 * system (src/view.c, issue 9).
 *
 * A client of GlusterFS or NFS may, after taking the lock, still see the
 * version another client replaced.  The tests make the library believe it
 * is on FUSE (statfs magic) and play the stale client through the syscall
 * table: opening the target by name opens (and the stat that follows
 * sees) a hard link to an older version, or fails with ESTALE or ENOENT,
 * for the first few tries.  The
 * real multi-client run is tests/gluster/gluster.sh.
 */
#include "helpers.h"

#include "internal.h"
#include "sys.h"

#define FUSE_MAGIC 0x65735546UL

static unsigned long magic = FUSE_MAGIC;
/* Opens of "f" for reading that see the stale view; -1: all of them. */
static int stale_left;
static int stale_errno; /* 0: open "old" instead; else fail with this */
static int stale_seen;
static bool stat_old; /* the next stat of "f" is of "old" too */

static int
fake_fs_magic(int fd, unsigned long *ret)
{
	(void)fd;
	*ret = magic;
	return 0;
}

static int
fake_openat(int dfd, const char *path, int flags, mode_t mode)
{
	if (strcmp(path, "f") == 0 && (flags & O_ACCMODE) == O_RDONLY &&
	    !(flags & (O_CREAT | O_DIRECTORY)) && stale_left != 0) {
		if (stale_left > 0)
			stale_left--;
		stale_seen++;
		if (stale_errno) {
			errno = stale_errno;
			return -1;
		}
		path = "old";
		stat_old = true;
	}
	return afile__sys_default.openat(dfd, path, flags, mode);
}

static int
fake_fstatat(int dfd, const char *path, struct stat *st, int flags)
{
	if (strcmp(path, "f") == 0 && stat_old) {
		stat_old = false;
		path = "old";
	}
	return afile__sys_default.fstatat(dfd, path, st, flags);
}

static int
setup(void **state)
{
	int r = h_setup(state);

	magic = FUSE_MAGIC;
	stale_left = 0;
	stale_errno = 0;
	stale_seen = 0;
	stat_old = false;
	afile__sys.fs_magic = fake_fs_magic;
	afile__sys.fstatat = fake_fstatat;
	afile__sys.openat = fake_openat;
	return r;
}

static int
teardown(void **state)
{
	afile__sys_reset();
	return h_teardown(state);
}

static int
incr(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	char buf[32];
	long n = old && old_len ? strtol(old, NULL, 10) : 0;
	int len = snprintf(buf, sizeof(buf), "%ld\n", n + 1);

	(void)ctx;
	return afile_writer_write(w, buf, (size_t)len);
}

static int
update(const struct h_ctx *c, struct afile_errinfo *err)
{
	struct afile_opts o = AFILE_OPTS_INIT;

	o.err = err;
	/* "old" keeps a version by a hard link. */
	return afile_update(c->dfd, "f", incr, NULL, AFILE_BREAK_HARDLINKS, &o);
}

/* The sidecar's record, parsed. */
static void
read_record(
    const struct h_ctx *c, struct afile__ident *prev, struct afile__ident *cur)
{
	size_t len;
	char *rec = h_slurp(c, ".f.afile-lock", &len);

	assert_int_equal(afile__view_record_parse(rec, len, prev, cur), 0);
	free(rec);
}

static void
ident_of(const struct h_ctx *c, const char *name, struct afile__ident *id)
{
	struct stat st;

	assert_int_equal(fstatat(c->dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	afile__ident_of(&st, id);
}

static void
test_record_roundtrip(void **state)
{
	struct afile__ident a = {true, 12, 34, 1700000000, 999999999,
				1700000001, 5},
			    b = {0};
	struct afile__ident pa, pb;
	char buf[256];
	size_t n;

	(void)state;
	n = afile__view_record_format(&a, &b, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(afile__view_record_parse(buf, n, &pa, &pb), 0);
	assert_true(afile__ident_same(&a, &pa));
	assert_true(afile__ident_same(&b, &pb));
	assert_false(pb.exists);
	/* Torn (no newline), damaged (a digit changed), foreign: ignored. */
	assert_int_equal(
	    afile__view_record_parse(buf, n - 1, &pa, &pb), -EINVAL);
	buf[16] = buf[16] == '1' ? '2' : '1';
	assert_int_equal(afile__view_record_parse(buf, n, &pa, &pb), -EINVAL);
	assert_int_equal(
	    afile__view_record_parse("hello\n", 6, &pa, &pb), -EINVAL);
	/* Too small a buffer: nothing, rather than a cut record. */
	assert_int_equal(afile__view_record_format(&a, &b, buf, 20), 0);
}

/* On FUSE, each update records what it replaced and what it published. */
static void
test_update_records(void **state)
{
	struct h_ctx *c = *state;
	struct afile__ident prev, cur, v1, v2;

	assert_int_equal(update(c, NULL), 0);
	ident_of(c, "f", &v1);
	read_record(c, &prev, &cur);
	assert_false(prev.exists);
	assert_true(afile__ident_same(&cur, &v1));
	assert_int_equal(update(c, NULL), 0);
	ident_of(c, "f", &v2);
	read_record(c, &prev, &cur);
	assert_true(afile__ident_same(&prev, &v1));
	assert_true(afile__ident_same(&cur, &v2));
	/* The ctime, which orders versions, as a stat by path gives it. */
	assert_true(cur.ctime_s == v2.ctime_s && cur.ctime_ns == v2.ctime_ns);
	assert_true(cur.ctime_s != 0);
	assert_file(c, "f", "2\n");
}

/* A local file system can show no stale view: nothing recorded. */
static void
test_local_records_nothing(void **state)
{
	struct h_ctx *c = *state;
	size_t len;
	char *rec;

	magic = 0xEF53UL;
	assert_int_equal(update(c, NULL), 0);
	rec = h_slurp(c, ".f.afile-lock", &len);
	assert_int_equal(len, 0);
	free(rec);
}

/* A few stale views of the replaced version are waited out. */
static void
test_stale_view_waited_out(void **state)
{
	struct h_ctx *c = *state;
	struct afile_stats s0 = {.size = sizeof(s0)}, s1 = {.size = sizeof(s1)};

	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "old", 0), 0);
	assert_int_equal(update(c, NULL), 0);
	assert_file(c, "f", "2\n");
	stale_left = 3;
	assert_int_equal(afile_stats_get(&s0), 0);
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(afile_stats_get(&s1), 0);
	/* Read from "2", not from the stale "1": no update lost. */
	assert_file(c, "f", "3\n");
	assert_int_equal(stale_seen, 3);
	assert_true(s1.retries - s0.retries >= 3);
}

/* A version older than the one replaced (older ctime) is stale too. */
static void
test_stale_older_version(void **state)
{
	struct h_ctx *c = *state;

	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "old", 0), 0);
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(update(c, NULL), 0);
	stale_left = 2;
	assert_int_equal(update(c, NULL), 0);
	assert_file(c, "f", "4\n");
	assert_int_equal(stale_seen, 2);
}

/* A view that stays stale fails with ESTALE and changes nothing. */
static void
test_stale_view_persists(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo err;

	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "old", 0), 0);
	assert_int_equal(update(c, NULL), 0);
	stale_left = -1;
	assert_int_equal(update(c, &err), -ESTALE);
	assert_non_null(strstr(err.step, "older than the last update"));
	assert_non_null(strstr(err.path, "f"));
	stale_left = 0;
	assert_file(c, "f", "2\n");
	assert_entries(c, ".", ".f.afile-lock", "f", "old");
}

/* ESTALE from the open is retried as a whole, on any file system. */
static void
test_estale_retried(void **state)
{
	struct h_ctx *c = *state;

	magic = 0xEF53UL;
	assert_int_equal(update(c, NULL), 0);
	stale_left = 2;
	stale_errno = ESTALE;
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(stale_seen, 2);
	assert_file(c, "f", "2\n");
}

/* A name another client published, not yet seen here: waited for. */
static void
test_absent_name_waited_for(void **state)
{
	struct h_ctx *c = *state;

	assert_int_equal(update(c, NULL), 0);
	stale_left = 2;
	stale_errno = ENOENT;
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(stale_seen, 2);
	assert_file(c, "f", "2\n");
}

/* A record the file no longer matches, newer (a plain write): go on. */
static void
test_newer_unrecorded_version(void **state)
{
	struct h_ctx *c = *state;
	struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};

	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(
	    afile_write(c->dfd, "f", "41\n", 3, AFILE_LOCK, NULL), 0);
	/* An old mtime, as cp -p keeps it: the ctime says newer. */
	assert_int_equal(utimensat(c->dfd, "f", ts, 0), 0);
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(stale_seen, 0);
	assert_file(c, "f", "42\n");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_roundtrip),
	    T(test_update_records),
	    T(test_local_records_nothing),
	    T(test_stale_view_waited_out),
	    T(test_stale_older_version),
	    T(test_stale_view_persists),
	    T(test_estale_retried),
	    T(test_absent_name_waited_for),
	    T(test_newer_unrecorded_version),
	};
#undef T

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
