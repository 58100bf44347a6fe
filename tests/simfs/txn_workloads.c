/* SPDX-License-Identifier: MIT */
/*
 * txn_workloads.c - multi-file transactions under AFILE_SYNC_FULL, and
 * their checks, judged AFTER recovery (simfs-txn, simfs-faults).
 *
 * The root is d/ of the simfs.  Each crash state is installed as the file
 * system and afile_recover() runs on it through the library, as the next
 * process would; then:
 *   - recovery returned 0;
 *   - every file of the transaction is old, or every one is new, never a
 *     mix (atomicity across files);
 *   - once afile_txn_commit() had returned 0, only new (acknowledged =
 *     durable; harness_acked() marks that crash point);
 *   - no staged temp (.afile-txn) or write temp (.afile-tmp) is left, and
 *     d/.atomicfile/ holds no journal or intent log, only lock files;
 *   - no other name appeared in d/ or d/sub/.
 * The state checked is the volatile image after recovery (what readers
 * see), not a second crash during recovery.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomicfile.h"
#include "harness.h"
#include "journal.h" /* afile__journal_encode(), for a journal */

#define ROOT "d"

static const char old_a[] = "old contents of a", new_a[] = "NEW A, longer";
static const char old_b[] = "old b", new_b[] = "new contents of sub/b";
static const char old_c[] = "c, to be removed";
static const char old_r[] = "r, to be renamed";
static const char new_n[] = "n, created";

/* Set by a checker to skip recovery (the self-test below). */
bool txn_skip_recovery;

/* ---- checking helpers ---- */

static bool
is_file(struct simfs *fs, const char *path, const char *want)
{
	size_t len = strlen(want) + 1;
	char *buf;
	size_t n;
	bool same;

	if (simfs_get(fs, path, &buf, &n) < 0)
		return false;
	same = n == len && !memcmp(buf, want, len);
	free(buf);
	return same;
}

static bool
absent(struct simfs *fs, const char *path)
{
	struct stat st;

	return simfs_stat(fs, path, &st) == -ENOENT;
}

/* Run recovery on @fs as the next process would: NULL or what failed. */
static const char *
recover(struct simfs *fs)
{
	static char why[96];
	int r;

	if (txn_skip_recovery)
		return NULL;
	simfs_install(fs);
	r = afile_recover(AT_FDCWD, ROOT, 0, NULL);
	simfs_install(NULL);
	if (!r)
		return NULL;
	(void)snprintf(
	    why, sizeof(why), "recovery returned %s", afile_err_name(r));
	return why;
}

static bool
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && !strcmp(s + n - m, suf);
}

/*
 * Every name in directory @dir must be in the space-separated list
 * @allowed (padded with spaces at both ends), or end in @also_ok.
 */
static const char *
only_names(struct simfs *fs, const char *dir, const char *allowed,
    const char *also_ok, const char *why)
{
	char *list = simfs_describe_dir(fs, dir), *save = NULL, *tok;
	char key[NAME_MAX + 3];
	const char *bad = NULL;

	if (!strcmp(list, "<no directory>")) {
		free(list);
		return NULL;
	}
	for (tok = strtok_r(list, " ", &save); tok && !bad;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = '\0';
		(void)snprintf(key, sizeof(key), " %s ", tok);
		if (strstr(allowed, key) ||
		    (also_ok && has_suffix(tok, also_ok)))
			continue;
		if (has_suffix(tok, ".afile-txn"))
			bad = "a staged temp (.afile-txn) left";
		else if (has_suffix(tok, ".afile-tmp"))
			bad = "a write temp (.afile-tmp) left";
		else if (!strcmp(tok, "journal") || !strcmp(tok, "intent"))
			bad = "journal or intent log left";
		else
			bad = why;
	}
	free(list);
	return bad;
}

/* leftovers(), but names in d/ ending in @root_ok (or NULL) are fine. */
static const char *
leftovers_but(struct simfs *fs, const char *in_root, const char *root_ok)
{
	const char *why;

	why = only_names(fs, ROOT, in_root, root_ok, "a stray name in d/");
	if (!why)
		why = only_names(
		    fs, ROOT "/sub", " b s ", NULL, "a stray name in d/sub/");
	if (!why)
		why = only_names(fs, ROOT "/.atomicfile", " ", ".afile-lock",
		    "a stray name in d/.atomicfile/");
	return why;
}

static const char *
leftovers(struct simfs *fs, const char *in_root)
{
	return leftovers_but(fs, in_root, NULL);
}

static const char *
judge(bool all_old, bool all_new, bool acked)
{
	if (!all_old && !all_new)
		return "after recovery the files are neither all old nor all "
		       "new";
	if (acked && !all_new)
		return "acknowledged transaction not durable after recovery";
	return NULL;
}

