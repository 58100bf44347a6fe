/* SPDX-License-Identifier: MIT */
/*
 * inplace.c - patches written into the file itself (AFILE_INPLACE),
 * behind a redo log, and the cooperating read that never sees half of
 * one.
 *
 * A copy-based patch costs the size of the file where the file system
 * cannot share extents (ext4, tmpfs, NFS).  An in-place patch costs the
 * size of the change: the new bytes go to a redo log beside the file,
 * ".NAME.afile-redo", and one sync of the log is the commit point; they
 * are then written into the file without a sync, and written again from
 * the log after a crash.  The log's bytes are redo.c's (and
 * docs/FORMAT.md's): a header (generation, the file's identity), then
 * records; and a marker (how far the file is known to hold the log, and
 * in which boot and mount), kept in the file's lock sidecar so that the
 * log's sync writes the record alone; redo.c also draws the log's
 * states.  This file does the I/O, the locks and the order of the steps.
 *
 * Protocol of one patch (the file's sidecar lock, then an OFD write lock
 * on the file's own inode, are held throughout):
 *   1. if the marker does not say "applied in this boot" (a crash or a
 *      power cut since), replay the log first (recover(), below);
 *   2. when the log has grown past afile__inplace_log_max, checkpoint:
 *      sync the file (it now holds every record durably), then start a
 *      new generation: a new header, written with the next record, so
 *      that the records of the old one are never replayed again;
 *   3. write the marker "pending" (the next reader replays) before the
 *      log changes in any way (synced when it replaces a "durable"
 *      marker, which a power cut would otherwise bring back), then the
 *      record {generation, seq, sizes, ranges, new bytes, CRC-32C} at
 *      the end of the log;
 *   4. sync the log (fdatasync); when this call created the log, sync the
 *      directory too.  The commit point: from here a crash at any time
 *      ends in the new version;
 *   5. write the new bytes into the file, unsynced;
 *   6. write the marker "applied through this record, in boot B"
 *      (/proc/sys/kernel/random/boot_id), unsynced.
 * One sync per patch, plus one per checkpoint (every 1 MiB of log) and
 * one of the directory for a new log.  Where the boot cannot be read
 * (no /proc) step 6 syncs the file first and marks the record durable.
 * AFILE_SYNC_NONE skips every sync: atomic against process crashes only.
 *
 * Recovery (the next patch, afile_read(), afile_patch_recover()): under
 * the file's OFD write lock.  The marker is trusted only in the boot that
 * wrote it: after a power cut the unsynced writes of steps 5 and 6 may be
 * lost in any part.  Replay reads the records of the header's generation
 * in seq order, each complete with a good CRC, stopping at the first
 * that is not (a torn record was never committed, so never acknowledged,
 * and its bytes never reached the file), syncs the log before the first
 * record it replays (a writer killed between writing its record and
 * syncing it leaves a whole record that is not durable: replayed
 * unsynced, a power cut could keep part of its bytes in the file and
 * lose the record), sets the file to each record's
 * old size and writes its ranges: idempotent, so a crash during recovery
 * is recovered the same way.  Then the marker says "applied" for this
 * boot.  A log whose header is torn, or of another file (the name was
 * replaced since: st_ino or the inode generation differ), holds nothing
 * to replay: it is truncated to 0 bytes.
 *
 * Identity: the inode number alone would match a new file that reused a
 * freed inode number; the inode generation (FS_IOC_GETVERSION: ext4, xfs,
 * btrfs) tells them apart.  Where the file system has none (tmpfs, NFS,
 * FUSE) only st_ino is compared.  Not st_dev: the log is beside the file,
 * and btrfs changes a subvolume's st_dev from one mount to the next.
 *
 * Invariants:
 *   1. Nothing is written into the file before its record is durable in
 *      the log (step 4); a failure before that leaves the file
 *      byte-for-byte unchanged and takes the record back.
 *   2. While the file may lack a committed record, the marker does not
 *      vouch for it: it says "pending" from before the log changes until
 *      after the file is written, and a marker that says "applied" is
 *      trusted only for the file it names, in its own boot and mount (or
 *      once the file was synced: durable), and only for a log that
 *      reaches its end.  The marker is synced only as "pending" over a
 *      durable one: lost, it is absent, which replays, or the marker of
 *      this boot it replaced, which a new boot does not trust.
 *   3. Replay writes only what committed records hold, in their order,
 *      and sets the file's size from them: running it twice, or after a
 *      crash in the middle of it, gives the same bytes.
 *   4. A log never reaches the wrong file: it is named by st_ino and the
 *      inode generation (redo.c), and one planted by another user in a
 *      sticky directory is never opened.
 *   5. A checkpoint syncs the file before the new generation's header is
 *      written, so the records that header retires are already in the
 *      file for good.
 *   6. Every change of the log and the file happens under the file's OFD
 *      write lock; cooperating readers hold its shared lock.
 *
 * The marker lives in the sidecar at AFILE__REDO_MARK_OFF (an update
 * record may fill its first bytes, view.c).  A recovery opens the sidecar
 * without locking it; where it cannot, it leaves the marker as it is, and
 * the next reader replays again.
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
#include "redo.h"

uint64_t afile__inplace_log_max = 1u << 20;

/* One in-place call: the target, its locks and the log. */
struct ip {
	struct afile__op *op;
	struct afile__target t;
	int lock_fd; /* the sidecar, exclusive; -1 for a recovery */
	int mfd;     /* the sidecar, for the marker: lock_fd, or its own */
	int fd;      /* the file, O_RDWR, OFD write lock */
	int rfd;     /* the log, or -1 while it does not exist */
	char rname[NAME_MAX + 1];
	struct stat st;
	struct stat lock_st; /* the sidecar's identity (a patcher's again) */
	struct stat rst;     /* the log's identity, while rfd >= 0 */
	struct afile__redo_id id; /* the file: st_ino, inode generation */
	struct afile__redo_here here;
	bool have_boot;
	bool durable_mark; /* the marker says "durable": a power cut keeps it */
	/* The log: live generation, last seq, end of the last record. */
	bool fresh; /* no usable header: a new generation starts */
	uint64_t gen, seq, end;
	uint64_t lsize; /* the log's size (at open, under the write lock) */
};

