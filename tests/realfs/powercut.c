/* SPDX-License-Identifier: MIT */
/*
 * powercut.c - real power cuts on a loop-mounted file system, and a check
 * that every state the real file system produced is one the simulator's
 * model allows (crash-testing.md §3d, §3e; issue 5).
 *
 * Role: the C driver behind powercut.sh, which makes the image, the loop
 * device and the mount, and cleans up.  For each workload (a setup tree
 * under d/ and one or a few library calls under AFILE_SYNC_FULL) and each
 * crash point N:
 *   1. d/ is rebuilt on the real mount and synced (syncfs);
 *   2. a forked child runs the workload with a counting shim over
 *      afile__sys; before its N-th counted call (or after the workload
 *      returned, N = all calls) it cuts the power:
 *        shutdown  FS_IOC_SHUTDOWN on the mount, NOLOGFLUSH (a completed
 *                  but unflushed log is lost: a power cut), METAFLUSH (the
 *                  log is flushed, data is not) or FULLSYNC (everything
 *                  is written first), then _exit;
 *        copy      SIGKILL, then the loop device's backing image is
 *                  copied (periodic writeback is off, so the copy holds
 *                  only what the file system forced out): for btrfs,
 *                  whose shutdown ioctl this kernel lacks (ENOTTY);
 *   3. the file system is unmounted and mounted again (log replay), or the
 *      copy is mounted; recovery runs as the next process would:
 *      afile_recover(d) and afile_cleanup() of d/ and d/sub/, through the
 *      real system calls;
 *   4. the tree of d/ is described canonically (sorted "path mode
 *      content-digest" lines plus the recovery's result; lock sidecars
 *      are left out, everything else counts, temps and .atomicfile/
 *      included).
 * The model: the same workload runs once on simfs behind the same shim
 * (same setup, same calls, same deterministic getrandom, so temp names
 * and journal contents match), recording the same syscall-name trace.
 * For crash point N every simfs crash state is installed, recovered and
 * described the same way: the real tree must be one of them.  When the
 * real and simulated traces differ before N, the real tree is compared
 * with the union over all points instead, and counted apart.  The
 * invariants are checked directly as well: every file old or new (all
 * of a call's files together, each item alone for a batch), acknowledged
 * means new, recovery succeeds.
 *
 * Numbering matches simfs: every table entry that simfs implements and
 * counts as an event is counted (all but getrandom and geteuid).  To keep
 * the traces equal, the shim hides from the real run the kernel features
 * simfs lacks (openat2 RESOLVE_BENEATH: ENOSYS; FICLONE: EOPNOTSUPP;
 * copy_file_range: ENOSYS), as an older kernel would; the "-native"
 * workloads keep them (reflinks on xfs and btrfs) and are judged against
 * the union from the first call where the traces part.
 *
 * Limits: a model set is exhaustive only where simfs enumerates every
 * subset (at most SIMFS_EXHAUSTIVE_MAX pending micro-ops); elsewhere it is
 * simfs's sample, and a real state outside it is still reported (counted
 * apart in the summary).  The copy method sees every write the loop
 * device received, so it models a disk without a volatile write cache;
 * the shutdown ioctl drops the file system's unwritten log.  Data blocks
 * that writeback happened to write before the cut are whatever the real
 * file system left: that is the point of the soundness check.
 *
 * AFILE_SOAK=K repeats the sweep K times (a real file system's timing
 * varies: journal commits, writeback) and scales the sample of the
 * METAFLUSH and FULLSYNC cuts.
 *
 * Failures print one line starting with FAIL that names the file system,
 * mount options, cut method, workload, point, trace match, the observed
 * tree and the size of the allowed set, and the command that replays
 * just that case (AFILE_PC_ONLY=WORKLOAD:POINT:CUT).
 *
 * Self-test (AFILE_PC_BREAK=dirsync, and always once at the end): the
 * real run's directory fsyncs return 0 without reaching the kernel; at
 * an acknowledged point the renamed name must then be seen lost.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomicfile.h"
#include "simfs.h"
#include "sys.h"

/* Not in the uapi headers of every distribution (xfs, ext4 and f2fs). */
#ifndef FS_IOC_SHUTDOWN
#define FS_IOC_SHUTDOWN _IOR('X', 125, uint32_t)
#endif
#define GOING_DOWN_FULLSYNC   0u /* freeze (sync everything), then stop */
#define GOING_DOWN_METAFLUSH  1u /* flush the log, not the data */
#define GOING_DOWN_NOLOGFLUSH 2u /* lose what the log has not written */

#define SEED      0x5eedu
#define MAX_EV    8192
#define CUT_EXIT  42
#define NEVER_CUT ULONG_MAX

/* ------------------------------------------------------------------
 * Small helpers: the harness aborts on exhaustion, it is not under test.
 * ------------------------------------------------------------------ */

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

static uint64_t
fnv(const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint64_t h = 14695981039346656037u;

	for (size_t k = 0; k < n; k++)
		h = (h ^ p[k]) * 1099511628211u;
	return h;
}

struct sbuf {
	char *s;
	size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->n;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->n : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < room) {
			b->n += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
}

/* ------------------------------------------------------------------
 * The counting shim over afile__sys
 * ------------------------------------------------------------------ */

enum sid {
	S_OPENAT,
	S_CLOSE,
	S_READ,
	S_WRITE,
	S_PWRITE,
	S_FSYNC,
	S_FDATASYNC,
	S_FSTAT,
	S_FSTATAT,
	S_READLINKAT,
	S_RENAMEAT,
	S_RENAMEAT2,
	S_LINKAT,
	S_UNLINKAT,
	S_FALLOCATE,
	S_FICLONE,
	S_CFR,
	S_FCHMOD,
	S_FCHOWN,
	S_FUTIMENS,
	S_FLISTXATTR,
	S_FGETXATTR,
	S_LLISTXATTR,
	S_LGETXATTR,
	S_FSETXATTR,
	S_SYNCFS,
	S_MKDIRAT,
	S_OPENAT2,
	S_FCNTL_LOCK,
	S_FLOCK,
	S_GETDENTS64,
	S_PREAD,
	S_FTRUNCATE,
	S_N
};

static const char *const sname[S_N] = {"openat", "close", "read", "write",
    "pwrite", "fsync", "fdatasync", "fstat", "fstatat", "readlinkat",
    "renameat", "renameat2", "linkat", "unlinkat", "fallocate", "ficlone",
    "copy_file_range", "fchmod", "fchown", "futimens", "flistxattr",
    "fgetxattr", "llistxattr", "lgetxattr", "fsetxattr", "syncfs", "mkdirat",
    "openat2", "fcntl_lock", "flock", "getdents64", "pread", "ftruncate"};

/*
 * What one run records; in a MAP_SHARED page for the real child, so that
 * the parent reads it after the power cut.
 */
