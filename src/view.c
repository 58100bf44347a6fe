/* SPDX-License-Identifier: MIT */
/*
 * view.c - afile_update() on file systems that may show a stale view.
 *
 * On a local file system the version of a file that a process sees after
 * taking the lock is the last one published.  A client of a network or
 * FUSE file system (GlusterFS, NFS, CephFS) may instead see what its own
 * caches hold: a name that still leads to the replaced inode (which then
 * fails with ESTALE, or reads the old bytes), attributes or data of a
 * version another client has replaced.  A read-modify-write that starts
 * from such a version silently loses the other client's update, although
 * the lock excluded the two correctly (the lock itself lives on the
 * server).
 *
 * So the last updater records, beside the lock, which version it
 * published: the sidecar lock file's contents (written under the
 * exclusive lock, after the publication) name the version it replaced
 * and the one it published, by identity (inode, size, mtime; and the
 * ctime, to tell older from newer), which every client sees alike.  The next
 * updater, holding the lock, compares what it sees with the record:
 *
 *   seen == published       fresh: go on.
 *   seen == replaced, or    stale: this client still sees an older
 *   an older ctime          version; look again (by path, from scratch)
 *                           with backoff, bounded by VIEW_WAIT_NS, then
 *                           fail with -ESTALE naming the file.
 *   absent, or another      maybe stale: look again the same way, but
 *   version of the same     when it stays so for the whole wait, go on:
 *   ctime tick              a removal (afile_remove() does not record),
 *                           or a newer version of the same clock tick.
 *   a newer ctime           a newer version written by someone who does
 *                           not record (a plain locked write), or a
 *                           record lost in a crash: go on.
 *
 * A version a writer that does not record left with an older ctime (a
 * client whose clock is behind) makes every update fail with -ESTALE
 * until the record goes: truncating the sidecar clears it.
 *
 * Invariants:
 *   1. Only file systems flagged FUSE or NETWORK in fstype.c record and
 *      check: local ones cannot show a stale view, and pay nothing.
 *   2. The record is only a hint that can detect staleness, never a
 *      source of data: a torn, foreign or unparsable record is ignored.
 *   3. ESTALE from the open, stat or read is retried as a whole, on every
 *      file system, within the same bound (as the kernel retries a path
 *      walk once with LOOKUP_REVAL).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define VIEW_WAIT_NS     5000000000u /* > every default client cache timeout */
#define VIEW_BACKOFF_NS  2000000u
#define VIEW_BACKOFF_MAX 256000000u
#define RECORD_MAX       256

/* Parse "-" or "INO:SIZE:MSEC.MNSEC:CSEC.CNSEC". */
static int
parse_ident(const char *s, struct afile__ident *id)
{
	unsigned long long ino, size;
	long long ms, mns, cs, cns;
	int n = 0;

	memset(id, 0, sizeof(*id));
	if (strcmp(s, "-") == 0)
		return 0;
	if (sscanf(s, "%llu:%llu:%lld.%lld:%lld.%lld%n", &ino, &size, &ms, &mns,
		&cs, &cns, &n) != 6 ||
	    s[n] != '\0')
		return -EINVAL;
	id->exists = true;
	id->ino = ino;
	id->size = size;
	id->mtime_s = ms;
	id->mtime_ns = mns;
	id->ctime_s = cs;
	id->ctime_ns = cns;
	return 0;
}

static void
format_ident(const struct afile__ident *id, char *buf, size_t n)
{
	if (!id->exists)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n,
		    "%" PRIu64 ":%" PRIu64 ":%" PRId64 ".%09" PRId64 ":%" PRId64
		    ".%09" PRId64,
		    id->ino, id->size, id->mtime_s, id->mtime_ns, id->ctime_s,
		    id->ctime_ns);
}

/* FNV-1a, enough to tell a whole record from a torn or foreign one. */
static uint32_t
record_sum(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t k = 0; k < n; k++)
		h = (h ^ (unsigned char)s[k]) * 16777619u;
	return h;
}

void
afile__ident_of(const struct stat *st, struct afile__ident *id)
{
	memset(id, 0, sizeof(*id));
	id->exists = true;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_s = (int64_t)st->st_mtim.tv_sec;
	id->mtime_ns = (int64_t)st->st_mtim.tv_nsec;
	id->ctime_s = (int64_t)st->st_ctim.tv_sec;
	id->ctime_ns = (int64_t)st->st_ctim.tv_nsec;
}

