/* SPDX-License-Identifier: MIT */
/*
 * simfs.c - an in-memory file system that records what may persist.
 *
 * Role: stand in for the kernel behind afile__sys, so that a workload is
 * run once and every state a power cut could leave is then built and
 * checked offline (ALICE's record-then-enumerate method).
 *
 * Layers:
 *   base    the durable image when recording began (simfs_sync_all()
 *           rebases: everything up to then is on disk);
 *   ops     the trace of micro-ops issued since, in program order, each
 *           with the event that issued it and the event of the first
 *           barrier that forced it;
 *   v       the volatile image: base with every op applied, what a
 *           running process sees.
 * A durable state at crash point p is base + (ops forced before p) +
 * (any subset of the ops issued before p and not forced), applied in
 * trace order.
 *
 * The model (crash-testing.md §2, POSIX-pessimistic profile), with the
 * simplifications made here:
 *   - Data: one micro-op per 512-byte sector a write touches, holding only
 *     the bytes written (powersafe overwrite); size changes are separate
 *     micro-ops, so a file may come back longer than its data (zeros) or
 *     shorter.  Torn sectors come only from subsets of whole-sector ops
 *     (old or any later version), not from garbage or zeros.
 *   - Inode creation is implicitly durable (an unreachable inode is
 *     harmless); a name is one micro-op, so a persisted name always
 *     resolves to an initialized inode, possibly empty.
 *   - Rename is one atomic but unordered micro-op {del src, set dst}:
 *     the destination never goes missing, but a rename may persist
 *     without the link or the data written before it.  Forced by a sync
 *     of either directory.
 *   - Nothing is ordered without a barrier.  fsync(file) forces that
 *     inode's data, size and mode; fdatasync its data and size;
 *     fsync(dir) the name changes in that directory; syncfs everything.
 *     A crash inside a barrier is the crash point before it.
 *   - Timestamps, xattrs (none exist), locks and symlinks are not
 *     modelled: locks always succeed, there are no links to follow.
 *
 * Invariant: v equals base with all ops applied in order (every mutating
 * call changes v only through the same apply functions it records).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simfs.h"
#include "sys.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define SECTOR  512u
#define FD_BASE 1000
#define ROOT    1u
#define NEVER   SIZE_MAX

struct dent {
	char *name;
	unsigned int ino;
};

struct sino {
	bool used;
	mode_t mode; /* type and permission bits */
	uid_t uid;
	gid_t gid;
	nlink_t nlink;
	unsigned char *data; /* backing store, cap bytes; beyond: zeros */
	size_t cap, size;
	struct dent *ents; /* directories */
	size_t nents;
	unsigned int parent;
};

struct img {
	struct sino *ino;
	size_t n;
};

enum opkind {
	OP_INIT,
	OP_DATA,
	OP_SIZE,
	OP_META,
	OP_LINK,
	OP_UNLINK,
	OP_RENAME
};

struct mop {
	enum opkind kind;
	unsigned int ino, ino2, dir, dir2;
	char *name, *name2;
	size_t off, len; /* data: range; size: new size in off */
	unsigned char *bytes;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	bool exchange;
	bool dropped; /* a failed sync let it go: no barrier forces it now */
	size_t issued, forced;
	size_t dep; /* 1 + index of an op this one is never durable without */
};

struct sfd {
	bool used;
	unsigned int ino;
	size_t pos;
	int flags;
};

struct simfs {
	struct simfs_opts o;
	struct img base, v;
	struct mop *ops;
	size_t nops, capops;
	size_t events;
	struct sfd *fds;
	size_t nfds;
	uint64_t rnd;
	/* Which boot this is: a crash state is the next one (boot_id). */
	unsigned int boot;
	unsigned int syncs, file_syncs;
	bool *sync_file;       /* per sync call: was it a file sync? */
	unsigned int deferred; /* DEFER mutant: inode whose sync is held */
	bool deferred_armed;   /* ...and a publish happened since */
	const char **calls;    /* per event: the call's name */
	size_t calls_cap;
	char **sync_desc;         /* per sync call: what it synced */
	const char *persist_call; /* a persistent fault fails these */
	unsigned int faults;      /* faults injected */
	bool direct;              /* in simfs_put/mkdir: no fault */
};

static struct simfs *cur;

/* ------------------------------------------------------------------
 * Memory: the harness aborts on exhaustion, it is not under test.
 * ------------------------------------------------------------------ */

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p)
		abort();
	return p;
}

static char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xrealloc(NULL, n), s, n);
}

