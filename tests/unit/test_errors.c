/* SPDX-License-Identifier: MIT */
/*
 * test_errors.c - afile_strerror(), afile_err_name(), afile_version(),
 * afile_stats_get() and the errinfo contract.
 */
#include "helpers.h"

#include <pthread.h>

static void
test_success(void **state)
{
	(void)state;
	assert_string_equal(afile_strerror(0), "success");
	assert_string_equal(afile_err_name(0), "OK");
}

static void
test_errno_values(void **state)
{
	static const struct {
		int err;
		const char *name;
	} known[] = {
#define E(x) {x, #x}
	    E(EPERM),
	    E(ENOENT),
	    E(EIO),
	    E(EBADF),
	    E(ENOMEM),
	    E(EACCES),
	    E(EEXIST),
	    E(EXDEV),
	    E(ENOTDIR),
	    E(EISDIR),
	    E(EINVAL),
	    E(EFBIG),
	    E(ENOSPC),
	    E(EROFS),
	    E(EMLINK),
	    E(ENAMETOOLONG),
	    E(ELOOP),
	    E(EDQUOT),
	    E(ECANCELED),
	    E(ENOSYS),
#undef E
	};

	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		int e = known[i].err;

		assert_string_equal(afile_err_name(-e), known[i].name);
		assert_string_equal(afile_strerror(-e), strerrordesc_np(e));
	}
	/* Every errno the C library knows has a name and a description. */
	for (int e = 1; e < 4096; e++) {
		const char *name = afile_err_name(-e);
		const char *text = afile_strerror(-e);

		assert_non_null(name);
		assert_non_null(text);
		if (strerrorname_np(e) == NULL)
			continue;
		if (name[0] != 'E' || strcmp(name, "UNKNOWN") == 0)
			fail_msg("afile_err_name(-%d) is \"%s\", expected an "
				 "errno name like \"%s\"",
			    e, name, strerrorname_np(e));
		if (strcmp(text, "unknown error") == 0)
			fail_msg("afile_strerror(-%d) is \"unknown error\"", e);
	}
}

static void
test_library_codes(void **state)
{
	static const struct {
		int err;
		const char *name, *text;
	} codes[] = {
#define X(n, v, t) {AFILE_##n, "AFILE_" #n, t},
	    AFILE_ERROR_MAP(X)
#undef X
	};

	(void)state;
	assert_true(sizeof(codes) / sizeof(codes[0]) >= 7);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		/* Library codes can never be mistaken for an errno. */
		assert_true(codes[i].err < -4095);
		assert_string_equal(
		    afile_err_name(codes[i].err), codes[i].name);
		assert_string_equal(
		    afile_strerror(codes[i].err), codes[i].text);
	}
}

static void
test_unknown_values(void **state)
{
	static const int unknown[] = {-4095, -4096, -4999, -5100, -6000,
	    -100000, INT_MIN, INT_MIN + 1,
	    /* A positive errno, passed by mistake: no code of the library. */
	    1, 5, 4096, INT_MAX};

	(void)state;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		int v = unknown[i];

		if (strcmp(afile_err_name(v), "UNKNOWN") != 0)
			fail_msg("afile_err_name(%d) is \"%s\"", v,
			    afile_err_name(v));
		if (strcmp(afile_strerror(v), "unknown error") != 0)
			fail_msg("afile_strerror(%d) is \"%s\"", v,
			    afile_strerror(v));
	}
	/* Errno numbers no errno uses on Linux. */
	for (int e = 1; e < 4096; e++) {
		if (strerrorname_np(e) != NULL)
			continue;
		if (strcmp(afile_err_name(-e), "UNKNOWN") != 0)
			fail_msg("afile_err_name(-%d) is \"%s\", expected "
				 "\"UNKNOWN\"",
			    e, afile_err_name(-e));
	}
}

static void *
strerror_thread(void *arg)
{
	uintptr_t bad = 0;

	(void)arg;
	for (int i = 0; i < 2000; i++) {
		if (strcmp(afile_strerror(-ENOENT), strerrordesc_np(ENOENT)) !=
			0 ||
		    strcmp(afile_err_name(AFILE_ECORRUPT), "AFILE_ECORRUPT") !=
			0 ||
		    strcmp(afile_strerror(-EACCES), strerrordesc_np(EACCES)) !=
			0)
			bad++;
	}
	return (void *)bad;
}

static void
test_thread_safe(void **state)
{
	pthread_t t[4];
	void *res;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(
		    pthread_create(&t[i], NULL, strerror_thread, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &res), 0);
		assert_null(res);
	}
}

static void
test_version(void **state)
{
	(void)state;
	assert_non_null(afile_version());
	assert_string_equal(afile_version(), AFILE_VERSION_STRING);
	assert_int_equal(AFILE_VERSION_NUMBER,
	    AFILE_VERSION_MAJOR * 10000 + AFILE_VERSION_MINOR * 100 +
		AFILE_VERSION_PATCH);
}

