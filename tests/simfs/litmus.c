/* SPDX-License-Identifier: MIT */
/*
 * litmus.c - simfs-litmus: unit tests of the persistence model itself.
 *
 * Each litmus test runs a short system-call sequence on simfs, then
 * collects the distinct contents of d/ over every legal crash state after
 * the last call, and compares them with the exact set the model allows
 * (crash-testing.md §2.3).  Too few outcomes means the model is too
 * strong (it would hide bugs); too many means it is unsound.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simfs.h"
#include "sys.h"

#define MAX_OUT 32

struct outcomes {
	char *s[MAX_OUT];
	size_t n;
	bool overflow;
};

static int
collect(struct simfs *crashed, size_t index, void *arg)
{
	struct outcomes *o = arg;
	char *d = simfs_describe_dir(crashed, "d");

	(void)index;
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->s[i], d)) {
			free(d);
			return 0;
		}
	if (o->n == MAX_OUT) {
		o->overflow = true;
		free(d);
		return 0;
	}
	o->s[o->n++] = d;
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the sequences; files of d/ are set up durable first ---- */

static int
wfile(const char *path, int flags, const char *data, bool sync)
{
	int fd = afile__sys.openat(AT_FDCWD, path, O_WRONLY | flags, 0644);

	if (fd < 0)
		return -1;
	if (data && afile__sys.write(fd, data, strlen(data)) < 0)
		return -1;
	if (sync && afile__sys.fsync(fd) < 0)
		return -1;
	return afile__sys.close(fd);
}

static int
sync_d(void)
{
	int fd = afile__sys.openat(AT_FDCWD, "d", O_RDONLY | O_DIRECTORY, 0);

	if (fd < 0 || afile__sys.fsync(fd) < 0)
		return -1;
	return afile__sys.close(fd);
}

static int
seq_write(void)
{
	return wfile("d/f", 0, "new", false);
}

static int
seq_write_sync(void)
{
	return wfile("d/f", 0, "new", true);
}

static int
seq_create_sync(void)
{
	return wfile("d/g", O_CREAT | O_EXCL, "x", true);
}

static int
seq_rename(void)
{
	return afile__sys.renameat(AT_FDCWD, "d/a", AT_FDCWD, "d/b");
}

static int
seq_rename_sync(void)
{
	return seq_rename() < 0 ? -1 : sync_d();
}

static int
seq_append(void)
{
	return wfile("d/f", O_APPEND, "abc", false);
}

static int
seq_write_rename(void)
{
	if (wfile("d/t", O_CREAT | O_EXCL, "new", false) < 0)
		return -1;
	return afile__sys.renameat(AT_FDCWD, "d/t", AT_FDCWD, "d/f");
}

static int
seq_fsync_rename(void)
{
	if (wfile("d/t", O_CREAT | O_EXCL, "new", true) < 0)
		return -1;
	return afile__sys.renameat(AT_FDCWD, "d/t", AT_FDCWD, "d/f");
}

/* open, write, fsync, fsync again: the first may be made to fail */
static int
seq_fsync_twice(void)
{
	int fd = afile__sys.openat(AT_FDCWD, "d/f", O_WRONLY, 0);
	int r1, r2;

	if (fd < 0 || afile__sys.write(fd, "new", 3) != 3)
		return -1;
	r1 = afile__sys.fsync(fd);
	r2 = afile__sys.fsync(fd);
	(void)afile__sys.close(fd);
	/* The fault is the test's: only the retry must succeed. */
	(void)r1;
	return r2;
}

