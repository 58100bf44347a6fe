/* SPDX-License-Identifier: MIT */
/*
 * test_versions.c - readers only ever see whole versions.
 *
 * Four writer processes replace one file with afile_write(), each version
 * distinct: a 64-byte header naming the writer and its sequence number,
 * then a 64 KiB body generated from both.  Two reader processes read the
 * file with afile_read() the whole time and check that every read is
 * exactly one version: the right length, a valid header, and the body
 * that header implies.  A prefix, a mix of two versions or a zeroed block
 * fails the check.  The run is bounded by the number of writes, not time.
 *
 * Variants: with and without AFILE_LOCK on the writers, and each with
 * O_TMPFILE and with named temps (where every writer's temp is visible
 * in the directory, and every write sweeps the others' temps).
 */
#include "stress.h"

#include <poll.h>

#define WRITERS  4
#define READERS  2
#define WRITES   100 /* per writer */
#define HDR_LEN  64
#define BODY_LEN (64 * 1024)
#define VER_LEN  (HDR_LEN + BODY_LEN)

struct variant {
	unsigned int flags;
	bool named;
};

struct reader_result {
	uint64_t reads;
	uint64_t changes; /* times the version differed from the last read */
};

/* Fill @buf (VER_LEN bytes) with version (@writer, @seq). */
static void
make_version(char *buf, unsigned int writer, unsigned int seq)
{
	int n = snprintf(
	    buf, HDR_LEN, "afile-stress writer=%u seq=%u", writer, seq);

	memset(buf + n, ' ', (size_t)(HDR_LEN - n - 1));
	buf[HDR_LEN - 1] = '\n';
	h_pattern(buf + HDR_LEN, BODY_LEN, writer * 100000u + seq + 1);
}

/*
 * Check that @buf (@len bytes) is one whole version; returns its id
 * (writer * 100000 + seq) or -1 after printing what is wrong.
 */
static long
check_version(const char *buf, size_t len, char *scratch)
{
	unsigned int writer, seq;

	if (len != VER_LEN) {
		fprintf(
		    stderr, "read %zu bytes, a version has %d\n", len, VER_LEN);
		return -1;
	}
	if (sscanf(buf, "afile-stress writer=%u seq=%u", &writer, &seq) != 2 ||
	    writer > WRITERS || seq > WRITES) {
		fprintf(stderr, "bad header: %.63s\n", buf);
		return -1;
	}
	make_version(scratch, writer, seq);
	if (memcmp(buf, scratch, VER_LEN) != 0) {
		size_t i = 0;

		while (buf[i] == scratch[i])
			i++;
		fprintf(stderr,
		    "torn version: writer %u seq %u differs at byte %zu\n",
		    writer, seq, i);
		return -1;
	}
	return (long)writer * 100000 + seq;
}

static bool
stop_requested(int rd)
{
	struct pollfd p = {.fd = rd, .events = POLLIN};

	return poll(&p, 1, 0) > 0;
}

static int
reader(struct h_ctx *c, int rd, int wr, void *arg)
{
	struct reader_result res = {0};
	char *scratch = malloc(VER_LEN);
	long last = -1;
	bool stop = false;

	(void)arg;
	if (scratch == NULL)
		return 1;
	if (s_send(wr) < 0)
		return 1;
	/* At least one read, and one more after the stop. */
	while (!stop) {
		void *buf;
		size_t len;
		long id;
		int r;

		stop = stop_requested(rd);
		r = afile_read(c->dfd, "f", &buf, &len, 0, NULL);
		if (r < 0) {
			fprintf(stderr, "reader: afile_read: %s\n",
			    afile_strerror(r));
			return 1;
		}
		id = check_version(buf, len, scratch);
		free(buf);
		if (id < 0)
			return 1;
		res.reads++;
		if (id != last)
			res.changes++;
		last = id;
	}
	free(scratch);
	if (write(wr, &res, sizeof(res)) != sizeof(res))
		return 1;
	return 0;
}