/*
 * Write the marker: "applied through ip->end" for this boot (or durable,
 * @flags), or with @pending "pending".  Without a sidecar (a recovery
 * that could not open it) the marker stays as it is: not clean, since
 * the log was recovered, so the next reader replays again.
 */
static int
put_mark(struct ip *ip, bool pending, uint32_t flags)
{
	unsigned char b[AFILE__REDO_MARK_LEN];

	if (ip->mfd < 0)
		return 0;
	afile__redo_mark_encode(b, ip->gen, ip->seq, ip->end, &ip->id,
	    pending || !ip->have_boot ? NULL : &ip->here, flags);
	return afile__pwrite_all(
	    ip->mfd, b, AFILE__REDO_MARK_LEN, AFILE__REDO_MARK_OFF);
}

static int
mark_applied(struct ip *ip, uint32_t flags)
{
	return put_mark(ip, false, flags);
}

static int
mark_pending(struct ip *ip)
{
	return put_mark(ip, true, 0);
}

/*
 * A recovery's sidecar, for the marker: opened unlocked, never one
 * another user planted; created (@oflags O_CREAT) only when there is a
 * log to speak of.  Where it cannot be opened, ip->mfd stays -1.
 */
static void
open_marker(struct ip *ip, int oflags)
{
	char name[NAME_MAX + 1];
	struct afile__op quiet = *ip->op;

	if (ip->mfd >= 0 ||
	    afile__hidden_name(ip->t.name, AFILE__LOCK_SUFFIX, name) < 0)
		return;
	ip->mfd = afile__open_own(
	    &quiet, ip->t.dfd, name, O_RDWR | oflags, 0666, NULL);
	if (ip->mfd < 0)
		ip->mfd = -1;
}

/*
 * Readers read the marker from the sidecar, which its creator's umask may
 * have left unreadable to others: give it the file's read bits, so that
 * whoever may read the file can tell whether it holds the log.  Best
 * effort, at each new generation (a new log, a checkpoint): a reader who
 * cannot read the marker takes the log for pending, and its recovery then
 * needs write access.
 */
static void
share_marker(struct ip *ip)
{
	const int notime = AT_EMPTY_PATH | AFILE__AT_NOTIME;
	mode_t want = ip->st.st_mode & 0444;
	struct stat st;

	if (afile__fstatat(ip->mfd, "", &st, notime) == 0 &&
	    (st.st_mode & want) != want)
		(void)afile__fchmod(ip->mfd, (st.st_mode & 07777) | want);
}

/* Does the marker say the file holds the log (of @size bytes)? */
static int
read_mark(struct ip *ip, uint64_t size, struct afile__redo_mark *m)
{
	unsigned char b[AFILE__REDO_MARK_LEN];
	ssize_t got;

	if (ip->mfd < 0)
		return 0;
	got = afile__pread_all(
	    ip->mfd, b, AFILE__REDO_MARK_LEN, AFILE__REDO_MARK_OFF);
	if (got < 0)
		return afile__fail(
		    ip->op, (int)got, "read redo marker", ip->t.shown);
	return got == AFILE__REDO_MARK_LEN &&
	    afile__redo_clean(
		b, &ip->id, ip->have_boot ? &ip->here : NULL, m) &&
	    m->end <= size;
}