/* ---- setup ---- */

static void
setup(struct simfs *fs)
{
	(void)simfs_mkdir(fs, ROOT, 0755);
	(void)simfs_mkdir(fs, ROOT "/sub", 0755);
	(void)simfs_put(fs, ROOT "/a", old_a, sizeof(old_a), 0640);
	(void)simfs_put(fs, ROOT "/sub/b", old_b, sizeof(old_b), 0644);
	(void)simfs_put(fs, ROOT "/c", old_c, sizeof(old_c), 0644);
	(void)simfs_put(fs, ROOT "/r", old_r, sizeof(old_r), 0644);
}

/*
 * Begin, stage with @stage, commit, free; @mark: the commit's return
 * marks the acknowledged crash points.
 */
static int
txn_marked(int (*stage)(struct afile_txn *t), bool mark)
{
	struct afile_opts o = {.size = sizeof(o), .sync = AFILE_SYNC_FULL};
	struct afile_txn *t;
	int r;

	r = afile_txn_begin(AT_FDCWD, ROOT, 0, &o, &t);
	if (r)
		return r;
	r = stage(t);
	if (!r)
		r = afile_txn_commit(t);
	if (!r && mark)
		harness_acked();
	afile_txn_free(t);
	return r;
}

static int
run_txn(int (*stage)(struct afile_txn *t))
{
	return txn_marked(stage, true);
}

/* ---- two puts: d/a and d/sub/b ---- */

static int
stage_puts(struct afile_txn *t)
{
	int r = afile_txn_put(t, "a", new_a, sizeof(new_a), 0);

	return r ? r : afile_txn_put(t, "sub/b", new_b, sizeof(new_b), 0);
}

static int
run_puts(void)
{
	return run_txn(stage_puts);
}

static const char *
check_puts(struct simfs *fs, bool acked)
{
	const char *why = recover(fs);
	bool all_old, all_new;

	if (why)
		return why;
	all_old =
	    is_file(fs, ROOT "/a", old_a) && is_file(fs, ROOT "/sub/b", old_b);
	all_new =
	    is_file(fs, ROOT "/a", new_a) && is_file(fs, ROOT "/sub/b", new_b);
	why = judge(all_old, all_new, acked);
	return why ? why : leftovers(fs, " a sub c r .atomicfile ");
}

/*
 * ---- taken back: staged, then freed without a commit (the rollback),
 * or refused at commit (create over an existing file: unstage) ----
 * Every state all old, and no staged temp left once recovery ran: the
 * removals must be durable before the intent log that names them goes.
 */
static int
run_abandoned(void)
{
	struct afile_opts o = {.size = sizeof(o), .sync = AFILE_SYNC_FULL};
	struct afile_txn *t;
	int r = afile_txn_begin(AT_FDCWD, ROOT, 0, &o, &t);

	if (r)
		return r;
	r = stage_puts(t);
	afile_txn_free(t);
	return r;
}

static int
run_refused(void)
{
	struct afile_opts o = {.size = sizeof(o), .sync = AFILE_SYNC_FULL};
	struct afile_txn *t;
	int r = afile_txn_begin(AT_FDCWD, ROOT, 0, &o, &t);

	if (r)
		return r;
	r = stage_puts(t);
	if (!r)
		r = afile_txn_create(t, "c", new_n, sizeof(new_n), 0);
	if (!r)
		r = afile_txn_commit(t);
	afile_txn_free(t);
	return r == -EEXIST ? 0 : r ? r : -EPROTO;
}

static const char *
check_taken_back(struct simfs *fs, bool acked)
{
	const char *why = recover(fs);

	(void)acked;
	if (why)
		return why;
	if (!is_file(fs, ROOT "/a", old_a) ||
	    !is_file(fs, ROOT "/sub/b", old_b))
		return "a transaction that was taken back changed a file";
	return leftovers(fs, " a sub c r .atomicfile ");
}

/*
 * ---- recovery taking back a transaction a crash interrupted before its
 * commit point: the intent log names d/ and d/sub/, which hold one
 * staged temp each, and there is no journal (rollback()) ----
 */
static void
setup_interrupted(struct simfs *fs)
{
	static const char intent[] = "#0W3sNW\n/\nsub/\n";

	setup(fs);
	(void)simfs_mkdir(fs, ROOT "/.atomicfile", 0755);
	(void)simfs_put(
	    fs, ROOT "/.atomicfile/intent", intent, sizeof(intent) - 1, 0644);
	(void)simfs_put(
	    fs, ROOT "/.a.0W3sNWAAAAAA.afile-txn", new_a, sizeof(new_a), 0640);
	(void)simfs_put(fs, ROOT "/sub/.b.0W3sNWAAAAAB.afile-txn", new_b,
	    sizeof(new_b), 0644);
}

