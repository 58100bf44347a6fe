/* SPDX-License-Identifier: MIT */
/*
 * update.c - read-modify-write of one file with no lost updates.
 *
 * afile_update() opens a writer with AFILE_LOCK, so that the target's
 * lock (lock.c) is taken before the target is looked at, reads the
 * current contents, lets the caller's function write the new ones into
 * the writer, and commits: the read and the publication happen under one
 * exclusive lock, and a concurrent updater waits for both.
 *
 * Invariants:
 *   1. The lock is held from before the read until after the publication
 *      (the writer keeps it until it is freed, after its commit).
 *   2. A function that fails, or returns AFILE_UPDATE_KEEP, leaves the
 *      target byte-for-byte unchanged (the writer discards its temp).
 *   3. Before the read, the hook that the public afile_update() (api.c)
 *      passes runs: the transaction layer's hot-journal check, which this
 *      layer cannot name.  The read itself goes through view.c, which on
 *      FUSE and network file systems waits out a stale view of another
 *      client's update (bounded) and records the version this one
 *      publishes.
 */
#include <errno.h>

#include "internal.h"

int
afile__update(int dirfd, const char *path,
    int (*fn)(
	void *ctx, const void *old, size_t old_len, struct afile_writer *w),
    void *ctx, unsigned int flags, const struct afile_opts *opts,
    afile__before_read *before)
{
	struct afile_writer *w = NULL;
	const struct afile__target *t;
	struct afile__op op, *wop;
	void *old = NULL;
	size_t old_len = 0;
	struct afile__view view = {0};
	int r;

	r = afile__op_init(&op, flags,
	    AFILE__PUBLIC_FLAGS & ~(AFILE_NOREPLACE | AFILE_EXCHANGE), opts);
	if (r == 0 && !fn)
		r = afile__fail(&op, -EINVAL, "check arguments", path);
	if (r < 0)
		return afile__op_done(&op, r);
	/*
	 * The writer takes the lock (AFILE_LOCK) before it looks at the
	 * target, and keeps it until it is freed, after the commit: the read
	 * below and the publication happen under one exclusive lock.
	 */
	r = afile__writer_open(&op, dirfd, path, flags | AFILE_LOCK, NULL, &w);
	if (r < 0)
		return afile__op_done(&op, r);
	wop = afile__writer_op(w);
	t = afile__writer_target(w);
	/* With AFILE_NOFOLLOW a symlink is replaced, and holds no contents. */
	if (t->exists && S_ISREG(t->st.st_mode) && before)
		r = before(wop, t->dfd);
	/* Never build on half of an in-place patch a crash interrupted. */
	if (r == 0 && t->exists && S_ISREG(t->st.st_mode))
		r = afile__inplace_settle(wop, t->dfd, t->name);
	/* A view of another client's update may be stale (view.c). */
	if (r == 0 && (!t->exists || S_ISREG(t->st.st_mode)))
		r = afile__view_read(wop, afile__writer_lock_fd(w), t->dfd,
		    t->name, t->shown, &view, &old, &old_len);
	if (r == 0) {
		r = fn(ctx, old, old_len, w);
		if (r < 0 || r > AFILE_UPDATE_KEEP)
			r = afile__fail(wop, r < 0 ? r : -EINVAL,
			    "update callback", t->shown);
	}
	afile__free(old);
	if (r == AFILE_UPDATE_KEEP) {
		afile_writer_free(w);
		return afile__op_done(&op, 0);
	}
	return afile__op_done(&op, afile__view_finish(&op, w, r, &view));
}