/* Sync the file; where no boot identity exists, mark the log durable. */
static int
settle_mark(struct ip *ip)
{
	int r;

	if (!ip->have_boot && ip->op->sync != AFILE_SYNC_NONE) {
		r = afile__fsync(ip->fd, true);
		if (r < 0)
			return afile__fail(ip->op, r, "sync file", ip->t.shown);
		r = mark_applied(ip, AFILE__REDO_DURABLE);
		ip->durable_mark = r == 0 && ip->mfd >= 0;
	} else {
		r = mark_applied(ip, 0);
	}
	if (r < 0)
		return afile__fail(ip->op, r, "write redo marker", ip->t.shown);
	return 0;
}

/* Write record @rc into the file: its old size, then its ranges. */
static int
rec_apply(struct ip *ip, const struct afile__redo_rec *rc)
{
	const unsigned char *p = rc->bytes;
	int r = 0;

	if ((uint64_t)ip->st.st_size != rc->old_size)
		r = afile__ftruncate(ip->fd, rc->old_size);
	for (uint32_t i = 0; r == 0 && i < rc->n; i++) {
		uint64_t off, len;

		afile__redo_rec_range(rc, i, &off, &len);
		if (len)
			r = afile__pwrite_all(ip->fd, p, (size_t)len, off);
		p += len;
	}
	if (r < 0)
		return afile__fail(ip->op, r, "replay redo log", ip->t.shown);
	ip->st.st_size = (off_t)rc->new_size;
	return 0;
}

/*
 * Load the log's state into @ip; replay it when the marker does not vouch
 * for the file.  Returns the number of records replayed (0: nothing to
 * do), or an error.
 */
static int
recover(struct ip *ip)
{
	unsigned char *buf;
	struct afile__redo_mark m;
	uint64_t size = ip->lsize, off;
	ssize_t got;
	int r, replayed = 0;

	ip->fresh = true;
	ip->durable_mark = false;
	ip->gen = ip->seq = 0;
	ip->end = AFILE__REDO_REC_START;
	if (ip->rfd < 0)
		return 0;
	if (size == 0)
		return 0;
	/* The common case: the marker says the file holds it all. */
	r = read_mark(ip, size, &m);
	if (r < 0)
		return r;
	if (r) {
		ip->fresh = false;
		ip->durable_mark = m.flags & AFILE__REDO_DURABLE;
		ip->gen = m.gen;
		ip->seq = m.seq;
		ip->end = m.end;
		return 0;
	}
	open_marker(ip, O_CREAT); /* to say "applied" once replayed */
	if (size > SIZE_MAX - 1 || !(buf = afile__malloc((size_t)size)))
		return afile__fail(
		    ip->op, -ENOMEM, "read redo log", ip->t.shown);
	got = afile__pread_all(ip->rfd, buf, (size_t)size, 0);
	if (got < 0) {
		afile__free(buf);
		return afile__fail(
		    ip->op, (int)got, "read redo log", ip->t.shown);
	}
	size = (uint64_t)got;
	ip->gen = size >= AFILE__REDO_REC_START
	    ? afile__redo_hdr_gen(buf, &ip->id)
	    : 0;
	if (!ip->gen) {
		/*
		 * Torn (never committed a record) or another file's: nothing
		 * to replay.  Emptied, so that readers pass with one stat.
		 */
		afile__free(buf);
		ip->lsize = 0;
		r = afile__ftruncate(ip->rfd, 0);
		return r < 0
		    ? afile__fail(ip->op, r, "reset redo log", ip->t.shown)
		    : 0;
	}
	ip->fresh = false;
	for (off = AFILE__REDO_REC_START;; ip->seq++) {
		struct afile__redo_rec rc;

		if (!afile__redo_rec_parse(
			buf + off, size - off, ip->gen, ip->seq + 1, &rc))
			break;
		/*
		 * A record is committed once durable, but this one may be a
		 * dead writer's that never reached its sync: sync it before
		 * any of its bytes reach the file, or a power cut could keep
		 * half of them in the file and lose the record that would
		 * finish them.
		 */
		r = replayed || ip->op->sync == AFILE_SYNC_NONE
		    ? 0
		    : afile__fsync(ip->rfd, true);
		if (r < 0) {
			afile__free(buf);
			return afile__fail(
			    ip->op, r, "sync redo log", ip->t.shown);
		}
		r = rec_apply(ip, &rc);
		if (r < 0) {
			afile__free(buf);
			return r;
		}
		off += rc.total;
		replayed++;
	}
	afile__free(buf);
	ip->end = off;
	r = settle_mark(ip);
	if (r < 0)
		return r;
	if (replayed)
		afile__stat_add(AFILE__STAT_RECOVERIES, 1);
	return replayed;
}