static uint64_t
rng_next(uint64_t *s)
{
	/* splitmix64: deterministic from the seed. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* ------------------------------------------------------------------
 * Images
 * ------------------------------------------------------------------ */

static struct sino *
img_get(struct img *m, unsigned int ino)
{
	if (ino >= m->n) {
		m->ino = xrealloc(m->ino, (ino + 1) * sizeof(*m->ino));
		memset(m->ino + m->n, 0, (ino + 1 - m->n) * sizeof(*m->ino));
		m->n = ino + 1;
	}
	return &m->ino[ino];
}

static void
img_init(struct img *m, unsigned int ino, mode_t mode, uid_t uid, gid_t gid,
    unsigned int parent)
{
	struct sino *i = img_get(m, ino);

	i->used = true;
	i->mode = mode;
	i->uid = uid;
	i->gid = gid;
	i->parent = parent;
	i->nlink = S_ISDIR(mode) ? 2 : 0;
}

static void
img_free(struct img *m)
{
	for (size_t k = 0; k < m->n; k++) {
		for (size_t e = 0; e < m->ino[k].nents; e++)
			free(m->ino[k].ents[e].name);
		free(m->ino[k].ents);
		free(m->ino[k].data);
	}
	free(m->ino);
	m->ino = NULL;
	m->n = 0;
}

static void
img_clone(struct img *dst, const struct img *src)
{
	dst->n = src->n;
	dst->ino = xcalloc(src->n, sizeof(*dst->ino));
	for (size_t k = 0; k < src->n; k++) {
		const struct sino *s = &src->ino[k];
		struct sino *d = &dst->ino[k];

		*d = *s;
		d->data = NULL;
		if (s->cap) {
			d->data = xrealloc(NULL, s->cap);
			memcpy(d->data, s->data, s->cap);
		}
		d->ents = NULL;
		if (s->nents) {
			d->ents = xcalloc(s->nents, sizeof(*d->ents));
			for (size_t e = 0; e < s->nents; e++) {
				d->ents[e].name = xstrdup(s->ents[e].name);
				d->ents[e].ino = s->ents[e].ino;
			}
		}
	}
}

static long
img_find(const struct img *m, unsigned int dir, const char *name)
{
	const struct sino *d = &m->ino[dir];

	for (size_t e = 0; e < d->nents; e++)
		if (!strcmp(d->ents[e].name, name))
			return (long)e;
	return -1;
}

static void
img_set(struct img *m, unsigned int dir, const char *name, unsigned int ino)
{
	struct sino *d = img_get(m, dir);
	long e = img_find(m, dir, name);

	if (e >= 0) {
		d->ents[e].ino = ino;
		return;
	}
	d->ents = xrealloc(d->ents, (d->nents + 1) * sizeof(*d->ents));
	d->ents[d->nents].name = xstrdup(name);
	d->ents[d->nents].ino = ino;
	d->nents++;
}

static void
img_del(struct img *m, unsigned int dir, const char *name)
{
	struct sino *d = img_get(m, dir);
	long e = img_find(m, dir, name);

	if (e < 0)
		return;
	free(d->ents[e].name);
	memmove(d->ents + e, d->ents + e + 1,
	    (d->nents - (size_t)e - 1) * sizeof(*d->ents));
	d->nents--;
}

static void
img_write(
    struct img *m, unsigned int ino, size_t off, const void *buf, size_t len)
{
	struct sino *i = img_get(m, ino);

	if (off + len > i->cap) {
		i->data = xrealloc(i->data, off + len);
		memset(i->data + i->cap, 0, off + len - i->cap);
		i->cap = off + len;
	}
	if (len)
		memcpy(i->data + off, buf, len);
}

static void
img_setsize(struct img *m, unsigned int ino, size_t size)
{
	struct sino *i = img_get(m, ino);

	/* Bytes cut off read back as zeros if the file grows again. */
	if (size < i->cap)
		memset(i->data + size, 0, i->cap - size);
	i->size = size;
}

/* Apply one micro-op to an image (volatile or being materialized). */
static void
img_apply(struct img *m, const struct mop *op)
{
	struct sino *i;

	switch (op->kind) {
	case OP_INIT:
		img_init(m, op->ino, op->mode, op->uid, op->gid, op->dir);
		break;
	case OP_DATA:
		img_write(m, op->ino, op->off, op->bytes, op->len);
		break;
	case OP_SIZE:
		img_setsize(m, op->ino, op->off);
		break;
	case OP_META:
		i = img_get(m, op->ino);
		i->mode = (i->mode & S_IFMT) | (op->mode & 07777);
		i->uid = op->uid;
		i->gid = op->gid;
		break;
	case OP_LINK:
		img_set(m, op->dir, op->name, op->ino);
		break;
	case OP_UNLINK:
		img_del(m, op->dir, op->name);
		break;
	case OP_RENAME:
		if (op->exchange) {
			img_set(m, op->dir, op->name, op->ino2);
		} else {
			img_del(m, op->dir, op->name);
		}
		img_set(m, op->dir2, op->name2, op->ino);
		if (S_ISDIR(img_get(m, op->ino)->mode))
			img_get(m, op->ino)->parent = op->dir2;
		break;
	}
}

/* Link counts follow from the names (after a crash or a rebase). */
static void
img_count_links(struct img *m)
{
	for (size_t k = 0; k < m->n; k++)
		if (m->ino[k].used)
			m->ino[k].nlink = S_ISDIR(m->ino[k].mode) ? 2 : 0;
	for (size_t k = 0; k < m->n; k++)
		for (size_t e = 0; e < m->ino[k].nents; e++)
			if (!S_ISDIR(m->ino[m->ino[k].ents[e].ino].mode))
				m->ino[m->ino[k].ents[e].ino].nlink++;
}

/* ------------------------------------------------------------------
 * Recording
 * ------------------------------------------------------------------ */

/* Record @op (copied, strings and bytes duplicated) and apply it to v. */
static void
record(struct simfs *fs, size_t ev, struct mop op)
{
	if (fs->nops == fs->capops) {
		fs->capops = fs->capops ? fs->capops * 2 : 64;
		fs->ops = xrealloc(fs->ops, fs->capops * sizeof(*fs->ops));
	}
	op.issued = ev;
	/* Creation of an inode is implicitly durable (see the top). */
	op.forced = op.kind == OP_INIT ? ev : NEVER;
	op.name = op.name ? xstrdup(op.name) : NULL;
	op.name2 = op.name2 ? xstrdup(op.name2) : NULL;
	if (op.bytes) {
		unsigned char *b = xrealloc(NULL, op.len);

		memcpy(b, op.bytes, op.len);
		op.bytes = b;
	}
	fs->ops[fs->nops++] = op;
	img_apply(&fs->v, &op);
}

static void
record_write(struct simfs *fs, size_t ev, unsigned int ino, size_t off,
    const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t end = off + n;

	for (size_t s = off; s < end;) {
		size_t next = (s / SECTOR + 1) * SECTOR;
		size_t stop = next < end ? next : end;

		record(fs, ev,
		    (struct mop){.kind = OP_DATA,
			.ino = ino,
			.off = s,
			.len = stop - s,
			.bytes = (unsigned char *)(uintptr_t)(p + (s - off))});
		s = stop;
	}
	if (end > fs->v.ino[ino].size)
		record(fs, ev,
		    (struct mop){.kind = OP_SIZE, .ino = ino, .off = end});
}

static bool
is_data_kind(enum opkind k)
{
	return k == OP_DATA || k == OP_SIZE;
}

static bool
is_name_kind(enum opkind k)
{
	return k == OP_LINK || k == OP_UNLINK || k == OP_RENAME;
}

enum force { F_FILE, F_DATA, F_DIR, F_ALL };

/* Does a barrier of kind @how on inode @ino cover @op? */
static bool
covers(const struct mop *op, enum force how, unsigned int ino)
{
	switch (how) {
	case F_ALL:
		return true;
	case F_FILE:
		return op->ino == ino &&
		    (is_data_kind(op->kind) || op->kind == OP_META);
	case F_DATA:
		return op->ino == ino && is_data_kind(op->kind);
	case F_DIR:
		return is_name_kind(op->kind) &&
		    (op->dir == ino ||
			(op->kind == OP_RENAME && op->dir2 == ino));
	}
	return false;
}

/* A barrier at event @ev: make the matching issued ops durable. */
static void
force(struct simfs *fs, size_t ev, enum force how, unsigned int ino)
{
	for (size_t k = 0; k < fs->nops; k++) {
		struct mop *op = &fs->ops[k];

		if (op->forced == NEVER && !op->dropped && covers(op, how, ino))
			op->forced = ev;
	}
}

/*
 * A barrier that failed (fsyncgate, crash-testing.md §2.3 rule 8): Linux
 * marks the dirty pages clean, so what it covered may or may not be on
 * disk, and no later barrier forces it: it stays a free choice at every
 * later crash point.  The volatile image keeps showing it.
 */
static void
drop(struct simfs *fs, enum force how, unsigned int ino)
{
	for (size_t k = 0; k < fs->nops; k++) {
		struct mop *op = &fs->ops[k];

		if (op->forced == NEVER && covers(op, how, ino))
			op->dropped = true;
	}
}

/*
 * Every file-system call is one event; returns its index.  A name change
 * (@publishing) does not run a held sync: the DEFER mutant moves it after
 * the whole publication (link to a temp name, then rename over the
 * target), to the first other call.
 */
static size_t
event_of(struct simfs *fs, bool publishing, const char *call)
{
	size_t ev = fs->events++;

	if (ev >= fs->calls_cap) {
		fs->calls_cap = fs->calls_cap ? 2 * fs->calls_cap : 64;
		fs->calls =
		    xrealloc(fs->calls, fs->calls_cap * sizeof(*fs->calls));
	}
	fs->calls[ev] = call;

	if (fs->deferred_armed && !publishing) {
		/* DEFER mutant: the held sync happens now, after publishing. */
		force(fs, ev, F_FILE, fs->deferred);
		fs->deferred_armed = false;
		fs->deferred = 0;
	}
	return ev;
}

static size_t
event(struct simfs *fs, const char *call)
{
	return event_of(fs, false, call);
}

/*
 * Fault injection: the errno that event @ev (named @call) fails with, or
 * 0.  The o.fault_at-th event fails; with o.fault_persist every later
 * call of the same name fails too.  A failing call changes nothing,
 * except the barriers (fsyncgate, see do_sync) and close (the descriptor
 * goes anyway, as on Linux).
 */
static int
injected(struct simfs *fs, size_t ev, const char *call)
{
	if (fs->direct)
		return 0;
	if (fs->persist_call && !strcmp(fs->persist_call, call)) {
		fs->faults++;
		return fs->o.fault_err;
	}
	if (!fs->o.fault_at || ev + 1 != fs->o.fault_at)
		return 0;
	if (fs->o.fault_persist)
		fs->persist_call = call;
	fs->faults++;
	return fs->o.fault_err;
}

static void
published(struct simfs *fs)
{
	if (fs->deferred)
		fs->deferred_armed = true;
}

/* ------------------------------------------------------------------
 * Descriptors and paths
 * ------------------------------------------------------------------ */

static struct sfd *
getfd(struct simfs *fs, int fd)
{
	if (fd < FD_BASE || (size_t)(fd - FD_BASE) >= fs->nfds ||
	    !fs->fds[fd - FD_BASE].used)
		return NULL;
	return &fs->fds[fd - FD_BASE];
}

static int
newfd(struct simfs *fs, unsigned int ino, int flags)
{
	size_t k;

	for (k = 0; k < fs->nfds && fs->fds[k].used; k++)
		;
	if (k == fs->nfds) {
		fs->fds = xrealloc(fs->fds, (k + 1) * sizeof(*fs->fds));
		fs->nfds = k + 1;
	}
	fs->fds[k] = (struct sfd){.used = true, .ino = ino, .flags = flags};
	return FD_BASE + (int)k;
}

static bool
isdir(struct simfs *fs, unsigned int ino)
{
	return S_ISDIR(fs->v.ino[ino].mode);
}

/* @name in directory @dir: its inode, or 0.  "." may name a file fd. */
static unsigned int
lookup(struct simfs *fs, unsigned int dir, const char *name)
{
	long e;

	if (!strcmp(name, "."))
		return dir;
	if (!isdir(fs, dir))
		return 0;
	if (!strcmp(name, ".."))
		return fs->v.ino[dir].parent;
	e = img_find(&fs->v, dir, name);
	return e < 0 ? 0 : fs->v.ino[dir].ents[e].ino;
}

/*
 * Split (@dfd, @path) into the directory holding the last component and
 * that component ("." for a path naming a descriptor itself, as the
 * /proc/self/fd/N magic link and an empty path do).
 */
static int
resolve(struct simfs *fs, int dfd, const char *path, unsigned int *ret_dir,
    char last[NAME_MAX + 1])
{
	static const char proc[] = "/proc/self/fd/";
	unsigned int dir = ROOT;
	const char *p = path, *slash;

	if (!strncmp(p, proc, sizeof(proc) - 1)) {
		char *end;
		long n = strtol(p + sizeof(proc) - 1, &end, 10);
		struct sfd *f = getfd(fs, (int)n);

		if (!f)
			return -ENOENT;
		dir = f->ino;
		p = *end == '/' ? end + 1 : end;
	} else if (*p == '/') {
		while (*p == '/')
			p++;
	} else if (dfd != AT_FDCWD) {
		struct sfd *f = getfd(fs, dfd);

		if (!f)
			return -EBADF;
		dir = f->ino;
	}
	for (;;) {
		size_t len;

		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(last, p, len);
		last[len] = '\0';
		if (!len)
			strcpy(last, ".");
		if (!slash || !slash[1])
			break;
		if (!isdir(fs, dir))
			return -ENOTDIR;
		dir = lookup(fs, dir, last);
		if (!dir)
			return -ENOENT;
		p = slash + 1;
	}
	if (strcmp(last, ".") && !isdir(fs, dir))
		return -ENOTDIR;
	*ret_dir = dir;
	return 0;
}

static unsigned int
new_inode(struct simfs *fs, size_t ev, mode_t mode, unsigned int parent)
{
	unsigned int ino = (unsigned int)fs->v.n;

	if (ino < 2)
		ino = 2;
	record(fs, ev,
	    (struct mop){
		.kind = OP_INIT, .ino = ino, .mode = mode, .dir = parent});
	return ino;
}

static int
fail(int err)
{
	errno = err;
	return -1;
}

static void
fill_stat(struct simfs *fs, unsigned int ino, struct stat *st)
{
	const struct sino *i = &fs->v.ino[ino];

	memset(st, 0, sizeof(*st));
	st->st_dev = 0x5f5;
	st->st_ino = ino;
	st->st_mode = i->mode;
	st->st_nlink = i->nlink;
	st->st_uid = i->uid;
	st->st_gid = i->gid;
	st->st_size = (off_t)i->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((i->size + 511) / 512);
}

/* ------------------------------------------------------------------
 * The table entries
 * ------------------------------------------------------------------ */

static int
s_openat(int dfd, const char *path, int flags, mode_t mode)
{
	struct simfs *fs = cur;
	size_t ev = event(fs, "openat");
	char last[NAME_MAX + 1];
	unsigned int dir, ino;
	int acc = flags & O_ACCMODE, r;

	if ((r = injected(fs, ev, "openat")))
		return fail(r);
	r = resolve(fs, dfd, path, &dir, last);
	if (r < 0)
		return fail(-r);
	ino = lookup(fs, dir, last);
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		if (fs->o.features & SIMFS_NO_TMPFILE)
			return fail(EOPNOTSUPP);
		if (!ino)
			return fail(ENOENT);
		if (!isdir(fs, ino))
			return fail(ENOTDIR);
		ino = new_inode(fs, ev, S_IFREG | (mode & 07777), ino);
		return newfd(fs, ino, flags);
	}
	if (ino) {
		if ((flags & O_CREAT) && (flags & O_EXCL))
			return fail(EEXIST);
		if ((flags & O_DIRECTORY) && !isdir(fs, ino))
			return fail(ENOTDIR);
		if (isdir(fs, ino) && acc != O_RDONLY)
			return fail(EISDIR);
		if ((flags & O_TRUNC) && acc != O_RDONLY && fs->v.ino[ino].size)
			record(fs, ev,
			    (struct mop){
				.kind = OP_SIZE, .ino = ino, .off = 0});
		return newfd(fs, ino, flags);
	}
	if (!(flags & O_CREAT) || !strcmp(last, "."))
		return fail(ENOENT);
	ino = new_inode(fs, ev, S_IFREG | (mode & 07777), dir);
	fs->v.ino[ino].nlink = 1;
	record(fs, ev,
	    (struct mop){
		.kind = OP_LINK, .dir = dir, .name = last, .ino = ino});
	return newfd(fs, ino, flags);
}