/* create, write, fsync(file), fsync(d) twice: the first may fail */
static int
seq_dirsync_twice(void)
{
	int fd, r1, r2;

	if (wfile("d/g", O_CREAT | O_EXCL, "x", true) < 0)
		return -1;
	fd = afile__sys.openat(AT_FDCWD, "d", O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return -1;
	r1 = afile__sys.fsync(fd);
	r2 = afile__sys.fsync(fd);
	(void)afile__sys.close(fd);
	(void)r1;
	return r2;
}

struct litmus {
	const char *name;
	const char *files[2][2]; /* durable before: name, contents */
	int (*seq)(void);
	const char *allowed[MAX_OUT]; /* sorted */
	size_t fault_at;              /* simfs_opts: fail this event... */
	int fault_err;                /* ...with this errno */
};

static const struct litmus tests[] = {
    {"a: write, no fsync -> old or new", {{"f", "old"}}, seq_write,
	{"f=\"new\"", "f=\"old\""}, 0, 0},
    {"b: write, fsync -> new", {{"f", "old"}}, seq_write_sync, {"f=\"new\""}, 0,
	0},
    {"c: create, write, fsync(file), no fsync(dir) -> name may be missing",
	{{NULL, NULL}}, seq_create_sync, {"", "g=\"x\""}, 0, 0},
    {"d: rename, no fsync(dir) -> old or new name", {{"a", "A"}}, seq_rename,
	{"a=\"A\"", "b=\"A\""}, 0, 0},
    {"e: rename, fsync(dir) -> new name", {{"a", "A"}}, seq_rename_sync,
	{"b=\"A\""}, 0, 0},
    {"f: append -> size without data, data without size", {{"f", ""}},
	seq_append, {"f=\"\"", "f=\"\\x00\\x00\\x00\"", "f=\"abc\""}, 0, 0},
    {"g: rename over, no fsync -> all or nothing, never missing",
	{{"a", "A"}, {"b", "B"}}, seq_rename, {"a=\"A\" b=\"B\"", "b=\"A\""}, 0,
	0},
    {"h: write, rename, no fsync -> may see an empty or zeroed dst",
	{{"f", "old"}}, seq_write_rename,
	{"f=\"\"", "f=\"\\x00\\x00\\x00\"", "f=\"new\"", "f=\"old\"",
	    "f=\"old\" t=\"\"", "f=\"old\" t=\"\\x00\\x00\\x00\"",
	    "f=\"old\" t=\"new\""},
	0, 0},
    {"i: fsync(file), rename, no fsync(dir) -> rename may be lost",
	{{"f", "old"}}, seq_fsync_rename,
	{"f=\"new\"", "f=\"old\"", "f=\"old\" t=\"new\""}, 0, 0},
    /* fsyncgate (§2.3 rule 8): event 3 is the first fsync. */
    {"j: fsync fails (EIO), fsync again succeeds -> still old or new",
	{{"f", "old"}}, seq_fsync_twice, {"f=\"new\"", "f=\"old\""}, 3, EIO},
    {"k: fsync interrupted (EINTR), fsync again -> new", {{"f", "old"}},
	seq_fsync_twice, {"f=\"new\""}, 3, EINTR},
    {"l: fsync(dir) fails, fsync(dir) again succeeds -> name may be missing",
	{{NULL, NULL}}, seq_dirsync_twice, {"", "g=\"x\""}, 6, EIO},
    {"m: no fault: fsync(dir) twice -> name durable", {{NULL, NULL}},
	seq_dirsync_twice, {"g=\"x\""}, 0, 0},
};

static int
run(const struct litmus *t)
{
	struct simfs_opts so = {
	    .seed = 1, .fault_at = t->fault_at, .fault_err = t->fault_err};
	struct simfs *fs = simfs_new(&so);
	struct outcomes out = {.n = 0};
	uint64_t states = 0;
	size_t want = 0;
	int bad = 0, r;

	(void)simfs_mkdir(fs, "d", 0755);
	for (size_t i = 0; i < 2 && t->files[i][0]; i++) {
		char path[64];

		(void)snprintf(path, sizeof(path), "d/%s", t->files[i][0]);
		(void)simfs_put(
		    fs, path, t->files[i][1], strlen(t->files[i][1]), 0644);
	}
	simfs_sync_all(fs);
	simfs_install(fs);
	r = t->seq();
	simfs_install(NULL);
	if (r < 0) {
		printf("FAIL litmus %s: sequence failed: %s\n", t->name,
		    strerror(errno));
		simfs_free(fs);
		return 1;
	}
	(void)simfs_each_state(fs, simfs_events(fs), collect, &out, &states);
	qsort(out.s, out.n, sizeof(out.s[0]), cmp);
	while (want < MAX_OUT && t->allowed[want])
		want++;
	if (out.overflow || out.n != want)
		bad = 1;
	for (size_t i = 0; !bad && i < want; i++)
		bad = strcmp(out.s[i], t->allowed[i]) != 0;
	printf("%s litmus %s (%zu outcomes from %llu states, point %zu)\n",
	    bad ? "FAIL" : "ok  ", t->name, out.n, (unsigned long long)states,
	    simfs_events(fs));
	if (bad) {
		for (size_t i = 0; i < out.n; i++)
			printf("    got     [%s]\n", out.s[i]);
		for (size_t i = 0; i < want; i++)
			printf("    allowed [%s]\n", t->allowed[i]);
	}
	for (size_t i = 0; i < out.n; i++)
		free(out.s[i]);
	simfs_free(fs);
	return bad;
}

int
main(void)
{
	int bad = 0;

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		bad |= run(&tests[i]);
	printf("simfs-litmus: %s\n", bad ? "FAIL" : "ok");
	return bad;
}
