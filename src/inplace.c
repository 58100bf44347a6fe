/* SPDX-License-Identifier: MIT */
/*
 * inplace.c - patches written into the file itself (AFILE_INPLACE),
 * behind an undo record, and the cooperating read that never sees half
 * of one.
 *
 * A copy-based patch costs the size of the file where the file system
 * cannot share extents (ext4, tmpfs, NFS).  An in-place patch costs the
 * size of the change: the old bytes go to an undo record beside the file
 * first, so that whatever part of the change reached the disk can be
 * taken back.  The record format is in docs/FORMAT.md ("Undo record").
 *
 * Protocol of one patch (the file's sidecar lock, then an OFD write lock
 * on the file's own inode, are held throughout):
 *   1. an earlier interrupted patch's record is undone first (below);
 *   2. the old bytes of every range, the old size and the file's
 *      identity (st_ino; st_dev only informative) go into
 *      ".NAME.afile-undo", with a
 *      CRC-32C over the whole record;
 *   3. sync the record; when this call created the record file, sync the
 *      directory too (the name must be findable after a power cut).  From
 *      here the record is durable and complete: the point of no return
 *      for the old bytes;
 *   4. write the new bytes into the file, sync it;
 *   5. retire the record: truncate it to 0 bytes and sync it.  This sync
 *      is the commit point: a record that came back after a power cut
 *      would undo an acknowledged patch.  The empty record file stays, so
 *      that the next patch needs no directory sync.
 * Three syncs per patch (four for the first one in a directory).
 * AFILE_SYNC_NONE skips every sync: atomic against process crashes only.
 *
 * Recovery (the next patch, afile_read(), afile_patch_recover()): under
 * the file's OFD write lock, a record of zero bytes is nothing to do; a
 * record whose length or CRC is wrong was torn while being written,
 * before step 3 ended, so the file was never touched: retire it; a valid
 * record of another inode (the name was replaced since) is retired too;
 * a valid record of this file: truncate the file to the old size, write
 * the old bytes back, sync the file, retire the record (synced).  Undoing
 * is idempotent, so a crash during recovery is recovered the same way.
 *
 * Locks: a patcher takes the sidecar (lock.c) exclusively, serializing
 * it with every AFILE_LOCK writer, afile_update() and afile_lock_acquire()
 * holder, then an OFD write lock on the file's inode (the inode does not
 * change in place).  A cooperating reader takes a shared OFD lock on the
 * inode it opened: no sidecar is created by reading, and it works in a
 * directory the reader cannot write.  Recovery takes only the inode's
 * write lock, so that afile_update(), which holds the sidecar and reads
 * with afile_read(), cannot deadlock with itself.  Order: sidecar, then
 * inode; nobody waits for the sidecar while holding an inode lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "internal.h"
#include "journal.h"

#define UNDO_SUFFIX ".afile-undo"
#define UNDO_MAGIC  "afundo1\n"
#define HDR_LEN     56u
#define RANGE_LEN   16u
#define CRC_LEN     4u

/* A parsed undo record; the pointers point into its buffer. */
struct undo {
	uint64_t dev, ino, old_size, new_size;
	uint32_t n;
	const unsigned char *ranges; /* n x {u64 offset, u64 saved length} */
	const unsigned char *bytes;  /* the saved old bytes, in range order */
};

/* One in-place call: the target, its locks and the record. */
struct ip {
	struct afile__op *op;
	struct afile__target t;
	int lock_fd; /* the sidecar, exclusive; -1 for a recovery */
	int fd;      /* the file, O_RDWR, OFD write lock */
	int rfd;     /* the record, or -1 while it does not exist */
	char rname[NAME_MAX + 1];
	struct stat st;
};

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)get64(
	    (const unsigned char[8]){p[0], p[1], p[2], p[3]});
}

/* Parse a record of @len bytes; false when torn (or not a record). */
static bool
undo_parse(const unsigned char *b, size_t len, struct undo *u)
{
	uint64_t saved = 0, total;

	if (len < HDR_LEN + CRC_LEN || memcmp(b, UNDO_MAGIC, 8))
		return false;
	total = get64(b + 48);
	if (total != len ||
	    afile__crc32c(0, b, len - CRC_LEN) != get32(b + len - CRC_LEN))
		return false;
	u->n = get32(b + 8);
	u->dev = get64(b + 16);
	u->ino = get64(b + 24);
	u->old_size = get64(b + 32);
	u->new_size = get64(b + 40);
	if (u->n > AFILE__PATCH_MAX_RANGES ||
	    (uint64_t)u->n * RANGE_LEN > len - HDR_LEN - CRC_LEN)
		return false;
	u->ranges = b + HDR_LEN;
	u->bytes = u->ranges + (size_t)u->n * RANGE_LEN;
	for (uint32_t i = 0; i < u->n; i++)
		saved += get64(u->ranges + i * RANGE_LEN + 8);
	return saved == len - HDR_LEN - CRC_LEN - (uint64_t)u->n * RANGE_LEN;
}