static int
s_close(int fd)
{
	struct simfs *fs = cur;
	size_t ev = event(fs, "close");
	struct sfd *f;
	int e = injected(fs, ev, "close");

	f = getfd(fs, fd);
	if (!f)
		return fail(EBADF);
	if (e) {
		f->used = false; /* closed even so, as on Linux */
		return fail(e);
	}
	f->used = false;
	return 0;
}

static ssize_t
s_read(int fd, void *buf, size_t n)
{
	struct simfs *fs = cur;
	struct sfd *f;
	const struct sino *i;
	size_t avail, have;
	size_t ev = event(fs, "read");
	int e = injected(fs, ev, "read");

	if (e)
		return fail(e);
	f = getfd(fs, fd);
	if (!f || (f->flags & O_ACCMODE) == O_WRONLY)
		return fail(EBADF);
	if (isdir(fs, f->ino))
		return fail(EISDIR);
	i = &fs->v.ino[f->ino];
	avail = f->pos < i->size ? i->size - f->pos : 0;
	if (n > avail)
		n = avail;
	have = f->pos < i->cap ? i->cap - f->pos : 0;
	if (have > n)
		have = n;
	if (have)
		memcpy(buf, i->data + f->pos, have);
	memset((char *)buf + have, 0, n - have);
	f->pos += n;
	return (ssize_t)n;
}

