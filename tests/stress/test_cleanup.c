/* SPDX-License-Identifier: MIT */
/*
 * test_cleanup.c - abandoned temps are swept, live writers' temps never.
 *
 * Temps get names only without O_TMPFILE, so these tests switch it off
 * through the syscall table (s_named_temps(); the children inherit it).
 * A writer that dies by SIGKILL leaves its ".T.XXXXXXXXXXXX.afile-tmp";
 * a live writer holds an OFD lock on its temp, which is how afile_cleanup()
 * and the sweep at the next write of the same target tell the two apart.
 * Also: the minimum age, dry runs, lock sidecars and look-alike names
 * that must survive, and afile_cleanup_on_signal() in a signal handler and
 * in a forked grandchild.
 *
 * test_sweep_during_commit_* stop a writer between the moment its temp's
 * descriptor is closed and the rename that publishes it, and sweep then:
 * the writer is alive and about to publish, so its temp must survive.
 */
#include "stress.h"

#include <signal.h>
#include <sys/wait.h>

#include "sys.h"

struct writer_arg {
	const char *name;
	const char *data;
	unsigned int flags;
};

/*
 * Open a writer, write, report, then commit on a byte from the parent (or
 * wait to be killed).  Exit code 0 only if the commit succeeded.
 */
static int
writer_child(struct h_ctx *c, int rd, int wr, void *arg)
{
	const struct writer_arg *a = arg;
	struct afile_writer *w = NULL;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	r = afile_writer_open(c->dfd, a->name, a->flags, &o, &w);
	if (r == 0)
		r = afile_writer_write(w, a->data, strlen(a->data));
	if (r < 0) {
		fprintf(stderr, "writer %s: %s\n", a->name, afile_strerror(r));
		return 1;
	}
	if (s_send(wr) < 0 || s_recv(rd) < 0)
		return 2;
	r = afile_writer_commit(w);
	afile_writer_free(w);
	if (r < 0) {
		fprintf(stderr, "commit %s: %s: %s (%s)\n", a->name, e.step,
		    afile_strerror(r), e.path);
		return 1;
	}
	return 0;
}

/* Leave an abandoned temp of @name holding @data; its name in @tmp. */
static void
abandon(struct h_ctx *c, const char *name, const char *data, char *tmp,
    size_t tmp_len)
{
	struct writer_arg a = {name, data, AFILE_LOCK};
	int before = s_count_temps(c, name, NULL, 0);
	struct s_child k;

	s_spawn(c, &k, writer_child, &a);
	s_wait(&k);
	s_kill(&k);
	assert_int_equal(s_count_temps(c, name, NULL, 0), before + 1);
	if (tmp != NULL)
		assert_int_equal(s_count_temps(c, name, tmp, tmp_len), 1);
}

struct seen {
	int n;
	int what;
	char name[NAME_MAX + 1];
};

static void
record(const char *name, int what, void *ctx)
{
	struct seen *s = ctx;

	s->n++;
	s->what = what;
	snprintf(s->name, sizeof(s->name), "%s", name);
}

static void
test_live_writer_kept(void **state)
{
	struct h_ctx *c = *state;
	struct afile_cleanup_report rep = {.size = sizeof(rep)};
	struct writer_arg a = {"T", "child data", 0};
	struct seen seen = {0};
	struct s_child k;
	char tmp[NAME_MAX + 1];

	s_named_temps();
	h_puts(c, "T", "old");
	s_spawn(c, &k, writer_child, &a);
	s_wait(&k);
	assert_int_equal(s_count_temps(c, "T", tmp, sizeof(tmp)), 1);
	rep.each = record;
	rep.ctx = &seen;
	assert_ok(afile_cleanup(c->dfd, ".", 0, 0, &rep));
	assert_int_equal(rep.live, 1);
	assert_int_equal(rep.removed, 0);
	assert_int_equal(rep.failed, 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.what, AFILE_CLEAN_LIVE);
	assert_string_equal(seen.name, tmp);
	assert_true(h_exists(c, tmp));
	/* The writer never noticed: it publishes. */
	s_tell(&k);
	s_reap_ok(&k);
	assert_file(c, "T", "child data");
	assert_int_equal(s_count_temps(c, "T", NULL, 0), 0);
}

