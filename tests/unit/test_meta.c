/* SPDX-License-Identifier: MIT */
/*
 * test_meta.c - metadata preservation (DESIGN.md section 5) across every
 * operation that replaces a file: afile_write(), the writer,
 * afile_patch() and afile_copy().  Mode, owner and group, user and
 * trusted xattrs, POSIX ACLs (access and inherited default), set-ID bits
 * after a chown, and a set-group-ID directory's group for new files.
 */
#include "helpers.h"

#include <sys/xattr.h>

/* The operations that replace "f" and must keep its metadata. */
enum op { OP_WRITE, OP_WRITER, OP_PATCH, OP_COPY };

static const char *const op_names[] = {
    "afile_write", "afile_writer", "afile_patch"};

/* Replace "f" by op; the new contents are always "replaced". */
static int
replace(struct h_ctx *c, enum op op)
{
	struct afile_writer *w = NULL;
	int r;

	switch (op) {
	case OP_WRITE:
		return afile_write(c->dfd, "f", "replaced", 8, 0, NULL);
	case OP_WRITER:
		r = afile_writer_open(c->dfd, "f", 0, NULL, &w);
		if (r == 0)
			r = afile_writer_write(w, "replaced", 8);
		if (r == 0)
			r = afile_writer_commit(w);
		afile_writer_free(w);
		return r;
	case OP_PATCH:
		/* Same length as "replaced", so the result is equal. */
		return afile_patch(c->dfd, "f", 0, "replaced", 8, 0, NULL);
	case OP_COPY:
		break;
	}
	return -EINVAL;
}

static void
prepare(struct h_ctx *c)
{
	h_puts(c, "f", "original");
}

static void
test_mode_kept(void **state)
{
	struct h_ctx *c = *state;
	static const mode_t modes[] = {
	    0600, 0640, 0755, 0444, 01777, 02711, 04700};

	for (int op = 0; op < OP_COPY; op++) {
		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
			struct stat st;

			prepare(c);
			h_chmod(c, "f", modes[i]);
			assert_ok(replace(c, (enum op)op));
			assert_file(c, "f", "replaced");
			h_lstat(c, "f", &st);
			if ((st.st_mode & 07777) != modes[i])
				fail_msg("%s: mode %04o became %04o",
				    op_names[op], (unsigned int)modes[i],
				    (unsigned int)(st.st_mode & 07777));
			assert_int_equal(unlinkat(c->dfd, "f", 0), 0);
		}
	}
	assert_empty_dir(c, ".");
}

static void
test_owner_and_setid_kept(void **state)
{
	struct h_ctx *c = *state;

	h_require_root();
	for (int op = 0; op < OP_COPY; op++) {
		struct stat st;

		prepare(c);
		h_chown(c, "f", H_OTHER, H_OTHER + 1);
		/* chown clears set-ID bits: the mode must be applied after. */
		h_chmod(c, "f", 06755);
		assert_ok(replace(c, (enum op)op));
		h_lstat(c, "f", &st);
		if (st.st_uid != H_OTHER || st.st_gid != H_OTHER + 1)
			fail_msg("%s: owner %u:%u became %u:%u", op_names[op],
			    H_OTHER, H_OTHER + 1, (unsigned int)st.st_uid,
			    (unsigned int)st.st_gid);
		if ((st.st_mode & 07777) != 06755)
			fail_msg("%s: mode 6755 became %04o", op_names[op],
			    (unsigned int)(st.st_mode & 07777));
		assert_int_equal(unlinkat(c->dfd, "f", 0), 0);
	}
}

static void
test_xattrs_kept(void **state)
{
	struct h_ctx *c = *state;
	char big[3000];

	h_pattern(big, sizeof(big), 13);
	for (int op = 0; op < OP_COPY; op++) {
		prepare(c);
		h_setxattr(c, "f", "user.a", "1", 1);
		h_setxattr(c, "f", "user.big", big, sizeof(big));
		h_setxattr(c, "f", "user.binary", "\0\1\2", 3);
		assert_ok(replace(c, (enum op)op));
		assert_xattr(c, "f", "user.a", "1", 1);
		assert_xattr(c, "f", "user.big", big, sizeof(big));
		assert_xattr(c, "f", "user.binary", "\0\1\2", 3);
		assert_int_equal(unlinkat(c->dfd, "f", 0), 0);
	}
}