struct trace {
	unsigned int count; /* calls counted so far */
	unsigned int ack;   /* first acknowledged point, UINT_MAX if none */
	int ret;            /* what the workload returned */
	bool done;          /* ...and it did return */
	unsigned char ids[MAX_EV];
};

enum cut { CUT_NOLOG, CUT_META, CUT_FULL, CUT_KILL };
static const char *const cut_name[] = {
    "nologflush", "metaflush", "fullsync", "kill"};

static struct {
	struct afile__sys below;
	struct trace *tr;
	unsigned long cut_at;
	bool hide;       /* hide what simfs lacks (real runs) */
	bool skip_dsync; /* self-test: directory fsyncs do nothing */
	enum cut how;
	int mntfd;
	uint64_t rnd; /* deterministic getrandom, as simfs's */
} S;

static void
power_cut(void)
{
	uint32_t flag;

	if (S.how == CUT_KILL) {
		(void)kill(getpid(), SIGKILL);
		_exit(CUT_EXIT + 1); /* not reached */
	}
	flag = S.how == CUT_NOLOG ? GOING_DOWN_NOLOGFLUSH
	    : S.how == CUT_META   ? GOING_DOWN_METAFLUSH
				  : GOING_DOWN_FULLSYNC;
	if (ioctl(S.mntfd, FS_IOC_SHUTDOWN, &flag) < 0)
		_exit(CUT_EXIT + 2);
	_exit(CUT_EXIT);
}

static void
tick(enum sid id)
{
	struct trace *t = S.tr;

	if (t->count == S.cut_at)
		power_cut();
	if (t->count < MAX_EV)
		t->ids[t->count] = (unsigned char)id;
	t->count++;
}

/* The workload's acknowledgment: from here on, its result is promised. */
static void
pc_acked(void)
{
	if (S.tr && S.tr->ack == UINT_MAX)
		S.tr->ack = S.tr->count;
}

static int
fail_errno(int e)
{
	errno = e;
	return -1;
}

static int
w_openat(int dfd, const char *p, int fl, mode_t m)
{
	tick(S_OPENAT);
	return S.below.openat(dfd, p, fl, m);
}

static int
w_close(int fd)
{
	tick(S_CLOSE);
	return S.below.close(fd);
}

static ssize_t
w_read(int fd, void *b, size_t n)
{
	tick(S_READ);
	return S.below.read(fd, b, n);
}

static ssize_t
w_write(int fd, const void *b, size_t n)
{
	tick(S_WRITE);
	return S.below.write(fd, b, n);
}

static ssize_t
w_pwrite(int fd, const void *b, size_t n, off_t off)
{
	tick(S_PWRITE);
	return S.below.pwrite(fd, b, n, off);
}