static int
writer(struct h_ctx *c, int rd, int wr, void *arg)
{
	const struct variant *v = arg;
	unsigned int id = 0;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo e;
	char *buf = malloc(VER_LEN);

	(void)wr;
	if (buf == NULL)
		return 1;
	o.err = &e;
	/* The parent sends our writer number, then releases everyone. */
	if (read(rd, &id, sizeof(id)) != sizeof(id) || s_recv(rd) < 0)
		return 1;
	for (unsigned int seq = 1; seq <= WRITES; seq++) {
		int r;

		make_version(buf, id, seq);
		r = afile_write(c->dfd, "f", buf, VER_LEN, v->flags, &o);
		if (r < 0) {
			fprintf(stderr, "writer %u seq %u: %s: %s (%s)\n", id,
			    seq, e.step, afile_strerror(r), e.path);
			return 1;
		}
	}
	free(buf);
	return 0;
}

static void
run(struct h_ctx *c, const struct variant *v, const char *label)
{
	struct s_child w[WRITERS], rdr[READERS];
	struct reader_result res[READERS];
	/* Static: a failed assertion must not leak them (LeakSanitizer). */
	static char first[VER_LEN], scratch[VER_LEN];
	size_t len;
	char *last;
	uint64_t t0, t1;
	long id;

	if (v->named)
		s_named_temps();
	/* Readers need a version to read from the start. */
	make_version(first, 0, 0);
	assert_ok(afile_write(c->dfd, "f", first, VER_LEN, 0, NULL));
	for (int i = 0; i < READERS; i++) {
		s_spawn(c, &rdr[i], reader, NULL);
		s_wait(&rdr[i]);
	}
	for (unsigned int i = 0; i < WRITERS; i++) {
		unsigned int num = i + 1;

		s_spawn(c, &w[i], writer, (void *)(uintptr_t)v);
		assert_int_equal(
		    write(w[i].wr, &num, sizeof(num)), sizeof(num));
	}
	t0 = s_now_ns();
	for (int i = 0; i < WRITERS; i++)
		s_tell(&w[i]);
	for (int i = 0; i < WRITERS; i++)
		s_reap_ok(&w[i]);
	t1 = s_now_ns();
	for (int i = 0; i < READERS; i++) {
		s_tell(&rdr[i]);
		assert_int_equal(
		    read(rdr[i].rd, &res[i], sizeof(res[i])), sizeof(res[i]));
		s_reap_ok(&rdr[i]);
	}
	s_figures("versions %s: %d writers x %d writes of %d bytes in %.2f "
		  "s; %d readers: %llu + %llu whole reads, %llu + %llu "
		  "version changes seen, 0 torn",
	    label, WRITERS, WRITES, VER_LEN, (double)(t1 - t0) / 1e9, READERS,
	    (unsigned long long)res[0].reads, (unsigned long long)res[1].reads,
	    (unsigned long long)res[0].changes,
	    (unsigned long long)res[1].changes);
	/* The final state is one of the last versions, whole. */
	last = h_slurp(c, "f", &len);
	assert_non_null(last);
	id = check_version(last, len, scratch);
	free(last);
	assert_int_equal(id % 100000, WRITES);
	assert_int_equal(s_count_temps(c, "f", NULL, 0), 0);
	assert_int_equal(
	    h_exists(c, ".f.afile-lock"), (v->flags & AFILE_LOCK) != 0);
}

static void
test_plain(void **state)
{
	static const struct variant v = {0, false};

	run(*state, &v, "plain");
}

static void
test_locked(void **state)
{
	static const struct variant v = {AFILE_LOCK, false};

	run(*state, &v, "AFILE_LOCK");
}

static void
test_named(void **state)
{
	static const struct variant v = {0, true};

	run(*state, &v, "named temps");
}

static void
test_named_locked(void **state)
{
	static const struct variant v = {AFILE_LOCK, true};

	run(*state, &v, "named temps, AFILE_LOCK");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_plain, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(test_locked, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(test_named, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_named_locked, s_setup, s_teardown),
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