/* Close the file, its log and its sidecar (dropping their locks). */
static void
ip_drop(struct ip *ip)
{
	afile__close_quiet(ip->rfd);
	afile__close_quiet(ip->fd);
	if (ip->mfd != ip->lock_fd)
		afile__close_quiet(ip->mfd);
	afile__close_quiet(ip->lock_fd);
	ip->lock_fd = ip->mfd = ip->fd = ip->rfd = -1;
}

static void
ip_close(struct ip *ip)
{
	ip_drop(ip);
	afile__target_close(&ip->t);
}

/* Is the name (ip->t.st) a regular file, not one another user planted? */
static int
ip_check(struct ip *ip)
{
	const char *shown = ip->t.shown;

	if (!ip->t.exists)
		return afile__fail(ip->op, -ENOENT, "open", shown);
	if (S_ISDIR(ip->t.st.st_mode))
		return afile__fail(ip->op, -EISDIR, "open", shown);
	if (S_ISLNK(ip->t.st.st_mode))
		return afile__fail(ip->op, -ELOOP, "open", shown);
	if (!S_ISREG(ip->t.st.st_mode))
		return afile__fail(ip->op, AFILE_ENOTREG, "open", shown);
	/* Not a file another user planted in a sticky directory (path.c). */
	return afile__target_check_planted(ip->op, &ip->t);
}

/*
 * Open the log, if there is one.  Never one another user planted in a
 * sticky directory: it is applied to the file, and its checksum is no
 * signature.
 */
static int
open_log(struct ip *ip)
{
	ip->rfd =
	    afile__open_own(ip->op, ip->t.dfd, ip->rname, O_RDWR, 0, &ip->rst);
	ip->lsize = ip->rfd >= 0 ? (uint64_t)ip->rst.st_size : 0;
	if (ip->rfd == -ENOENT)
		ip->rfd = -1;
	else if (ip->rfd < 0)
		return afile__fail(
		    ip->op, ip->rfd, "open redo log", ip->t.shown);
	return 0;
}

/*
 * Take the locks (the sidecar only with @sidecar), open the file and its
 * log (if there is one).
 */
static int
ip_take(struct ip *ip, bool sidecar)
{
	struct afile__op *op = ip->op;
	const char *shown = ip->t.shown;
	int r;

	if (sidecar &&
	    (r = afile__lock_name_again(op, ip->t.dfd, ip->t.name, shown,
		 AFILE_LOCK_EXCLUSIVE, afile__wait_ms(op), &ip->lock_fd,
		 &ip->lock_st)) < 0)
		return r;
	ip->mfd = ip->lock_fd;
	if (!sidecar)
		open_marker(ip, 0);
	ip->fd = afile__openat(ip->t.dfd, ip->t.name,
	    O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0);
	if (ip->fd < 0)
		return afile__fail(op, ip->fd, "open", shown);
	r = afile__lock_fd(ip->fd, F_WRLCK, true);
	if (r < 0)
		return afile__fail(op, r, "lock", shown);
	/* After the lock: what the file is now, not before the wait. */
	r = afile__fstatat(
	    ip->fd, "", &ip->st, AT_EMPTY_PATH | AFILE__AT_NOTIME);
	if (r < 0)
		return afile__fail(op, r, "read metadata", shown);
	if (!S_ISREG(ip->st.st_mode))
		return afile__fail(op, AFILE_ENOTREG, "open", shown);
	ip->id.dev = (uint64_t)ip->st.st_dev;
	ip->id.ino = (uint64_t)ip->st.st_ino;
	ip->id.igen = afile__file_gen(ip->fd);
	ip->have_boot = afile__boot_id(ip->here.boot) == 0;
	if (ip->have_boot &&
	    afile__stat_mnt(
		ip->fd, "", AT_EMPTY_PATH, &(uint64_t){0}, &ip->here.mnt) < 0)
		ip->have_boot = false;
	return open_log(ip);
}

/*
 * Resolve @path, take its locks (the sidecar only with @sidecar), open
 * the file and its log (if there is one).
 */
static int
ip_open(struct afile__op *op, int dirfd, const char *path, unsigned int flags,
    bool sidecar, struct ip *ip)
{
	int r;

	ip->op = op;
	ip->lock_fd = ip->mfd = ip->fd = ip->rfd = -1;
	r = afile__target_open_notime(
	    op, dirfd, path, !(flags & AFILE_NOFOLLOW), &ip->t);
	if (r < 0)
		return r;
	r = ip_check(ip);
	if (r < 0)
		return r;
	r = afile__hidden_name(ip->t.name, AFILE__REDO_SUFFIX, ip->rname);
	if (r < 0)
		return afile__fail(op, r, "name redo log", ip->t.shown);
	return ip_take(ip, sidecar);
}

