/* SPDX-License-Identifier: MIT */
/*
 * torture.c - fail every system call of every operation, in turn.
 *
 * For each workload (an API call on a prepared directory), each feature
 * variant (native, or O_TMPFILE/renameat2/FICLONE/copy_file_range hidden),
 * each errno (EIO, ENOSPC, EDQUOT, EACCES, EINTR) once and persistently,
 * and short transfers once and persistently: run the workload with the
 * n-th system call failed, for n = 1, 2, ... until a run completes without
 * the fault firing (curl's -t, SQLite's ioerr loops).  After every run:
 *
 *   - the files are in the old state, or in the new one where the call
 *     returned 0 or AFILE_EUNSYNCED (never a mix, never partial);
 *   - the metadata of a new version is the one promised (mode, xattr);
 *   - the directory holds no other entry (no temporary file left);
 *   - no descriptor leaked (LeakSanitizer checks memory at exit);
 *   - EINTR once, and short transfers, are invisible: the call succeeds;
 *   - an error code has a description.
 *
 * A failure prints one line that replays it:
 *	torture WORKLOAD VARIANT ERRNO MODE N
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "atomicfile.h"
#include "fault.h"

#define OLD_LEN   3000
#define NEW_LEN   7000
#define SRC_LEN   5000
#define PATCH_OFF 1000
#define PATCH_LEN 500

static char OLD[OLD_LEN], NEW[NEW_LEN], SRC[SRC_LEN], PATCH[PATCH_LEN];
static char PATCHED[OLD_LEN];
static char dir[4096], xdir[4096]; /* xdir: another file system, or "" */
static int dfd = -1, xfd = -1;
static bool have_xattr;

static unsigned long runs, failures;
static const char *cur_workload, *cur_variant, *cur_errno, *cur_mode;
static unsigned long cur_n;

static void
fail(const char *fmt, ...)
{
	va_list ap;

	failures++;
	printf("not ok - %s/%s/%s/%s n=%lu site=%s: ", cur_workload,
	    cur_variant, cur_errno, cur_mode, cur_n, fault_site());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n# replay: torture %s %s %s %s %lu\n", cur_workload,
	    cur_variant, cur_errno, cur_mode, cur_n);
}

/* ---- file helpers (plain libc: the test itself is not injected) ---- */

static void
put(int d, const char *name, const void *buf, size_t len, mode_t mode)
{
	int fd;

	(void)unlinkat(d, name, 0);
	fd = openat(d, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
		perror("torture: setup");
		exit(2);
	}
	(void)fchmod(fd, mode);
	if (have_xattr)
		(void)fsetxattr(fd, "user.k", "v", 1, 0);
	close(fd);
}

/* 1 when @name holds exactly @buf, 0 when it differs, -1 when absent. */
static int
holds(int d, const char *name, const void *buf, size_t len)
{
	char got[NEW_LEN + 16];
	ssize_t n;
	int fd = openat(d, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, got, sizeof(got));
	close(fd);
	return n == (ssize_t)len && !memcmp(got, buf, len);
}

static bool
mode_is(int d, const char *name, mode_t mode)
{
	struct stat st;

	return fstatat(d, name, &st, 0) == 0 && (st.st_mode & 07777) == mode;
}

static bool
xattr_kept(int d, const char *name)
{
	char path[8192], v[8];

	if (!have_xattr)
		return true;
	snprintf(path, sizeof(path), "%s/%s", d == dfd ? dir : xdir, name);
	return getxattr(path, "user.k", v, sizeof(v)) == 1 && v[0] == 'v';
}

/*
 * Every entry of @d must be one of the NULL-terminated @allowed.  The one
 * exception: when the injected fault hit unlinkat, the cleanup of a named
 * temp may itself have failed, and that temp is left for afile_cleanup().
 */
static void
only(int d, const char *const *allowed)
{
	bool cleanup_failed = !strcmp(fault_site(), "unlinkat");

	DIR *dp = fdopendir(dup(d));
	struct dirent *e;

	if (!dp) {
		perror("torture: fdopendir");
		exit(2);
	}
	rewinddir(dp);
	while ((e = readdir(dp))) {
		bool ok = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");

		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(e->d_name, *a);
		if (!ok && cleanup_failed && e->d_name[0] == '.' &&
		    strstr(e->d_name, ".afile-tmp")) {
			(void)unlinkat(d, e->d_name, 0);
			ok = true;
		}
		if (!ok)
			fail("unexpected entry '%s' left behind", e->d_name);
	}
	closedir(dp);
}

