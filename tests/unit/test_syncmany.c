/* SPDX-License-Identifier: MIT */
/*
 * test_syncmany.c - making many files durable at once (src/syncmany.c):
 * the thread pool of afile__each() (every item once, the first failure
 * and its item reported, one ordered worker when a test swapped the
 * syncs), the choice between one syncfs and an fsync per file
 * (afile__use_syncfs(): the fstype.c allowlist and the dirty-data bound),
 * and what transactions and afile_write_many() do with them: a failed
 * fsync of one staged file among several fails the call naming that file,
 * with every target unchanged and no staged temp left.
 *
 * The pool tests call afile__each() with their own callbacks and leave
 * the table's syncs real, so that afile__parallel() does start threads.
 */
#include "helpers.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>

#include "internal.h"
#include "sys.h"

#define EXT4_MAGIC 0xEF53UL
#define F2FS_MAGIC 0xF2F52010UL /* known, but off the syncfs allowlist */
#define FUSE_MAGIC 0x65735546UL
#define NITEMS     300

static struct {
	unsigned long magic; /* 0: the real one */
	int dirty_err;       /* /proc/meminfo cannot be read */
	uint64_t dirty_kib;  /* else this much dirty data */
	unsigned long syncfs_calls;
	int dirsync_err; /* an fsync of a directory fails with this */
	off_t fail_size; /* an fsync of a regular file this long fails... */
	int fail_err;    /* ...with this */
	unsigned long fsyncs;
} S;

static int
s_fs_magic(int fd, unsigned long *ret)
{
	if (!S.magic)
		return afile__sys_default.fs_magic(fd, ret);
	*ret = S.magic;
	return 0;
}

static int
s_dirty_kib(uint64_t *ret)
{
	if (S.dirty_err) {
		errno = S.dirty_err;
		return -1;
	}
	*ret = S.dirty_kib;
	return 0;
}

static int
s_syncfs(int fd)
{
	S.syncfs_calls++;
	return afile__sys_default.syncfs(fd);
}

static int
s_fail_sized(int fd)
{
	struct stat st;

	S.fsyncs++;
	if (S.dirsync_err && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		errno = S.dirsync_err;
		return -1;
	}
	if (S.fail_err && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == S.fail_size) {
		errno = S.fail_err;
		return -1;
	}
	return 0;
}

static int
s_fsync(int fd)
{
	return s_fail_sized(fd) < 0 ? -1 : afile__sys_default.fsync(fd);
}

static int
s_fdatasync(int fd)
{
	return s_fail_sized(fd) < 0 ? -1 : afile__sys_default.fdatasync(fd);
}

static int
setup(void **state)
{
	memset(&S, 0, sizeof(S));
	afile__sys.fs_magic = s_fs_magic;
	afile__sys.dirty_kib = s_dirty_kib;
	afile__sys.syncfs = s_syncfs;
	return h_setup(state);
}

static int
teardown(void **state)
{
	afile__sys_reset();
	return h_teardown(state);
}

/* Swap the syncs: fsync/fdatasync of a file of @size fail with @err. */
static void
fail_fsync_of_size(off_t size, int err)
{
	S.fail_size = size;
	S.fail_err = err;
	afile__sys.fsync = s_fsync;
	afile__sys.fdatasync = s_fdatasync;
}

/* No staged temp (.afile-txn) and no .afile-tmp left in @dir. */
static void
assert_no_txn_temps(const struct h_ctx *c, const char *dir)
{
	struct dirent *e;
	DIR *d;
	int fd = openat(c->dfd, dir, O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	d = fdopendir(fd);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, AFILE__TXN_SUFFIX) ||
		    strstr(e->d_name, H_TMP_SUFFIX))
			fail_msg("temp %s/%s left", dir, e->d_name);
	closedir(d);
}

/* ------------------------------------------------------------------
 * afile__each(): the pool
 * ------------------------------------------------------------------ */