/* Build the record of a patch of @rg[0..@n) into a malloc()ed buffer. */
static int
build(struct ip *ip, const struct afile_range *rg, size_t n,
    unsigned char **ret, size_t *ret_len, uint64_t *ret_new_size)
{
	uint64_t old = (uint64_t)ip->st.st_size, new_size;
	size_t total = afile__redo_rec_size(rg, n, old, &new_size);
	unsigned char *b = total ? afile__malloc(total) : NULL;

	if (!b)
		return afile__fail(
		    ip->op, -ENOMEM, "build redo record", ip->t.shown);
	afile__redo_rec_encode(
	    b, total, ip->gen, ip->seq + 1, old, new_size, rg, n);
	*ret = b;
	*ret_len = total;
	*ret_new_size = new_size;
	return 0;
}

/* A new generation: a number no record left in the log carries. */
static uint64_t
new_gen(const struct ip *ip)
{
	uint64_t g = 0;

	if (afile__random(&g, sizeof(g)) < 0)
		g = afile__now_ns() ^ (ip->gen + 1);
	return g ? g : 1;
}

/*
 * Make the log at least @need bytes long, in zeros, doubling (up to the
 * checkpoint size): records then overwrite blocks that are allocated and
 * written, so that the log's fdatasync needs no metadata (no journal
 * commit on ext4), as SQLite's WAL after its first pass.
 */
static int
grow(struct ip *ip, uint64_t need)
{
	uint64_t to = ip->lsize * 2 > AFILE__REDO_REC_START * 8
	    ? ip->lsize * 2
	    : AFILE__REDO_REC_START * 8;
	unsigned char *zero;
	int r;

	if (need <= ip->lsize)
		return 0;
	if (to > afile__inplace_log_max)
		to = afile__inplace_log_max;
	if (to < need)
		to = need;
	if (to - ip->lsize > SIZE_MAX ||
	    !(zero = afile__malloc((size_t)(to - ip->lsize))))
		return -ENOMEM;
	memset(zero, 0, (size_t)(to - ip->lsize));
	r = afile__pwrite_all(
	    ip->rfd, zero, (size_t)(to - ip->lsize), ip->lsize);
	afile__free(zero);
	if (r == 0)
		ip->lsize = to;
	return r;
}

/*
 * Steps 2 to 4: checkpoint if due, then the record, durable: the commit
 * point.  On failure the file is untouched.
 */
static int
commit(struct ip *ip, unsigned char *b, size_t len)
{
	struct afile__op *op = ip->op;
	unsigned char head[AFILE__REDO_REC_START];
	bool created = false;
	int r;

	if (!ip->fresh && ip->end > AFILE__REDO_REC_START &&
	    ip->end + len > afile__inplace_log_max) {
		/* Step 2: the file holds the log durably, which can go. */
		if (op->sync != AFILE_SYNC_NONE &&
		    (r = afile__fsync(ip->fd, true)) < 0) {
			/*
			 * The pages may be clean and lost (fsyncgate): replay
			 * them before any later checkpoint (marker pending).
			 */
			(void)mark_pending(ip);
			return afile__fail(op, r, "sync file", ip->t.shown);
		}
		ip->fresh = true;
	}
	/* Step 3: "pending" before the log changes (invariant 2). */
	r = mark_pending(ip);
	if (r < 0)
		return afile__fail(op, r, "write redo marker", ip->t.shown);
	/*
	 * A "durable" marker is trusted after a power cut, which may lose
	 * the unsynced "pending" over it and keep the log's new record: the
	 * record would then never be replayed.  Only a patch without a boot
	 * identity writes one, and such a patch syncs the file anyway.
	 */
	if (ip->durable_mark && op->sync != AFILE_SYNC_NONE) {
		r = afile__fsync(ip->mfd, true);
		if (r < 0)
			return afile__fail(
			    op, r, "sync redo marker", ip->t.shown);
		ip->durable_mark = false;
	}
	if (ip->fresh) {
		ip->gen = new_gen(ip);
		ip->seq = 0;
		ip->end = AFILE__REDO_REC_START;
		/* The record was built for the old generation. */
		afile__redo_rec_restamp(b, len, ip->gen, 1);
		share_marker(ip);
	}
	if (ip->rfd < 0) {
		ip->rfd = afile__open_own(op, ip->t.dfd, ip->rname,
		    O_RDWR | O_CREAT | O_EXCL, ip->st.st_mode & 0666, &ip->rst);
		if (ip->rfd < 0)
			return afile__fail(
			    op, ip->rfd, "create redo log", ip->t.shown);
		created = true;
	}
	/* The zeros first: they would overwrite a new header. */
	r = grow(ip, ip->end + len);
	if (r < 0)
		return afile__fail(op, r, "write redo log", ip->t.shown);
	r = 0;
	if (ip->fresh) {
		memset(head, 0, sizeof(head));
		afile__redo_hdr_encode(head, ip->gen, &ip->id);
		r = afile__pwrite_all(ip->rfd, head, AFILE__REDO_REC_START, 0);
	}
	if (r == 0)
		r = afile__pwrite_all(ip->rfd, b, len, ip->end);
	if (r < 0)
		r = afile__fail(op, r, "write redo log", ip->t.shown);
	else if (op->sync == AFILE_SYNC_NONE)
		return 0;
	else if ((r = afile__fsync(ip->rfd, true)) < 0)
		r = afile__fail(op, r, "sync redo log", ip->t.shown);
	else if (created && (r = afile__sync_dir(op, ip->t.dfd)) < 0)
		r = afile__fail(op, r, "sync directory", ip->t.shown);
	if (r == 0)
		return 0;
	/*
	 * Not known durable, and the file is untouched: take the record
	 * back from the page cache (a power cut may still keep it, which
	 * applies the change: not acknowledged, so old or new).  A new
	 * header goes too, so that the next patch writes it again.
	 */
	memset(head, 0, sizeof(head));
	(void)afile__pwrite_all(ip->rfd, head, AFILE__REDO_REC_HDR, ip->end);
	if (ip->fresh)
		(void)afile__pwrite_all(ip->rfd, head, AFILE__REDO_HDR_LEN, 0);
	else
		(void)mark_applied(ip, 0);
	return r;
}