static ssize_t
do_pwrite(int fd, const void *buf, size_t n, size_t off, bool advance)
{
	struct simfs *fs = cur;
	size_t ev = event(fs, "write");
	struct sfd *f = getfd(fs, fd);
	int e = injected(fs, ev, "write");

	if (e && fs->o.fault_short)
		n = n > 1 ? n / 2 : n; /* a short write, not an error */
	else if (e)
		return fail(e);
	if (!f || (f->flags & O_ACCMODE) == O_RDONLY)
		return fail(EBADF);
	if (f->flags & O_APPEND)
		off = fs->v.ino[f->ino].size;
	record_write(fs, ev, f->ino, off, buf, n);
	if (advance)
		f->pos = off + n;
	return (ssize_t)n;
}

static ssize_t
s_write(int fd, const void *buf, size_t n)
{
	struct sfd *f = getfd(cur, fd);

	return do_pwrite(fd, buf, n, f ? f->pos : 0, true);
}

static ssize_t
s_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (off < 0)
		return fail(EINVAL);
	return do_pwrite(fd, buf, n, (size_t)off, false);
}

static ssize_t
s_pread(int fd, void *buf, size_t n, off_t off)
{
	struct simfs *fs = cur;
	size_t ev = event(fs, "pread");
	int e = injected(fs, ev, "pread");
	const struct sino *i;
	struct sfd *f;
	size_t avail, have, o;

	if (e)
		return fail(e);
	f = getfd(fs, fd);
	if (!f || (f->flags & O_ACCMODE) == O_WRONLY || off < 0)
		return fail(f ? EINVAL : EBADF);
	if (isdir(fs, f->ino))
		return fail(EISDIR);
	i = &fs->v.ino[f->ino];
	o = (size_t)off;
	avail = o < i->size ? i->size - o : 0;
	if (n > avail)
		n = avail;
	have = o < i->cap ? i->cap - o : 0;
	if (have > n)
		have = n;
	if (have)
		memcpy(buf, i->data + o, have);
	memset((char *)buf + have, 0, n - have);
	return (ssize_t)n;
}

/* A size change is one data micro-op, forced by fsync or fdatasync. */
static int
s_ftruncate(int fd, off_t len)
{
	struct simfs *fs = cur;
	size_t ev = event(fs, "ftruncate");
	int e = injected(fs, ev, "ftruncate");
	struct sfd *f;

	if (e)
		return fail(e);
	f = getfd(fs, fd);
	if (!f || (f->flags & O_ACCMODE) == O_RDONLY || len < 0)
		return fail(f ? EINVAL : EBADF);
	if ((size_t)len != fs->v.ino[f->ino].size)
		record(fs, ev,
		    (struct mop){
			.kind = OP_SIZE, .ino = f->ino, .off = (size_t)len});
	return 0;
}

/* Append to @out the path of directory @dir from the root ("" for it). */
static void
dir_path(struct simfs *fs, unsigned int dir, char *out, size_t room)
{
	const struct sino *p;
	unsigned int up;

	if (dir == ROOT || !dir) {
		out[0] = '\0';
		return;
	}
	up = fs->v.ino[dir].parent;
	dir_path(fs, up, out, room);
	p = &fs->v.ino[up];
	for (size_t k = 0; k < p->nents; k++)
		if (p->ents[k].ino == dir) {
			size_t n = strlen(out);

			(void)snprintf(out + n, room - n, "%s%s", n ? "/" : "",
			    p->ents[k].name);
			return;
		}
}

static bool
is_temp_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] == '.' &&
	    ((n > 10 && !strcmp(name + n - 10, ".afile-tmp")) ||
		(n > 10 && !strcmp(name + n - 10, ".afile-txn")));
}

/*
 * Record what sync call @n synced, as a name that is the same in every
 * run of a workload ("fsync d/.atomicfile/intent", "fsync d/<temp>",
 * "fsync dir d", "syncfs"), numbered when repeated ("fsync dir d #2"):
 * the sync site, for the mutation reports.
 */
static void
note_sync(struct simfs *fs, unsigned int n, const char *call, unsigned int ino)
{
	char what[512] = "", desc[600];
	unsigned int again = 1;

	if (!ino)
		(void)snprintf(what, sizeof(what), "%s", call);
	else if (isdir(fs, ino)) {
		char path[400];

		dir_path(fs, ino, path, sizeof(path));
		(void)snprintf(
		    what, sizeof(what), "%s dir %s", call, *path ? path : "/");
	} else {
		const char *name = NULL;
		char path[400] = "";

		for (unsigned int d = 1; d < fs->v.n && !name; d++) {
			const struct sino *di = &fs->v.ino[d];

			if (!di->used || !S_ISDIR(di->mode))
				continue;
			for (size_t k = 0; k < di->nents && !name; k++)
				if (di->ents[k].ino == ino) {
					name = di->ents[k].name;
					dir_path(fs, d, path, sizeof(path));
				}
		}
		(void)snprintf(what, sizeof(what), "%s %s%s%s", call, path,
		    *path ? "/" : "",
		    !name                    ? "<unnamed>"
			: is_temp_name(name) ? "<temp>"
					     : name);
	}
	for (unsigned int k = 1; k < n; k++) {
		const char *o = fs->sync_desc[k - 1];
		size_t wl = strlen(what);

		if (!strncmp(o, what, wl) && (!o[wl] || o[wl] == ' '))
			again++;
	}
	if (again > 1)
		(void)snprintf(desc, sizeof(desc), "%s #%u", what, again);
	else
		(void)snprintf(desc, sizeof(desc), "%s", what);
	fs->sync_desc = xrealloc(fs->sync_desc, n * sizeof(char *));
	fs->sync_desc[n - 1] = xstrdup(desc);
}

static int
do_sync(int fd, bool data_only)
{
	struct simfs *fs = cur;
	const char *call = data_only ? "fdatasync" : "fsync";
	size_t ev = event(fs, call);
	struct sfd *f = getfd(fs, fd);
	bool file;
	unsigned int n;
	int e;

	if (!f)
		return fail(EBADF);
	file = !isdir(fs, f->ino);
	n = ++fs->syncs;
	fs->sync_file = xrealloc(fs->sync_file, n * sizeof(bool));
	fs->sync_file[n - 1] = file;
	note_sync(fs, n, call, f->ino);
	if (file)
		fs->file_syncs++;
	if ((e = injected(fs, ev, call))) {
		/* An interrupted wait is not a writeback error. */
		if (e != EINTR)
			drop(fs,
			    !file           ? F_DIR
				: data_only ? F_DATA
					    : F_FILE,
			    f->ino);
		return fail(e);
	}
	if (fs->o.mutant_n == n && fs->o.mutant == SIMFS_MUT_SKIP)
		return 0;
	if (fs->o.mutant_n == n && fs->o.mutant == SIMFS_MUT_DEFER && file) {
		fs->deferred = f->ino;
		return 0;
	}
	force(fs, ev, !file ? F_DIR : data_only ? F_DATA : F_FILE, f->ino);
	return 0;
}

static int
s_fsync(int fd)
{
	return do_sync(fd, false);
}

static int
s_fdatasync(int fd)
{
	return do_sync(fd, true);
}

static int
s_syncfs(int fd)
{
	struct simfs *fs = cur;
	size_t ev = event(fs, "syncfs");
	unsigned int n;
	int e;

	if (!getfd(fs, fd))
		return fail(EBADF);
	n = ++fs->syncs;
	fs->sync_file = xrealloc(fs->sync_file, n * sizeof(bool));
	fs->sync_file[n - 1] = false;
	note_sync(fs, n, "syncfs", 0);
	if ((e = injected(fs, ev, "syncfs"))) {
		if (e != EINTR)
			drop(fs, F_ALL, 0);
		return fail(e);
	}
	if (fs->o.mutant_n == n && fs->o.mutant == SIMFS_MUT_SKIP)
		return 0;
	if (fs->o.features & SIMFS_FUSE)
		return 0; /* nothing reaches the FUSE server */
	force(fs, ev, F_ALL, 0);
	return 0;
}