struct items {
	atomic_int runs[NITEMS];
	atomic_int total;
	int fail_at;   /* this item fails with fail_err (-1: none) */
	int fail_err;  /* negative errno */
	bool all_fail; /* every item fails with -(k + 1) */
	size_t order[NITEMS];
	pthread_t th[NITEMS];
};

static int
one_item(void *ctx, size_t k)
{
	struct items *it = ctx;
	int n = atomic_fetch_add(&it->total, 1);

	atomic_fetch_add(&it->runs[k], 1);
	if (n < NITEMS) {
		it->order[n] = k;
		it->th[n] = pthread_self();
	}
	if (it->all_fail)
		return -(int)(k + 1);
	return (int)k == it->fail_at ? it->fail_err : 0;
}

static struct items *
new_items(void)
{
	struct items *it = calloc(1, sizeof(*it));

	assert_non_null(it);
	it->fail_at = -1;
	return it;
}

/* Invariant 2: each item exactly once, on threads that all ended. */
static void
test_each_every_item_once(void **state)
{
	struct items *it = new_items();
	size_t bad = 99;

	(void)state;
	assert_true(afile__real_syncs());
	assert_int_equal(afile__each(NITEMS, one_item, it, &bad), 0);
	assert_int_equal(atomic_load(&it->total), NITEMS);
	for (int k = 0; k < NITEMS; k++)
		assert_int_equal(atomic_load(&it->runs[k]), 1);
	assert_int_equal(bad, 0);
	/* One item (no thread worth starting), and none. */
	memset(it, 0, sizeof(*it));
	it->fail_at = -1;
	assert_int_equal(afile__each(1, one_item, it, &bad), 0);
	assert_int_equal(atomic_load(&it->runs[0]), 1);
	assert_true(pthread_equal(it->th[0], pthread_self()));
	assert_int_equal(afile__each(0, one_item, it, &bad), 0);
	assert_int_equal(atomic_load(&it->total), 1);
	free(it);
}

/* Invariant 1: the failure and its item come back, whichever thread. */
static void
test_each_failure_reported(void **state)
{
	struct items *it = new_items();
	size_t bad = 0;
	int r;

	(void)state;
	it->fail_at = 137;
	it->fail_err = -EIO;
	assert_int_equal(afile__each(NITEMS, one_item, it, &bad), -EIO);
	assert_int_equal(bad, 137);
	/* Nothing ran twice; after the failure at most a few started. */
	for (int k = 0; k < NITEMS; k++)
		assert_true(atomic_load(&it->runs[k]) <= 1);
	assert_int_equal(atomic_load(&it->runs[137]), 1);

	/* Every item fails: the error reported is its item's, not a mix. */
	memset(it, 0, sizeof(*it));
	it->all_fail = true;
	r = afile__each(NITEMS, one_item, it, &bad);
	assert_true(r < 0);
	assert_true(bad < NITEMS);
	assert_int_equal(r, -(int)(bad + 1));
	assert_int_equal(atomic_load(&it->runs[bad]), 1);
	free(it);
}

/* Invariant 3: swapped syncs, the caller alone, in order, then stop. */
static void
test_each_swapped_one_worker(void **state)
{
	struct items *it = new_items();
	size_t bad = 0;

	(void)state;
	fail_fsync_of_size(-1, 0);
	assert_false(afile__real_syncs());
	it->fail_at = 5;
	it->fail_err = -ENOSPC;
	assert_int_equal(afile__each(NITEMS, one_item, it, &bad), -ENOSPC);
	assert_int_equal(bad, 5);
	assert_int_equal(atomic_load(&it->total), 6);
	for (int n = 0; n < 6; n++) {
		assert_int_equal(it->order[n], n);
		assert_true(pthread_equal(it->th[n], pthread_self()));
	}
	free(it);
}

/* ------------------------------------------------------------------
 * afile__use_syncfs(): trusted, and paying
 * ------------------------------------------------------------------ */