static int
run_recover(void)
{
	return afile_recover(AT_FDCWD, ROOT, 0, NULL);
}

/*
 * ---- recovery finishing a transaction committed before a crash: as
 * above, plus a whole journal that puts both staged temps (redo()).  All
 * new once recovery returned: the applied renames durable before the
 * journal goes (the sync sweep found redo()'s directory syncs unneeded
 * by every test) ----.  put_journal(): setup_interrupted() plus a
 * journal putting both temps, @cut bytes short.
 */
static void
put_journal(struct simfs *fs, size_t cut)
{
	const struct afile__jrec recs[] = {
	    {AFILE__J_PUT, "a", ".a.0W3sNWAAAAAA.afile-txn", 0},
	    {AFILE__J_PUT, "sub/b", "sub/.b.0W3sNWAAAAAB.afile-txn", 0},
	};
	void *buf;
	size_t len;

	setup_interrupted(fs);
	if (afile__journal_encode(1, recs, 2, &buf, &len) < 0)
		abort();
	(void)simfs_put(fs, ROOT "/.atomicfile/journal", buf, len - cut, 0600);
	free(buf);
}

static void
setup_committed(struct simfs *fs)
{
	put_journal(fs, 0);
}

/*
 * ---- recovery taking back a transaction torn while its journal was
 * being written: as above, but the journal's last byte is missing, so
 * its CRC fails and only its first record can be read (rollback() with
 * records).  The journal's removal must be durable before the temps':
 * a torn journal that came back after its temps went would look damaged
 * to the next recovery (AFILE_ECORRUPT) instead of torn (the sync sweep
 * found that sync unneeded by every test) ----
 */
static void
setup_torn(struct simfs *fs)
{
	put_journal(fs, 1);
}

/* ---- put d/a, create d/n, remove d/c, rename d/r to d/sub/s ---- */

static int
stage_mixed(struct afile_txn *t)
{
	int r = afile_txn_put(t, "a", new_a, sizeof(new_a), 0);

	if (!r)
		r = afile_txn_create(t, "n", new_n, sizeof(new_n), 0);
	if (!r)
		r = afile_txn_remove(t, "c", 0);
	if (!r)
		r = afile_txn_rename(t, "r", "sub/s", 0);
	return r;
}

static int
run_mixed(void)
{
	return run_txn(stage_mixed);
}

static const char *
check_mixed(struct simfs *fs, bool acked)
{
	const char *why = recover(fs);
	bool all_old, all_new;

	if (why)
		return why;
	all_old = is_file(fs, ROOT "/a", old_a) && absent(fs, ROOT "/n") &&
	    is_file(fs, ROOT "/c", old_c) && is_file(fs, ROOT "/r", old_r) &&
	    absent(fs, ROOT "/sub/s");
	all_new = is_file(fs, ROOT "/a", new_a) &&
	    is_file(fs, ROOT "/n", new_n) && absent(fs, ROOT "/c") &&
	    absent(fs, ROOT "/r") && is_file(fs, ROOT "/sub/s", old_r);
	if (!is_file(fs, ROOT "/sub/b", old_b))
		return "d/sub/b changed";
	why = judge(all_old, all_new, acked);
	return why ? why : leftovers(fs, " a sub c r n .atomicfile ");
}

/*
 * Found here, and fixed: the intent log was not synced before the staged
 * temps it names, so a power cut during staging could keep a temp's name
 * and lose the line naming its directory, and the temp leaked past the
 * rollback.  log_dir() in src/txn.c now syncs each line first.
 */
/*
 * ---- a transaction renames d/r to d/sub/s; then a plain rename moves
 * it back, acknowledged ----
 * A journal that came back after the second call would redo the rename
 * over the newer state (the inode guard matches: it is the same file), so
 * the retired journal must be durably gone before the transaction
 * returns: this workload is what makes that sync of .atomicfile/ count.
 */
static int
stage_rename(struct afile_txn *t)
{
	return afile_txn_rename(t, "r", "sub/s", 0);
}

static int
run_rename_back(void)
{
	struct afile_opts o = {.size = sizeof(o), .sync = AFILE_SYNC_FULL};
	/*
	 * Not marked: the state after the move back equals the one before
	 * the transaction, so only the last point (all acknowledged) can
	 * tell them apart.
	 */
	int r = txn_marked(stage_rename, false);

	if (!r)
		r = afile_rename(
		    AT_FDCWD, ROOT "/sub/s", AT_FDCWD, ROOT "/r", 0, &o);
	return r;
}