/*
 * sync_file_range: write-back without a flush.  The model is the
 * pessimistic one: it makes nothing durable, and no later directory fsync
 * commits it either (simfs models no journal that commits in order), so
 * the library must never choose its one-flush protocol here: read_kfile
 * below knows no mount, and afile__one_flush() says no.
 */
static int
s_sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
	struct simfs *fs = cur;

	(void)off, (void)n, (void)flags;
	if (!getfd(fs, fd))
		return fail(EBADF);
	return 0;
}

/* /proc and /sys: the simulator has neither. */
static ssize_t
s_read_kfile(const char *path, char *buf, size_t n)
{
	(void)path, (void)buf, (void)n;
	return fail(ENOENT);
}

/* statfs f_type: a query, not an event (it changes nothing). */
static int
s_fs_magic(int fd, unsigned long *ret)
{
	struct simfs *fs = cur;

	if (!getfd(fs, fd))
		return fail(EBADF);
	*ret = (fs->o.features & SIMFS_FUSE) &&
		fs->o.mutant != SIMFS_MUT_TRUST_SYNCFS
	    ? 0x65735546UL /* FUSE_SUPER_MAGIC */
	    : 0xEF53UL;    /* EXT4_SUPER_MAGIC */
	return 0;
}

static int
s_fstat(int fd, struct stat *st)
{
	struct simfs *fs = cur;
	struct sfd *f;
	size_t ev = event(fs, "fstat");
	int e = injected(fs, ev, "fstat");

	if (e)
		return fail(e);
	f = getfd(fs, fd);
	if (!f)
		return fail(EBADF);
	fill_stat(fs, f->ino, st);
	return 0;
}

/* Resolve an existing name: its directory, last component and inode. */
static int
existing(struct simfs *fs, int dfd, const char *path, unsigned int *dir,
    char last[NAME_MAX + 1], unsigned int *ino)
{
	int r = resolve(fs, dfd, path, dir, last);

	if (r < 0)
		return r;
	*ino = lookup(fs, *dir, last);
	return *ino ? 0 : -ENOENT;
}

static int
s_fstatat(int dfd, const char *path, struct stat *st, int flags)
{
	struct simfs *fs = cur;
	char last[NAME_MAX + 1];
	unsigned int dir, ino;
	int r;
	size_t ev = event(fs, "fstatat");

	if ((r = injected(fs, ev, "fstatat")))
		return fail(r);
	if (!*path && !(flags & AT_EMPTY_PATH))
		return fail(ENOENT);
	r = existing(fs, dfd, path, &dir, last, &ino);
	if (r < 0)
		return fail(-r);
	fill_stat(fs, ino, st);
	return 0;
}

static ssize_t
s_readlinkat(int dfd, const char *path, char *buf, size_t n)
{
	if (injected(cur, event(cur, "readlinkat"), "readlinkat"))
		return fail(cur->o.fault_err);
	(void)dfd;
	(void)path;
	(void)buf;
	(void)n;
	return fail(EINVAL); /* simfs has no symlinks */
}

static int
do_rename(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
	struct simfs *fs = cur;
	size_t ev = event_of(fs, true, "rename");
	char sn[NAME_MAX + 1], dn[NAME_MAX + 1];
	unsigned int sd, dd, si, di;
	int e = injected(fs, ev, "rename");

	if (e)
		return fail(e);
	int r;

	if (flags & ~(unsigned int)(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    flags == (RENAME_NOREPLACE | RENAME_EXCHANGE))
		return fail(EINVAL);
	r = existing(fs, sdfd, src, &sd, sn, &si);
	if (r < 0)
		return fail(-r);
	r = resolve(fs, ddfd, dst, &dd, dn);
	if (r < 0)
		return fail(-r);
	if ((fs->o.features & SIMFS_XDEV) && sd != dd)
		return fail(EXDEV);
	di = lookup(fs, dd, dn);
	if (!strcmp(sn, ".") || !strcmp(dn, ".") || !strcmp(sn, "..") ||
	    !strcmp(dn, ".."))
		return fail(EBUSY);
	if ((flags & RENAME_EXCHANGE) && !di)
		return fail(ENOENT);
	if ((flags & RENAME_NOREPLACE) && di)
		return fail(EEXIST);
	if (si == di)
		return 0; /* POSIX: the same file, nothing happens */
	if (di && !(flags & RENAME_EXCHANGE)) {
		if (isdir(fs, di) && !isdir(fs, si))
			return fail(EISDIR);
		if (!isdir(fs, di) && isdir(fs, si))
			return fail(ENOTDIR);
		if (isdir(fs, di) && fs->v.ino[di].nents)
			return fail(ENOTEMPTY);
		if (!isdir(fs, di))
			fs->v.ino[di].nlink--;
	}
	if ((fs->o.features & SIMFS_SPLIT_XDIR) && sd != dd &&
	    !(flags & RENAME_EXCHANGE) && !isdir(fs, si)) {
		size_t link = fs->nops;

		record(fs, ev,
		    (struct mop){
			.kind = OP_LINK, .dir = dd, .name = dn, .ino = si});
		record(fs, ev,
		    (struct mop){.kind = OP_UNLINK,
			.dir = sd,
			.name = sn,
			.ino = si,
			.dep = link + 1});
		published(fs);
		return 0;
	}
	record(fs, ev,
	    (struct mop){.kind = OP_RENAME,
		.dir = sd,
		.name = sn,
		.dir2 = dd,
		.name2 = dn,
		.ino = si,
		.ino2 = di,
		.exchange = (flags & RENAME_EXCHANGE) != 0});
	published(fs);
	return 0;
}

static int
s_renameat(int sdfd, const char *src, int ddfd, const char *dst)
{
	return do_rename(sdfd, src, ddfd, dst, 0);
}

static int
s_renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
	if (flags && (cur->o.features & SIMFS_NO_RENAMEAT2)) {
		if (injected(cur, event(cur, "rename"), "rename"))
			return fail(cur->o.fault_err);
		return fail(EINVAL);
	}
	return do_rename(sdfd, src, ddfd, dst, flags);
}

static int
s_linkat(int sdfd, const char *src, int ddfd, const char *dst, int flags)
{
	struct simfs *fs = cur;
	size_t ev = event_of(fs, true, "linkat");
	char sn[NAME_MAX + 1], dn[NAME_MAX + 1];
	unsigned int sd, dd, si;
	int e = injected(fs, ev, "linkat");

	if (e)
		return fail(e);
	int r;

	if (!*src && !(flags & AT_EMPTY_PATH))
		return fail(ENOENT);
	r = existing(fs, sdfd, src, &sd, sn, &si);
	if (r < 0)
		return fail(-r);
	if (isdir(fs, si))
		return fail(EPERM);
	r = resolve(fs, ddfd, dst, &dd, dn);
	if (r < 0)
		return fail(-r);
	if (lookup(fs, dd, dn))
		return fail(EEXIST);
	fs->v.ino[si].nlink++;
	record(fs, ev,
	    (struct mop){.kind = OP_LINK, .dir = dd, .name = dn, .ino = si});
	published(fs);
	return 0;
}

static int
s_unlinkat(int dfd, const char *path, int flags)
{
	struct simfs *fs = cur;
	size_t ev = event(fs, "unlinkat");
	char last[NAME_MAX + 1];
	unsigned int dir, ino;
	int r;

	if ((r = injected(fs, ev, "unlinkat")))
		return fail(r);
	r = existing(fs, dfd, path, &dir, last, &ino);
	if (r < 0)
		return fail(-r);
	if (!strcmp(last, ".") || !strcmp(last, ".."))
		return fail(EINVAL);
	if (flags & AT_REMOVEDIR) {
		if (!isdir(fs, ino))
			return fail(ENOTDIR);
		if (fs->v.ino[ino].nents)
			return fail(ENOTEMPTY);
	} else if (isdir(fs, ino)) {
		return fail(EISDIR);
	} else {
		fs->v.ino[ino].nlink--;
	}
	record(fs, ev,
	    (struct mop){
		.kind = OP_UNLINK, .dir = dir, .name = last, .ino = ino});
	return 0;
}

