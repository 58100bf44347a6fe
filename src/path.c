/* SPDX-License-Identifier: MIT */
/*
 * path.c - from (dirfd, path) to (open directory, name).
 *
 * Every operation works on a name inside an open directory: later calls
 * are relative to that descriptor (the *at() calls), so a concurrent
 * rename of a parent directory cannot redirect the temp file, the rename
 * and the directory sync to different places, and the directory can be
 * synced after its entry changed.
 *
 * Invariants:
 *   1. On success t->dfd is a directory opened O_RDONLY (so that fsync on
 *      it works) and t->name is a single component: not empty, not "." or
 *      "..", without '/', at most NAME_MAX bytes.
 *   2. On failure nothing is open.
 *   3. With @follow, a symlink at the last component is replaced by what
 *      it names, relative to the symlink's own directory, at most
 *      MAX_SYMLINKS times (the kernel's limit), so that the caller
 *      replaces the file a user meant and keeps the link.  A dangling
 *      link resolves to a name that does not exist, which is created.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "internal.h"

#define MAX_SYMLINKS 40

/*
 * Split @buf (modified) into a directory part and a last component.
 * Returns 0 or -EINVAL for a path whose last component is unusable.
 */
static int
split(char *buf, const char **ret_dir, const char **ret_base)
{
	char *slash = strrchr(buf, '/');

	if (!slash) {
		*ret_dir = ".";
		*ret_base = buf;
	} else if (slash == buf) {
		*ret_dir = "/";
		*ret_base = buf + 1;
	} else {
		*slash = '\0';
		*ret_dir = buf;
		*ret_base = slash + 1;
	}
	if (!**ret_base || !strcmp(*ret_base, ".") || !strcmp(*ret_base, ".."))
		return -EINVAL;
	if (strlen(*ret_base) > NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

void
afile__target_close(struct afile__target *t)
{
	if (!t->borrowed)
		afile__close_quiet(t->dfd);
	t->dfd = -1;
}

/* Fill @t's view of @name in @t->dfd. */
static int
look(struct afile__op *op, struct afile__target *t)
{
	int r = afile__fstatat(t->dfd, t->name, &t->st, AT_SYMLINK_NOFOLLOW);

	if (r < 0 && r != -ENOENT)
		return afile__fail(op, r, "check target", t->shown);
	t->exists = r == 0;
	return 0;
}

int
afile__target_at(
    struct afile__op *op, int dfd, const char *name, struct afile__target *t)
{
	size_t len = name ? strlen(name) : 0;

	memset(t, 0, sizeof(*t));
	t->dfd = -1;
	if (!len || len > NAME_MAX || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return afile__fail(op, -EINVAL, "check path", name);
	memcpy(t->name, name, len + 1);
	memcpy(t->shown, name, len + 1);
	t->dfd = dfd;
	t->borrowed = true;
	return look(op, t);
}

int
afile__target_open(struct afile__op *op, int dirfd, const char *path,
    bool follow, struct afile__target *t)
{
	char buf[sizeof(t->shown)];
	const char *dir, *base;
	int cur = dirfd, dfd, r;
	unsigned int hops = 0;
	size_t len;
	ssize_t n;

	memset(t, 0, sizeof(*t));
	t->dfd = -1;
	if (!path || !*path)
		return afile__fail(op, -EINVAL, "check path", "");
	len = strlen(path);
	if (len >= sizeof(buf))
		return afile__fail(op, -ENAMETOOLONG, "check path", "");
	if (path[len - 1] == '/')
		return afile__fail(op, -EINVAL, "check path", path);
	memcpy(buf, path, len + 1);

	for (;;) {
		memcpy(t->shown, buf, strlen(buf) + 1);
		r = split(buf, &dir, &base);
		if (r < 0) {
			if (cur != dirfd)
				afile__close_quiet(cur);
			r = afile__fail(op, r, "check path", t->shown);
			goto fail;
		}
		r = afile__openat(cur, dir, O_RDONLY | O_DIRECTORY, 0);
		if (cur != dirfd)
			afile__close_quiet(cur);
		cur = dirfd;
		if (r < 0) {
			r = afile__fail(op, r, "open directory", t->shown);
			goto fail;
		}
		dfd = r;
		r = afile__fstatat(dfd, base, &t->st, AT_SYMLINK_NOFOLLOW);
		if (r < 0 && r != -ENOENT) {
			afile__close_quiet(dfd);
			r = afile__fail(op, r, "check target", t->shown);
			goto fail;
		}
		t->exists = r == 0;
		if (!follow || !t->exists || !S_ISLNK(t->st.st_mode)) {
			t->dfd = dfd;
			memcpy(t->name, base, strlen(base) + 1);
			return 0;
		}
		if (++hops > MAX_SYMLINKS) {
			afile__close_quiet(dfd);
			r = afile__fail(op, -ELOOP, "follow symlink", t->shown);
			goto fail;
		}
		n = afile__readlinkat(dfd, base, buf, sizeof(buf));
		if (n < 0 || (size_t)n >= sizeof(buf)) {
			afile__close_quiet(dfd);
			r = afile__fail(op, n < 0 ? (int)n : -ENAMETOOLONG,
			    "read symlink", t->shown);
			goto fail;
		}
		buf[n] = '\0';
		/* "dir/" names a directory: let the check below say so. */
		while (n > 1 && buf[n - 1] == '/')
			buf[--n] = '\0';
		/* Relative targets are relative to the link's directory. */
		cur = dfd;
	}
fail:
	memset(t->name, 0, sizeof(t->name));
	t->dfd = -1;
	return r;
}