static int
w_fsync(int fd)
{
	struct stat st;

	tick(S_FSYNC);
	/* The self-test's broken protocol: a directory sync is skipped. */
	if (S.skip_dsync && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return S.below.fsync(fd);
}

static int
w_fdatasync(int fd)
{
	tick(S_FDATASYNC);
	return S.below.fdatasync(fd);
}

static int
w_fstat(int fd, struct stat *st)
{
	tick(S_FSTAT);
	return S.below.fstat(fd, st);
}

static int
w_fstatat(int dfd, const char *p, struct stat *st, int fl)
{
	tick(S_FSTATAT);
	return S.below.fstatat(dfd, p, st, fl);
}

static ssize_t
w_readlinkat(int dfd, const char *p, char *b, size_t n)
{
	tick(S_READLINKAT);
	return S.below.readlinkat(dfd, p, b, n);
}

static int
w_renameat(int sd, const char *s, int dd, const char *d)
{
	tick(S_RENAMEAT);
	return S.below.renameat(sd, s, dd, d);
}

static int
w_renameat2(int sd, const char *s, int dd, const char *d, unsigned int fl)
{
	tick(S_RENAMEAT2);
	return S.below.renameat2(sd, s, dd, d, fl);
}

static int
w_linkat(int sd, const char *s, int dd, const char *d, int fl)
{
	tick(S_LINKAT);
	return S.below.linkat(sd, s, dd, d, fl);
}

static int
w_unlinkat(int dfd, const char *p, int fl)
{
	tick(S_UNLINKAT);
	return S.below.unlinkat(dfd, p, fl);
}

static int
w_fallocate(int fd, int mode, off_t off, off_t len)
{
	tick(S_FALLOCATE);
	return S.below.fallocate(fd, mode, off, len);
}

static int
w_ficlone(int dst, int src)
{
	tick(S_FICLONE);
	if (S.hide)
		return fail_errno(EOPNOTSUPP);
	return S.below.ficlone(dst, src);
}

static ssize_t
w_cfr(int in, off_t *ioff, int out, off_t *ooff, size_t len, unsigned int fl)
{
	tick(S_CFR);
	if (S.hide)
		return fail_errno(ENOSYS);
	return S.below.copy_file_range(in, ioff, out, ooff, len, fl);
}

static int
w_fchmod(int fd, mode_t m)
{
	tick(S_FCHMOD);
	return S.below.fchmod(fd, m);
}

static int
w_fchown(int fd, uid_t u, gid_t g)
{
	tick(S_FCHOWN);
	return S.below.fchown(fd, u, g);
}

static int
w_futimens(int fd, const struct timespec ts[2])
{
	tick(S_FUTIMENS);
	return S.below.futimens(fd, ts);
}

static ssize_t
w_pread(int fd, void *b, size_t n, off_t off)
{
	tick(S_PREAD);
	return S.below.pread(fd, b, n, off);
}

static int
w_ftruncate(int fd, off_t len)
{
	tick(S_FTRUNCATE);
	return S.below.ftruncate(fd, len);
}

static ssize_t
w_flistxattr(int fd, char *l, size_t n)
{
	tick(S_FLISTXATTR);
	return S.below.flistxattr(fd, l, n);
}

static ssize_t
w_fgetxattr(int fd, const char *name, void *v, size_t n)
{
	tick(S_FGETXATTR);
	return S.below.fgetxattr(fd, name, v, n);
}

static ssize_t
w_llistxattr(const char *p, char *l, size_t n)
{
	tick(S_LLISTXATTR);
	return S.below.llistxattr(p, l, n);
}

static ssize_t
w_lgetxattr(const char *p, const char *name, void *v, size_t n)
{
	tick(S_LGETXATTR);
	return S.below.lgetxattr(p, name, v, n);
}

static int
w_fsetxattr(int fd, const char *name, const void *v, size_t n, int fl)
{
	tick(S_FSETXATTR);
	return S.below.fsetxattr(fd, name, v, n, fl);
}

static int
w_syncfs(int fd)
{
	tick(S_SYNCFS);
	return S.below.syncfs(fd);
}

static int
w_mkdirat(int dfd, const char *p, mode_t m)
{
	tick(S_MKDIRAT);
	return S.below.mkdirat(dfd, p, m);
}

static int
w_openat2(int dfd, const char *p, int fl)
{
	tick(S_OPENAT2);
	if (S.hide)
		return fail_errno(ENOSYS);
	return S.below.openat2_beneath(dfd, p, fl);
}

static int
w_fcntl_lock(int fd, int cmd, struct flock *fl)
{
	tick(S_FCNTL_LOCK);
	return S.below.fcntl_lock(fd, cmd, fl);
}

static int
w_flock(int fd, int op)
{
	tick(S_FLOCK);
	return S.below.flock(fd, op);
}

static ssize_t
w_getdents64(int fd, void *b, size_t n)
{
	tick(S_GETDENTS64);
	return S.below.getdents64(fd, b, n);
}

/* simfs's generator (splitmix64, one output per byte), seeded alike. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static ssize_t
det_getrandom(void *buf, size_t n, unsigned int flags)
{
	unsigned char *p = buf;

	(void)flags;
	for (size_t k = 0; k < n; k++)
		p[k] = (unsigned char)rng_next(&S.rnd);
	return (ssize_t)n;
}

/*
 * Put the shim over whatever afile__sys holds now (the real calls or an
 * installed simfs), recording into @t.  @real: make getrandom
 * deterministic, as simfs's is, and unless @native hide the features
 * simfs lacks.
 */
static void
shim_install(struct trace *t, bool real, bool native, unsigned long cut_at)
{
	memset(t, 0, sizeof(*t));
	t->ack = UINT_MAX;
	S.tr = t;
	S.cut_at = cut_at;
	S.hide = real && !native;
	S.below = afile__sys;
	afile__sys.openat = w_openat;
	afile__sys.close = w_close;
	afile__sys.read = w_read;
	afile__sys.write = w_write;
	afile__sys.pwrite = w_pwrite;
	afile__sys.fsync = w_fsync;
	afile__sys.fdatasync = w_fdatasync;
	afile__sys.fstat = w_fstat;
	afile__sys.fstatat = w_fstatat;
	afile__sys.readlinkat = w_readlinkat;
	afile__sys.renameat = w_renameat;
	afile__sys.renameat2 = w_renameat2;
	afile__sys.linkat = w_linkat;
	afile__sys.unlinkat = w_unlinkat;
	afile__sys.fallocate = w_fallocate;
	afile__sys.ficlone = w_ficlone;
	afile__sys.copy_file_range = w_cfr;
	afile__sys.fchmod = w_fchmod;
	afile__sys.fchown = w_fchown;
	afile__sys.futimens = w_futimens;
	afile__sys.flistxattr = w_flistxattr;
	afile__sys.fgetxattr = w_fgetxattr;
	afile__sys.llistxattr = w_llistxattr;
	afile__sys.lgetxattr = w_lgetxattr;
	afile__sys.fsetxattr = w_fsetxattr;
	afile__sys.syncfs = w_syncfs;
	afile__sys.mkdirat = w_mkdirat;
	afile__sys.openat2_beneath = w_openat2;
	afile__sys.fcntl_lock = w_fcntl_lock;
	afile__sys.flock = w_flock;
	afile__sys.getdents64 = w_getdents64;
	afile__sys.pread = w_pread;
	afile__sys.ftruncate = w_ftruncate;
	if (real) {
		S.rnd = SEED;
		afile__sys.getrandom = det_getrandom;
	}
}

static void
shim_uninstall(void)
{
	afile__sys = S.below;
	S.tr = NULL;
}

/* ------------------------------------------------------------------
 * Workloads
 * ------------------------------------------------------------------ */

#define ROOT "d"
#define ADIR ROOT "/.atomicfile"
#define BIG  9000

static char old_s[100], new_s[200], old_f[BIG], new_f[BIG], old_a[1500],
    new_a[2200], old_b[600], new_b[700], new_n[300], patch_buf[600];
static const char other[] = "unrelated, never touched";
static const char old_g[] = "the old g, to be renamed over f";
static const char old_c[] = "c, to be removed";
static const char old_r[] = "r, to be renamed into sub/";

static void
fill(char *b, size_t n, char first, unsigned int period)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (char)(first + (int)(i % period));
}

static void
init_buffers(void)
{
	fill(old_s, sizeof(old_s), 'a', 26);
	fill(new_s, sizeof(new_s), 'A', 26);
	fill(old_f, sizeof(old_f), '0', 10);
	fill(new_f, sizeof(new_f), 'k', 13);
	fill(old_a, sizeof(old_a), 'b', 19);
	fill(new_a, sizeof(new_a), 'B', 21);
	fill(old_b, sizeof(old_b), 'c', 7);
	fill(new_b, sizeof(new_b), 'C', 11);
	fill(new_n, sizeof(new_n), 'n', 5);
	fill(patch_buf, sizeof(patch_buf), 'P', 3);
}

/* The setup tree: directories have data == NULL. */
struct entry {
	const char *path;
	const char *data;
	size_t len;
	mode_t mode;
};

static const struct entry tree[] = {
    {ROOT, NULL, 0, 0755},
    {ROOT "/sub", NULL, 0, 0755},
    {ROOT "/other", other, sizeof(other), 0644},
    {ROOT "/s", old_s, sizeof(old_s), 0600},
    {ROOT "/f", old_f, sizeof(old_f), 0644},
    {ROOT "/g", old_g, sizeof(old_g), 0640},
    {ROOT "/a", old_a, sizeof(old_a), 0644},
    {ROOT "/sub/b", old_b, sizeof(old_b), 0644},
    {ROOT "/c", old_c, sizeof(old_c), 0644},
    {ROOT "/r", old_r, sizeof(old_r), 0644},
};
#define N_TREE (sizeof(tree) / sizeof(tree[0]))

static const struct afile_opts full = {
    .size = sizeof(struct afile_opts), .sync = AFILE_SYNC_FULL};

static int
run_replace_small(void)
{
	return afile_write(AT_FDCWD, ROOT "/s", new_s, sizeof(new_s), 0, &full);
}

static int
run_replace_big(void)
{
	return afile_write(AT_FDCWD, ROOT "/f", new_f, sizeof(new_f), 0, &full);
}

static int
run_create(void)
{
	return afile_write(
	    AT_FDCWD, ROOT "/n", new_n, sizeof(new_n), AFILE_NOREPLACE, &full);
}

static int
run_remove(void)
{
	return afile_remove(AT_FDCWD, ROOT "/c", 0, &full);
}

static int
run_rename_over(void)
{
	return afile_rename(AT_FDCWD, ROOT "/g", AT_FDCWD, ROOT "/f", 0, &full);
}

