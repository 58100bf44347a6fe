/* SPDX-License-Identifier: MIT */
/*
 * meta.c - capture the metadata a file must keep, and apply it to the
 * temp file that will replace it.
 *
 * What is kept: mode, owner and group, and every extended attribute,
 * which covers user attributes, POSIX ACLs (system.posix_acl_access) and
 * the SELinux label (security.selinux).  One attribute is deliberately
 * not carried over: security.capability.  The kernel drops file
 * capabilities whenever a file's contents are written in place, because
 * privileges granted to one program must not pass to different code; a
 * replace writes different code, so it drops them too.
 *
 * Ownership policy (DESIGN §5): the temp is given the target's owner and
 * group before any data is written.  When the caller may not do that
 * (-EPERM), the default is to refuse, before anything changed, rather than
 * silently give the file to another user; AFILE_OWNER_BEST_EFFORT keeps
 * what it can (the group, where the caller is a member) and goes on.
 *
 * Attributes in the trusted.* and security.* namespaces need privileges
 * the caller may lack; those are copied where permitted and skipped with
 * EPERM.  A failure on any other attribute fails the operation.
 *
 * Packed format of m->xattrs: for each attribute, its NUL-terminated
 * name, a 4-byte native-endian value length, then the value.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define XATTR_LIST_MAX_TRIES 4

/* Where attributes are read from: an open file, or a path (not followed). */
struct source {
	int fd;
	const char *path;
};

static ssize_t
src_list(const struct source *src, char *list, size_t size)
{
	return src->path ? afile__llistxattr(src->path, list, size)
			 : afile__flistxattr(src->fd, list, size);
}

static ssize_t
src_get(const struct source *src, const char *name, void *value, size_t size)
{
	return src->path ? afile__lgetxattr(src->path, name, value, size)
			 : afile__fgetxattr(src->fd, name, value, size);
}

static bool
privileged_namespace(const char *name)
{
	return !strncmp(name, "trusted.", 8) || !strncmp(name, "security.", 9);
}

static bool
skipped(const char *name)
{
	return !strcmp(name, "security.capability");
}

static int
append(struct afile__meta *m, const char *name, const void *val, uint32_t vlen)
{
	size_t nlen = strlen(name) + 1, need = nlen + 4 + vlen;
	char *p = afile__realloc(m->xattrs, m->xattrs_len + need);

	if (!p)
		return -ENOMEM;
	m->xattrs = p;
	p += m->xattrs_len;
	memcpy(p, name, nlen);
	memcpy(p + nlen, &vlen, 4);
	if (vlen)
		memcpy(p + nlen + 4, val, vlen);
	m->xattrs_len += need;
	return 0;
}

/* Read one attribute's value into a fresh buffer; 1 if it vanished. */
static int
get_value(const struct source *src, const char *name, char **ret_val,
    uint32_t *ret_len)
{
	ssize_t n, got;
	char *v;

	for (int tries = 0; tries < XATTR_LIST_MAX_TRIES; tries++) {
		n = src_get(src, name, NULL, 0);
		if (n == -ENODATA)
			return 1;
		if (n < 0)
			return (int)n;
		v = afile__malloc((size_t)n + 1);
		if (!v)
			return -ENOMEM;
		got = src_get(src, name, v, (size_t)n);
		if (got >= 0) {
			*ret_val = v;
			*ret_len = (uint32_t)got;
			return 0;
		}
		afile__free(v);
		if (got == -ENODATA)
			return 1;
		if (got != -ERANGE) /* ERANGE: it grew meanwhile; retry */
			return (int)got;
	}
	return -ERANGE;
}

static int
list_names(const struct source *src, char **ret_list, size_t *ret_len)
{
	ssize_t n, got;
	char *list;

	*ret_list = NULL;
	*ret_len = 0;
	for (int tries = 0; tries < XATTR_LIST_MAX_TRIES; tries++) {
		n = src_list(src, NULL, 0);
		if (afile__unsupported(n) || n == 0)
			return 0;
		if (n < 0)
			return (int)n;
		list = afile__malloc((size_t)n);
		if (!list)
			return -ENOMEM;
		got = src_list(src, list, (size_t)n);
		if (got >= 0) {
			*ret_list = list;
			*ret_len = (size_t)got;
			return 0;
		}
		afile__free(list);
		if (got != -ERANGE)
			return (int)got;
	}
	return -ERANGE;
}

/*
 * Read the values of the attributes named in @list (@len bytes, as
 * listxattr returns it) into @m; frees @list.
 */