static void
clear(int d)
{
	DIR *dp = fdopendir(dup(d));
	struct dirent *e;

	rewinddir(dp);
	while ((e = readdir(dp))) {
		int sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(d, e->d_name, 0) == 0)
			continue;
		sub = openat(d, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0) {
			clear(sub);
			close(sub);
		}
		(void)unlinkat(d, e->d_name, AT_REMOVEDIR);
	}
	closedir(dp);
}

static int
count_fds(void)
{
	DIR *dp = opendir("/proc/self/fd");
	int n = 0;

	while (dp && readdir(dp))
		n++;
	if (dp)
		closedir(dp);
	return n;
}

/* r may be success only when the new state is visible. */
static bool
published(int r)
{
	return r == 0 || r == AFILE_EUNSYNCED;
}

/* ---- workloads ---- */

static const char *const only_target[] = {"target", NULL};
static const char *const target_src[] = {"target", "src", NULL};

static void
setup_target(void)
{
	clear(dfd);
	put(dfd, "target", OLD, OLD_LEN, 0640);
}

static void
setup_target_src(void)
{
	setup_target();
	put(dfd, "src", SRC, SRC_LEN, 0600);
}

static void
check_replace_like(int r, const void *newbuf, size_t newlen, mode_t newmode)
{
	int h_old = holds(dfd, "target", OLD, OLD_LEN);
	int h_new = holds(dfd, "target", newbuf, newlen);

	if (published(r)) {
		if (h_new != 1)
			fail("returned %s but target is not the new version",
			    afile_err_name(r));
		else if (!mode_is(dfd, "target", newmode) ||
		    !xattr_kept(dfd, "target"))
			fail("new version lost its mode or xattr");
	} else if (h_old != 1) {
		fail("returned %s but target is not the old version",
		    afile_err_name(r));
	} else if (!mode_is(dfd, "target", 0640) ||
	    !xattr_kept(dfd, "target")) {
		fail("old version's metadata changed");
	}
}

static int
run_replace(void)
{
	return afile_write(dfd, "target", NEW, NEW_LEN, 0, NULL);
}

static void
check_replace(int r)
{
	check_replace_like(r, NEW, NEW_LEN, 0640);
	only(dfd, only_target);
}

static int
run_stream(void)
{
	struct afile_writer *w = NULL;
	int r;

	r = afile_writer_open(dfd, "target", 0, NULL, &w);
	for (size_t off = 0; r == 0 && off < NEW_LEN; off += 2500) {
		size_t n = NEW_LEN - off < 2500 ? NEW_LEN - off : 2500;

		r = afile_writer_write(w, NEW + off, n);
	}
	if (r == 0)
		r = afile_writer_commit(w);
	afile_writer_free(w);
	return r;
}

static int
run_abort(void)
{
	struct afile_writer *w = NULL;
	int r;

	r = afile_writer_open(dfd, "target", 0, NULL, &w);
	if (r == 0)
		r = afile_writer_write(w, NEW, NEW_LEN);
	afile_writer_free(w);
	return r == 0 ? -ECANCELED : r; /* never published */
}

static void
setup_empty(void)
{
	clear(dfd);
}

static int
run_create(void)
{
	struct afile_opts o = AFILE_OPTS_INIT;

	o.mode = 0604;
	return afile_write(
	    dfd, "target", NEW, NEW_LEN, AFILE_NOREPLACE | AFILE_SET_MODE, &o);
}

static void
check_create(int r)
{
	int h = holds(dfd, "target", NEW, NEW_LEN);

	if (published(r) && (h != 1 || !mode_is(dfd, "target", 0604)))
		fail("returned %s but target is not the new file",
		    afile_err_name(r));
	if (!published(r) && h != -1)
		fail("returned %s but target exists", afile_err_name(r));
	only(dfd, only_target);
}

static int
run_create_exists(void)
{
	return afile_write(dfd, "target", NEW, NEW_LEN, AFILE_NOREPLACE, NULL);
}

