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
#include <string.h>

#include "internal.h"

#define XATTR_LIST_MAX_TRIES 4

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
get_value(int fd, const char *name, char **ret_val, uint32_t *ret_len)
{
	ssize_t n, got;
	char *v;

	for (int tries = 0; tries < XATTR_LIST_MAX_TRIES; tries++) {
		n = afile__fgetxattr(fd, name, NULL, 0);
		if (n == -ENODATA)
			return 1;
		if (n < 0)
			return (int)n;
		v = afile__malloc((size_t)n + 1);
		if (!v)
			return -ENOMEM;
		got = afile__fgetxattr(fd, name, v, (size_t)n);
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
list_names(int fd, char **ret_list, size_t *ret_len)
{
	ssize_t n, got;
	char *list;

	*ret_list = NULL;
	*ret_len = 0;
	for (int tries = 0; tries < XATTR_LIST_MAX_TRIES; tries++) {
		n = afile__flistxattr(fd, NULL, 0);
		if (n == -ENOTSUP || n == -EOPNOTSUPP || n == 0)
			return 0;
		if (n < 0)
			return (int)n;
		list = afile__malloc((size_t)n);
		if (!list)
			return -ENOMEM;
		got = afile__flistxattr(fd, list, (size_t)n);
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

int
afile__meta_capture(struct afile__op *op, struct afile__meta *m, int fd,
    const struct stat *st, const char *shown)
{
	char *list = NULL, *val;
	size_t len, i;
	uint32_t vlen;
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
	r = list_names(fd, &list, &len);
	if (r < 0)
		return afile__fail(op, r, "list extended attributes", shown);
	for (i = 0; i < len; i += strlen(list + i) + 1) {
		const char *name = list + i;

		if (skipped(name))
			continue;
		r = get_value(fd, name, &val, &vlen);
		if (r == 1)
			continue;
		if (r < 0 && privileged_namespace(name) &&
		    (r == -EPERM || r == -EACCES))
			continue;
		if (r < 0) {
			r = afile__fail(
			    op, r, "read extended attribute", shown);
			goto fail;
		}
		r = append(m, name, val, vlen);
		afile__free(val);
		if (r < 0) {
			r = afile__fail(
			    op, r, "read extended attribute", shown);
			goto fail;
		}
	}
	afile__free(list);
	return 0;
fail:
	afile__free(list);
	afile__meta_done(m);
	return r;
}

int
afile__meta_capture_target(
    struct afile__op *op, struct afile__meta *m, const struct afile__target *t)
{
	int fd, r;

	/*
	 * O_NONBLOCK and O_NOCTTY are belt and braces: the target was
	 * checked to be a regular file, but it may have been swapped since.
	 */
	fd = afile__openat(
	    t->dfd, t->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return afile__fail(op, fd, "read metadata", t->shown);
	/* t->st was taken a moment ago; no need to stat again. */
	r = afile__meta_capture(op, m, fd, &t->st, t->shown);
	afile__close_quiet(fd);
	return r;
}

int
afile__meta_apply_owner(struct afile__op *op, const struct afile__meta *m,
    int fd, bool best_effort, const char *shown)
{
	int r;

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
	uint32_t vlen;
	int r;

	while (i < m->xattrs_len) {
		const char *name = m->xattrs + i;
		size_t nlen = strlen(name) + 1;

		memcpy(&vlen, m->xattrs + i + nlen, 4);
		r = afile__fsetxattr(fd, name, m->xattrs + i + nlen + 4, vlen);
		if (r < 0 &&
		    !(privileged_namespace(name) &&
			(r == -EPERM || r == -EACCES || r == -ENOTSUP ||
			    r == -EOPNOTSUPP)))
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