static void
get_stats(struct afile_stats *s)
{
	memset(s, 0xee, sizeof(*s));
	s->size = sizeof(*s);
	assert_ok(afile_stats_get(s));
	assert_int_equal(s->size, sizeof(*s));
}

static void
test_stats_bad_size(void **state)
{
	struct afile_stats s;

	(void)state;
	assert_err(afile_stats_get(NULL), -EINVAL);
	memset(&s, 0, sizeof(s));
	assert_err(afile_stats_get(&s), -EINVAL);
	s.size = sizeof(s) - 8;
	assert_err(afile_stats_get(&s), -EINVAL);
	s.size = sizeof(s) + 8;
	assert_err(afile_stats_get(&s), -EINVAL);
}

static void
test_stats_count(void **state)
{
	struct h_ctx *c = *state;
	struct afile_stats a, b;
	struct afile_opts o = AFILE_OPTS_INIT;
	void *buf;
	size_t len;

	get_stats(&a);
	assert_ok(afile_write(c->dfd, "f", "12345", 5, 0, NULL));
	get_stats(&b);
	assert_int_equal(b.ops - a.ops, 1);
	assert_int_equal(b.failures, a.failures);
	assert_true(b.syncs - a.syncs >= 1);
	assert_true(b.dir_syncs - a.dir_syncs >= 1);
	assert_true(b.bytes_written - a.bytes_written >= 5);
	assert_true(b.sync_ns >= a.sync_ns);

	/* A failure counts as one, and not as an operation. */
	get_stats(&a);
	assert_err(
	    afile_write(c->dfd, "f", "x", 1, AFILE_NOREPLACE, NULL), -EEXIST);
	get_stats(&b);
	assert_int_equal(b.failures - a.failures, 1);
	assert_int_equal(b.ops, a.ops);

	/* Reading counts bytes read. */
	get_stats(&a);
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	free(buf);
	get_stats(&b);
	assert_true(b.bytes_read - a.bytes_read >= 5);

	/* AFILE_SYNC_NONE syncs nothing; AFILE_SYNC_DATA not the directory. */
	o.sync = AFILE_SYNC_NONE;
	get_stats(&a);
	assert_ok(afile_write(c->dfd, "f", "abc", 3, 0, &o));
	get_stats(&b);
	assert_int_equal(b.ops - a.ops, 1);
	assert_int_equal(b.syncs, a.syncs);
	assert_int_equal(b.dir_syncs, a.dir_syncs);
	o.sync = AFILE_SYNC_DATA;
	get_stats(&a);
	assert_ok(afile_write(c->dfd, "f", "abc", 3, 0, &o));
	get_stats(&b);
	assert_true(b.syncs - a.syncs >= 1);
	assert_int_equal(b.dir_syncs, a.dir_syncs);

	/* A writer commit is one operation. */
	{
		struct afile_writer *w = NULL;

		get_stats(&a);
		assert_ok(afile_writer_open(c->dfd, "g", 0, NULL, &w));
		assert_ok(afile_writer_write(w, "1234567", 7));
		assert_ok(afile_writer_commit(w));
		afile_writer_free(w);
		get_stats(&b);
		assert_int_equal(b.ops - a.ops, 1);
		assert_true(b.bytes_written - a.bytes_written >= 7);
	}
	assert_entries(c, ".", "f", "g");
}

static void
test_errinfo_steps_and_paths(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	/* Each call fills the errinfo on failure, with the code it returns. */
	r = afile_write(c->dfd, "nodir/f", "x", 1, 0, &o);
	assert_errinfo(&e, r);
	r = afile_remove(c->dfd, "missing", 0, &o);
	assert_errinfo(&e, r);
	r = afile_copy(c->dfd, "missing", c->dfd, "dst", 0, &o);
	assert_errinfo(&e, r);
	r = afile_rename(c->dfd, "missing", c->dfd, "dst", 0, &o);
	assert_errinfo(&e, r);
	r = afile_patch(c->dfd, "missing", 0, "x", 1, 0, &o);
	assert_errinfo(&e, r);
	{
		void *buf;
		size_t len;

		r = afile_read(c->dfd, "missing", &buf, &len, 0, &o);
		assert_errinfo(&e, r);
	}
	{
		struct afile_writer *w = NULL;

		r = afile_writer_open(c->dfd, "nodir/f", 0, &o, &w);
		assert_errinfo(&e, r);
		assert_null(w);
	}
	/* A refusal on an existing target names it. */
	h_mkdir(c, "d", 0755);
	r = afile_write(c->dfd, "d", "x", 1, 0, &o);
	assert_err(r, -EISDIR);
	assert_errinfo(&e, r);
	if (e.path[0] != '\0' && strstr(e.path, "d") == NULL)
		fail_msg(
		    "errinfo.path \"%s\" does not name the target", e.path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_success),
	    cmocka_unit_test(test_errno_values),
	    cmocka_unit_test(test_library_codes),
	    cmocka_unit_test(test_unknown_values),
	    cmocka_unit_test(test_thread_safe),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_stats_bad_size),
	    cmocka_unit_test_setup_teardown(
		test_stats_count, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_errinfo_steps_and_paths, h_setup, h_teardown),
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