static void
check_create_exists(int r)
{
	if (r == 0)
		fail("create over an existing file succeeded");
	check_replace(r);
}

static int
run_copy(void)
{
	return afile_copy(dfd, "src", dfd, "target", 0, NULL);
}

static void
check_copy(int r)
{
	check_replace_like(r, SRC, SRC_LEN, 0600);
	if (holds(dfd, "src", SRC, SRC_LEN) != 1)
		fail("copy changed its source");
	only(dfd, target_src);
}

static int
run_patch(void)
{
	return afile_patch(dfd, "target", PATCH_OFF, PATCH, PATCH_LEN, 0, NULL);
}

static void
check_patch(int r)
{
	check_replace_like(r, PATCHED, OLD_LEN, 0640);
	only(dfd, only_target);
}

static int
run_remove(void)
{
	return afile_remove(dfd, "target", 0, NULL);
}

static void
check_remove(int r)
{
	int h = holds(dfd, "target", OLD, OLD_LEN);

	if (published(r) && h != -1)
		fail("returned %s but target still exists", afile_err_name(r));
	if (!published(r) && h != 1)
		fail("returned %s but target is not intact", afile_err_name(r));
	only(dfd, only_target);
}

static int
run_rename(void)
{
	return afile_rename(dfd, "src", dfd, "target", 0, NULL);
}

static void
check_rename(int r)
{
	int s = holds(dfd, "src", SRC, SRC_LEN);
	int t_old = holds(dfd, "target", OLD, OLD_LEN);
	int t_src = holds(dfd, "target", SRC, SRC_LEN);

	if (published(r) && !(s == -1 && t_src == 1))
		fail("returned %s but the rename is not done",
		    afile_err_name(r));
	if (!published(r) && !(s == 1 && t_old == 1))
		fail("returned %s but the names changed", afile_err_name(r));
	only(dfd, target_src);
}

static int
run_rename_noreplace(void)
{
	return afile_rename(dfd, "src", dfd, "dst", AFILE_NOREPLACE, NULL);
}

static void
check_rename_noreplace(int r)
{
	static const char *const names[] = {"target", "src", "dst", NULL};
	int s = holds(dfd, "src", SRC, SRC_LEN);
	int d = holds(dfd, "dst", SRC, SRC_LEN);

	if (published(r) && !(s == -1 && d == 1))
		fail("returned %s but the rename is not done",
		    afile_err_name(r));
	if (r == AFILE_ESOURCEKEPT && !(s == 1 && d == 1))
		fail("returned AFILE_ESOURCEKEPT but the names are not both "
		     "there");
	if (!published(r) && r != AFILE_ESOURCEKEPT && !(s == 1 && d == -1))
		fail("returned %s but the names changed", afile_err_name(r));
	only(dfd, names);
}

static int
run_exchange(void)
{
	return afile_rename(dfd, "src", dfd, "target", AFILE_EXCHANGE, NULL);
}

static void
check_exchange(int r)
{
	int s_old = holds(dfd, "src", OLD, OLD_LEN);
	int t_src = holds(dfd, "target", SRC, SRC_LEN);
	int s_src = holds(dfd, "src", SRC, SRC_LEN);
	int t_old = holds(dfd, "target", OLD, OLD_LEN);

	if (published(r) && !(s_old == 1 && t_src == 1))
		fail("returned %s but not exchanged", afile_err_name(r));
	if (!published(r) && !(s_src == 1 && t_old == 1))
		fail("returned %s but the names changed", afile_err_name(r));
	only(dfd, target_src);
}

static void
setup_xdev(void)
{
	setup_target_src();
	clear(xfd);
}

static int
run_xdev(void)
{
	return afile_rename(dfd, "src", xfd, "moved", 0, NULL);
}

