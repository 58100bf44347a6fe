/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - afile_txn_snapshot(): a consistent view of the files of a
 * transaction root.
 *
 * The apply of a committed transaction (commit.c, recover.c) runs under
 * ROOT/.atomicfile/.apply.afile-lock held exclusively; a snapshot holds
 * it shared, so that while the caller holds the returned lock no
 * transaction of the root is half applied: every file read shows the
 * same committed state.
 *
 * Invariants:
 *   1. A hot journal is recovered before the lock is taken: the view is
 *      never older than a committed transaction.
 *   2. Busy is an answer, not a failure: -EAGAIN and -ETIMEDOUT are
 *      returned without counting a failed call, as afile_lock_acquire()
 *      does.
 *
 * States: afile_txn_snapshot --> HELD (an afile_lock, shared)
 * --afile_lock_release--> gone.
 */
#include <errno.h>
#include <fcntl.h>

#include "txn.h"

int
afile_txn_snapshot(
    int rootfd, const char *root, int timeout_ms, struct afile_lock **ret_lock)
{
	struct afile__op op;
	int rfd, adfd = -1, fd = -1, r;

	if (ret_lock)
		*ret_lock = NULL;
	r = afile__op_init(&op, 0, 0, NULL);
	if (r == 0 && (!ret_lock || !root || !*root || timeout_ms < -1))
		r = -EINVAL;
	if (r < 0)
		return afile__op_done(&op, r);
	rfd = afile__openat(rootfd, root, O_RDONLY | O_DIRECTORY, 0);
	if (rfd < 0)
		return afile__op_done(
		    &op, afile__fail(&op, rfd, "open root", root));
	r = afile__recover_if_hot(&op, rfd);
	if (r == 0)
		r = adfd = afile__open_adir(&op, rfd, true);
	if (r >= 0)
		r = afile__lock_name(&op, adfd, APPLY_LOCK, ADIR,
		    AFILE_LOCK_SHARED, timeout_ms, &fd);
	if (r >= 0)
		r = afile__lock_wrap(fd, ret_lock);
	if (r < 0)
		afile__close_quiet(fd);
	afile__close_quiet(adfd);
	afile__close_quiet(rfd);
	if (r == -EAGAIN || r == -ETIMEDOUT)
		return r;
	return afile__op_done(&op, r < 0 ? r : 0);
}