/* Steps 5 and 6: the new bytes into the file, then the marker. */
static int
apply(struct ip *ip, const struct afile_range *rg, size_t n, size_t len)
{
	struct afile__op *op = ip->op;
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++)
		if (rg[i].len)
			r = afile__pwrite_all(
			    ip->fd, rg[i].buf, rg[i].len, rg[i].offset);
	if (r < 0)
		/*
		 * Committed, half applied: the marker says pending, so the
		 * next cooperating read, patch or recover writes it again.
		 */
		return afile__fail(op, r, "write", ip->t.shown);
	ip->seq++;
	ip->end += len;
	/* A failed marker only costs the next reader a replay. */
	if (settle_mark(ip) < 0)
		op->failed = false;
	return 0;
}

/*
 * One patch under the locks ip_open() or ip_retake() took: recover, then
 * steps 2 to 6.
 */
static int
patch_locked(struct ip *ip, const struct afile_range *rg, size_t n)
{
	struct afile__op *op = ip->op;
	unsigned char *b = NULL;
	uint64_t new_size = 0;
	size_t len = 0;
	int r = 0;

	if (ip->st.st_nlink > 1)
		r = afile__fail(
		    op, AFILE_EHARDLINKS, "check target", ip->t.shown);
	if (r == 0)
		r = recover(ip);
	if (r >= 0 && n)
		r = build(ip, rg, n, &b, &len, &new_size);
	/*
	 * A growing patch reserves its blocks before the commit point, so
	 * that the write after it does not run out of space (where the file
	 * system overwrites in place; copy-on-write ones can still).
	 */
	if (r >= 0 && n && new_size > (uint64_t)ip->st.st_size) {
		r = afile__fallocate_range(ip->fd, (uint64_t)ip->st.st_size,
		    new_size - (uint64_t)ip->st.st_size);
		if (r == -EINVAL || r == -EOPNOTSUPP || afile__unsupported(r))
			r = 0;
		else if (r < 0)
			r = afile__fail(op, r, "reserve space", ip->t.shown);
	}
	if (r >= 0 && n)
		r = commit(ip, b, len);
	if (r >= 0 && n)
		r = apply(ip, rg, n, len);
	afile__free(b);
	return r < 0 ? r : 0;
}

int
afile__inplace_patch(struct afile__op *op, int dirfd, const char *path,
    const struct afile_range *rg, size_t n, unsigned int flags)
{
	struct ip ip;
	int r;

	if (op->sync == AFILE_SYNC_DATA)
		op->sync = op->achieved = AFILE_SYNC_FULL;
	r = ip_open(op, dirfd, path, flags, true, &ip);
	if (r == 0)
		r = patch_locked(&ip, rg, n);
	ip_close(&ip);
	return r;
}

/*
 * A patcher: the in-place protocol with its descriptors kept open between
 * patches, as a database keeps its connection.  Only the pinned directory,
 * the descriptors and the identities of what they name outlive a patch;
 * the locks and everything read under them (the file's size, the log's
 * size and marker) are taken again by each patch.
 *
 *   afile__patcher_open --> IDLE --patch: ip_retake, patch_locked,
 *   ip_unlock--> IDLE --free--> (freed)
 *
 * A patch that fails drops the descriptors (IDLE with none open): the
 * next one opens them again, as after a replaced name.
 */