static void
test_many_xattrs_kept(void **state)
{
	struct h_ctx *c = *state;
	char key[32];
	int i;

	/* Enough names that the list does not fit a small first buffer. */
	prepare(c);
	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "user.attribute.%03d", i);
		h_setxattr(c, "f", key, key, strlen(key));
	}
	assert_ok(replace(c, OP_WRITE));
	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "user.attribute.%03d", i);
		assert_xattr(c, "f", key, key, strlen(key));
	}
}

static void
test_trusted_xattr_kept(void **state)
{
	struct h_ctx *c = *state;

	h_require_root();
	prepare(c);
	h_setxattr(c, "f", "trusted.afile", "root", 4);
	assert_ok(replace(c, OP_WRITE));
	assert_xattr(c, "f", "trusted.afile", "root", 4);
}

static int
have_acl(struct h_ctx *c, const char *name, const char *spec)
{
	return h_system("setfacl -m '%s' '%s' 2>/dev/null", spec,
		   h_path(c, name)) == 0;
}

static void
test_acl_kept(void **state)
{
	struct h_ctx *c = *state;

	for (int op = 0; op < OP_COPY; op++) {
		void *before, *after;
		size_t nb = 0, na = 0;
		struct stat st0, st1;

		prepare(c);
		if (!have_acl(c, "f", "u:1234:rwx,g:1234:r,m::rw"))
			h_skip("setfacl failed: no POSIX ACL support on /tmp?");
		before = h_getxattr(c, "f", "system.posix_acl_access", &nb);
		assert_non_null(before);
		h_lstat(c, "f", &st0);
		assert_ok(replace(c, (enum op)op));
		h_lstat(c, "f", &st1);
		after = h_getxattr(c, "f", "system.posix_acl_access", &na);
		if (after == NULL)
			fail_msg("%s: the ACL is gone", op_names[op]);
		if (na != nb || memcmp(after, before, nb) != 0)
			fail_msg("%s: the ACL changed", op_names[op]);
		if (st1.st_mode != st0.st_mode)
			fail_msg("%s: mode %o became %o", op_names[op],
			    (unsigned int)st0.st_mode,
			    (unsigned int)st1.st_mode);
		free(before);
		free(after);
		assert_int_equal(unlinkat(c->dfd, "f", 0), 0);
	}
}

static int
write_new_in_acl_dir(struct h_ctx *c, void *arg)
{
	(void)arg;
	umask(022);
	return afile_write(c->dfd, "acl/new", "x", 1, 0, NULL);
}

static void
test_default_acl_inherited(void **state)
{
	struct h_ctx *c = *state;
	void *acl;
	size_t n = 0;

	/*
	 * A directory's default ACL decides a new file's permissions, not
	 * the umask: d:u::rw,d:g::rw,d:o::- gives 0660 under umask 022.
	 */
	h_mkdir(c, "acl", 0755);
	if (h_system("setfacl -d -m u::rw,g::rw,o::-,u:1234:r '%s' "
		     "2>/dev/null",
		h_path(c, "acl")) != 0)
		h_skip("setfacl -d failed: no POSIX ACL support on /tmp?");
	assert_ok(h_run_child(c, write_new_in_acl_dir, NULL));
	assert_file(c, "acl/new", "x");
	acl = h_getxattr(c, "acl/new", "system.posix_acl_access", &n);
	if (acl == NULL)
		fail_msg("the new file did not inherit the default ACL");
	free(acl);
	/* The mask (from d:g::rw and d:u:1234:r) shows as group bits. */
	assert_mode(c, "acl/new", 0660);
	assert_entries(c, "acl", "new");
}