static int
capture_values(struct afile__op *op, struct afile__meta *m,
    const struct source *src, char *list, size_t len, const char *shown)
{
	char *val = NULL;
	uint32_t vlen = 0;
	int r = 0;

	for (size_t i = 0; i < len; i += strlen(list + i) + 1) {
		const char *name = list + i;

		if (skipped(name))
			continue;
		r = get_value(src, name, &val, &vlen);
		if (r == 1 ||
		    (r < 0 && privileged_namespace(name) &&
			(r == -EPERM || r == -EACCES))) {
			r = 0;
			continue;
		}
		if (r == 0) {
			r = append(m, name, val, vlen);
			afile__free(val);
		}
		if (r < 0) {
			r = afile__fail(
			    op, r, "read extended attribute", shown);
			afile__meta_done(m);
			break;
		}
	}
	afile__free(list);
	return r;
}

int
afile__meta_capture(struct afile__op *op, struct afile__meta *m, int fd,
    const struct stat *st, const char *shown)
{
	struct source src = {.fd = fd, .path = NULL};
	char *list;
	size_t len;
	int r;

	m->xattrs = NULL;
	m->xattrs_len = 0;
	if (st) {
		m->st = *st;
	} else {
		r = afile__fstat(fd, &m->st);
		if (r < 0)
			return afile__fail(op, r, "read metadata", shown);
	}
	r = list_names(&src, &list, &len);
	if (r < 0)
		return afile__fail(op, r, "list extended attributes", shown);
	return capture_values(op, m, &src, list, len, shown);
}

int
afile__meta_capture_target(
    struct afile__op *op, struct afile__meta *m, const struct afile__target *t)
{
	char path[64 + NAME_MAX];
	struct source src = {.fd = -1, .path = path};
	char *list;
	size_t len;
	int fd, r;

	/*
	 * Read the attributes by path, through the directory's /proc magic
	 * link: it takes no open of the target (two system calls fewer per
	 * replace), and it works on a file the caller may write but not
	 * read, whose system.* and security.* attributes need no read
	 * permission.  The l* calls do not follow a symlink swapped in.
	 */
	(void)snprintf(
	    path, sizeof(path), "/proc/self/fd/%d/%s", t->dfd, t->name);
	m->st = t->st; /* taken a moment ago; no need to stat again */
	m->xattrs = NULL;
	m->xattrs_len = 0;
	r = list_names(&src, &list, &len);
	if (r == 0)
		return capture_values(op, m, &src, list, len, t->shown);
	if (r != -ENOENT)
		return afile__fail(op, r, "list extended attributes", t->shown);

	/* No /proc: open the file.  O_NONBLOCK in case it became a FIFO. */
	fd = afile__openat(
	    t->dfd, t->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return afile__fail(op, fd, "read metadata", t->shown);
	r = afile__meta_capture(op, m, fd, &t->st, t->shown);
	afile__close_quiet(fd);
	return r;
}

int
afile__meta_apply_owner(struct afile__op *op, const struct afile__meta *m,
    int fd, bool best_effort, const struct stat *now, const char *shown)
{
	int r;

	/* The kernel made it so (the usual case): nothing to change. */
	if (now && now->st_uid == m->st.st_uid && now->st_gid == m->st.st_gid)
		return 0;
	r = afile__fchown(fd, m->st.st_uid, m->st.st_gid);
	if (r == -EPERM && best_effort) {
		/* Keep the group at least, where the caller is a member. */
		(void)afile__fchown(fd, (uid_t)-1, m->st.st_gid);
		return 0;
	}
	if (r < 0)
		return afile__fail(op, r, "keep owner and group", shown);
	return 0;
}

int
afile__meta_apply_xattrs(struct afile__op *op, const struct afile__meta *m,
    int fd, const char *shown)
{
	size_t i = 0;
	uint32_t vlen = 0;
	int r;

	while (i < m->xattrs_len) {
		const char *name = m->xattrs + i;
		size_t nlen = strlen(name) + 1;

		memcpy(&vlen, m->xattrs + i + nlen, 4);
		r = afile__fsetxattr(fd, name, m->xattrs + i + nlen + 4, vlen);
		if (r < 0 &&
		    !(privileged_namespace(name) &&
			(r == -EPERM || r == -EACCES || afile__unsupported(r))))
			return afile__fail(
			    op, r, "copy extended attribute", shown);
		i += nlen + 4 + vlen;
	}
	return 0;
}

void
afile__meta_done(struct afile__meta *m)
{
	afile__free(m->xattrs);
	m->xattrs = NULL;
	m->xattrs_len = 0;
}