static int
run_patch(void)
{
	/* 600 bytes across the first 4 KiB block boundary. */
	return afile_patch(
	    AT_FDCWD, ROOT "/f", 4000, patch_buf, sizeof(patch_buf), 0, &full);
}

static int
run_patch_inplace(void)
{
	/* Two ranges, across 4 KiB block boundaries, the second growing f. */
	const struct afile_range rg[] = {
	    {4000, patch_buf, sizeof(patch_buf)},
	    {BIG - 100, patch_buf, sizeof(patch_buf)},
	};

	return afile_patchv(AT_FDCWD, ROOT "/f", rg, 2, AFILE_INPLACE, &full);
}

static int
run_copy(void)
{
	return afile_copy(AT_FDCWD, ROOT "/a", AT_FDCWD, ROOT "/s", 0, &full);
}

static int
run_txn(void)
{
	struct afile_txn *t;
	int r = afile_txn_begin(AT_FDCWD, ROOT, 0, &full, &t);

	if (r)
		return r;
	r = afile_txn_put(t, "a", new_a, sizeof(new_a), 0);
	if (!r)
		r = afile_txn_put(t, "sub/b", new_b, sizeof(new_b), 0);
	if (!r)
		r = afile_txn_create(t, "n", new_n, sizeof(new_n), 0);
	if (!r)
		r = afile_txn_remove(t, "c", 0);
	if (!r)
		r = afile_txn_rename(t, "r", "sub/r", 0);
	if (!r)
		r = afile_txn_commit(t);
	if (!r)
		pc_acked();
	afile_txn_free(t);
	return r;
}

static int
run_batch(void)
{
	const struct afile_item items[] = {
	    {ROOT "/a", new_a, sizeof(new_a)},
	    {ROOT "/sub/b", new_b, sizeof(new_b)},
	    {ROOT "/n", new_n, sizeof(new_n)},
	};

	return afile_write_many(AT_FDCWD, items, 3, 0, &full);
}

struct workload {
	const char *name;
	int (*run)(void);
	bool per_item; /* each file old or new on its own (a batch) */
	bool big;      /* left out of the self-test */
	/*
	 * Let the real run use every kernel feature (FICLONE on xfs and
	 * btrfs, copy_file_range on ext4): its trace then differs from
	 * simfs's, and its states are judged against the union.
	 */
	bool native;
};

static const struct workload workloads[] = {
    {"replace-small", run_replace_small, false, false, false},
    {"replace-big", run_replace_big, false, false, false},
    {"create", run_create, false, false, false},
    {"remove", run_remove, false, false, false},
    {"rename-over", run_rename_over, false, false, false},
    {"patch", run_patch, false, false, false},
    {"patch-inplace", run_patch_inplace, false, false, false},
    {"copy", run_copy, false, false, false},
    {"txn", run_txn, false, true, false},
    {"batch", run_batch, true, true, false},
    {"patch-native", run_patch, false, true, true},
    {"copy-native", run_copy, false, true, true},
};
#define N_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

/* ------------------------------------------------------------------
 * Canonical description of d/, through whatever afile__sys holds
 * ------------------------------------------------------------------ */

static bool
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && !strcmp(s + n - m, suf);
}

static void
render(struct sbuf *b, const unsigned char *p, size_t n)
{
	if (n > 24) {
		sb_add(b, "%zu:%016" PRIx64, n, fnv(p, n));
		return;
	}
	sb_add(b, "\"");
	for (size_t k = 0; k < n; k++)
		sb_add(b,
		    p[k] >= 0x20 && p[k] < 0x7f && p[k] != '"' ? "%c"
							       : "\\x%02x",
		    p[k]);
	sb_add(b, "\"");
}

struct lines {
	char **v;
	size_t n;
};

static void
lines_add(struct lines *l, char *s)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = s;
}

static char *
read_all(const char *path, size_t *len)
{
	int fd = afile__sys.openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	char *buf = NULL;
	size_t n = 0, cap = 0;
	ssize_t got;

	if (fd < 0)
		return NULL;
	do {
		if (cap - n < 4096) {
			cap = cap * 2 + 8192;
			buf = xrealloc(buf, cap);
		}
		got = afile__sys.read(fd, buf + n, cap - n);
		if (got > 0)
			n += (size_t)got;
	} while (got > 0);
	(void)afile__sys.close(fd);
	if (got < 0) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* One line per entry beneath @dir, recursively; lock sidecars skipped. */
static void
walk(const char *dir, struct lines *out)
{
	int fd = afile__sys.openat(
	    AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	char buf[8192];
	struct lines names = {0};
	ssize_t n;

	if (fd < 0) {
		struct sbuf b = {0};

		sb_add(&b, "%s/ <unreadable %d>", dir, errno);
		lines_add(out, b.s);
		return;
	}
	while ((n = afile__sys.getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t o = 0; o < n;) {
			struct dirent64 *de = (struct dirent64 *)(buf + o);

			o += de->d_reclen;
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, "..") ||
			    has_suffix(de->d_name, ".afile-lock"))
				continue;
			/* A retired (empty) undo record is no state. */
			if (has_suffix(de->d_name, ".afile-undo")) {
				struct stat ust;
				struct sbuf up = {0};

				sb_add(&up, "%s/%s", dir, de->d_name);
				if (afile__sys.fstatat(AT_FDCWD, up.s, &ust,
					AT_SYMLINK_NOFOLLOW) == 0 &&
				    ust.st_size == 0) {
					free(up.s);
					continue;
				}
				free(up.s);
			}
			lines_add(&names, xstrdup(de->d_name));
		}
	}
	(void)afile__sys.close(fd);
	for (size_t i = 0; i < names.n; i++) {
		struct sbuf b = {0};
		struct stat st;
		char *data;
		size_t len = 0;

		sb_add(&b, "%s/%s", dir, names.v[i]);
		free(names.v[i]);
		if (afile__sys.fstatat(
			AT_FDCWD, b.s, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			sb_add(&b, " <stat %d>", errno);
			lines_add(out, b.s);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			char *sub = xstrdup(b.s);

			sb_add(
			    &b, "/ %04o", (unsigned int)(st.st_mode & 07777));
			lines_add(out, b.s);
			walk(sub, out);
			free(sub);
			continue;
		}
		data = S_ISREG(st.st_mode) ? read_all(b.s, &len) : NULL;
		sb_add(&b, " %04o ", (unsigned int)(st.st_mode & 07777));
		if (!S_ISREG(st.st_mode))
			sb_add(
			    &b, "<type %o>", (unsigned int)(st.st_mode >> 12));
		else if (data)
			render(&b, (unsigned char *)data, len);
		else
			sb_add(&b, "<unreadable>");
		free(data);
		lines_add(out, b.s);
	}
	free(names.v);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* d/ as one string: sorted lines joined by "; ", after a @head line. */
static char *
describe(const char *head)
{
	struct lines l = {0};
	struct sbuf b = {0};

	walk(ROOT, &l);
	qsort(l.v, l.n, sizeof(*l.v), cmp_str);
	sb_add(&b, "%s", head);
	for (size_t i = 0; i < l.n; i++) {
		sb_add(&b, "; %s", l.v[i]);
		free(l.v[i]);
	}
	free(l.v);
	return b.s;
}

/*
 * Recovery as the next process runs it, then the description.  The
 * recovery's result is part of it: the model must predict that too.
 */
static char *
recover_describe(void)
{
	struct afile_recover_report rep = {.size = sizeof(rep)};
	struct sbuf h = {0};
	int r, c1, c2;
	char *d;

	r = afile_recover(AT_FDCWD, ROOT, 0, &rep);
	/* An interrupted in-place patch of f is undone (its result: 0 or 1). */
	if (r == 0) {
		int u = afile_patch_recover(AT_FDCWD, ROOT "/f", 0, NULL);

		if (u < 0 && u != -ENOENT)
			r = u;
	}
	c1 = afile_cleanup(AT_FDCWD, ROOT, 0, 0, NULL);
	c2 = afile_cleanup(AT_FDCWD, ROOT "/sub", 0, 0, NULL);
	sb_add(&h, "recover=%s/%d cleanup=%s,%s", afile_err_name(r),
	    r ? -1 : rep.action, afile_err_name(c1), afile_err_name(c2));
	d = describe(h.s);
	free(h.s);
	return d;
}

/* The same on the real mount, with simfs's getrandom sequence. */
static char *
recover_describe_real(const char *mnt)
{
	struct afile__sys saved = afile__sys;
	char *d;

	if (chdir(mnt) < 0) {
		perror(mnt);
		exit(2);
	}
	S.rnd = SEED;
	afile__sys.getrandom = det_getrandom;
	d = recover_describe();
	afile__sys = saved;
	if (chdir("/") < 0)
		abort();
	return d;
}

/* ------------------------------------------------------------------
 * The model: simfs states, recovered and described
 * ------------------------------------------------------------------ */

struct set {
	uint64_t *h;
	char **text;
	size_t n;
	bool done, exhaustive;
	uint64_t states;
};

static bool
set_has(const struct set *s, uint64_t h)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->h[i] == h)
			return true;
	return false;
}