static void
test_killed_writer_removed(void **state)
{
	struct h_ctx *c = *state;
	struct afile_cleanup_report rep = {.size = sizeof(rep)};
	struct seen seen = {0};
	char tmp[NAME_MAX + 1];

	s_named_temps();
	h_puts(c, "T", "old");
	abandon(c, "T", "twelve bytes", tmp, sizeof(tmp));
	assert_true(h_exists(c, ".T.afile-lock"));

	assert_ok(afile_cleanup(c->dfd, ".", 0, AFILE_CLEAN_DRY_RUN, &rep));
	assert_int_equal(rep.removed, 1);
	assert_int_equal(rep.bytes, 12);
	assert_int_equal(rep.live + rep.young + rep.failed, 0);
	assert_true(h_exists(c, tmp));

	rep.each = record;
	rep.ctx = &seen;
	assert_ok(afile_cleanup(c->dfd, ".", 0, 0, &rep));
	assert_int_equal(rep.removed, 1);
	assert_int_equal(rep.bytes, 12);
	assert_int_equal(rep.live + rep.young + rep.failed, 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.what, AFILE_CLEAN_REMOVED);
	assert_string_equal(seen.name, tmp);
	assert_file(c, "T", "old");
	/* The sidecar stays, the temp is gone, nothing else changed. */
	assert_entries(c, ".", "T", ".T.afile-lock");

	/* A second sweep finds nothing. */
	assert_ok(afile_cleanup(c->dfd, ".", 0, 0, &rep));
	assert_int_equal(rep.removed + rep.live + rep.young + rep.failed, 0);
	assert_ok(afile_cleanup(c->dfd, ".", 0, 0, NULL));
}

static void
test_lookalikes_kept(void **state)
{
	static const char *const odd[] = {
	    ".T.DDDDDDDDDDDD.afile-tmp", /* a directory */
	    ".T.FFFFFFFFFFFF.afile-tmp", /* a FIFO */
	    ".T.SSSSSSSSSSSS.afile-tmp", /* a symlink to a file */
	};
	struct h_ctx *c = *state;
	struct afile_cleanup_report rep = {.size = sizeof(rep)};

	h_puts(c, "victim", "keep me");
	h_puts(c, "T.afile-tmp", "not hidden");
	h_puts(c, ".short.afile-tmp", "no random part");
	h_puts(c, ".T.afile-lock", "");
	h_mkdir(c, odd[0], 0755);
	assert_int_equal(mkfifoat(c->dfd, odd[1], 0644), 0);
	h_symlink(c, "victim", odd[2]);
	assert_ok(afile_cleanup(c->dfd, ".", 0, 0, &rep));
	assert_int_equal(rep.removed, 0);
	assert_int_equal(rep.live + rep.young, 0);
	assert_entries(c, ".", "victim", "T.afile-tmp", ".short.afile-tmp",
	    ".T.afile-lock", odd[0], odd[1], odd[2]);
	assert_file(c, "victim", "keep me");
	/* The teardown would count these as left-behind temps. */
	assert_int_equal(unlinkat(c->dfd, "T.afile-tmp", 0), 0);
	assert_int_equal(unlinkat(c->dfd, ".short.afile-tmp", 0), 0);
	assert_int_equal(unlinkat(c->dfd, odd[0], AT_REMOVEDIR), 0);
	assert_int_equal(unlinkat(c->dfd, odd[1], 0), 0);
	assert_int_equal(unlinkat(c->dfd, odd[2], 0), 0);
}

