/* SPDX-License-Identifier: MIT */
/*
 * lock.c - inter-process locks tied to a path.
 *
 * The lock of a file lives on a sidecar, ".NAME.afile-lock" beside it:
 * the file itself gets a new inode at every replace, so a lock on it
 * would protect the version that was just replaced.  The sidecar is
 * created on first use and never removed by the library.  Its bytes are
 * others': an update record at 0 (view.c), the redo marker of in-place
 * patches at 512 (inplace.c); a lock never reads or writes them.
 *
 * The locks are OFD locks (fcntl F_OFD_SETLK): they belong to the open
 * file description, so two handles exclude each other even within one
 * process and one thread, and the kernel releases them when the last
 * descriptor closes, which includes the death of the holder by any signal.
 * There is nothing stale to detect and nothing to take over: the peers'
 * "stale lock" heuristics (mtime, pid files) are exactly what lets two
 * holders in at once.
 *
 * Invariants:
 *   1. A lock is held only on a sidecar that is still reachable under its
 *      name: after locking, the name is checked to lead to the locked
 *      inode, else the lock is dropped and taken again (someone removed or
 *      replaced the sidecar by hand while we waited).
 *   2. Waiting is bounded by the caller's timeout: -1 blocks in the kernel
 *      (F_OFD_SETLKW); a positive timeout polls with jittered exponential
 *      backoff (1 ms doubling to 64 ms) so that waiters do not wake in
 *      lockstep, and the last try happens at the deadline.
 *   3. Nothing here aborts, prints or installs a signal handler.
 *
 * States of struct afile_lock: acquire --> HELD --release--> (freed).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "internal.h"

#define BACKOFF_MIN_NS 1000000u
#define BACKOFF_MAX_NS 64000000u
#define REOPEN_TRIES   100

struct afile_lock {
	int fd;
};

int
afile__wait_ms(const struct afile__op *op)
{
	/* opts: 0 = forever, -1 = try; afile__lock_name: -1 = forever, 0 = try.
	 */
	if (op->lock_wait_ms == 0)
		return -1;
	if (op->lock_wait_ms == AFILE_LOCK_TRY)
		return 0;
	return op->lock_wait_ms;
}

/* Take the lock on an open sidecar, within the time allowed. */
static int
wait_lock(int fd, short type, int wait_ms)
{
	uint64_t deadline, now, backoff = BACKOFF_MIN_NS, sleep_ns;
	uint32_t jitter;
	int r;

	if (wait_ms < 0)
		return afile__lock_fd(fd, type, true);
	r = afile__lock_fd(fd, type, false);
	if (r != -EAGAIN || wait_ms == 0)
		return r;
	deadline = afile__now_ns() + (uint64_t)wait_ms * 1000000u;
	for (;;) {
		now = afile__now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (afile__random(&jitter, sizeof(jitter)) < 0)
			jitter = (uint32_t)now;
		/* Sleep between half and all of the backoff. */
		sleep_ns = backoff / 2 + jitter % (backoff / 2 + 1);
		if (sleep_ns > deadline - now)
			sleep_ns = deadline - now;
		afile__sleep_ns(sleep_ns);
		if (backoff < BACKOFF_MAX_NS)
			backoff *= 2;
		r = afile__lock_fd(fd, type, false);
		if (r != -EAGAIN)
			return r;
	}
}

/*
 * Lock the open sidecar @fd, whose inode is @a, then check that its name
 * @sidecar in @dfd still leads to it (invariant 1).  Returns 0 (held), 1
 * (the name leads elsewhere or nowhere: open it again) or an error; @fd
 * is closed unless 0.
 */
static int
lock_held(int dfd, const char *sidecar, int fd, const struct stat *a,
    short type, int wait_ms)
{
	struct stat b;
	int r;

	r = wait_lock(fd, type, wait_ms);
	if (r == 0) {
		r = afile__fstatat(
		    dfd, sidecar, &b, AT_SYMLINK_NOFOLLOW | AFILE__AT_NOTIME);
		if (r == 0 && a->st_dev == b.st_dev && a->st_ino == b.st_ino)
			return 0;
		if (r == 0 || r == -ENOENT)
			r = 1;
	}
	afile__close_quiet(fd);
	return r;
}

