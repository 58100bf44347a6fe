/* SPDX-License-Identifier: MIT */
/*
 * tmp.c - the temporary file that becomes the new version.
 *
 * The temp lives in the target's directory, because only a rename within
 * one file system is atomic.  Where the file system supports O_TMPFILE
 * the temp has no name while it is written: a crash, kill -9 or power cut
 * leaves nothing behind, and the space is freed by the kernel.  It gets a
 * name only at publication (linkat), for as short a time as a rename
 * takes.  Elsewhere it gets a hidden random name at once:
 *
 *	.TARGET.XXXXXXXXXXXX.afile-tmp
 *
 * with 12 random characters (72 bits from getrandom), opened with
 * O_CREAT|O_EXCL|O_NOFOLLOW, so a collision or a planted symlink is
 * refused rather than followed.  When TARGET is too long for that to fit
 * in NAME_MAX, it is cut and followed by '~' and a 64-bit hash of the
 * whole name, so that long names never fail and stay recognisable.
 *
 * States of struct afile__tmp:
 *
 *	create --O_TMPFILE--> UNNAMED --link--> NAMED --rename--> (published)
 *	   \                                      ^
 *	    +--------------named fallback---------+
 *	UNNAMED or NAMED --discard--> (gone: name unlinked, fd closed)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define RANDOM_CHARS  12
#define NAMED_TRIES   100
#define TMP_OVERHEAD  (1 + 1 + RANDOM_CHARS + sizeof(AFILE__TMP_SUFFIX) - 1)
#define HASH_MARK_LEN (1 + 16)

static const char alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/* FNV-1a, 64 bits: only has to make cut names distinct, not secret. */
static uint64_t
hash64(const char *s)
{
	uint64_t h = 14695981039346656037u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

int
afile__tmp_name(const char *target, char name[NAME_MAX + 1])
{
	unsigned char rnd[RANDOM_CHARS];
	char chars[RANDOM_CHARS + 1];
	size_t tlen = strlen(target), room = NAME_MAX - TMP_OVERHEAD;
	int r;

	r = afile__random(rnd, sizeof(rnd));
	if (r < 0) {
		/*
		 * No entropy source: names need only be unlikely to
		 * collide (O_EXCL catches the rest), so mix the clock with
		 * the stack address.
		 */
		uint64_t x = afile__now_ns() ^ (uint64_t)(uintptr_t)rnd;

		for (size_t i = 0; i < sizeof(rnd); i++) {
			x = x * 6364136223846793005u + 1442695040888963407u;
			rnd[i] = (unsigned char)(x >> 56);
		}
	}
	for (size_t i = 0; i < RANDOM_CHARS; i++)
		chars[i] = alphabet[rnd[i] & 63];
	chars[RANDOM_CHARS] = '\0';

	if (tlen <= room)
		r = snprintf(name, NAME_MAX + 1, ".%s.%s%s", target, chars,
		    AFILE__TMP_SUFFIX);
	else
		r = snprintf(name, NAME_MAX + 1, ".%.*s~%016llx.%s%s",
		    (int)(room - HASH_MARK_LEN), target,
		    (unsigned long long)hash64(target), chars,
		    AFILE__TMP_SUFFIX);
	return r > 0 && r <= NAME_MAX ? 0 : -ENAMETOOLONG;
}

int
afile__tmp_create(struct afile__op *op, int dfd, const char *target,
    mode_t mode, struct afile__tmp *tmp)
{
	int fd, r;

	tmp->fd = -1;
	tmp->named = false;
	tmp->name[0] = '\0';
#ifdef O_TMPFILE
	fd = afile__openat(dfd, ".", O_TMPFILE | O_RDWR, mode);
	if (fd >= 0) {
		tmp->fd = fd;
		return 0;
	}
	/*
	 * EOPNOTSUPP: this file system has no O_TMPFILE; EISDIR or EINVAL:
	 * the kernel predates it (O_TMPFILE contains O_DIRECTORY).  Anything
	 * else (EACCES, EROFS, ENOSPC, EMFILE) would fail a named temp too.
	 */
	if (fd != -EOPNOTSUPP && fd != -EISDIR && fd != -EINVAL)
		return afile__fail(op, fd, "create temporary file", target);
#endif
	for (int i = 0; i < NAMED_TRIES; i++) {
		r = afile__tmp_name(target, tmp->name);
		if (r < 0)
			return afile__fail(
			    op, r, "create temporary file", target);
		fd = afile__openat(dfd, tmp->name,
		    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
		if (fd >= 0) {
			tmp->fd = fd;
			tmp->named = true;
			return 0;
		}
		if (fd != -EEXIST)
			break;
	}
	tmp->name[0] = '\0';
	return afile__fail(op, fd, "create temporary file", target);
}

int
afile__tmp_link(int dfd, struct afile__tmp *tmp, const char *name)
{
	char proc[64];
	int r;

	/*
	 * linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc magic
	 * link works for everyone.  Try it first, and AT_EMPTY_PATH only
	 * where /proc is not mounted.
	 */
	(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tmp->fd);
	r = afile__linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW);
	if (r == -ENOENT)
		r = afile__linkat(tmp->fd, "", dfd, name, AT_EMPTY_PATH);
	return r;
}

void
afile__tmp_discard(int dfd, struct afile__tmp *tmp)
{
	if (tmp->named)
		(void)afile__unlinkat(dfd, tmp->name, 0);
	tmp->named = false;
	afile__close_quiet(tmp->fd);
	tmp->fd = -1;
}
