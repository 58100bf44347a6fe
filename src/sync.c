/* SPDX-License-Identifier: MIT */
/*
 * sync.c - durability levels.
 *
 * AFILE_SYNC_FULL: the temp is synced before it is published (so the new
 * name can never point at data that is not on disk: the ext4 "zero-length
 * file after a crash" of 2009), and the directory after (so the new name
 * itself is on disk when the call returns: rename is only a change to the
 * directory, which fsync of the file does not cover).
 *
 * One flush (AFILE_SYNC_FULL, replaces through afile__writer_commit()):
 * where the file system allows it (fstype.c, invariant 4) the temp is
 * only written back, not synced, and the directory's sync after the
 * rename makes the data, the temp's inode and the new name durable in one
 * log commit.  The directory sync may then not be skipped nor downgraded:
 * a refusal is a failure (AFILE_EUNSYNCED), since the data is not known
 * durable either.
 *
 * AFILE_SYNC_DATA: the file is synced, the directory is not; after a power
 * cut the old or the new version is there, whole.  fdatasync is enough
 * only when no inode metadata was changed besides the size: once mode,
 * owner or attributes were applied, a full fsync is needed so that the new
 * data never shows up with the wrong permissions.
 *
 * AFILE_SYNC_NONE: nothing is synced; atomic against process crashes.
 *
 * A failed sync is final (see sys.c, invariant 3): the caller poisons its
 * handle and never reports the data as durable.
 */
#include <errno.h>

#include "internal.h"

int
afile__sync_file(struct afile__op *op, int fd, bool meta)
{
	switch (op->sync) {
	case AFILE_SYNC_NONE:
		return 0;
	case AFILE_SYNC_DATA:
		return afile__fsync(fd, !meta);
	default:
		return afile__fsync(fd, false);
	}
}

int
afile__sync_temp(struct afile__op *op, int fd, bool meta, const struct stat *st,
    bool *ret_one_flush)
{
	*ret_one_flush = false;
	if (op->sync == AFILE_SYNC_FULL && afile__one_flush(fd, st)) {
		*ret_one_flush = true;
		return afile__writeback_wait(fd);
	}
	return afile__sync_file(op, fd, meta);
}

int
afile__sync_dir(struct afile__op *op, int dfd)
{
	int r;

	if (op->sync != AFILE_SYNC_FULL)
		return 0;
	r = afile__fsync_dir(dfd);
	if (r == -EINVAL || afile__unsupported(r)) {
		/*
		 * Some FUSE and network file systems cannot sync a
		 * directory.  The data is synced; report the weaker level
		 * reached instead of failing an operation that did all that
		 * the file system allows.
		 */
		op->achieved = AFILE_SYNC_DATA;
		return 0;
	}
	return r;
}

int
afile__sync_dir_lax(struct afile__op *op, int dfd)
{
	int r = afile__fsync_dir(dfd);

	/* As above: a refused directory sync is the file system's limit. */
	if (r == -EINVAL || afile__unsupported(r)) {
		if (op->achieved == AFILE_SYNC_FULL)
			op->achieved = AFILE_SYNC_DATA;
		return 0;
	}
	return r;
}