static int
write_new_in_setgid_dir(struct h_ctx *c, void *arg)
{
	(void)arg;
	return afile_write(c->dfd, "sgid/new", "x", 1, 0, NULL);
}

static void
test_setgid_directory_group(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_require_root();
	/* A new file in a set-group-ID directory takes the directory's group.
	 */
	h_mkdir(c, "sgid", 0777);
	h_chown(c, "sgid", 0, H_OTHER);
	h_chmod(c, "sgid", 02777);
	assert_ok(
	    h_run_as(c, H_NOBODY, H_NOBODY, write_new_in_setgid_dir, NULL));
	h_lstat(c, "sgid/new", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_int_equal(st.st_gid, H_OTHER);
	assert_entries(c, "sgid", "new");
}

static void
test_copy_metadata(void **state)
{
	struct h_ctx *c = *state;
	void *want, *got;
	size_t nw = 0, ng = 0;

	/* afile_copy() gives the destination the source's metadata. */
	h_puts(c, "src", "source");
	h_chmod(c, "src", 0604);
	h_setxattr(c, "src", "user.copied", "yes", 3);
	h_puts(c, "f", "original");
	if (!have_acl(c, "src", "u:1234:r"))
		h_skip("setfacl failed: no POSIX ACL support on /tmp?");
	want = h_getxattr(c, "src", "system.posix_acl_access", &nw);
	assert_non_null(want);
	assert_ok(afile_copy(c->dfd, "src", c->dfd, "f", 0, NULL));
	assert_file(c, "f", "source");
	assert_xattr(c, "f", "user.copied", "yes", 3);
	got = h_getxattr(c, "f", "system.posix_acl_access", &ng);
	if (got == NULL)
		fail_msg("the copy has no ACL");
	assert_int_equal(ng, nw);
	assert_memory_equal(got, want, nw);
	free(want);
	free(got);
	{
		struct stat s0, s1;

		h_lstat(c, "src", &s0);
		h_lstat(c, "f", &s1);
		assert_int_equal(s1.st_mode, s0.st_mode);
	}
}

static void
test_set_mode_on_replace_keeps_the_rest(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;

	prepare(c);
	h_setxattr(c, "f", "user.kept", "k", 1);
	o.mode = 0600;
	assert_ok(afile_write(c->dfd, "f", "x", 1, AFILE_SET_MODE, &o));
	assert_mode(c, "f", 0600);
	assert_xattr(c, "f", "user.kept", "k", 1);
}

static int
replace_own_file(struct h_ctx *c, void *arg)
{
	(void)arg;
	return afile_write(c->dfd, "mine/f", "replaced", 8, 0, NULL);
}

static void
test_unprivileged_owner_keeps_everything(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_require_root();
	h_mkdir(c, "mine", 0755);
	h_chown(c, "mine", H_NOBODY, H_NOBODY);
	h_puts(c, "mine/f", "original");
	h_chown(c, "mine/f", H_NOBODY, H_NOBODY);
	h_chmod(c, "mine/f", 0640);
	h_setxattr(c, "mine/f", "user.mine", "m", 1);
	assert_ok(h_run_as(c, H_NOBODY, H_NOBODY, replace_own_file, NULL));
	assert_file(c, "mine/f", "replaced");
	h_lstat(c, "mine/f", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_int_equal(st.st_gid, H_NOBODY);
	assert_mode(c, "mine/f", 0640);
	assert_xattr(c, "mine/f", "user.mine", "m", 1);
	assert_entries(c, "mine", "f");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	    T(test_mode_kept),
	    T(test_owner_and_setid_kept),
	    T(test_xattrs_kept),
	    T(test_many_xattrs_kept),
	    T(test_trusted_xattr_kept),
	    T(test_acl_kept),
	    T(test_default_acl_inherited),
	    T(test_setgid_directory_group),
	    T(test_copy_metadata),
	    T(test_set_mode_on_replace_keeps_the_rest),
	    T(test_unprivileged_owner_keeps_everything),
#undef T
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