bool
afile__ident_same(const struct afile__ident *a, const struct afile__ident *b)
{
	if (!a->exists || !b->exists)
		return a->exists == b->exists;
	return a->ino == b->ino && a->size == b->size &&
	    a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns;
}

int
afile__view_record_parse(const char *buf, size_t len, struct afile__ident *prev,
    struct afile__ident *cur)
{
	char line[RECORD_MAX], a[128], b[128];
	const char *nl = memchr(buf, '\n', len);
	unsigned int sum;
	size_t body;
	int n = 0;

	if (!nl || (size_t)(nl - buf) >= sizeof(line))
		return -EINVAL;
	memcpy(line, buf, (size_t)(nl - buf));
	line[nl - buf] = '\0';
	if (sscanf(line, "afile-update 1 %127s %127s %n", a, b, &n) != 2 ||
	    n == 0)
		return -EINVAL;
	body = (size_t)n;
	if (sscanf(line + body, "%8x", &sum) != 1 ||
	    sum != record_sum(line, body) || strlen(line + body) != 8)
		return -EINVAL;
	if (parse_ident(a, prev) < 0 || parse_ident(b, cur) < 0)
		return -EINVAL;
	return 0;
}

size_t
afile__view_record_format(const struct afile__ident *prev,
    const struct afile__ident *cur, char *buf, size_t n)
{
	char a[128], b[128];
	int len;

	format_ident(prev, a, sizeof(a));
	format_ident(cur, b, sizeof(b));
	len = snprintf(buf, n, "afile-update 1 %s %s ", a, b);
	if (len < 0 || (size_t)len + 10 > n)
		return 0;
	len += snprintf(buf + len, n - (size_t)len, "%08x\n",
	    (unsigned int)record_sum(buf, (size_t)len));
	return (size_t)len;
}

enum judgement {
	FRESH, /* the version last recorded, or a newer one */
	STALE, /* certainly older: the one it replaced, or an older ctime */
	MAYBE, /* absent, or another version of the same ctime tick */
};

/* What @seen is, against the record.  See the table at the top. */
static enum judgement
judge(const struct afile__view *v, const struct afile__ident *seen)
{
	if (!v->have_record || afile__ident_same(seen, &v->cur))
		return FRESH;
	if (!v->cur.exists)
		return FRESH; /* the last updater left no file: nothing newer */
	if (!seen->exists)
		return MAYBE;
	if (afile__ident_same(seen, &v->prev))
		return STALE;
	/*
	 * Older than the version published last: its ctime (which no caller
	 * can set back, unlike the mtime that cp -p keeps) is before the
	 * one recorded, taken once that version was synced, before its
	 * rename.  Timestamps are taken from a coarse clock: a tie orders
	 * nothing.
	 */
	/* A file system that reports no ctime orders nothing either. */
	if ((seen->ctime_s == 0 && seen->ctime_ns == 0) ||
	    (v->cur.ctime_s == 0 && v->cur.ctime_ns == 0))
		return FRESH;
	if (seen->ctime_s != v->cur.ctime_s)
		return seen->ctime_s < v->cur.ctime_s ? STALE : FRESH;
	if (seen->ctime_ns != v->cur.ctime_ns)
		return seen->ctime_ns < v->cur.ctime_ns ? STALE : FRESH;
	return MAYBE;
}

/*
 * Open and read the file by path, from scratch; its identity too, as a
 * stat by path gives it (on GlusterFS, fstat of a descriptor gives a
 * ctime of 0 and an mtime of its own): -EAGAIN when the name no longer
 * leads to the inode read.
 */
static int
read_once(int dfd, const char *name, void **ret_old, size_t *ret_len,
    struct afile__ident *seen)
{
	struct stat st, by_name;
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	memset(seen, 0, sizeof(*seen));
	fd = afile__openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY, 0);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	r = afile__fstat(fd, &st);
	if (r == 0 && !S_ISREG(st.st_mode))
		r = AFILE_ENOTREG;
	if (r == 0)
		r = afile__read_fd(fd, &buf, &len);
	afile__close_quiet(fd);
	if (r == 0)
		r = afile__fstatat(dfd, name, &by_name, AT_SYMLINK_NOFOLLOW);
	if (r == 0 &&
	    (by_name.st_ino != st.st_ino || by_name.st_dev != st.st_dev))
		r = -EAGAIN;
	if (r == -ENOENT)
		r = -EAGAIN;
	if (r < 0) {
		afile__free(buf);
		return r;
	}
	afile__ident_of(&by_name, seen);
	*ret_old = buf;
	*ret_len = len;
	return 0;
}