static void
test_sweep_on_write(void **state)
{
	struct h_ctx *c = *state;
	struct writer_arg live = {"T", "live writer", 0};
	struct afile_cleanup_report rep = {.size = sizeof(rep)};
	char live_t[NAME_MAX + 1], dead_u[NAME_MAX + 1];
	struct s_child k;

	s_named_temps();
	h_puts(c, "T", "old");
	/* The live one first: a writer's open sweeps its target too. */
	s_spawn(c, &k, writer_child, &live);
	s_wait(&k);
	assert_int_equal(s_count_temps(c, "T", live_t, sizeof(live_t)), 1);
	abandon(c, "T", "dead T", NULL, 0);
	abandon(c, "U", "dead U", dead_u, sizeof(dead_u));
	assert_int_equal(s_count_temps(c, "T", NULL, 0), 2);

	/* Writing T sweeps T's abandoned temp, and only that. */
	assert_ok(afile_write(c->dfd, "T", "parent", 6, 0, NULL));
	assert_file(c, "T", "parent");
	assert_true(h_exists(c, dead_u));
	assert_true(h_exists(c, live_t));
	assert_int_equal(s_count_temps(c, "T", NULL, 0), 1);

	s_tell(&k);
	s_reap_ok(&k);
	assert_file(c, "T", "live writer");
	assert_int_equal(s_count_temps(c, "T", NULL, 0), 0);
	assert_true(h_exists(c, dead_u));
	assert_ok(afile_cleanup(c->dfd, ".", 0, 0, &rep));
	assert_int_equal(rep.removed, 1);
	assert_int_equal(rep.live, 0);
	assert_entries(c, ".", "T", ".T.afile-lock", ".U.afile-lock");
}

static void
test_min_age(void **state)
{
	struct h_ctx *c = *state;
	struct afile_cleanup_report rep = {.size = sizeof(rep)};
	char tmp[NAME_MAX + 1];

	s_named_temps();
	abandon(c, "T", "young", tmp, sizeof(tmp));
	assert_ok(afile_cleanup(c->dfd, ".", 3600, 0, &rep));
	assert_int_equal(rep.young, 1);
	assert_int_equal(rep.removed + rep.live + rep.failed, 0);
	assert_true(h_exists(c, tmp));
	assert_ok(afile_cleanup(c->dfd, ".", 0, 0, &rep));
	assert_int_equal(rep.removed, 1);
	assert_false(h_exists(c, tmp));
}

/* ------------------------------------------------------------------
 * afile_cleanup_on_signal()
 * ------------------------------------------------------------------ */

static void
on_term(int sig)
{
	(void)sig;
	afile_cleanup_on_signal();
	_exit(0);
}

/* Two writers with named temps, then wait for SIGTERM. */
static int
term_child(struct h_ctx *c, int rd, int wr, void *arg)
{
	struct afile_writer *w1 = NULL, *w2 = NULL;
	struct sigaction sa;

	(void)arg;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	if (afile_writer_open(c->dfd, "T", 0, NULL, &w1) < 0 ||
	    afile_writer_write(w1, "t", 1) < 0 ||
	    afile_writer_open(c->dfd, "U", 0, NULL, &w2) < 0 ||
	    afile_writer_write(w2, "u", 1) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0)
		return 1;
	if (s_send(wr) < 0)
		return 2;
	(void)s_recv(rd);
	return 3; /* the handler exits first */
}

static void
test_signal_handler(void **state)
{
	struct h_ctx *c = *state;
	struct s_child k;
	int status;

	s_named_temps();
	h_puts(c, "T", "old");
	s_spawn(c, &k, term_child, NULL);
	s_wait(&k);
	assert_int_equal(s_count_temps(c, "T", NULL, 0), 1);
	assert_int_equal(s_count_temps(c, "U", NULL, 0), 1);
	kill(k.pid, SIGTERM);
	status = s_reap(&k);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_entries(c, ".", "T");
	assert_file(c, "T", "old");
}

/*
 * A forked grandchild calling afile_cleanup_on_signal() leaves its
 * parent's temp alone; the parent then commits.  With @self, the child
 * calls it itself afterwards: its temp goes and its commit fails.
 */