static int
s_mkdirat(int dfd, const char *path, mode_t mode)
{
	struct simfs *fs = cur;
	size_t ev = event(fs, "mkdirat");
	char last[NAME_MAX + 1];
	unsigned int dir, ino;
	int r;

	if ((r = injected(fs, ev, "mkdirat")))
		return fail(r);
	r = resolve(fs, dfd, path, &dir, last);
	if (r < 0)
		return fail(-r);
	if (lookup(fs, dir, last))
		return fail(EEXIST);
	ino = new_inode(fs, ev, S_IFDIR | (mode & 07777), dir);
	record(fs, ev,
	    (struct mop){
		.kind = OP_LINK, .dir = dir, .name = last, .ino = ino});
	return 0;
}

static int
s_fallocate(int fd, int mode, off_t off, off_t len)
{
	if (injected(cur, event(cur, "fallocate"), "fallocate"))
		return fail(cur->o.fault_err);
	(void)mode;
	(void)off;
	(void)len;
	/* Only FALLOC_FL_KEEP_SIZE is used: nothing visible changes. */
	return getfd(cur, fd) ? 0 : fail(EBADF);
}

static int
s_ficlone(int dst_fd, int src_fd)
{
	if (injected(cur, event(cur, "ficlone"), "ficlone"))
		return fail(cur->o.fault_err);
	(void)dst_fd;
	(void)src_fd;
	return fail(EOPNOTSUPP);
}

static ssize_t
s_cfr(int in_fd, off_t *in_off, int out_fd, off_t *out_off, size_t len,
    unsigned int flags)
{
	if (injected(cur, event(cur, "copy_file_range"), "copy_file_range"))
		return fail(cur->o.fault_err);
	(void)in_fd;
	(void)in_off;
	(void)out_fd;
	(void)out_off;
	(void)len;
	(void)flags;
	return fail(ENOSYS);
}

static int
set_meta(const char *call, int fd, mode_t mode, uid_t uid, gid_t gid)
{
	struct simfs *fs = cur;
	size_t ev = event(fs, call);
	struct sfd *f = getfd(fs, fd);
	const struct sino *i;
	int e = injected(fs, ev, call);

	if (e)
		return fail(e);
	if (!f)
		return fail(EBADF);
	i = &fs->v.ino[f->ino];
	record(fs, ev,
	    (struct mop){.kind = OP_META,
		.ino = f->ino,
		.mode = mode == (mode_t)-1 ? i->mode : mode,
		.uid = uid == (uid_t)-1 ? i->uid : uid,
		.gid = gid == (gid_t)-1 ? i->gid : gid});
	return 0;
}

static int
s_fchmod(int fd, mode_t mode)
{
	return set_meta("fchmod", fd, mode, (uid_t)-1, (gid_t)-1);
}

static int
s_fchown(int fd, uid_t uid, gid_t gid)
{
	return set_meta("fchown", fd, (mode_t)-1, uid, gid);
}

static int
s_futimens(int fd, const struct timespec ts[2])
{
	size_t ev = event(cur, "futimens");
	int e = injected(cur, ev, "futimens");

	(void)ts;
	if (e)
		return fail(e);
	return getfd(cur, fd) ? 0 : fail(EBADF);
}

static ssize_t
s_flistxattr(int fd, char *list, size_t size)
{
	if (injected(cur, event(cur, "flistxattr"), "flistxattr"))
		return fail(cur->o.fault_err);
	(void)list;
	(void)size;
	return getfd(cur, fd) ? 0 : fail(EBADF);
}

static ssize_t
s_fgetxattr(int fd, const char *name, void *value, size_t size)
{
	if (injected(cur, event(cur, "fgetxattr"), "fgetxattr"))
		return fail(cur->o.fault_err);
	(void)fd;
	(void)name;
	(void)value;
	(void)size;
	return fail(ENODATA);
}

static int
s_fsetxattr(int fd, const char *name, const void *value, size_t size, int fl)
{
	if (injected(cur, event(cur, "fsetxattr"), "fsetxattr"))
		return fail(cur->o.fault_err);
	(void)fd;
	(void)name;
	(void)value;
	(void)size;
	(void)fl;
	return fail(ENOTSUP);
}

static ssize_t
s_llistxattr(const char *path, char *list, size_t size)
{
	char last[NAME_MAX + 1];
	unsigned int dir, ino;
	int r;

	if (injected(cur, event(cur, "llistxattr"), "llistxattr"))
		return fail(cur->o.fault_err);
	(void)list;
	(void)size;
	r = existing(cur, AT_FDCWD, path, &dir, last, &ino);
	return r < 0 ? fail(-r) : 0;
}

static ssize_t
s_lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	if (injected(cur, event(cur, "lgetxattr"), "lgetxattr"))
		return fail(cur->o.fault_err);
	(void)path;
	(void)name;
	(void)value;
	(void)size;
	return fail(ENODATA);
}

static int
s_openat2_beneath(int dfd, const char *path, int flags)
{
	if (injected(cur, event(cur, "openat2"), "openat2"))
		return fail(cur->o.fault_err);
	(void)dfd;
	(void)path;
	(void)flags;
	return fail(ENOSYS);
}

static int
s_fcntl_lock(int fd, int cmd, struct flock *fl)
{
	if (injected(cur, event(cur, "fcntl_lock"), "fcntl_lock"))
		return fail(cur->o.fault_err);
	(void)cmd;
	(void)fl;
	return getfd(cur, fd) ? 0 : fail(EBADF);
}

static int
s_flock(int fd, int op)
{
	if (injected(cur, event(cur, "flock"), "flock"))
		return fail(cur->o.fault_err);
	(void)op;
	return getfd(cur, fd) ? 0 : fail(EBADF);
}

static ssize_t
s_getdents64(int fd, void *buf, size_t n)
{
	struct simfs *fs = cur;
	struct sfd *f;
	const struct sino *d;
	size_t used = 0;
	size_t ev = event(fs, "getdents64");
	int err = injected(fs, ev, "getdents64");

	if (err)
		return fail(err);
	f = getfd(fs, fd);
	if (!f)
		return fail(EBADF);
	if (!isdir(fs, f->ino))
		return fail(ENOTDIR);
	d = &fs->v.ino[f->ino];
	/* pos counts entries; names added or removed meanwhile may shift. */
	while (f->pos < d->nents) {
		const struct dent *e = &d->ents[f->pos];
		size_t nl = strlen(e->name);
		size_t rec = (offsetof(struct dirent64, d_name) + nl + 1 + 7) &
		    ~(size_t)7;
		struct dirent64 de;

		if (used + rec > n)
			break;
		memset((char *)buf + used, 0, rec);
		de.d_ino = e->ino;
		de.d_off = (off_t)(f->pos + 1);
		de.d_reclen = (unsigned short)rec;
		de.d_type = isdir(fs, e->ino) ? DT_DIR : DT_REG;
		memcpy(
		    (char *)buf + used, &de, offsetof(struct dirent64, d_name));
		memcpy((char *)buf + used + offsetof(struct dirent64, d_name),
		    e->name, nl + 1);
		used += rec;
		f->pos++;
	}
	if (!used && f->pos < d->nents)
		return fail(EINVAL);
	return (ssize_t)used;
}