struct afile_patcher {
	struct afile__op op; /* as afile__op_init() left it: each patch's */
	struct ip ip;
};

/* The locks dropped until the next patch; or every descriptor. */
static void
ip_unlock(struct ip *ip)
{
	if ((ip->fd >= 0 && afile__lock_fd(ip->fd, F_UNLCK, false) < 0) ||
	    (ip->lock_fd >= 0 &&
		afile__lock_fd(ip->lock_fd, F_UNLCK, false) < 0))
		ip_drop(ip);
}

/* The log as the name leads to it now (another patcher may have made it). */
static int
log_again(struct ip *ip)
{
	struct stat st;
	int r;

	r = afile__fstatat(
	    ip->t.dfd, ip->rname, &st, AT_SYMLINK_NOFOLLOW | AFILE__AT_NOTIME);
	if (r < 0 && r != -ENOENT)
		return afile__fail(ip->op, r, "open redo log", ip->t.shown);
	if (r == 0 && ip->rfd >= 0 && st.st_dev == ip->rst.st_dev &&
	    st.st_ino == ip->rst.st_ino) {
		ip->lsize = (uint64_t)st.st_size;
		return 0;
	}
	afile__close_quiet(ip->rfd);
	ip->rfd = -1;
	ip->lsize = 0;
	return r == 0 ? open_log(ip) : 0;
}

/*
 * A patcher's locks, taken again for its next patch: the sidecar, the
 * file's inode if the name still leads to it, then the log as it is now.
 * Where the name leads elsewhere (the file was replaced or removed since)
 * or nothing is open, the file is looked up and opened again as
 * ip_open() does, in the directory the patcher pinned.
 */
static int
ip_retake(struct ip *ip)
{
	struct afile__op *op = ip->op;
	const char *shown = ip->t.shown;
	struct stat st;
	int r;

	if (ip->fd >= 0) {
		r = afile__lock_name_again(op, ip->t.dfd, ip->t.name, shown,
		    AFILE_LOCK_EXCLUSIVE, afile__wait_ms(op), &ip->lock_fd,
		    &ip->lock_st);
		ip->mfd = ip->lock_fd; /* the same sidecar, or -1 (closed) */
		if (r < 0)
			return r;
		r = afile__lock_fd(ip->fd, F_WRLCK, true);
		if (r < 0)
			return afile__fail(op, r, "lock", shown);
		r = afile__fstatat(ip->t.dfd, ip->t.name, &st,
		    AT_SYMLINK_NOFOLLOW | AFILE__AT_NOTIME);
		if (r < 0 && r != -ENOENT)
			return afile__fail(op, r, "check target", shown);
		if (r == 0 && st.st_dev == ip->st.st_dev &&
		    st.st_ino == ip->st.st_ino) {
			ip->st = st;
			return log_again(ip);
		}
	}
	ip_drop(ip);
	r = afile__fstatat(ip->t.dfd, ip->t.name, &ip->t.st,
	    AT_SYMLINK_NOFOLLOW | AFILE__AT_NOTIME);
	if (r < 0 && r != -ENOENT)
		return afile__fail(op, r, "check target", shown);
	ip->t.exists = r == 0;
	r = ip_check(ip);
	return r < 0 ? r : ip_take(ip, true);
}

int
afile__patcher_open(struct afile__op *op, int dirfd, const char *path,
    unsigned int flags, struct afile_patcher **ret)
{
	struct afile_patcher *p;
	int r;

	*ret = NULL;
	if (op->sync == AFILE_SYNC_DATA)
		op->sync = op->achieved = AFILE_SYNC_FULL;
	p = afile__malloc(sizeof(*p));
	if (!p)
		return afile__fail(op, -ENOMEM, "open", path);
	p->op = *op;
	/* What a patch would refuse is refused now. */
	r = ip_open(op, dirfd, path, flags, true, &p->ip);
	if (r == 0 && p->ip.st.st_nlink > 1)
		r = afile__fail(
		    op, AFILE_EHARDLINKS, "check target", p->ip.t.shown);
	if (r < 0) {
		ip_close(&p->ip);
		afile__free(p);
		return r;
	}
	ip_unlock(&p->ip);
	*ret = p;
	return 0;
}

const struct afile__op *
afile__patcher_op(const struct afile_patcher *p)
{
	return &p->op;
}

const char *
afile__patcher_shown(const struct afile_patcher *p)
{
	return p->ip.t.shown;
}