/* Truncate the record to nothing, synced when @sync (and op->sync). */
static int
retire(struct ip *ip, bool sync)
{
	int r = afile__ftruncate(ip->rfd, 0);

	if (r < 0)
		return afile__fail(
		    ip->op, r, "retire undo record", ip->t.shown);
	if (sync && ip->op->sync != AFILE_SYNC_NONE &&
	    (r = afile__fsync(ip->rfd, true)) < 0)
		return afile__fail(ip->op, r, "sync undo record", ip->t.shown);
	return 0;
}

/* Write the old bytes and size of @u back into the file and sync it. */
static int
undo_apply(struct ip *ip, const struct undo *u)
{
	const unsigned char *p = u->bytes;
	int r = 0;

	if ((uint64_t)ip->st.st_size != u->old_size)
		r = afile__ftruncate(ip->fd, u->old_size);
	for (uint32_t i = 0; r == 0 && i < u->n; i++) {
		uint64_t off = get64(u->ranges + i * RANGE_LEN);
		uint64_t len = get64(u->ranges + i * RANGE_LEN + 8);

		r = afile__pwrite_all(ip->fd, p, (size_t)len, off);
		p += len;
	}
	if (r < 0)
		return afile__fail(
		    ip->op, r, "write back old bytes", ip->t.shown);
	ip->st.st_size = (off_t)u->old_size;
	if (ip->op->sync != AFILE_SYNC_NONE &&
	    (r = afile__fsync(ip->fd, true)) < 0)
		return afile__fail(ip->op, r, "sync file", ip->t.shown);
	return 0;
}

/*
 * Undo what the record says, if anything.  Returns 1 when old bytes were
 * written back, 0 when there was nothing to undo, or an error.
 */
static int
recover(struct ip *ip)
{
	unsigned char *buf;
	struct stat rst;
	struct undo u;
	ssize_t n;
	int r;

	if (ip->rfd < 0)
		return 0;
	r = afile__fstat(ip->rfd, &rst);
	if (r < 0)
		return afile__fail(ip->op, r, "read undo record", ip->t.shown);
	if (rst.st_size == 0)
		return 0;
	if ((uint64_t)rst.st_size > SIZE_MAX - 1 ||
	    !(buf = afile__malloc((size_t)rst.st_size)))
		return afile__fail(
		    ip->op, -ENOMEM, "read undo record", ip->t.shown);
	n = afile__pread_all(ip->rfd, buf, (size_t)rst.st_size, 0);
	if (n < 0) {
		afile__free(buf);
		return afile__fail(
		    ip->op, (int)n, "read undo record", ip->t.shown);
	}
	/*
	 * st_dev is recorded but not compared: it need not survive a
	 * reboot (btrfs gives a subvolume a new anonymous device at every
	 * mount; block devices can be enumerated in another order), and a
	 * record that looked foreign after a power cut would be retired
	 * with half a patch in the file (realfs-powercut-btrfs, point 21).
	 * The record lies beside the file, so it is on the same file
	 * system: the inode number and the size range identify the file.
	 */
	if (!undo_parse(buf, (size_t)n, &u) ||
	    u.ino != (uint64_t)ip->st.st_ino) {
		/* Torn (the file was never touched) or another inode's. */
		afile__free(buf);
		return retire(ip, true);
	}
	if ((uint64_t)ip->st.st_size > u.new_size ||
	    (uint64_t)ip->st.st_size < u.old_size) {
		afile__free(buf);
		return afile__fail(ip->op, AFILE_ECORRUPT,
		    "check undo record size", ip->t.shown);
	}
	r = undo_apply(ip, &u);
	afile__free(buf);
	if (r == 0)
		r = retire(ip, true);
	if (r < 0)
		return r;
	afile__stat_add(AFILE__STAT_RECOVERIES, 1);
	return 1;
}

static void
ip_close(struct ip *ip)
{
	afile__close_quiet(ip->rfd);
	afile__close_quiet(ip->fd);
	afile__close_quiet(ip->lock_fd);
	afile__target_close(&ip->t);
}

/*
 * Resolve @path, take its locks (the sidecar only with @sidecar), open
 * the file and its record (if there is one).
 */