static int
fork_child(struct h_ctx *c, int rd, int wr, void *arg)
{
	bool self = arg != NULL;
	struct afile_writer *w = NULL;
	int status, r;
	pid_t pid;

	if (afile_writer_open(c->dfd, "T", 0, NULL, &w) < 0 ||
	    afile_writer_write(w, "from child", 10) < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		afile_cleanup_on_signal();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return 1;
	if (s_send(wr) < 0 || s_recv(rd) < 0)
		return 2;
	if (self)
		afile_cleanup_on_signal();
	r = afile_writer_commit(w);
	afile_writer_free(w);
	if (self ? r == 0 : r < 0) {
		fprintf(stderr, "commit: %s\n", afile_strerror(r));
		return 1;
	}
	return 0;
}

static void
test_signal_grandchild(void **state)
{
	struct h_ctx *c = *state;
	struct s_child k;

	s_named_temps();
	h_puts(c, "T", "old");
	s_spawn(c, &k, fork_child, NULL);
	s_wait(&k);
	assert_int_equal(s_count_temps(c, "T", NULL, 0), 1);
	s_tell(&k);
	s_reap_ok(&k);
	assert_file(c, "T", "from child");
	assert_entries(c, ".", "T");
}

static void
test_signal_self(void **state)
{
	struct h_ctx *c = *state;
	struct s_child k;

	s_named_temps();
	h_puts(c, "T", "old");
	s_spawn(c, &k, fork_child, (void *)1);
	s_wait(&k);
	assert_int_equal(s_count_temps(c, "T", NULL, 0), 1);
	s_tell(&k);
	s_reap_ok(&k);
	assert_file(c, "T", "old");
	assert_entries(c, ".", "T");
}

/* ------------------------------------------------------------------
 * A sweep in the last moments of a commit
 * ------------------------------------------------------------------ */

static int pause_rd = -1, pause_wr = -1;

/* Stop before publishing a temp, once: the writer has closed it. */
static void
pause_before(const char *src)
{
	size_t n = strlen(src), s = strlen(H_TMP_SUFFIX);

	if (pause_wr >= 0 && n > s && strcmp(src + n - s, H_TMP_SUFFIX) == 0) {
		(void)s_send(pause_wr);
		(void)s_recv(pause_rd);
		pause_wr = -1;
	}
}

static int
paused_renameat(int sdfd, const char *src, int ddfd, const char *dst)
{
	pause_before(src);
	return afile__sys_default.renameat(sdfd, src, ddfd, dst);
}

static int
paused_renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
	pause_before(src);
	return afile__sys_default.renameat2(sdfd, src, ddfd, dst, flags);
}

static int
committer(struct h_ctx *c, int rd, int wr, void *arg)
{
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	(void)arg;
	o.err = &e;
	pause_rd = rd;
	pause_wr = wr;
	afile__sys.renameat = paused_renameat;
	afile__sys.renameat2 = paused_renameat2;
	r = afile_write(c->dfd, "T", "committed", 9, 0, &o);
	if (r < 0) {
		fprintf(stderr,
		    "BUG: the live writer's commit failed: %s: %s (%s)\n",
		    e.step, afile_strerror(r), e.path);
		return 1;
	}
	return 0;
}

static void
sweep_during_commit(struct h_ctx *c, bool named, bool by_cleanup)
{
	struct afile_cleanup_report rep = {.size = sizeof(rep)};
	struct s_child k;

	if (named)
		s_named_temps();
	h_puts(c, "T", "old");
	s_spawn(c, &k, committer, NULL);
	s_wait(&k); /* stopped just before its rename */
	assert_int_equal(s_count_temps(c, "T", NULL, 0), 1);
	if (by_cleanup) {
		assert_ok(afile_cleanup(c->dfd, ".", 0, 0, &rep));
		if (rep.removed != 0)
			print_error("BUG: afile_cleanup removed the temp of a "
				    "writer that is publishing it\n");
		assert_int_equal(rep.removed, 0);
		assert_int_equal(rep.live, 1);
	} else {
		assert_ok(afile_write(c->dfd, "T", "sweeper", 7, 0, NULL));
	}
	if (s_count_temps(c, "T", NULL, 0) != 1)
		print_error("BUG: the sweep removed the temp of a writer that "
			    "is publishing it\n");
	assert_int_equal(s_count_temps(c, "T", NULL, 0), 1);
	s_tell(&k);
	s_reap_ok(&k);
	assert_file(c, "T", "committed");
}

static void
test_sweep_during_commit_cleanup(void **state)
{
	sweep_during_commit(*state, false, true);
}

static void
test_sweep_during_commit_cleanup_named(void **state)
{
	sweep_during_commit(*state, true, true);
}

static void
test_sweep_during_commit_write(void **state)
{
	sweep_during_commit(*state, false, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_live_writer_kept, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_killed_writer_removed, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_lookalikes_kept, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_sweep_on_write, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(test_min_age, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_signal_handler, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_signal_grandchild, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_signal_self, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_sweep_during_commit_cleanup, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_sweep_during_commit_cleanup_named, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_sweep_during_commit_write, s_setup, s_teardown),
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