/* afile__lock_name(), and the sidecar's identity into @ret_st. */
static int
lock_name(struct afile__op *op, int dfd, const char *sidecar, const char *shown,
    short type, int wait_ms, int *ret_fd, struct stat *ret_st)
{
	struct stat a;
	int fd, r;

	for (int i = 0; i < REOPEN_TRIES; i++) {
		/* Not through a planted symlink, FIFO or file (path.c). */
		fd = afile__open_own(
		    op, dfd, sidecar, O_RDWR | O_CREAT, 0666, &a);
		/* A reader may lack write access: a shared lock needs none. */
		if ((fd == -EACCES || fd == -EROFS) && type == F_RDLCK)
			fd = afile__open_own(op, dfd, sidecar, O_RDONLY, 0, &a);
		if (fd == AFILE_EPROTECTED)
			return afile__fail_cause(op, fd, -EACCES,
			    "open lock file (fs.protected_regular)", shown);
		if (fd < 0)
			return afile__fail(op, fd, "open lock file", shown);
		r = lock_held(dfd, sidecar, fd, &a, type, wait_ms);
		if (r < 0)
			return afile__fail(op, r, "lock", shown);
		if (r == 0) {
			*ret_fd = fd;
			if (ret_st)
				*ret_st = a;
			return 0;
		}
	}
	return afile__fail(op, -ENOLCK, "lock", shown);
}

int
afile__lock_name_again(struct afile__op *op, int dfd, const char *name,
    const char *shown, unsigned int mode, int wait_ms, int *fd, struct stat *st)
{
	short type = mode == AFILE_LOCK_SHARED ? F_RDLCK : F_WRLCK;
	char sidecar[NAME_MAX + 1];
	int r;

	r = afile__hidden_name(name, AFILE__LOCK_SUFFIX, sidecar);
	if (r == 0 && *fd >= 0) {
		r = lock_held(dfd, sidecar, *fd, st, type, wait_ms);
		if (r == 0)
			return 0;
		*fd = -1; /* closed */
	}
	if (r < 0) {
		afile__close_quiet(*fd);
		*fd = -1;
		return afile__fail(op, r, "lock", shown);
	}
	return lock_name(op, dfd, sidecar, shown, type, wait_ms, fd, st);
}

int
afile__lock_name(struct afile__op *op, int dfd, const char *name,
    const char *shown, unsigned int mode, int wait_ms, int *ret_fd)
{
	*ret_fd = -1;
	return afile__lock_name_again(
	    op, dfd, name, shown, mode, wait_ms, ret_fd, NULL);
}

int
afile__target_lock(struct afile__op *op, struct afile__target *t, int *ret_fd)
{
	int r;

	r = afile__lock_name(op, t->dfd, t->name, t->shown,
	    AFILE_LOCK_EXCLUSIVE, afile__wait_ms(op), ret_fd);
	if (r < 0)
		return r;
	/* What was there before the wait may have been replaced meanwhile. */
	r = afile__fstatat(t->dfd, t->name, &t->st, AT_SYMLINK_NOFOLLOW);
	if (r < 0 && r != -ENOENT) {
		afile__close_quiet(*ret_fd);
		*ret_fd = -1;
		return afile__fail(op, r, "check target", t->shown);
	}
	t->exists = r == 0;
	return 0;
}

int
afile_lock_acquire(int dirfd, const char *path, unsigned int mode,
    int timeout_ms, struct afile_lock **ret_lock)
{
	struct afile__target t;
	struct afile_lock *l;
	struct afile__op op;
	int fd, r;

	if (ret_lock)
		*ret_lock = NULL;
	r = afile__op_init(&op, 0, 0, NULL);
	if (r == 0 &&
	    (!ret_lock || timeout_ms < -1 ||
		(mode != AFILE_LOCK_SHARED && mode != AFILE_LOCK_EXCLUSIVE)))
		r = -EINVAL;
	if (r < 0)
		return afile__op_done(&op, r);
	l = afile__malloc(sizeof(*l));
	if (!l)
		return afile__op_done(&op, -ENOMEM);
	r = afile__target_open(&op, dirfd, path, true, &t);
	if (r == 0) {
		r = afile__lock_name(
		    &op, t.dfd, t.name, t.shown, mode, timeout_ms, &fd);
		afile__target_close(&t);
	}
	if (r < 0) {
		afile__free(l);
		/* Busy is an answer, not a failure worth counting. */
		if (r == -EAGAIN || r == -ETIMEDOUT)
			return r;
		return afile__op_done(&op, r);
	}
	l->fd = fd;
	*ret_lock = l;
	return afile__op_done(&op, 0);
}

int
afile__lock_wrap(int fd, struct afile_lock **ret_lock)
{
	struct afile_lock *l = afile__malloc(sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->fd = fd;
	*ret_lock = l;
	return 0;
}

int
afile_lock_fd(const struct afile_lock *lock)
{
	return lock ? lock->fd : -EINVAL;
}

void
afile_lock_release(struct afile_lock *lock)
{
	if (!lock)
		return;
	/* Closing the descriptor releases the lock (and so do inherited
	 * copies, when they are closed). */
	afile__close_quiet(lock->fd);
	afile__free(lock);
}