static int
ip_open(struct afile__op *op, int dirfd, const char *path, unsigned int flags,
    bool sidecar, struct ip *ip)
{
	const char *shown;
	int r;

	ip->op = op;
	ip->lock_fd = ip->fd = ip->rfd = -1;
	r = afile__target_open(
	    op, dirfd, path, !(flags & AFILE_NOFOLLOW), &ip->t);
	if (r < 0)
		return r;
	shown = ip->t.shown;
	if (!ip->t.exists)
		return afile__fail(op, -ENOENT, "open", shown);
	if (S_ISDIR(ip->t.st.st_mode))
		return afile__fail(op, -EISDIR, "open", shown);
	if (S_ISLNK(ip->t.st.st_mode))
		return afile__fail(op, -ELOOP, "open", shown);
	if (!S_ISREG(ip->t.st.st_mode))
		return afile__fail(op, AFILE_ENOTREG, "open", shown);
	/* Not a file another user planted in a sticky directory (path.c). */
	r = afile__target_check_planted(op, &ip->t);
	if (r < 0)
		return r;
	r = afile__hidden_name(ip->t.name, UNDO_SUFFIX, ip->rname);
	if (r < 0)
		return afile__fail(op, r, "name undo record", shown);
	if (sidecar &&
	    (r = afile__lock_name(op, ip->t.dfd, ip->t.name, shown,
		 AFILE_LOCK_EXCLUSIVE, afile__wait_ms(op), &ip->lock_fd)) < 0)
		return r;
	ip->fd = afile__openat(ip->t.dfd, ip->t.name,
	    O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0);
	if (ip->fd < 0)
		return afile__fail(op, ip->fd, "open", shown);
	r = afile__lock_fd(ip->fd, F_WRLCK, true);
	if (r < 0)
		return afile__fail(op, r, "lock", shown);
	/* After the lock: what the file is now, not before the wait. */
	r = afile__fstat(ip->fd, &ip->st);
	if (r < 0)
		return afile__fail(op, r, "read metadata", shown);
	if (!S_ISREG(ip->st.st_mode))
		return afile__fail(op, AFILE_ENOTREG, "open", shown);
	/*
	 * The record is applied to the file: never one another user planted
	 * in a sticky directory (its checksum is no signature).
	 */
	ip->rfd = afile__open_own(op, ip->t.dfd, ip->rname, O_RDWR, 0);
	if (ip->rfd == -ENOENT)
		ip->rfd = -1;
	else if (ip->rfd < 0)
		return afile__fail(op, ip->rfd, "open undo record", shown);
	return 0;
}

/* Build the record of a patch of @rg[0..@n) into a malloc()ed buffer. */
static int
build(struct ip *ip, const struct afile_range *rg, size_t n,
    unsigned char **ret, size_t *ret_len)
{
	uint64_t old = (uint64_t)ip->st.st_size, new_size = old;
	size_t total = HDR_LEN + n * RANGE_LEN + CRC_LEN;
	unsigned char *b, *p;

	for (size_t i = 0; i < n; i++) {
		uint64_t end = rg[i].offset + rg[i].len;
		uint64_t s = rg[i].offset >= old     ? 0
		    : rg[i].len < old - rg[i].offset ? rg[i].len
						     : old - rg[i].offset;

		if (end > new_size && rg[i].len)
			new_size = end;
		if (s > SIZE_MAX - total)
			return afile__fail(
			    ip->op, -ENOMEM, "build undo record", ip->t.shown);
		total += (size_t)s;
	}
	b = afile__malloc(total);
	if (!b)
		return afile__fail(
		    ip->op, -ENOMEM, "build undo record", ip->t.shown);
	memset(b, 0, HDR_LEN);
	memcpy(b, UNDO_MAGIC, 8);
	put32(b + 8, (uint32_t)n);
	put64(b + 16, (uint64_t)ip->st.st_dev);
	put64(b + 24, (uint64_t)ip->st.st_ino);
	put64(b + 32, old);
	put64(b + 40, new_size);
	put64(b + 48, total);
	p = b + HDR_LEN + n * RANGE_LEN;
	for (size_t i = 0; i < n; i++) {
		uint64_t s = rg[i].offset >= old     ? 0
		    : rg[i].len < old - rg[i].offset ? rg[i].len
						     : old - rg[i].offset;
		ssize_t got = s
		    ? afile__pread_all(ip->fd, p, (size_t)s, rg[i].offset)
		    : 0;

		if (got >= 0 && (uint64_t)got != s)
			got = -EIO; /* shrunk by someone who ignores the lock */
		if (got < 0) {
			afile__free(b);
			return afile__fail(
			    ip->op, (int)got, "read old bytes", ip->t.shown);
		}
		put64(b + HDR_LEN + i * RANGE_LEN, rg[i].offset);
		put64(b + HDR_LEN + i * RANGE_LEN + 8, s);
		p += s;
	}
	put32(p, afile__crc32c(0, b, total - CRC_LEN));
	*ret = b;
	*ret_len = total;
	return 0;
}