static void
check_xdev(int r)
{
	static const char *const moved[] = {"moved", NULL};
	int s = holds(dfd, "src", SRC, SRC_LEN);
	int m = holds(xfd, "moved", SRC, SRC_LEN);

	/*
	 * AFILE_EUNSYNCED from the copy's directory sync keeps the source
	 * (a power cut could otherwise keep neither name); from the source
	 * directory's sync after the removal, it was moved.
	 */
	if (r == AFILE_EUNSYNCED && !(m == 1 && (s == -1 || s == 1)))
		fail(
		    "returned %s but the copy is not whole", afile_err_name(r));
	else if (published(r) && r != AFILE_EUNSYNCED && !(s == -1 && m == 1))
		fail("returned %s but not moved", afile_err_name(r));
	else if (published(r) && !mode_is(xfd, "moved", 0600))
		fail("moved file lost its mode");
	if (r == AFILE_ESOURCEKEPT && !(s == 1 && m == 1))
		fail("returned AFILE_ESOURCEKEPT but the copy is not whole");
	if (!published(r) && r != AFILE_ESOURCEKEPT && !(s == 1 && m == -1))
		fail("returned %s but the names changed", afile_err_name(r));
	only(dfd, target_src);
	only(xfd, moved);
}

static int
run_read(void)
{
	void *buf = NULL;
	size_t len = 0;
	int r = afile_read(dfd, "target", &buf, &len, 0, NULL);

	if (r == 0 && (len != OLD_LEN || memcmp(buf, OLD, OLD_LEN)))
		fail("afile_read returned 0 with wrong contents");
	if (r < 0 && (buf || len))
		fail("afile_read failed but left a buffer");
	free(buf);
	return r;
}

static void
check_read(int r)
{
	(void)r;
	check_replace_like(-EIO, OLD, OLD_LEN, 0640);
	only(dfd, only_target);
}

/* ---- locks, read-modify-write, cleanup ---- */

#define ABANDONED ".target.AAAAAAAAAAAA.afile-tmp"

static const char *const target_lock[] = {"target", ".target.afile-lock", NULL};
static const char *const target_abandoned[] = {"target", ABANDONED, NULL};
static bool last_fired;

static void
setup_abandoned(void)
{
	setup_target();
	/* A temp whose writer died: named like one, and nobody locks it. */
	put(dfd, ABANDONED, NEW, 100, 0600);
}

static int
run_write_locked(void)
{
	return afile_write(dfd, "target", NEW, NEW_LEN, AFILE_LOCK, NULL);
}

static void
check_write_locked(int r)
{
	check_replace_like(r, NEW, NEW_LEN, 0640);
	only(dfd, target_lock);
}

static int
put_new(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	(void)ctx;
	if (!old || old_len != OLD_LEN || memcmp(old, OLD, OLD_LEN))
		return -EBADMSG; /* the callback saw a wrong "current" */
	return afile_writer_write(w, NEW, NEW_LEN);
}

static int
run_update(void)
{
	return afile_update(dfd, "target", put_new, NULL, 0, NULL);
}

static int
run_lock(void)
{
	struct afile_lock *l = NULL;
	int r = afile_lock_acquire(dfd, "target", AFILE_LOCK_EXCLUSIVE, 0, &l);

	if ((r == 0) != (l != NULL))
		fail("lock handle and result disagree");
	afile_lock_release(l);
	return r;
}

static void
check_untouched_locked(int r)
{
	(void)r;
	check_replace_like(-EIO, OLD, OLD_LEN, 0640);
	only(dfd, target_lock);
}

static int
run_cleanup(void)
{
	struct afile_cleanup_report rep = {.size = sizeof(rep)};
	int r = afile_cleanup(dfd, ".", 0, 0, &rep);

	/* An injected EACCES on the lock reads as "held": live. */
	if (r == 0 && !rep.failed && !rep.live && rep.removed != 1)
		fail("cleanup ran clean but removed %llu temps",
		    (unsigned long long)rep.removed);
	return r;
}

static void
check_cleanup(int r)
{
	check_replace_like(-EIO, OLD, OLD_LEN, 0640);
	if (!last_fired && holds(dfd, ABANDONED, NEW, 100) != -1)
		fail("a clean run left the abandoned temp (r=%d)", r);
	only(dfd, target_abandoned);
}

static void
check_sweep(int r)
{
	check_replace_like(r, NEW, NEW_LEN, 0640);
	if (!last_fired && holds(dfd, ABANDONED, NEW, 100) != -1)
		fail("a clean write did not sweep the abandoned temp");
	only(dfd, target_abandoned);
}

/* ---- transactions ---- */

static const char *const txn_names[] = {"target", "src", ".atomicfile", NULL};