int
afile__view_read(struct afile__op *op, int lock_fd, int dfd, const char *name,
    const char *shown, struct afile__view *v, void **ret_old, size_t *ret_len)
{
	const struct afile__fstype *fs;
	char rec[RECORD_MAX];
	uint64_t deadline = 0, now, backoff = VIEW_BACKOFF_NS;
	enum judgement j;
	ssize_t n;
	int r;

	memset(v, 0, sizeof(*v));
	*ret_old = NULL;
	*ret_len = 0;
	/* Invariant 1: the fstatfs of a descriptor we hold anyway. */
	(void)afile__fstype_of(lock_fd, &fs);
	v->check = (fs->flags & (AFILE__FS_FUSE | AFILE__FS_NETWORK)) != 0;
	if (v->check) {
		/* The sidecar was opened for this call: it reads from 0. */
		n = afile__read(lock_fd, rec, sizeof(rec));
		v->have_record = n > 0 &&
		    afile__view_record_parse(
			rec, (size_t)n, &v->prev, &v->cur) == 0;
	}
	for (;;) {
		r = read_once(dfd, name, ret_old, ret_len, &v->seen);
		if (r < 0 && r != -ESTALE && r != -EAGAIN)
			return afile__fail(op, r, "read", shown);
		j = r == 0 ? judge(v, &v->seen) : STALE;
		if (j == FRESH)
			return 0;
		now = afile__now_ns();
		if (!deadline)
			deadline = now + VIEW_WAIT_NS;
		/*
		 * Absent, or a version of the recorded tick, for longer than
		 * any client cache keeps a view: a removal, or a newer
		 * version from a writer that does not record.
		 */
		if (now >= deadline && j == MAYBE)
			return 0;
		afile__free(*ret_old);
		*ret_old = NULL;
		*ret_len = 0;
		if (now >= deadline)
			break;
		afile__stat_add(AFILE__STAT_RETRIES, 1);
		afile__sleep_ns(backoff);
		if (backoff < VIEW_BACKOFF_MAX)
			backoff *= 2;
	}
	return afile__fail(op, -ESTALE,
	    r < 0 ? "read (the file handle stayed stale)"
		  : "read (this client still sees a version older than the "
		    "last update recorded beside the lock; check the client "
		    "cache settings)",
	    shown);
}

/* Record @cur as published over v->seen; see invariant 2. */
static void
record(const struct afile__view *v, int lock_fd, const struct afile__ident *cur)
{
	char rec[RECORD_MAX];
	size_t n;

	/*
	 * A failed or torn write leaves a record that the next updater
	 * ignores or finds older: nothing to undo, nothing to report.
	 */
	n = afile__view_record_format(&v->seen, cur, rec, sizeof(rec));
	if (n)
		(void)afile__pwrite_all(lock_fd, rec, n, 0);
}

int
afile__view_finish(struct afile__op *op, struct afile_writer *w, int r,
    const struct afile__view *v)
{
	const struct afile__target *t = afile__writer_target(w);
	struct afile__ident cur;
	struct stat st, by_name;
	bool known = false;

	if (!v->check)
		return afile__writer_finish(op, w, r);
	/* afile__writer_commit(), recording what was published. */
	if (r == 0)
		r = afile__writer_prepare(w);
	if (r == 0)
		r = afile__writer_sync(w);
	if (r == 0)
		known = afile__fstat(afile_writer_fd(w), &st) == 0;
	if (r == 0)
		r = afile__writer_publish(w);
	/*
	 * The identity as the next reader will see it: by path (see
	 * read_once()), if the name leads to what was just published.
	 */
	if (r == 0 && known &&
	    afile__fstatat(t->dfd, t->name, &by_name, AT_SYMLINK_NOFOLLOW) ==
		0 &&
	    by_name.st_ino == st.st_ino && by_name.st_dev == st.st_dev) {
		afile__ident_of(&by_name, &cur);
		record(v, afile__writer_lock_fd(w), &cur);
	}
	if (r == 0)
		r = afile__writer_sync_dir(w);
	*op = *afile__writer_op(w);
	afile_writer_free(w);
	return r;
}