/* Steps 2 and 3: the record, durable and findable. */
static int
write_record(struct ip *ip, const unsigned char *b, size_t len)
{
	struct afile__op *op = ip->op;
	bool created = false;
	int r;

	if (ip->rfd < 0) {
		ip->rfd = afile__open_own(op, ip->t.dfd, ip->rname,
		    O_RDWR | O_CREAT | O_EXCL, ip->st.st_mode & 0666);
		if (ip->rfd < 0)
			return afile__fail(
			    op, ip->rfd, "create undo record", ip->t.shown);
		created = true;
	}
	r = afile__pwrite_all(ip->rfd, b, len, 0);
	if (r < 0) {
		(void)afile__ftruncate(ip->rfd, 0);
		return afile__fail(op, r, "write undo record", ip->t.shown);
	}
	if (op->sync == AFILE_SYNC_NONE)
		return 0;
	r = afile__fsync(ip->rfd, true);
	if (r == 0 && created) {
		r = afile__fsync_dir(ip->t.dfd);
		if (r == -EINVAL || afile__unsupported(r)) {
			op->achieved = AFILE_SYNC_DATA; /* as sync.c */
			r = 0;
		}
	}
	if (r < 0) {
		/* Not known durable: the file is still untouched. */
		(void)afile__ftruncate(ip->rfd, 0);
		return afile__fail(op, r, "sync undo record", ip->t.shown);
	}
	return 0;
}

/* Step 4 and 5; on failure the old bytes go back (or stay recorded). */
static int
apply(struct ip *ip, const struct afile_range *rg, size_t n,
    const unsigned char *b, size_t len)
{
	struct afile__op *op = ip->op;
	struct undo u;
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++)
		if (rg[i].len)
			r = afile__pwrite_all(
			    ip->fd, rg[i].buf, rg[i].len, rg[i].offset);
	if (r < 0)
		r = afile__fail(op, r, "write", ip->t.shown);
	else if (op->sync != AFILE_SYNC_NONE &&
	    (r = afile__fsync(ip->fd, true)) < 0)
		r = afile__fail(op, r, "sync file", ip->t.shown);
	else if ((r = afile__ftruncate(ip->rfd, 0)) < 0)
		r = afile__fail(op, r, "retire undo record", ip->t.shown);
	else if (op->sync == AFILE_SYNC_NONE ||
	    (r = afile__fsync(ip->rfd, true)) == 0)
		return 0;
	else
		/*
		 * The change is in and synced, the record truncated but not
		 * known durable: the truncation may reach the disk at any
		 * time, so the record can no longer guard a rollback.  A
		 * power cut may still bring the record back, which undoes
		 * the whole change: visible, not known durable.
		 */
		return afile__fail_cause(
		    op, AFILE_EUNSYNCED, r, "sync undo record", ip->t.shown);
	/*
	 * Take the change back now, so that the failed call leaves the file
	 * as it was; if that fails too, the durable record still says how.
	 */
	if (undo_parse(b, len, &u)) {
		struct stat now;

		if (afile__fstat(ip->fd, &now) == 0)
			ip->st.st_size = now.st_size;
		if (undo_apply(ip, &u) == 0)
			(void)retire(ip, true);
	}
	return r;
}

int
afile__inplace_patch(struct afile__op *op, int dirfd, const char *path,
    const struct afile_range *rg, size_t n, unsigned int flags)
{
	unsigned char *b = NULL;
	size_t len = 0;
	struct ip ip;
	int r;

	if (op->sync == AFILE_SYNC_DATA)
		op->sync = op->achieved = AFILE_SYNC_FULL;
	r = ip_open(op, dirfd, path, flags, true, &ip);
	if (r == 0 && ip.st.st_nlink > 1)
		r = afile__fail(
		    op, AFILE_EHARDLINKS, "check target", ip.t.shown);
	if (r == 0)
		r = recover(&ip);
	if (r >= 0 && n)
		r = build(&ip, rg, n, &b, &len);
	if (r >= 0 && n)
		r = write_record(&ip, b, len);
	if (r >= 0 && n)
		r = apply(&ip, rg, n, b, len);
	afile__free(b);
	ip_close(&ip);
	return r < 0 ? r : 0;
}