int
afile__patcher_patch(struct afile__op *op, struct afile_patcher *p,
    const struct afile_range *rg, size_t n)
{
	int r;

	p->ip.op = op;
	r = ip_retake(&p->ip);
	if (r == 0)
		r = patch_locked(&p->ip, rg, n);
	if (r < 0)
		ip_drop(&p->ip);
	else
		ip_unlock(&p->ip);
	return r;
}

void
afile__patcher_free(struct afile_patcher *p)
{
	if (!p)
		return;
	ip_close(&p->ip);
	afile__free(p);
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
	return r < 0 ? r : r > 0;
}

/*
 * The name with @suffix (".NAME" + @suffix) of @path's file, relative to
 * the same directory as @path; or false.
 */
static bool
beside_path(const char *path, const char *suffix, char *out, size_t room)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char name[NAME_MAX + 1];
	size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;

	if (!*base || !strcmp(base, ".") || !strcmp(base, "..") ||
	    afile__hidden_name(base, suffix, name) < 0 ||
	    dlen + strlen(name) + 1 > room)
		return false;
	memcpy(out, path, dlen);
	memcpy(out + dlen, name, strlen(name) + 1);
	return true;
}

/*
 * Does the log @log in @dfd hold anything the file may lack (a crash or a
 * power cut since its last patch)?  One fstatat when there is no log;
 * else the marker is read from the sidecar @sidecar (no lock: a patcher
 * changes it only under the file's write lock, which our shared lock
 * excludes).
 */
static int
log_pending(int dfd, const char *log, const char *sidecar)
{
	unsigned char b[AFILE__REDO_MARK_LEN];
	struct afile__redo_here here;
	uint64_t size;
	struct afile__redo_mark m;
	ssize_t n;
	int fd;

	if (afile__stat_mnt(dfd, log, AT_SYMLINK_NOFOLLOW, &size, &here.mnt) <
		0 ||
	    size == 0)
		return 0;
	fd = afile__openat(
	    dfd, sidecar, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0);
	if (fd < 0)
		return 1; /* recovery says why, or finds nothing to do */
	n = afile__pread_all(fd, b, sizeof(b), AFILE__REDO_MARK_OFF);
	afile__close_quiet(fd);
	return n != (ssize_t)sizeof(b) ||
	    !afile__redo_clean(
		b, NULL, afile__boot_id(here.boot) == 0 ? &here : NULL, &m) ||
	    m.end > size;
}

/*
 * Is an interrupted in-place patch of the file open as @fd left?  @fd
 * was opened from @path relative to @dirfd (@via_link: through a symlink,
 * so the log is beside the file the link leads to).
 */
static int
pending(struct afile__op *op, int dirfd, const char *path, bool via_link)
{
	struct afile__target t;
	char log[4096], lock[4096];
	int r;

	if (!via_link) {
		if (!beside_path(path, AFILE__REDO_SUFFIX, log, sizeof(log)) ||
		    !beside_path(path, AFILE__LOCK_SUFFIX, lock, sizeof(lock)))
			return 0;
		return log_pending(dirfd, log, lock);
	}
	if (afile__target_open(op, dirfd, path, true, &t) < 0) {
		op->failed = false; /* not an error of the read */
		return 0;
	}
	r = afile__hidden_name(t.name, AFILE__REDO_SUFFIX, log) == 0 &&
		afile__hidden_name(t.name, AFILE__LOCK_SUFFIX, lock) == 0
	    ? log_pending(t.dfd, log, lock)
	    : 0;
	afile__target_close(&t);
	return r;
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

/*
 * afile_patch_recover(): replay what the file may lack, then fold the log
 * into the file: sync it and empty the log.  The emptying needs no sync:
 * a log that comes back replays bytes the file already holds.
 */
static int
afile__inplace_checkpoint(
    struct afile__op *op, int dirfd, const char *path, unsigned int flags)
{
	struct ip ip;
	int r, replayed;

	r = ip_open(op, dirfd, path, flags, false, &ip);
	if (r == 0)
		r = recover(&ip);
	replayed = r;
	if (r >= 0 && ip.rfd >= 0 && !ip.fresh) {
		if (op->sync != AFILE_SYNC_NONE &&
		    (r = afile__fsync(ip.fd, true)) < 0)
			r = afile__fail(op, r, "sync file", ip.t.shown);
		else if ((r = afile__ftruncate(ip.rfd, 0)) < 0)
			r = afile__fail(op, r, "reset redo log", ip.t.shown);
	}
	ip_close(&ip);
	return r < 0 ? r : replayed > 0;
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
	r = afile__inplace_checkpoint(&op, dirfd, path, flags);
	return r == 1 ? (afile__op_done(&op, 0), 1) : afile__op_done(&op, r);
}