static ssize_t
s_getrandom(void *buf, size_t n, unsigned int flags)
{
	unsigned char *p = buf;

	(void)flags;
	for (size_t k = 0; k < n; k++)
		p[k] = (unsigned char)rng_next(&cur->rnd);
	return (ssize_t)n;
}

static uid_t
s_geteuid(void)
{
	return 0;
}

/* The inode number stands in for its generation: simfs reuses none. */
static int
s_file_gen(int fd, uint64_t *ret)
{
	struct sfd *f = getfd(cur, fd);

	if (!f)
		return fail(EBADF);
	*ret = 0x6e00 + f->ino;
	return 0;
}

/* As s_fstatat (one "fstatat" event); each boot is a new mount. */
static int
s_stat_mnt(int dfd, const char *path, int flags, uint64_t *size, uint64_t *mnt)
{
	struct simfs *fs = cur;
	char last[NAME_MAX + 1];
	unsigned int dir, ino;
	size_t ev = event(fs, "fstatat");
	int r;

	if ((r = injected(fs, ev, "fstatat")))
		return fail(r);
	if (!*path && (flags & AT_EMPTY_PATH)) {
		struct sfd *f = getfd(fs, dfd);

		if (!f)
			return fail(EBADF);
		ino = f->ino;
	} else {
		r = existing(fs, dfd, path, &dir, last, &ino);
		if (r < 0)
			return fail(-r);
	}
	*size = img_get(&fs->v, ino)->size;
	*mnt = 0x3000 + fs->boot;
	return 0;
}

/* Each crash state is a new boot, so a log's marker is not trusted. */
static ssize_t
s_read_boot_id(char *buf, size_t n)
{
	if (cur->o.features & SIMFS_NO_BOOT_ID)
		return fail(ENOENT);
	int len =
	    snprintf(buf, n, "5eed0000-0000-0000-0000-%012x", cur->boot + 1);

	return len < 0 ? fail(EIO) : (ssize_t)(len < (int)n ? len : (int)n);
}

/* ------------------------------------------------------------------
 * Instances
 * ------------------------------------------------------------------ */

struct simfs *
simfs_new(const struct simfs_opts *o)
{
	struct simfs *fs = xcalloc(1, sizeof(*fs));

	if (o)
		fs->o = *o;
	fs->rnd = fs->o.seed;
	img_init(&fs->base, ROOT, S_IFDIR | 0755, 0, 0, ROOT);
	img_clone(&fs->v, &fs->base);
	return fs;
}

static void
drop_ops(struct simfs *fs)
{
	for (size_t k = 0; k < fs->nops; k++) {
		free(fs->ops[k].name);
		free(fs->ops[k].name2);
		free(fs->ops[k].bytes);
	}
	free(fs->ops);
	fs->ops = NULL;
	fs->nops = fs->capops = 0;
}

void
simfs_free(struct simfs *fs)
{
	if (!fs)
		return;
	if (cur == fs)
		simfs_install(NULL);
	drop_ops(fs);
	img_free(&fs->base);
	img_free(&fs->v);
	free(fs->fds);
	free(fs->sync_file);
	for (unsigned int n = 0; n < fs->syncs; n++)
		free(fs->sync_desc[n]);
	free(fs->sync_desc);
	free(fs->calls);
	free(fs);
}

void
simfs_install(struct simfs *fs)
{
	cur = fs;
	if (!fs) {
		afile__sys_reset();
		return;
	}
	afile__sys = afile__sys_default;
	afile__sys.openat = s_openat;
	afile__sys.close = s_close;
	afile__sys.read = s_read;
	afile__sys.write = s_write;
	afile__sys.pwrite = s_pwrite;
	afile__sys.fsync = s_fsync;
	afile__sys.fdatasync = s_fdatasync;
	afile__sys.fstat = s_fstat;
	afile__sys.fstatat = s_fstatat;
	afile__sys.readlinkat = s_readlinkat;
	afile__sys.renameat = s_renameat;
	afile__sys.renameat2 = s_renameat2;
	afile__sys.linkat = s_linkat;
	afile__sys.unlinkat = s_unlinkat;
	afile__sys.fallocate = s_fallocate;
	afile__sys.ficlone = s_ficlone;
	afile__sys.copy_file_range = s_cfr;
	afile__sys.fchmod = s_fchmod;
	afile__sys.fchown = s_fchown;
	afile__sys.futimens = s_futimens;
	afile__sys.flistxattr = s_flistxattr;
	afile__sys.fgetxattr = s_fgetxattr;
	afile__sys.llistxattr = s_llistxattr;
	afile__sys.lgetxattr = s_lgetxattr;
	afile__sys.fsetxattr = s_fsetxattr;
	afile__sys.syncfs = s_syncfs;
	afile__sys.fs_magic = s_fs_magic;
	afile__sys.mkdirat = s_mkdirat;
	afile__sys.openat2_beneath = s_openat2_beneath;
	afile__sys.fcntl_lock = s_fcntl_lock;
	afile__sys.flock = s_flock;
	afile__sys.getdents64 = s_getdents64;
	afile__sys.getrandom = s_getrandom;
	afile__sys.geteuid = s_geteuid;
	afile__sys.pread = s_pread;
	afile__sys.ftruncate = s_ftruncate;
	afile__sys.file_gen = s_file_gen;
	afile__sys.read_boot_id = s_read_boot_id;
	afile__sys.stat_mnt = s_stat_mnt;
	afile__sys.sync_file_range = s_sync_file_range;
	afile__sys.read_kfile = s_read_kfile;
}

size_t
simfs_events(const struct simfs *fs)
{
	return fs->events;
}

unsigned int
simfs_syncs(const struct simfs *fs)
{
	return fs->syncs;
}

unsigned int
simfs_file_syncs(const struct simfs *fs)
{
	return fs->file_syncs;
}

bool
simfs_sync_is_file(const struct simfs *fs, unsigned int n)
{
	return n >= 1 && n <= fs->syncs && fs->sync_file[n - 1];
}

const char *
simfs_sync_desc(const struct simfs *fs, unsigned int n)
{
	return n >= 1 && n <= fs->syncs ? fs->sync_desc[n - 1] : "?";
}

const char *
simfs_event_call(const struct simfs *fs, size_t ev)
{
	return ev < fs->events ? fs->calls[ev] : "?";
}

unsigned int
simfs_faults(const struct simfs *fs)
{
	return fs->faults;
}

size_t
simfs_open_fds(const struct simfs *fs)
{
	size_t n = 0;

	for (size_t k = 0; k < fs->nfds; k++)
		n += fs->fds[k].used;
	return n;
}

/* ------------------------------------------------------------------
 * Direct helpers (no events)
 * ------------------------------------------------------------------ */

int
simfs_mkdir(struct simfs *fs, const char *path, mode_t mode)
{
	struct simfs *saved = cur;
	int r;

	cur = fs;
	fs->direct = true;
	r = s_mkdirat(AT_FDCWD, path, mode);
	fs->direct = false;
	cur = saved;
	fs->events--;
	return r < 0 ? -errno : 0;
}

int
simfs_put(struct simfs *fs, const char *path, const void *buf, size_t len,
    mode_t mode)
{
	struct simfs *saved = cur;
	size_t ev = fs->events;
	int fd, r = 0;

	cur = fs;
	fs->direct = true;
	fd = s_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0) {
		r = -errno;
	} else {
		if (s_write(fd, buf, len) < 0)
			r = -errno;
		(void)s_fchmod(fd, mode);
		(void)s_close(fd);
	}
	fs->direct = false;
	cur = saved;
	fs->events = ev;
	return r;
}

