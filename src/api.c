/* SPDX-License-Identifier: MIT */
/*
 * api.c - the public calls that join two layers: reads that must see
 * only committed transactions.
 *
 * A read of a file in a transaction's root must not see a transaction
 * that was committed and not applied (a crash between the commit point
 * and the end of the apply): the read path runs the transaction layer's
 * hot-journal check first.  The read path (ops.c) and read-modify-write
 * (update.c) live in the operations layer, which cannot name the
 * transaction layer above it; the public entry points here, which know
 * both, hand the check down as a hook.
 *
 * Invariants:
 *   1. Every public read of file contents (afile_read(), and the read of
 *      the old contents in afile_update()) runs afile__recover_if_hot()
 *      on the directory it reads from, before it opens the file.
 *   2. Nothing here but the joining: the work is below.
 */
#include "internal.h"
#include "txn.h"

int
afile_read(int dirfd, const char *path, void **ret_buf, size_t *ret_len,
    unsigned int flags, const struct afile_opts *opts)
{
	return afile__read_file(
	    dirfd, path, ret_buf, ret_len, flags, opts, afile__recover_if_hot);
}

int
afile_update(int dirfd, const char *path,
    int (*fn)(
	void *ctx, const void *old, size_t old_len, struct afile_writer *w),
    void *ctx, unsigned int flags, const struct afile_opts *opts)
{
	return afile__update(
	    dirfd, path, fn, ctx, flags, opts, afile__recover_if_hot);
}