static void
test_use_syncfs(void **state)
{
	struct h_ctx *c = *state;

	S.magic = EXT4_MAGIC;
	S.dirty_kib = 1024;
	assert_true(afile__use_syncfs(c->dfd));
	/* Exactly at the bound still pays; above it an fsync each. */
	S.dirty_kib = 128 * 1024;
	assert_true(afile__use_syncfs(c->dfd));
	S.dirty_kib = 128 * 1024 + 1;
	assert_false(afile__use_syncfs(c->dfd));
	/* Unknown dirty data: the quiet case's winner. */
	S.dirty_err = ENOENT;
	assert_true(afile__use_syncfs(c->dfd));
	/* Off the allowlist, however quiet: never. */
	S.dirty_err = 0;
	S.dirty_kib = 0;
	S.magic = F2FS_MAGIC;
	assert_false(afile__use_syncfs(c->dfd));
	S.magic = FUSE_MAGIC;
	assert_false(afile__use_syncfs(c->dfd));
	S.magic = 0x12345678UL;
	assert_false(afile__use_syncfs(c->dfd));
	/* Memory only (tmpfs): syncfs whatever the system has dirty. */
	S.magic = 0x01021994UL;
	S.dirty_kib = 1024 * 1024;
	assert_true(afile__use_syncfs(c->dfd));
}

/* ------------------------------------------------------------------
 * Transactions and batches on the two paths
 * ------------------------------------------------------------------ */

static void
put_files(struct h_ctx *c)
{
	h_mkdir(c, "sub", 0755);
	h_puts(c, "a", "old a");
	h_puts(c, "sub/b", "old b");
	h_puts(c, "c", "old c");
}

static void
assert_old(struct h_ctx *c)
{
	assert_file(c, "a", "old a");
	assert_file(c, "sub/b", "old b");
	assert_file(c, "c", "old c");
	assert_no_txn_temps(c, ".");
	assert_no_txn_temps(c, "sub");
}

/* b's new contents are the only ones 13 bytes long. */
static int
commit3(struct h_ctx *c, struct afile_errinfo *err)
{
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_txn *t;
	int r;

	o.err = err;
	assert_ok(afile_txn_begin(c->dfd, ".", 0, &o, &t));
	assert_ok(afile_txn_put(t, "a", "new a", 5, 0));
	assert_ok(afile_txn_put(t, "sub/b", "new b, longer", 13, 0));
	assert_ok(afile_txn_put(t, "c", "new c", 5, 0));
	r = afile_txn_commit(t);
	afile_txn_free(t);
	return r;
}

/* Trusted and quiet: one syncfs; busy: an fsync each from the pool. */
static void
test_txn_syncfs_or_each(void **state)
{
	struct h_ctx *c = *state;
	struct afile_stats s0 = {.size = sizeof(s0)}, s1 = {.size = sizeof(s1)};

	put_files(c);
	S.magic = EXT4_MAGIC;
	assert_ok(commit3(c, NULL));
	assert_int_equal(S.syncfs_calls, 1);
	assert_file(c, "sub/b", "new b, longer");

	/* Dirty data above the bound: no syncfs, three file fsyncs. */
	S.syncfs_calls = 0;
	S.dirty_kib = 1024 * 1024;
	h_puts(c, "sub/b", "old b");
	assert_ok(afile_stats_get(&s0));
	assert_ok(commit3(c, NULL));
	assert_ok(afile_stats_get(&s1));
	assert_int_equal(S.syncfs_calls, 0);
	assert_true(s1.syncs - s0.syncs >= 3);
	assert_file(c, "a", "new a");
	assert_file(c, "sub/b", "new b, longer");
	assert_file(c, "c", "new c");
	assert_no_txn_temps(c, ".");
	assert_no_txn_temps(c, "sub");

	/* The same for a batch of independent files. */
	struct afile_item items[3] = {
	    {"a", "batch a", 7}, {"sub/b", "batch b", 7}, {"c", "batch c", 7}};
	assert_ok(afile_write_many(c->dfd, items, 3, 0, NULL));
	assert_int_equal(S.syncfs_calls, 0);
	assert_file(c, "sub/b", "batch b");
	S.dirty_kib = 0;
	assert_ok(afile_write_many(c->dfd, items, 3, 0, NULL));
	assert_int_equal(S.syncfs_calls, 1);
}