static void
set_add(struct set *s, const char *text)
{
	uint64_t h = fnv(text, strlen(text));

	if (set_has(s, h))
		return;
	s->h = xrealloc(s->h, (s->n + 1) * sizeof(*s->h));
	s->text = xrealloc(s->text, (s->n + 1) * sizeof(*s->text));
	s->h[s->n] = h;
	s->text[s->n++] = xstrdup(text);
}

static void
set_free(struct set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->text[i]);
	free(s->h);
	free(s->text);
	memset(s, 0, sizeof(*s));
}

struct model {
	struct simfs *fs;
	struct trace tr;
	unsigned int total;
	char *old_tree, *new_tree; /* volatile d/ before and after the run */
	struct set *at;            /* per crash point, computed lazily */
	struct set uni;
};

static void
setup_sim(struct simfs *fs)
{
	for (size_t i = 0; i < N_TREE; i++) {
		const struct entry *e = &tree[i];

		if (!e->data)
			(void)simfs_mkdir(fs, e->path, e->mode);
		else
			(void)simfs_put(fs, e->path, e->data, e->len, e->mode);
	}
}

static void
model_record(const struct workload *w, struct model *m)
{
	struct simfs_opts o = {.seed = SEED};

	memset(m, 0, sizeof(*m));
	m->fs = simfs_new(&o);
	setup_sim(m->fs);
	simfs_install(m->fs);
	m->old_tree = describe("");
	simfs_sync_all(m->fs);
	shim_install(&m->tr, false, false, NEVER_CUT);
	m->tr.ret = w->run();
	m->tr.done = true;
	shim_uninstall();
	m->total = m->tr.count;
	if (m->total != simfs_events(m->fs) || m->total >= MAX_EV) {
		printf("FAIL powercut workload=%s: the shim counted %u calls, "
		       "simfs %zu events: numbering differs\n",
		    w->name, m->total, simfs_events(m->fs));
		exit(1);
	}
	m->new_tree = describe("");
	simfs_install(NULL);
	m->at = calloc(m->total + 1, sizeof(*m->at));
	if (!m->at)
		abort();
}

static int
visit(struct simfs *crashed, size_t index, void *arg)
{
	struct set *s = arg;
	char *d;

	(void)index;
	simfs_install(crashed);
	d = recover_describe();
	simfs_install(NULL);
	set_add(s, d);
	free(d);
	return 0;
}

static struct set *
model_at(struct model *m, unsigned int p)
{
	struct set *s = &m->at[p];

	if (!s->done) {
		s->exhaustive = simfs_pending(m->fs, p) <= SIMFS_EXHAUSTIVE_MAX;
		(void)simfs_each_state(m->fs, p, visit, s, &s->states);
		s->done = true;
	}
	return s;
}

static struct set *
model_union(struct model *m)
{
	if (!m->uni.done) {
		m->uni.exhaustive = true;
		for (unsigned int p = 0; p <= m->total; p++) {
			struct set *s = model_at(m, p);

			for (size_t i = 0; i < s->n; i++)
				set_add(&m->uni, s->text[i]);
			m->uni.exhaustive &= s->exhaustive;
			m->uni.states += s->states;
		}
		m->uni.done = true;
	}
	return &m->uni;
}

static void
model_free(struct model *m)
{
	for (unsigned int p = 0; p <= m->total; p++)
		set_free(&m->at[p]);
	free(m->at);
	set_free(&m->uni);
	free(m->old_tree);
	free(m->new_tree);
	simfs_free(m->fs);
}

/* ------------------------------------------------------------------
 * The invariants, on descriptions
 * ------------------------------------------------------------------ */

/*
 * A description as (path, rest of its line) pairs, for the user's view
 * only: the recovery's head line and .atomicfile/ (the library's) are
 * left out, temps and every other name stay.
 */
struct kv {
	char *k, *v;
};

static size_t
parse(const char *d, struct kv **ret)
{
	char *copy = xstrdup(d), *save = NULL, *tok;
	struct kv *v = NULL;
	size_t n = 0;

	for (tok = strtok_r(copy, ";", &save); tok;
	     tok = strtok_r(NULL, ";", &save)) {
		char *sp;

		while (*tok == ' ')
			tok++;
		if (strncmp(tok, ROOT "/", sizeof(ROOT)) ||
		    !strncmp(tok, ADIR, sizeof(ADIR) - 1))
			continue;
		sp = strchr(tok, ' ');
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n].k = sp ? strndup(tok, (size_t)(sp - tok)) : xstrdup(tok);
		v[n].v = xstrdup(sp ? sp + 1 : "");
		if (!v[n].k)
			abort();
		n++;
	}
	free(copy);
	*ret = v;
	return n;
}