int
afile__inplace_recover(
    struct afile__op *op, int dirfd, const char *path, unsigned int flags)
{
	struct ip ip;
	int r;

	r = ip_open(op, dirfd, path, flags, false, &ip);
	if (r == 0)
		r = recover(&ip);
	ip_close(&ip);
	return r;
}

/* The record's name for @path relative to the same directory; or false. */
static bool
record_path(const char *path, char *out, size_t room)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char name[NAME_MAX + 1];
	size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;

	if (!*base || !strcmp(base, ".") || !strcmp(base, "..") ||
	    afile__hidden_name(base, UNDO_SUFFIX, name) < 0 ||
	    dlen + strlen(name) + 1 > room)
		return false;
	memcpy(out, path, dlen);
	memcpy(out + dlen, name, strlen(name) + 1);
	return true;
}

/*
 * Is an interrupted in-place patch of the file open as @fd left?  @fd
 * was opened from @path relative to @dirfd (@via_link: through a symlink,
 * so the record is beside the file the link leads to).
 */
static int
pending(struct afile__op *op, int dirfd, const char *path, bool via_link)
{
	struct afile__target t;
	char rpath[4096], name[NAME_MAX + 1];
	struct stat st;
	int r;

	if (!via_link) {
		if (!record_path(path, rpath, sizeof(rpath)))
			return 0;
		r = afile__fstatat(dirfd, rpath, &st, AT_SYMLINK_NOFOLLOW);
		return r == 0 && st.st_size > 0;
	}
	if (afile__target_open(op, dirfd, path, true, &t) < 0) {
		op->failed = false; /* not an error of the read */
		return 0;
	}
	r = afile__hidden_name(t.name, UNDO_SUFFIX, name);
	if (r == 0)
		r = afile__fstatat(t.dfd, name, &st, AT_SYMLINK_NOFOLLOW);
	afile__target_close(&t);
	return r == 0 && st.st_size > 0;
}

int
afile__inplace_settle(struct afile__op *op, int dirfd, const char *name)
{
	int r;

	if (!pending(op, dirfd, name, false))
		return 0;
	r = afile__inplace_recover(op, dirfd, name, AFILE_NOFOLLOW);
	if (r == AFILE_EPROTECTED) {
		/* A record planted by another user: not ours, ignored. */
		op->failed = false;
		return 0;
	}
	return r < 0 ? r : 0;
}

int
afile__open_shared(struct afile__op *op, int dirfd, const char *path,
    unsigned int flags, int oflags)
{
	bool via_link = false;
	int fd, r;

	for (int tries = 0;; tries++) {
		fd = afile__openat(
		    dirfd, path, O_RDONLY | O_NOCTTY | O_NOFOLLOW | oflags, 0);
		if (fd == -ELOOP && !(flags & AFILE_NOFOLLOW)) {
			via_link = true;
			fd = afile__openat(
			    dirfd, path, O_RDONLY | O_NOCTTY | oflags, 0);
		}
		if (fd < 0)
			return afile__fail(op, fd, "open", path);
		/*
		 * The shared lock waits out a running in-place patch.  Where
		 * the file cannot be locked (no locks on this file system or
		 * file type) no in-place patch can run either.
		 */
		r = afile__lock_fd(fd, F_RDLCK, true);
		if (r < 0 && r != -EINVAL && r != -ENOLCK &&
		    !afile__unsupported(r)) {
			afile__close_quiet(fd);
			return afile__fail(op, r, "lock", path);
		}
		if (tries > 2 || !pending(op, dirfd, path, via_link))
			return fd;
		/* A crashed patch: undo it under the write lock, then again. */
		afile__close_quiet(fd);
		r = afile__inplace_recover(op, dirfd, path, flags);
		if (r == AFILE_EPROTECTED) {
			/* A record planted by another user: not ours, ignored.
			 */
			op->failed = false;
			tries = 3;
			continue;
		}
		if (r < 0)
			return r;
	}
}

int
afile_patch_recover(int dirfd, const char *path, unsigned int flags,
    const struct afile_opts *opts)
{
	struct afile__op op;
	int r;

	r = afile__op_init(&op, flags, AFILE_NOFOLLOW, opts);
	if (r < 0)
		return afile__op_done(&op, r);
	r = afile__inplace_recover(&op, dirfd, path, flags);
	return r == 1 ? (afile__op_done(&op, 0), 1) : afile__op_done(&op, r);
}
