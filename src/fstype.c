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
 *   4. One-flush replaces (afile__one_flush()) only where a directory
 *      fsync is a log commit, with a device flush, of every earlier
 *      metadata change: ext4 with its own journal (data=ordered or
 *      data=writeback, barriers on, journal inside the file system) and
 *      xfs with its log inside the data device.  The mount's facts are
 *      read from /proc and /sys (sys.c); anything unread or unexpected
 *      means the two-flush protocol.  The verdict is cached per st_dev;
 *      a device unmounted and mounted again with other options in the
 *      same process keeps its first verdict (documented limit).
 *
 * Why one flush is enough there (docs/NOTES.md, "One-flush replaces"):
 * sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER) writes the temp's pages
 * and waits for the end of their write-back.  The block allocation, the
 * conversion of unwritten extents and the on-disk size are logged before
 * that end (ext4: in the write-back's handle, and for unwritten extents
 * in the I/O-end work that runs before the pages leave write-back; xfs:
 * the ioend transaction runs before the pages leave write-back), so into
 * a transaction no later than the rename's.  The directory's fsync then
 * commits the rename's transaction and, both logs committing in order,
 * every one before it; the commit record goes out with REQ_PREFLUSH (and
 * FUA), which also flushes the temp's data, completed before, from the
 * device's cache.  On ext4 without a journal a directory fsync writes the
 * directory only; btrfs syncs a directory through its log tree, which
 * need not hold another file's extents; elsewhere nothing is known.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "internal.h"

/* Magic numbers from <linux/magic.h> and the file systems' own sources. */
static const struct afile__fstype fstypes[] = {
    {0xEF53UL, "ext4", AFILE__FS_SYNCFS | AFILE__FS_LOGGED},
    {0x58465342UL, "xfs", AFILE__FS_SYNCFS | AFILE__FS_LOGGED},
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

/*
 * Is @word one of the words of @text, separated by @seps (with @prefix:
 * does a word start with it, as "logdev=" does "logdev=/dev/sdb")?
 */
static bool
has_word(const char *text, const char *word, const char *seps, bool prefix)
{
	size_t n = strlen(word);

	for (const char *p = text; (p = strstr(p, word)) != NULL; p += n)
		if ((p == text || strchr(seps, p[-1])) &&
		    (prefix || p[n] == '\0' || strchr(seps, p[n])))
			return true;
	return false;
}

/* The kernel's name of block device @dev ("loop0", "dm-1") into @name. */
static bool
dev_name(dev_t dev, char *name, size_t n)
{
	char path[64], buf[512];
	const char *p, *end;
	size_t len;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major(dev),
	    minor(dev));
	if (afile__read_kfile(path, buf, sizeof(buf)) < 0)
		return false;
	p = strstr(buf, "DEVNAME=");
	if (!p || (p != buf && p[-1] != '\n'))
		return false;
	p += 8;
	end = strchr(p, '\n');
	if (!end)
		end = p + strlen(p);
	len = (size_t)(end - p);
	if (len == 0 || len >= n || memchr(p, '/', len) || memchr(p, '.', len))
		return false;
	memcpy(name, p, len);
	name[len] = '\0';
	return true;
}

/* ext4: its own journal, ordered or writeback data, barriers on. */
static bool
ext4_ok(const char *name, const char **why)
{
	char path[128], buf[2048];

	snprintf(path, sizeof(path), "/proc/fs/ext4/%s/options", name);
	if (afile__read_kfile(path, buf, sizeof(buf)) < 0)
		return *why = "ext4, mount options unreadable", false;
	if (has_word(buf, "data=journal", "\n,", false))
		return *why = "ext4 data=journal", false;
	/* No data= at all: ext4 without a journal. */
	if (!has_word(buf, "data=ordered", "\n,", false) &&
	    !has_word(buf, "data=writeback", "\n,", false))
		return *why = "ext4 without a journal", false;
	if (!has_word(buf, "barrier", "\n,", false) ||
	    has_word(buf, "nobarrier", "\n,", false))
		return *why = "ext4 without barriers", false;
	/* The journal inside the file system (inode 8), not on a device. */
	snprintf(path, sizeof(path), "/proc/fs/jbd2/%s-8/info", name);
	if (afile__read_kfile(path, buf, sizeof(buf)) < 0)
		return *why = "ext4, no internal journal found", false;
	return *why = "ext4 with a journal", true;
}