static const char *
check_rename_back(struct simfs *fs, bool acked)
{
	const char *why = recover(fs);
	bool moved, back;

	if (why)
		return why;
	/* Three legal states: before, after the txn, after the move back. */
	back = is_file(fs, ROOT "/r", old_r) && absent(fs, ROOT "/sub/s");
	moved = absent(fs, ROOT "/r") && is_file(fs, ROOT "/sub/s", old_r);
	if (!back && !moved)
		return "d/r and d/sub/s are neither before nor after a rename";
	if (acked && !back)
		return "the acknowledged move back was undone";
	return leftovers(fs, " a sub c r .atomicfile ");
}

/*
 * ---- two puts, then the next step on the same files, acknowledged: a
 * second transaction of two puts, or a plain afile_write of d/a ----
 * The first transaction's retirement is not synced when it returns (its
 * journal holds puts only): a journal that comes back must redo nothing,
 * and the second transaction must make the retirement durable before it
 * stages anything.  Legal: all old, the first's files, the second's
 * files; once the second step returned, only the second's.
 */
static const char newer_a[] = "newer a, from the second step";
static const char newer_b[] = "newer sub/b, second step";

static int
stage_newer(struct afile_txn *t)
{
	int r = afile_txn_put(t, "a", newer_a, sizeof(newer_a), 0);

	return r ? r : afile_txn_put(t, "sub/b", newer_b, sizeof(newer_b), 0);
}

static int
run_puts_twice(void)
{
	int r = txn_marked(stage_puts, false);

	return r ? r : txn_marked(stage_newer, true);
}

static int
run_puts_then_write(void)
{
	struct afile_opts o = {.size = sizeof(o), .sync = AFILE_SYNC_FULL};
	int r = txn_marked(stage_puts, false);

	if (!r)
		r = afile_write(
		    AT_FDCWD, ROOT "/a", newer_a, sizeof(newer_a), 0, &o);
	if (!r)
		harness_acked();
	return r;
}

static const char *
check_then(struct simfs *fs, bool acked, const char *b2, bool write)
{
	const char *why = recover(fs);
	bool old, first, second;

	if (why)
		return why;
	old =
	    is_file(fs, ROOT "/a", old_a) && is_file(fs, ROOT "/sub/b", old_b);
	first =
	    is_file(fs, ROOT "/a", new_a) && is_file(fs, ROOT "/sub/b", new_b);
	second =
	    is_file(fs, ROOT "/a", newer_a) && is_file(fs, ROOT "/sub/b", b2);
	if (!old && !first && !second)
		return "d/a and d/sub/b are none of: old, first step, second "
		       "step";
	if (acked && !second)
		return "the acknowledged second step was undone";
	/*
	 * A plain write cut short leaves its .afile-tmp for the sweeper (its
	 * own workloads check that); recovery is not what removes it.
	 */
	return leftovers_but(
	    fs, " a sub c r .atomicfile ", write ? ".afile-tmp" : NULL);
}

static const char *
check_puts_twice(struct simfs *fs, bool acked)
{
	return check_then(fs, acked, newer_b, false);
}

static const char *
check_puts_then_write(struct simfs *fs, bool acked)
{
	return check_then(fs, acked, new_b, true);
}

const struct workload txn_workloads[] = {
    {"txn-2puts", 0, false, NULL, setup, run_puts, check_puts},
    {"txn-put-create-remove-rename", 0, false, NULL, setup, run_mixed,
	check_mixed},
    {"txn-rename-then-move-back", 0, false, NULL, setup, run_rename_back,
	check_rename_back},
    {"txn-puts-twice", 0, false, NULL, setup, run_puts_twice, check_puts_twice},
    {"txn-puts-then-write", 0, false, NULL, setup, run_puts_then_write,
	check_puts_then_write},
    /*
     * Off the syncfs allowlist (FUSE: syncfs makes nothing durable):
     * the staged files get an fsync each (issue 9).
     */
    {"txn-abandoned", 0, false, NULL, setup, run_abandoned, check_taken_back},
    {"txn-commit-refused", 0, false, NULL, setup, run_refused,
	check_taken_back},
    {"txn-recover-rollback", 0, false, NULL, setup_interrupted, run_recover,
	check_taken_back},
    {"txn-recover-redo", 0, false, NULL, setup_committed, run_recover,
	check_puts},
    {"txn-recover-torn", 0, false, NULL, setup_torn, run_recover,
	check_taken_back},
    {"txn-2puts-fuse", SIMFS_FUSE, false, NULL, setup, run_puts, check_puts},
    {"txn-put-create-remove-rename-fuse", SIMFS_FUSE, false, NULL, setup,
	run_mixed, check_mixed},
};

const unsigned int n_txn_workloads =
    sizeof(txn_workloads) / sizeof(txn_workloads[0]);
