/* SPDX-License-Identifier: MIT */
/*
 * fstype.c - what the library may trust of the file system a file is on.
 *
 * The protocols need a few primitives to do exactly what they promise.
 * The one that differs most between file systems is syncfs(2): on a local
 * block file system it writes back every dirty file and commits the
 * journal once, so a batch of staged files becomes durable for the price
 * of one sync; on FUSE the kernel sends FUSE_SYNCFS only for virtiofs, and
 * on NFS, CIFS or Ceph it flushes nothing the server must keep, so syncfs
 * returns 0 having made nothing durable.  A committed transaction was lost
 * that way on a FUSE file system (issue 9).
 *
 * Invariants:
 *   1. A primitive is trusted only on an allowlist (statfs f_type), and an
 *      entry is on it only where the real power-cut tests (tests/realfs/
 *      powercut.sh) prove it: ext4, xfs and btrfs.  tmpfs and ramfs keep
 *      nothing across a power cut, so whatever syncs do there is enough.
 *   2. Everything else, known or not, is untrusted: FUSE, NFS, CIFS/SMB,
 *      Ceph, 9p, overlayfs and any magic number not listed get the
 *      conservative path (an fsync per file).
 *   3. The table is data only; no I/O but the one fstatfs in
 *      afile__fstype_of(), through sys.c.
 */
#include "internal.h"

/* Magic numbers from <linux/magic.h> and the file systems' own sources. */
static const struct afile__fstype fstypes[] = {
    {0xEF53UL, "ext4", AFILE__FS_SYNCFS},
    {0x58465342UL, "xfs", AFILE__FS_SYNCFS},
    {0x9123683EUL, "btrfs", AFILE__FS_SYNCFS},
    {0x01021994UL, "tmpfs", AFILE__FS_SYNCFS | AFILE__FS_VOLATILE},
    {0x858458F6UL, "ramfs", AFILE__FS_SYNCFS | AFILE__FS_VOLATILE},
    {0xF2F52010UL, "f2fs", 0},
    {0x2FC12FC1UL, "zfs", 0},
    {0x794C7630UL, "overlayfs", 0},
    {0x65735546UL, "fuse", AFILE__FS_FUSE},
    {0x6969UL, "nfs", AFILE__FS_NETWORK},
    {0xFF534D42UL, "cifs", AFILE__FS_NETWORK},
    {0xFE534D42UL, "smb2", AFILE__FS_NETWORK},
    {0x517BUL, "smb", AFILE__FS_NETWORK},
    {0x00C36400UL, "ceph", AFILE__FS_NETWORK},
    {0x01021997UL, "9p", AFILE__FS_NETWORK},
    {0x6B414653UL, "afs", AFILE__FS_NETWORK},
    {0x01161970UL, "gfs2", AFILE__FS_NETWORK},
    {0x7461636FUL, "ocfs2", AFILE__FS_NETWORK},
    {0x0BD00BD0UL, "lustre", AFILE__FS_NETWORK},
};

static const struct afile__fstype unknown = {0, "unknown", 0};

const struct afile__fstype *
afile__fstype(unsigned long magic)
{
	for (size_t k = 0; k < sizeof(fstypes) / sizeof(fstypes[0]); k++)
		if (fstypes[k].magic == magic)
			return &fstypes[k];
	return &unknown;
}

int
afile__fstype_of(int fd, const struct afile__fstype **ret)
{
	unsigned long magic;
	int r = afile__fs_magic(fd, &magic);

	/* A kernel or libc without fstatfs: nothing is trusted. */
	*ret = r < 0 ? &unknown : afile__fstype(magic);
	return r == -ENOSYS ? 0 : r;
}