static const char *
lookup(const struct kv *v, size_t n, const char *k)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].k, k))
			return v[i].v;
	return NULL;
}

static bool
same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void
kv_free(struct kv *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].k);
		free(v[i].v);
	}
	free(v);
}

/* NULL, or what is wrong with observed tree @obs. */
static const char *
invariants(const struct workload *w, const struct model *m, const char *obs,
    bool acked)
{
	static char why[256];
	struct kv *o, *n, *x;
	size_t no = parse(m->old_tree, &o), nn = parse(m->new_tree, &n),
	       nx = parse(obs, &x);
	bool all_old = true, all_new = true;
	const struct kv *lists[3] = {o, n, x};
	const size_t counts[3] = {no, nn, nx};

	why[0] = '\0';
	if (strncmp(obs, "recover=OK/", 11) || !strstr(obs, "cleanup=OK,OK"))
		(void)snprintf(why, sizeof(why), "recovery or cleanup failed");
	for (int l = 0; l < 3 && !why[0]; l++) {
		for (size_t i = 0; i < counts[l] && !why[0]; i++) {
			const char *k = lists[l][i].k;
			const char *vo = lookup(o, no, k),
				   *vn = lookup(n, nn, k),
				   *vx = lookup(x, nx, k);

			all_old &= same(vo, vx);
			all_new &= same(vn, vx);
			if (!same(vo, vx) && !same(vn, vx))
				(void)snprintf(why, sizeof(why),
				    "%s is neither old nor new", k);
		}
	}
	if (!why[0] && !w->per_item && !all_old && !all_new)
		(void)snprintf(why, sizeof(why),
		    "a mix of old and new files (not atomic)");
	if (!why[0] && acked && !all_new)
		(void)snprintf(why, sizeof(why),
		    "acknowledged, but not the new state after recovery");
	kv_free(o, no);
	kv_free(n, nn);
	kv_free(x, nx);
	return why[0] ? why : NULL;
}

/* ------------------------------------------------------------------
 * The real file system
 * ------------------------------------------------------------------ */

static struct {
	const char *config, *fstype, *dev, *opts, *mnt, *method, *img, *copy,
	    *cmnt, *rerun;
} A = {.opts = "", .rerun = "powercut.sh"};