/* One fsync of several fails: the commit fails naming that file. */
static void
test_txn_one_fsync_fails(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo err;

	put_files(c);
	S.magic = F2FS_MAGIC;
	fail_fsync_of_size(13, EIO);
	assert_err(commit3(c, &err), -EIO);
	assert_int_equal(err.code, -EIO);
	assert_string_equal(err.step, "sync staged files");
	assert_non_null(strstr(err.path, "sub/b"));
	assert_old(c);
	/* Taken back durably: the intent log went, nothing to recover. */
	assert_false(h_exists(c, ".atomicfile/intent"));
	assert_false(h_exists(c, ".atomicfile/journal"));
	assert_int_equal(S.syncfs_calls, 0);

	/*
	 * (On the allowlist a busy disk takes the same path, but swapped
	 * syncs make afile__dirty_kib() report a quiet machine: that choice
	 * is test_use_syncfs's and test_txn_syncfs_or_each's.)
	 */
	/* Without the failure the same commit goes through. */
	S.fail_err = 0;
	assert_ok(commit3(c, NULL));
	assert_file(c, "sub/b", "new b, longer");
}

/*
 * Directories that refuse fsync (EINVAL, EOPNOTSUPP: some FUSE and
 * network file systems): the transaction goes on at AFILE_SYNC_DATA;
 * any other failure of a directory sync fails it, all old.
 */
static void
test_txn_dirsync_refused(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	unsigned int got = 99;
	struct afile_txn *t;
	int errs[] = {EOPNOTSUPP, EINVAL};

	put_files(c);
	S.magic = F2FS_MAGIC;
	fail_fsync_of_size(-1, 0);
	o.ret_sync = &got;
	for (size_t i = 0; i < 2; i++) {
		S.dirsync_err = errs[i];
		got = 99;
		assert_ok(afile_txn_begin(c->dfd, ".", 0, &o, &t));
		assert_ok(afile_txn_put(t, "sub/b", "refused", 7, 0));
		assert_ok(afile_txn_commit(t));
		afile_txn_free(t);
		assert_int_equal(got, AFILE_SYNC_DATA);
		assert_file(c, "sub/b", "refused");
	}
	/* (The first directory sync is the intent log's, at staging.) */
	S.dirsync_err = EIO;
	h_puts(c, "sub/b", "old b");
	assert_ok(afile_txn_begin(c->dfd, ".", 0, &o, &t));
	assert_err(afile_txn_put(t, "sub/b", "refused", 7, 0), -EIO);
	assert_err(afile_txn_commit(t), AFILE_EPOISONED);
	afile_txn_free(t);
	S.dirsync_err = 0;
	assert_old(c);
}

/* A batch whose second temp cannot be synced publishes none of them. */
static void
test_write_many_one_fsync_fails(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo err;
	struct afile_item items[3] = {{"a", "batch a", 7},
	    {"sub/b", "batch b, longer", 15}, {"c", "batch c", 7}};

	put_files(c);
	o.err = &err;
	S.magic = F2FS_MAGIC;
	fail_fsync_of_size(15, EIO);
	assert_err(afile_write_many(c->dfd, items, 3, 0, &o), -EIO);
	assert_int_equal(err.code, -EIO);
	/* The failing item named (it said "operation" and no path). */
	assert_string_equal(err.step, "sync temporary file");
	assert_non_null(strstr(err.path, "sub/b"));
	assert_old(c);
	assert_entries(c, ".", "a", "sub", "c");
	assert_entries(c, "sub", "b");
	S.fail_err = 0;
	assert_ok(afile_write_many(c->dfd, items, 3, 0, NULL));
	assert_file(c, "sub/b", "batch b, longer");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_each_every_item_once),
	    T(test_each_failure_reported),
	    T(test_each_swapped_one_worker),
	    T(test_use_syncfs),
	    T(test_txn_syncfs_or_each),
	    T(test_txn_one_fsync_fails),
	    T(test_write_many_one_fsync_fails),
	    T(test_txn_dirsync_refused),
	};
#undef T

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