static int
run_txn(void)
{
	struct afile_txn *t = NULL;
	int r = afile_txn_begin(dfd, ".", 0, NULL, &t);

	if (r == 0)
		r = afile_txn_put(t, "target", NEW, NEW_LEN, 0);
	if (r == 0)
		r = afile_txn_remove(t, "src", 0);
	if (r == 0)
		r = afile_txn_commit(t);
	afile_txn_free(t);
	return r;
}

static void
check_txn(int r)
{
	static const char *const locks[] = {
	    ".txn.afile-lock", ".apply.afile-lock", NULL};
	int adfd;
	int t_new, t_old, s_old;
	bool journal = false;

	/*
	 * Committed but not applied: recovery (without faults) finishes.
	 * In doubt (the journal could be neither confirmed nor taken back
	 * durably), or retired already: old or new, never a mix.
	 */
	if (r == AFILE_EJOURNAL) {
		struct stat st;

		journal = fstatat(dfd, ".atomicfile/journal", &st, 0) == 0;
		if (afile_recover(dfd, ".", 0, NULL) < 0)
			fail("recovery after AFILE_EJOURNAL failed");
	}
	t_new = holds(dfd, "target", NEW, NEW_LEN);
	t_old = holds(dfd, "target", OLD, OLD_LEN);
	s_old = holds(dfd, "src", SRC, SRC_LEN);
	if ((r == 0 || (r == AFILE_EJOURNAL && journal)) &&
	    !(t_new == 1 && s_old == -1))
		fail("returned %s but the transaction is not whole",
		    afile_err_name(r));
	if (r != 0 && r != AFILE_EJOURNAL && !(t_old == 1 && s_old == 1))
		fail("returned %s but something changed", afile_err_name(r));
	if (r == AFILE_EJOURNAL && !journal && !(t_old == 1 && s_old == 1) &&
	    !(t_new == 1 && s_old == -1))
		fail("returned %s and recovered to neither old nor new",
		    afile_err_name(r));
	if (t_new == 1 && !mode_is(dfd, "target", 0640))
		fail("the new version lost its mode");
	only(dfd, txn_names);
	adfd = openat(dfd, ".atomicfile", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (adfd >= 0) {
		only(adfd, locks); /* no journal, no intent log */
		close(adfd);
	}
}

static void
setup_txn(void)
{
	int adfd;

	setup_target_src();
	adfd = openat(dfd, ".atomicfile", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (adfd >= 0) {
		clear(adfd);
		close(adfd);
		(void)unlinkat(dfd, ".atomicfile", AT_REMOVEDIR);
	}
}

/* ---- batches ---- */

static int
run_many(void)
{
	const struct afile_item items[] = {
	    {.path = "target", .buf = NEW, .len = NEW_LEN},
	    {.path = "src", .buf = PATCHED, .len = OLD_LEN},
	};

	return afile_write_many(dfd, items, 2, 0, NULL);
}

static void
check_many(int r)
{
	int t_new = holds(dfd, "target", NEW, NEW_LEN);
	int t_old = holds(dfd, "target", OLD, OLD_LEN);
	int s_new = holds(dfd, "src", PATCHED, OLD_LEN);
	int s_old = holds(dfd, "src", SRC, SRC_LEN);

	/* Each item whole, old or new; all new when it returned 0. */
	if (t_new != 1 && t_old != 1)
		fail("target is neither old nor new");
	if (s_new != 1 && s_old != 1)
		fail("src is neither old nor new");
	if (published(r) && (t_new != 1 || s_new != 1))
		fail(
		    "returned %s but not every item is new", afile_err_name(r));
	if (t_new == 1 && !mode_is(dfd, "target", 0640))
		fail("the new target lost its mode");
	only(dfd, target_src);
}

struct workload {
	const char *name;
	void (*setup)(void);
	int (*run)(void);
	void (*check)(int r);
	bool needs_xdev;
	unsigned int unsupported_if; /* cannot work with these hidden */
};

static const struct workload workloads[] = {
    {.name = "replace",
	.setup = setup_target,
	.run = run_replace,
	.check = check_replace},
    {.name = "stream",
	.setup = setup_target,
	.run = run_stream,
	.check = check_replace},
    {.name = "abort",
	.setup = setup_target,
	.run = run_abort,
	.check = check_replace},
    {.name = "create",
	.setup = setup_empty,
	.run = run_create,
	.check = check_create},
    {.name = "create-exists",
	.setup = setup_target,
	.run = run_create_exists,
	.check = check_create_exists},
    {.name = "copy",
	.setup = setup_target_src,
	.run = run_copy,
	.check = check_copy},
    {.name = "patch",
	.setup = setup_target,
	.run = run_patch,
	.check = check_patch},
    {.name = "remove",
	.setup = setup_target,
	.run = run_remove,
	.check = check_remove},
    {.name = "rename",
	.setup = setup_target_src,
	.run = run_rename,
	.check = check_rename},
    {.name = "rename-noreplace",
	.setup = setup_target_src,
	.run = run_rename_noreplace,
	.check = check_rename_noreplace},
    {.name = "exchange",
	.setup = setup_target_src,
	.run = run_exchange,
	.check = check_exchange,
	.unsupported_if = FEAT_NO_RENAMEAT2},
    {.name = "rename-xdev",
	.setup = setup_xdev,
	.run = run_xdev,
	.check = check_xdev,
	.needs_xdev = true},
    {.name = "read",
	.setup = setup_target,
	.run = run_read,
	.check = check_read},
    {.name = "write-locked",
	.setup = setup_target,
	.run = run_write_locked,
	.check = check_write_locked},
    {.name = "update",
	.setup = setup_target,
	.run = run_update,
	.check = check_write_locked},
    {.name = "lock",
	.setup = setup_target,
	.run = run_lock,
	.check = check_untouched_locked},
    {.name = "cleanup",
	.setup = setup_abandoned,
	.run = run_cleanup,
	.check = check_cleanup},
    {.name = "many",
	.setup = setup_target_src,
	.run = run_many,
	.check = check_many},
    {.name = "txn", .setup = setup_txn, .run = run_txn, .check = check_txn},
    {.name = "sweep",
	.setup = setup_abandoned,
	.run = run_replace,
	.check = check_sweep},
};

struct variant {
	const char *name;
	unsigned int hide;
};

static const struct variant variants[] = {
    {"native", 0},
    {"fallback",
	FEAT_NO_TMPFILE | FEAT_NO_RENAMEAT2 | FEAT_NO_FICLONE | FEAT_NO_CFR},
};

struct errspec {
	const char *name;
	int err;
};

static const struct errspec errnos[] = {
    {"EIO", EIO},
    {"ENOSPC", ENOSPC},
    {"EDQUOT", EDQUOT},
    {"EACCES", EACCES},
    {"EINTR", EINTR},
};

static const char *const mode_names[] = {
    "once", "persist", "short-once", "short-persist"};

/* One run with the n-th call failed; returns whether the fault fired. */
static bool
run_one(
    const struct workload *w, int err, enum fault_mode mode, unsigned long n)
{
	int fds, r;
	bool fired;

	cur_n = n;
	fault_disarm();
	w->setup();
	fds = count_fds();
	fault_arm(n, err, mode);
	r = w->run();
	fired = fault_fired() > 0;
	fault_disarm();
	runs++;
	last_fired = fired;

	w->check(r);
	if (count_fds() != fds)
		fail("descriptor leak: %d before, %d after", fds, count_fds());
	if (r < 0 && !strcmp(afile_strerror(r), "unknown error"))
		fail("error %d has no description", r);
	/* A run the fault never reached must succeed (but abort/exists). */
	if (!fired && r < 0 && w->run != run_abort &&
	    w->run != run_create_exists)
		fail("clean run failed: %s", afile_err_name(r));
	if (fired && r < 0 && w->run != run_abort &&
	    w->run != run_create_exists && strcmp(fault_site(), "malloc") &&
	    strcmp(fault_site(), "realloc") &&
	    (mode == FAULT_SHORT_ONCE || mode == FAULT_SHORT_PERSIST ||
		(mode == FAULT_ONCE && err == EINTR)))
		fail("a short transfer or one EINTR was not absorbed: %s",
		    afile_err_name(r));
	return fired;
}

static void
make_dirs(void)
{
	const char *shm = "/dev/shm";
	struct stat a, b;

	snprintf(dir, sizeof(dir), "%s/torture.XXXXXX",
	    getenv("TORTURE_DIR") ? getenv("TORTURE_DIR") : ".");
	if (!mkdtemp(dir)) {
		perror("torture: mkdtemp");
		exit(2);
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	have_xattr = setxattr(dir, "user.probe", "1", 1, 0) == 0;
	xdir[0] = '\0';
	snprintf(xdir, sizeof(xdir), "%s/torture.XXXXXX", shm);
	if (stat(shm, &b) == 0 && stat(dir, &a) == 0 && a.st_dev != b.st_dev &&
	    mkdtemp(xdir)) {
		xfd = open(xdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		xdir[0] = '\0';
		printf(
		    "# SKIP rename-xdev: %s is not another file system\n", shm);
	}
}

static void
remove_dirs(void)
{
	clear(dfd);
	close(dfd);
	rmdir(dir);
	if (xfd >= 0) {
		clear(xfd);
		close(xfd);
		rmdir(xdir);
	}
}

static void
fill(void)
{
	for (size_t i = 0; i < OLD_LEN; i++)
		OLD[i] = (char)('a' + i % 23);
	for (size_t i = 0; i < NEW_LEN; i++)
		NEW[i] = (char)('A' + i % 19);
	for (size_t i = 0; i < SRC_LEN; i++)
		SRC[i] = (char)('0' + i % 7);
	for (size_t i = 0; i < PATCH_LEN; i++)
		PATCH[i] = (char)('#' + i % 5);
	memcpy(PATCHED, OLD, OLD_LEN);
	memcpy(PATCHED + PATCH_OFF, PATCH, PATCH_LEN);
}

/* Index of @want in an array of structs whose first member is a name. */
static size_t
lookup(const char *want, const void *arr, size_t stride, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *const *name =
		    (const char *const *)(const void *)((const char *)arr +
			i * stride);

		if (!strcmp(want, *name))
			return i;
	}
	fprintf(stderr, "torture: unknown '%s'\n", want);
	exit(2);
}

#define LOOKUP(want, arr) \
	lookup(want, arr, sizeof(arr[0]), sizeof(arr) / sizeof(arr[0]))

int
main(int argc, char **argv)
{
	unsigned long total_fired = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fill();
	make_dirs();

	if (argc == 6) { /* replay one case */
		const struct workload *w =
		    &workloads[LOOKUP(argv[1], workloads)];
		const struct variant *v = &variants[LOOKUP(argv[2], variants)];
		const struct errspec *e = &errnos[LOOKUP(argv[3], errnos)];
		size_t m = LOOKUP(argv[4], mode_names);

		cur_workload = w->name, cur_variant = v->name;
		cur_errno = e->name, cur_mode = mode_names[m];
		fault_install(v->hide);
		run_one(w, e->err, (enum fault_mode)m, strtoul(argv[5], 0, 10));
		fault_uninstall();
		remove_dirs();
		printf("%lu passed, %lu failed\n", failures ? 0ul : 1ul,
		    failures ? 1ul : 0ul);
		return failures ? 1 : 0;
	}

	for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		fault_install(variants[v].hide);
		cur_variant = variants[v].name;
		for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]);
		     i++) {
			const struct workload *w = &workloads[i];
			unsigned long before = runs, fails_before = failures;

			if ((w->needs_xdev && xfd < 0) ||
			    (w->unsupported_if & variants[v].hide))
				continue;
			cur_workload = w->name;
			for (size_t e = 0;
			     e < sizeof(errnos) / sizeof(errnos[0]); e++) {
				cur_errno = errnos[e].name;
				for (int m = 0; m < 4; m++) {
					/* Short transfers have no errno. */
					if (m >= FAULT_SHORT_ONCE && e > 0)
						continue;
					cur_mode = mode_names[m];
					for (unsigned long n = 1;; n++) {
						if (!run_one(w, errnos[e].err,
							(enum fault_mode)m, n))
							break;
						total_fired++;
					}
				}
			}
			printf("%s - %s/%s: %lu fault runs\n",
			    failures == fails_before ? "ok" : "not ok",
			    variants[v].name, w->name, runs - before);
		}
		fault_uninstall();
	}
	remove_dirs();
	printf("# %lu fault-injection runs (%lu with a fault fired), "
	       "%lu violations\n",
	    runs, total_fired, failures);
	printf("%lu passed, %lu failed\n", runs - failures, failures);
	return failures ? 1 : 0;
}