static bool copy_method;

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (remove(p) < 0 && errno != ENOENT) {
		fprintf(stderr, "powercut: remove %s (flag %d): %s\n", p, flag,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
die(const char *what)
{
	printf("FAIL powercut config=%s: %s: %s\n", A.config, what,
	    strerror(errno));
	exit(1);
}

/* Rebuild d/ on the real mount, durably. */
static void
reset_real(void)
{
	char path[PATH_MAX];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s", A.mnt, ROOT);
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		die("remove the old tree");
	for (size_t i = 0; i < N_TREE; i++) {
		const struct entry *e = &tree[i];

		(void)snprintf(path, sizeof(path), "%s/%s", A.mnt, e->path);
		if (!e->data) {
			if (mkdir(path, e->mode) < 0)
				die("mkdir");
			continue;
		}
		fd = open(
		    path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, e->mode);
		if (fd < 0 || write(fd, e->data, e->len) != (ssize_t)e->len ||
		    fchmod(fd, e->mode) < 0 || close(fd) < 0)
			die("write the setup tree");
	}
	fd = open(A.mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0 || close(fd) < 0)
		die("syncfs after setup");
}

static void
do_mount(const char *dev, const char *mnt)
{
	if (mount(dev, mnt, A.fstype, 0, A.opts[0] ? A.opts : NULL) < 0)
		die("mount");
}

static void
do_umount(const char *mnt)
{
	for (int i = 0; umount2(mnt, 0) < 0; i++) {
		if (errno != EBUSY || i == 50)
			die("umount");
		(void)usleep(20000);
	}
}

/* Copy the backing image as it is now, holes kept. */
static void
copy_image(void)
{
	int in = open(A.img, O_RDONLY | O_CLOEXEC), out;
	static char buf[1 << 20];
	struct stat st;
	off_t pos = 0, end;

	(void)unlink(A.copy);
	out = open(A.copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (in < 0 || out < 0 || fstat(in, &st) < 0 ||
	    ftruncate(out, st.st_size) < 0)
		die("copy the image");
	while ((pos = lseek(in, pos, SEEK_DATA)) >= 0) {
		end = lseek(in, pos, SEEK_HOLE);
		if (end < 0)
			die("SEEK_HOLE");
		while (pos < end) {
			size_t want = (size_t)(end - pos) < sizeof(buf)
			    ? (size_t)(end - pos)
			    : sizeof(buf);
			ssize_t n = pread(in, buf, want, pos);

			if (n <= 0 || pwrite(out, buf, (size_t)n, pos) != n)
				die("copy the image");
			pos += n;
		}
	}
	if (errno != ENXIO)
		die("SEEK_DATA");
	(void)close(in);
	if (close(out) < 0)
		die("copy the image");
}

/*
 * Attach the copy to a free loop device that detaches itself when the
 * mount lets go (LO_FLAGS_AUTOCLEAR), and mount it.
 */
static void
mount_copy(void)
{
	struct loop_config cfg;
	char dev[64];
	int ctl, lfd = -1, ffd, n;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	ffd = open(A.copy, O_RDWR | O_CLOEXEC);
	if (ctl < 0 || ffd < 0)
		die("open the loop control or the copy");
	for (int tries = 0;; tries++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			die("LOOP_CTL_GET_FREE");
		(void)snprintf(dev, sizeof(dev), "/dev/loop%d", n);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			die("open the loop device");
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (unsigned int)ffd;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		(void)snprintf((char *)cfg.info.lo_file_name,
		    sizeof(cfg.info.lo_file_name), "%s", A.copy);
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
			break;
		/* Another process took it meanwhile: try the next one. */
		if (errno != EBUSY || tries == 20)
			die("LOOP_CONFIGURE");
		(void)close(lfd);
	}
	(void)close(ffd);
	(void)close(ctl);
	do_mount(dev, A.cmnt);
	(void)close(lfd);
}

/* ------------------------------------------------------------------
 * One power cut
 * ------------------------------------------------------------------ */

static struct trace *shared;

struct outcome {
	char *tree; /* after remount and recovery */
	bool acked; /* the crash point follows the acknowledgment */
};

/* AFILE_PC_BREAK=dirsync: the whole sweep runs the broken protocol. */
static bool break_all;

/*
 * Run @w on the real mount, cut the power before call @n (NEVER_CUT:
 * after the workload returned), bring the file system back and recover.
 */
static void
cut_once(const struct workload *w, unsigned long n, enum cut how, bool broken,
    struct outcome *out)
{
	int status;
	pid_t pid;

	reset_real();
	memset(shared, 0, sizeof(*shared));
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (chdir(A.mnt) < 0)
			_exit(3);
		S.mntfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (S.mntfd < 0)
			_exit(3);
		S.how = how;
		shim_install(shared, true, w->native, n);
		S.skip_dsync = broken || break_all;
		shared->ret = w->run();
		shared->done = true;
		power_cut();
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (how == CUT_KILL
		? !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		: !(WIFEXITED(status) && WEXITSTATUS(status) == CUT_EXIT)) {
		printf("FAIL powercut config=%s workload=%s point=%lu: the "
		       "child did not cut the power (status 0x%x; %s); rerun: "
		       "AFILE_PC_ONLY=%s:%lu:%s %s\n",
		    A.config, w->name, n, (unsigned int)status,
		    WIFEXITED(status) && WEXITSTATUS(status) == CUT_EXIT + 2
			? "the shutdown ioctl failed"
			: "see above",
		    w->name, n, cut_name[how], A.rerun);
		exit(1);
	}
	out->acked =
	    shared->count >= shared->ack || (shared->done && shared->ret == 0);
	if (!copy_method) {
		do_umount(A.mnt);
		do_mount(A.dev, A.mnt);
		out->tree = recover_describe_real(A.mnt);
		return;
	}
	copy_image();
	mount_copy();
	out->tree = recover_describe_real(A.cmnt);
	do_umount(A.cmnt);
}

/* ------------------------------------------------------------------
 * The sweep
 * ------------------------------------------------------------------ */

static struct {
	unsigned long cuts, exact, uni, outside, broken, cuts_by[4];
	unsigned long sampled_outside; /* outside a non-exhaustive set */
	unsigned long sampled;         /* cuts judged by a sampled set */
} C;

static bool
same_prefix(const struct trace *a, const struct trace *b, unsigned int n)
{
	if (a->count < n || b->count < n)
		return false;
	return !memcmp(a->ids, b->ids, n);
}

static void
print_trace_diff(
    const struct workload *w, const struct trace *real, const struct model *m)
{
	unsigned int k = 0;

	while (k < real->count && k < m->total && real->ids[k] == m->tr.ids[k])
		k++;
	printf("note: workload=%s: real trace (%u calls) and simfs trace "
	       "(%u calls) differ from call %u: real %s, simfs %s\n",
	    w->name, real->count, m->total, k,
	    k < real->count ? sname[real->ids[k]] : "<end>",
	    k < m->total ? sname[m->tr.ids[k]] : "<end>");
}

/* Check one power cut at point @n (of @total) against the model. */
static int
judge(const struct workload *w, struct model *m, unsigned int n,
    unsigned int total, enum cut how, struct outcome *out)
{
	/*
	 * The run just cut (in shared) against the simfs trace.  (The
	 * btrfs copy method once showed an in-place patch new at point 21
	 * where only the old is allowed: the undo record compared st_dev,
	 * which btrfs changes at every mount, so recovery took the record
	 * for another file's and kept half a patch.  Fixed in inplace.c;
	 * judged per point again.)
	 */
	bool exact = n <= m->total && same_prefix(shared, &m->tr, n);
	struct set *s = exact ? model_at(m, n) : model_union(m);
	uint64_t h = fnv(out->tree, strlen(out->tree));
	const char *why = invariants(w, m, out->tree, out->acked);
	int bad = 0;

	C.cuts++;
	C.cuts_by[how]++;
	if (exact)
		C.exact++;
	else
		C.uni++;
	if (!s->exhaustive)
		C.sampled++;
	if (!set_has(s, h)) {
		C.outside++;
		if (!s->exhaustive)
			C.sampled_outside++;
		printf("FAIL powercut config=%s fs=%s opts=%s cut=%s "
		       "workload=%s point=%u/%u trace=%s acked=%d: state "
		       "outside the model (allowed: %zu distinct of %" PRIu64
		       " states, %s); observed: %s; rerun: "
		       "%sAFILE_PC_ONLY=%s:%u:%s %s\n",
		    A.config, A.fstype, A.opts[0] ? A.opts : "defaults",
		    cut_name[how], w->name, n, total, exact ? "exact" : "union",
		    out->acked, s->n, s->states,
		    s->exhaustive ? "exhaustive" : "sampled", out->tree,
		    break_all ? "AFILE_PC_BREAK=dirsync " : "", w->name, n,
		    cut_name[how], A.rerun);
		for (size_t i = 0; i < s->n && i < 4; i++)
			printf("  allowed[%zu]: %s\n", i, s->text[i]);
		bad = 1;
	}
	if (why) {
		printf("FAIL powercut config=%s fs=%s opts=%s cut=%s "
		       "workload=%s point=%u/%u acked=%d: %s; observed: %s; "
		       "rerun: %sAFILE_PC_ONLY=%s:%u:%s %s\n",
		    A.config, A.fstype, A.opts[0] ? A.opts : "defaults",
		    cut_name[how], w->name, n, total, out->acked, why,
		    out->tree, break_all ? "AFILE_PC_BREAK=dirsync " : "",
		    w->name, n, cut_name[how], A.rerun);
		C.broken++;
		bad = 1;
	}
	return bad;
}

static unsigned int
soak(void)
{
	const char *s = getenv("AFILE_SOAK");
	long k = s ? strtol(s, NULL, 10) : 1;

	return k > 1 ? (unsigned int)k : 1;
}

static uint64_t sample_rng = SEED;

/*
 * One workload: its model, a reference run (cut after the end), then a
 * cut at every point with @main, and at a seeded sample of @extra points
 * with each cut in @alt.
 */
static int
sweep(const struct workload *w, const char *only_point, const char *only_cut)
{
	static struct trace ref;
	struct model m;
	struct outcome out;
	unsigned int total;
	enum cut main_cut = copy_method ? CUT_KILL : CUT_NOLOG;
	int bad = 0;
	unsigned long before = C.cuts;

	model_record(w, &m);
	if (m.tr.ret != 0) {
		printf("FAIL powercut workload=%s: the call failed on simfs: "
		       "%s\n",
		    w->name, afile_err_name(m.tr.ret));
		return 1;
	}

	/* The reference: the whole workload, then the cut (acknowledged). */
	cut_once(w, NEVER_CUT, main_cut, false, &out);
	ref = *shared;
	total = ref.count;
	if (!ref.done || ref.ret != 0 || total >= MAX_EV) {
		printf("FAIL powercut config=%s workload=%s: the call failed "
		       "on the real file system: %s; rerun: AFILE_PC_ONLY=%s "
		       "%s\n",
		    A.config, w->name, afile_err_name(ref.ret), w->name,
		    A.rerun);
		free(out.tree);
		model_free(&m);
		return 1;
	}
	if (ref.count != m.total || !same_prefix(&ref, &m.tr, total))
		print_trace_diff(w, &ref, &m);

	if (only_point) {
		unsigned long n = strtoul(only_point, NULL, 10);
		enum cut how = main_cut;

		for (int c = 0; c < 4 && only_cut; c++)
			if (!strcmp(only_cut, cut_name[c]))
				how = (enum cut)c;
		free(out.tree);
		cut_once(w, n >= total ? NEVER_CUT : n, how, false, &out);
		bad |= judge(
		    w, &m, n >= total ? total : (unsigned)n, total, how, &out);
		printf("observed: %s\nold: %s\nnew: %s\n", out.tree, m.old_tree,
		    m.new_tree);
		free(out.tree);
		model_free(&m);
		return bad;
	}

	bad |= judge(w, &m, total, total, main_cut, &out);
	free(out.tree);
	/*
	 * The copy method has no second cut states (below), so it sweeps
	 * twice: a real file system's timing (commits, writeback) differs
	 * between runs, and the count reaches 500 cuts per file system.
	 */
	for (unsigned int round = 0; round < soak() * (copy_method ? 2 : 1);
	     round++) {
		for (unsigned int n = 0; n < total; n++) {
			cut_once(w, n, main_cut, false, &out);
			bad |= judge(w, &m, n, total, main_cut, &out);
			free(out.tree);
		}
	}
	/*
	 * The second states: the log flushed (METAFLUSH) and everything
	 * written (FULLSYNC, a process crash in effect), at a seeded sample.
	 */
	if (!copy_method) {
		unsigned int extra = 3 * soak();

		for (unsigned int i = 0; i < 2 * extra; i++) {
			unsigned int n =
			    (unsigned int)(rng_next(&sample_rng) % (total + 1));
			enum cut how = i % 2 ? CUT_FULL : CUT_META;

			cut_once(
			    w, n == total ? NEVER_CUT : n, how, false, &out);
			bad |= judge(w, &m, n, total, how, &out);
			free(out.tree);
		}
	}
	printf("%-14s calls=%u simfs-events=%u cuts=%lu%s\n", w->name, total,
	    m.total, C.cuts - before,
	    ref.count == m.total && same_prefix(&ref, &m.tr, total)
		? ""
		: " (traces differ: see note)");
	model_free(&m);
	return bad;
}

/*
 * Self-test: with the directory fsyncs skipped (a broken protocol), an
 * acknowledged rename must be seen lost after the cut.  The file's own
 * sync commits the log only up to the temp's data, so the rename stays
 * in the unwritten log.  The cut is right after the call, so a periodic
 * commit in between is unlikely but possible: the broken protocol must
 * be caught in at least one of the single-file workloads.
 */
static int
self_test(void)
{
	enum cut how = copy_method ? CUT_KILL : CUT_NOLOG;
	unsigned int caught = 0, tried = 0;

	for (size_t i = 0; i < N_WORKLOADS; i++) {
		const struct workload *w = &workloads[i];
		struct model m;
		struct outcome out;
		const char *why;

		if (w->big)
			continue;
		model_record(w, &m);
		cut_once(w, NEVER_CUT, how, true, &out);
		why = invariants(w, &m, out.tree, out.acked);
		tried++;
		if (why) {
			caught++;
			printf("EXPECTED (self-test, directory fsync skipped) "
			       "powercut config=%s workload=%s: %s; "
			       "observed: %s\n",
			    A.config, w->name, why, out.tree);
		}
		free(out.tree);
		model_free(&m);
	}
	printf("self-test: skipping the directory fsync was caught in %u "
	       "of %u workloads\n",
	    caught, tried);
	if (!caught) {
		printf("FAIL powercut config=%s: self-test: with the directory "
		       "fsync skipped no violation was seen: the check is "
		       "blind; rerun: %s\n",
		    A.config, A.rerun);
		return 1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: powercut config=NAME fstype=FS dev=DEV mnt=DIR "
	    "[opts=MOUNT-OPTIONS] method=shutdown|copy [img=IMG copy=IMG "
	    "cmnt=DIR] [rerun=COMMAND]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *only = getenv("AFILE_PC_ONLY");
	const char *brk = getenv("AFILE_PC_BREAK");
	char *only_w = NULL, *only_p = NULL, *only_c = NULL;
	int bad = 0;

	for (int i = 1; i < argc; i++) {
		static const struct {
			const char *key;
			const char **dst;
		} keys[] = {{"config=", &A.config}, {"fstype=", &A.fstype},
		    {"dev=", &A.dev}, {"opts=", &A.opts}, {"mnt=", &A.mnt},
		    {"method=", &A.method}, {"img=", &A.img},
		    {"copy=", &A.copy}, {"cmnt=", &A.cmnt},
		    {"rerun=", &A.rerun}};
		size_t k;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t l = strlen(keys[k].key);

			if (!strncmp(argv[i], keys[k].key, l)) {
				*keys[k].dst = argv[i] + l;
				break;
			}
		}
		if (k == sizeof(keys) / sizeof(keys[0]))
			usage();
	}
	if (!A.config || !A.fstype || !A.dev || !A.mnt || !A.method)
		usage();
	copy_method = !strcmp(A.method, "copy");
	if (copy_method && (!A.img || !A.copy || !A.cmnt))
		usage();

	/* Modes as asked, in the real run and in simfs alike. */
	umask(0);
	init_buffers();
	setvbuf(stdout, NULL, _IOLBF, 0);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		die("mmap");
	if (only) {
		only_w = xstrdup(only);
		only_p = strchr(only_w, ':');
		if (only_p) {
			*only_p++ = '\0';
			only_c = strchr(only_p, ':');
			if (only_c)
				*only_c++ = '\0';
		}
	}

	/* The whole sweep against a broken protocol: must FAIL. */
	break_all = brk && !strcmp(brk, "dirsync");

	for (size_t i = 0; i < N_WORKLOADS; i++) {
		if (only_w && strcmp(only_w, workloads[i].name))
			continue;
		bad |= sweep(&workloads[i], only_p, only_c);
	}
	if (!only_w)
		bad |= self_test();

	printf("powercut-%s: %lu power cuts (%s %lu, metaflush %lu, "
	       "fullsync %lu), %lu matched per point, %lu against the union, "
	       "%lu states outside the model (%lu of %lu against a sampled "
	       "set), %lu invariant violations: %s\n",
	    A.config, C.cuts, copy_method ? "sigkill+copy" : "nologflush",
	    copy_method ? C.cuts_by[CUT_KILL] : C.cuts_by[CUT_NOLOG],
	    C.cuts_by[CUT_META], C.cuts_by[CUT_FULL], C.exact, C.uni, C.outside,
	    C.sampled_outside, C.sampled, C.broken, bad ? "FAIL" : "ok");
	free(only_w);
	return bad;
}