/* xfs: the log on the data device, no real-time device. */
static bool
xfs_ok(dev_t dev, const char **why)
{
	size_t n = 256 * 1024;
	char key[32], *buf = afile__malloc(n), *line, *next, *opts;
	bool ok = false, seen = false;

	*why = "xfs, mount unreadable";
	if (!buf)
		return false;
	snprintf(key, sizeof(key), " %u:%u ", major(dev), minor(dev));
	/* A truncated table could hide our mount: no verdict then. */
	if (afile__read_kfile("/proc/self/mountinfo", buf, n) >= (ssize_t)n - 1)
		goto out;
	for (line = buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!strstr(line, key) || !(opts = strstr(line, " - xfs ")))
			continue;
		opts = strrchr(opts, ' ');
		if (!opts)
			goto out;
		seen = true;
		if (has_word(opts + 1, "logdev=", ",", true) ||
		    has_word(opts + 1, "rtdev=", ",", true) ||
		    has_word(opts + 1, "nobarrier", ",", false)) {
			*why = "xfs with an external log or real-time device";
			goto out;
		}
	}
	if (seen) {
		ok = true;
		*why = "xfs, internal log";
	}
out:
	afile__free(buf);
	return ok;
}

static bool
decide(int fd, dev_t dev, const char **why)
{
	const struct afile__fstype *fs;
	char name[64];

	(void)afile__fstype_of(fd, &fs);
	if (!(fs->flags & AFILE__FS_LOGGED))
		return *why = fs->name, false;
	if (fs->magic == 0x58465342UL)
		return xfs_ok(dev, why);
	if (!dev_name(dev, name, sizeof(name)))
		return *why = "ext4, device unknown", false;
	return ext4_ok(name, why);
}

bool
afile__one_flush_why(int fd, const char **ret_why)
{
	struct stat st;

	if (afile__fstat(fd, &st) < 0)
		return *ret_why = "fstat failed", false;
	return decide(fd, st.st_dev, ret_why);
}

/*
 * The cache: a few slots, each st_dev << 2 | 2 (known) | verdict, filled
 * by whoever decides first; a lost race decides twice, harmlessly.
 */
#define ONE_FLUSH_SLOTS 8
static _Atomic uint64_t one_flush_cache[ONE_FLUSH_SLOTS];

bool
afile__one_flush(int fd, const struct stat *st)
{
	static _Atomic unsigned int next;
	const char *why;
	struct stat own;
	uint64_t dev, v;
	bool ok;

	if (!st) {
		if (afile__fstat(fd, &own) < 0)
			return false;
		st = &own;
	}
	dev = (uint64_t)st->st_dev;
	/* The simulator (or a device number too big) is never cached. */
	if (dev >> 61 || afile__sys.read_kfile != afile__sys_default.read_kfile)
		return decide(fd, st->st_dev, &why);
	for (unsigned int k = 0; k < ONE_FLUSH_SLOTS; k++) {
		v = atomic_load_explicit(
		    &one_flush_cache[k], memory_order_relaxed);
		if (v >> 2 == dev && (v & 2))
			return v & 1;
	}
	ok = decide(fd, st->st_dev, &why);
	atomic_store_explicit(
	    &one_flush_cache[atomic_fetch_add(&next, 1) % ONE_FLUSH_SLOTS],
	    dev << 2 | 2 | (ok ? 1 : 0), memory_order_relaxed);
	return ok;
}