void
simfs_sync_all(struct simfs *fs)
{
	/* Rebase: the volatile image is now the durable one. */
	img_count_links(&fs->v);
	img_free(&fs->base);
	img_clone(&fs->base, &fs->v);
	drop_ops(fs);
	fs->events = 0;
	for (unsigned int n = 0; n < fs->syncs; n++)
		free(fs->sync_desc[n]);
	fs->syncs = fs->file_syncs = 0;
	fs->faults = 0;
	fs->persist_call = NULL;
}

/* The visible bytes of a file: its backing store, zeros beyond. */
static void
contents(const struct sino *i, void *out)
{
	size_t n = i->size < i->cap ? i->size : i->cap;

	if (n)
		memcpy(out, i->data, n);
}

int
simfs_get(struct simfs *fs, const char *path, char **buf, size_t *len)
{
	char last[NAME_MAX + 1];
	unsigned int dir, ino;
	const struct sino *i;
	int r = existing(fs, AT_FDCWD, path, &dir, last, &ino);

	if (r < 0)
		return r;
	i = &fs->v.ino[ino];
	if (S_ISDIR(i->mode))
		return -EISDIR;
	*buf = xcalloc(i->size + 1, 1);
	contents(i, *buf);
	*len = i->size;
	return 0;
}

int
simfs_stat(struct simfs *fs, const char *path, struct stat *st)
{
	char last[NAME_MAX + 1];
	unsigned int dir, ino;
	int r = existing(fs, AT_FDCWD, path, &dir, last, &ino);

	if (r < 0)
		return r;
	fill_stat(fs, ino, st);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Printable rendering of file contents: short ones verbatim. */
static void
render(char *out, size_t room, const unsigned char *p, size_t n)
{
	size_t o = 0;

	if (n > 24) {
		uint64_t h = 14695981039346656037u;

		for (size_t k = 0; k < n; k++)
			h = (h ^ p[k]) * 1099511628211u;
		(void)snprintf(
		    out, room, "<%zu bytes %016llx>", n, (unsigned long long)h);
		return;
	}
	out[o++] = '"';
	for (size_t k = 0; k < n && o + 6 < room; k++)
		o += (size_t)snprintf(out + o, room - o,
		    p[k] >= 0x20 && p[k] < 0x7f ? "%c" : "\\x%02x", p[k]);
	out[o++] = '"';
	out[o] = '\0';
}

char *
simfs_describe_dir(struct simfs *fs, const char *path)
{
	char last[NAME_MAX + 1];
	unsigned int dir, ino;
	const struct sino *d;
	char **lines, *out;
	size_t total = 1;

	if (existing(fs, AT_FDCWD, path, &dir, last, &ino) < 0 ||
	    !isdir(fs, ino))
		return xstrdup("<no directory>");
	d = &fs->v.ino[ino];
	lines = xcalloc(d->nents, sizeof(*lines));
	for (size_t e = 0; e < d->nents; e++) {
		const struct sino *i = &fs->v.ino[d->ents[e].ino];
		char body[160];
		size_t n = strlen(d->ents[e].name) + sizeof(body) + 2;
		unsigned char *tmp = xcalloc(i->size + 1, 1);

		contents(i, tmp);
		if (S_ISDIR(i->mode))
			strcpy(body, "<dir>");
		else
			render(body, sizeof(body), tmp, i->size);
		free(tmp);
		lines[e] = xrealloc(NULL, n);
		(void)snprintf(lines[e], n, "%s=%s", d->ents[e].name, body);
		total += strlen(lines[e]) + 1;
	}
	qsort(lines, d->nents, sizeof(*lines), cmp_str);
	out = xcalloc(total, 1);
	for (size_t e = 0; e < d->nents; e++) {
		if (e)
			strcat(out, " ");
		strcat(out, lines[e]);
		free(lines[e]);
	}
	free(lines);
	return out;
}

/* ------------------------------------------------------------------
 * Crash states
 * ------------------------------------------------------------------ */

static bool
pending_at(const struct mop *op, size_t p)
{
	return op->kind != OP_INIT && op->issued < p &&
	    !(op->forced != NEVER && op->forced < p);
}

size_t
simfs_pending(const struct simfs *fs, size_t p)
{
	size_t k = 0;

	for (size_t i = 0; i < fs->nops; i++)
		k += pending_at(&fs->ops[i], p);
	return k;
}

/* Build the durable state: forced ops plus the chosen pending ones. */
static struct simfs *
materialize(const struct simfs *fs, size_t p, const bool *choose)
{
	struct simfs_opts o = fs->o;
	struct simfs *c;
	size_t j = 0;

	/* The next boot: no mutant, no fault (unless recovery sets one). */
	o.mutant = SIMFS_MUT_NONE;
	o.mutant_n = 0;
	o.fault_at = 0;
	o.fault_persist = false;
	bool *applied = xrealloc(NULL, fs->nops ? fs->nops : 1);

	c = simfs_new(&o);
	c->boot = fs->boot + 1;
	img_free(&c->v);
	img_clone(&c->v, &fs->base);
	for (size_t i = 0; i < fs->nops; i++) {
		const struct mop *op = &fs->ops[i];

		if (op->issued >= p)
			continue;
		if (op->kind == OP_INIT ||
		    (op->forced != NEVER && op->forced < p))
			applied[i] = true;
		else
			applied[i] = choose[j++];
		/* Never without what it depends on (a split rename). */
		if (applied[i] && op->dep && !applied[op->dep - 1])
			applied[i] = false;
		if (applied[i])
			img_apply(&c->v, op);
	}
	free(applied);
	img_count_links(&c->v);
	img_free(&c->base);
	img_clone(&c->base, &c->v);
	return c;
}

struct walk {
	const struct simfs *fs;
	size_t p;
	int (*visit)(struct simfs *, size_t, void *);
	void *arg;
	uint64_t *count;
	size_t index;
};

static int
one(struct walk *w, const bool *choose)
{
	struct simfs *c = materialize(w->fs, w->p, choose);
	int r = w->visit(c, w->index++, w->arg);

	simfs_free(c);
	(*w->count)++;
	return r;
}

int
simfs_each_state(const struct simfs *fs, size_t p,
    int (*visit)(struct simfs *crashed, size_t index, void *arg), void *arg,
    uint64_t *count)
{
	struct walk w = {fs, p, visit, arg, count, 0};
	size_t k = simfs_pending(fs, p);
	bool *ch = xcalloc(k, sizeof(bool));
	uint64_t rs = fs->o.seed ^ (p * 0x9e3779b97f4a7c15u);
	int r = 0;

	if (k <= SIMFS_EXHAUSTIVE_MAX) {
		for (size_t m = 0; m < ((size_t)1 << k) && !r; m++) {
			for (size_t i = 0; i < k; i++)
				ch[i] = (m >> i) & 1u;
			r = one(&w, ch);
		}
		free(ch);
		return r;
	}
	/* ALICE's structured states: prefixes, with one op left out... */
	for (size_t n = 0; n <= k && !r; n++) {
		for (size_t i = 0; i < k; i++)
			ch[i] = i < n;
		r = one(&w, ch);
		for (size_t skip = 0; skip + 1 < n && !r; skip++) {
			ch[skip] = false;
			r = one(&w, ch);
			ch[skip] = true;
		}
	}
	/* ...each op alone... */
	for (size_t n = 0; n < k && !r; n++) {
		for (size_t i = 0; i < k; i++)
			ch[i] = i == n;
		r = one(&w, ch);
	}
	/* ...and a seeded random sample. */
	for (size_t s = 0; s < SIMFS_SAMPLES && !r; s++) {
		for (size_t i = 0; i < k; i++)
			ch[i] = rng_next(&rs) & 1u;
		r = one(&w, ch);
	}
	free(ch);
	return r;
}
