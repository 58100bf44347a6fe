/* SPDX-License-Identifier: MIT */
/*
 * workloads.c - the single-file operations under AFILE_SYNC_FULL, and the
 * invariants every crash state must satisfy.
 *
 * Each starts from a durable tree: directory d/ holding the target f
 * (unless the call creates it), an unrelated file d/other, and for the
 * renames d/g; cross-directory renames go to e/.  Invariants (old = before
 * the call, new = what it was asked to do):
 *   - the target is byte-identical (contents and size) to old or new,
 *     with its old mode on a replace; a name that existed never vanishes
 *     except by the removal or rename asked for;
 *   - once the call returned 0, only new is allowed (acknowledged =
 *     durable);
 *   - d/other is untouched; the only other names allowed in d/ are the
 *     library's hidden temps of f.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomicfile.h"
#include "harness.h"

/* inplace.c: a redo log longer than this is checkpointed first. */
extern uint64_t afile__inplace_log_max;

#define BIG 9000

static char old_f[1500], new_f[1500 + 700], big_f[BIG];
static const char other[] = "unrelated";
static const char old_g[] = "the old g";
static const char patch_bytes[] = "PATCHED";
#define PATCH_OFF 700

static void
init_buffers(void)
{
	for (size_t i = 0; i < sizeof(old_f); i++)
		old_f[i] = (char)('a' + i % 26);
	for (size_t i = 0; i < sizeof(new_f); i++)
		new_f[i] = (char)('A' + i % 23);
	for (size_t i = 0; i < sizeof(big_f); i++)
		big_f[i] = (char)('0' + i % 10);
}

/* ---- checking helpers ---- */

static bool
is_file(struct simfs *fs, const char *path, const void *want, size_t len)
{
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

static bool
has_mode(struct simfs *fs, const char *path, mode_t mode)
{
	struct stat st;

	return simfs_stat(fs, path, &st) == 0 && (st.st_mode & 07777) == mode;
}

/*
 * Names in directory @dir: only those in @names (space-padded, " f g "),
 * and hidden temps (".NAME.*.afile-tmp") of those in @temps_of.
 */
static const char *
only_names(struct simfs *fs, const char *dir, const char *names,
    const char *temps_of, const char *why_stray)
{
	char *list = simfs_describe_dir(fs, dir), *save = NULL, *tok;
	const char *why = NULL;

	for (tok = strtok_r(list, " ", &save); tok && !why;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '='), key[NAME_MAX + 3], *dot;
		size_t n;

		if (!eq)
			continue;
		*eq = '\0';
		n = strlen(tok);
		(void)snprintf(key, sizeof(key), " %s ", tok);
		if (strstr(names, key))
			continue;
		/* ".NAME.<random>.afile-tmp": NAME must be in @temps_of. */
		dot = tok[0] == '.' ? strchr(tok + 1, '.') : NULL;
		if (dot && n > 13 && !strcmp(tok + n - 10, ".afile-tmp")) {
			(void)snprintf(key, sizeof(key), " %.*s ",
			    (int)(dot - tok - 1), tok + 1);
			if (strstr(temps_of, key))
				continue;
		}
		why = why_stray;
	}
	free(list);
	return why;
}

/* Names in d/ besides f, g, other: only hidden temps of f or g. */
static const char *
strays(struct simfs *fs)
{
	const char *why =
	    only_names(fs, "d", " f g other ", " f g ", "a stray name in d/");

	if (!why && !is_file(fs, "d/other", other, sizeof(other)))
		why = "d/other changed";
	return why;
}

/* ---- setups ---- */

static void
setup_base(struct simfs *fs)
{
	init_buffers();
	(void)simfs_mkdir(fs, "d", 0755);
	(void)simfs_mkdir(fs, "e", 0755);
	(void)simfs_put(fs, "d/other", other, sizeof(other), 0644);
}

static void
setup_f(struct simfs *fs)
{
	setup_base(fs);
	(void)simfs_put(fs, "d/f", old_f, sizeof(old_f), 0640);
}

static void
setup_fg(struct simfs *fs)
{
	setup_f(fs);
	(void)simfs_put(fs, "d/g", old_g, sizeof(old_g), 0644);
}

static void
setup_big(struct simfs *fs)
{
	setup_base(fs);
	(void)simfs_put(fs, "d/f", big_f, sizeof(big_f), 0640);
}

/* ---- replace ---- */

static int
run_replace(void)
{
	return afile_write(AT_FDCWD, "d/f", new_f, sizeof(new_f), 0, NULL);
}

static const char *
check_replace(struct simfs *fs, bool acked)
{
	bool is_new = is_file(fs, "d/f", new_f, sizeof(new_f));

	if (!is_new && !is_file(fs, "d/f", old_f, sizeof(old_f)))
		return absent(fs, "d/f") ? "d/f missing"
					 : "d/f neither old nor new";
	if (acked && !is_new)
		return "acknowledged replace not durable";
	if (!has_mode(fs, "d/f", 0640))
		return "d/f lost its mode";
	return strays(fs);
}

/*
 * ---- replace at AFILE_SYNC_DATA: the file synced, the directory not ----
 * Old or new whole at every point, also after the call returned (the
 * rename is not yet durable).
 */

static int
run_replace_data(void)
{
	struct afile_opts o = AFILE_OPTS_INIT;

	o.sync = AFILE_SYNC_DATA;
	return afile_write(AT_FDCWD, "d/f", new_f, sizeof(new_f), 0, &o);
}

static const char *
check_replace_data(struct simfs *fs, bool acked)
{
	(void)acked;
	return check_replace(fs, false);
}

/*
 * ---- update: read, modify, write under the lock (afile_update) ----
 * As a replace, with the lock sidecar beside f (made by the setup, so
 * that the lock is no new name).  On FUSE (and network file systems)
 * the update goes through view.c, which records the published version
 * in the sidecar and makes its own writer syncs.
 */

static int
update_fn(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	(void)ctx;
	if (!old || old_len != sizeof(old_f) || memcmp(old, old_f, old_len))
		return -EBADMSG;
	return afile_writer_write(w, new_f, sizeof(new_f));
}

static int
run_update(void)
{
	return afile_update(AT_FDCWD, "d/f", update_fn, NULL, 0, NULL);
}

static void
setup_f_lock(struct simfs *fs)
{
	setup_f(fs);
	(void)simfs_put(fs, "d/.f.afile-lock", "", 0, 0644);
}

static const char *
check_update(struct simfs *fs, bool acked)
{
	bool is_new = is_file(fs, "d/f", new_f, sizeof(new_f));

	if (!is_new && !is_file(fs, "d/f", old_f, sizeof(old_f)))
		return absent(fs, "d/f") ? "d/f missing"
					 : "d/f neither old nor new";
	if (acked && !is_new)
		return "acknowledged update not durable";
	if (!has_mode(fs, "d/f", 0640))
		return "d/f lost its mode";
	if (!is_file(fs, "d/other", other, sizeof(other)))
		return "d/other changed";
	return only_names(
	    fs, "d", " f other .f.afile-lock ", " f ", "a stray name in d/");
}

/* ---- create ---- */

static int
run_create(void)
{
	return afile_write(
	    AT_FDCWD, "d/f", new_f, sizeof(new_f), AFILE_NOREPLACE, NULL);
}

static const char *
check_create(struct simfs *fs, bool acked)
{
	bool is_new = is_file(fs, "d/f", new_f, sizeof(new_f));

	if (!is_new && !absent(fs, "d/f"))
		return "d/f neither absent nor new";
	if (acked && !is_new)
		return "acknowledged create not durable";
	return strays(fs);
}

/* ---- remove ---- */

static int
run_remove(void)
{
	return afile_remove(AT_FDCWD, "d/f", 0, NULL);
}

static const char *
check_remove(struct simfs *fs, bool acked)
{
	bool gone = absent(fs, "d/f");

	if (!gone && !is_file(fs, "d/f", old_f, sizeof(old_f)))
		return "d/f neither old nor absent";
	if (acked && !gone)
		return "acknowledged remove not durable";
	return strays(fs);
}

/* ---- rename ---- */

static int
run_rename(void)
{
	return afile_rename(AT_FDCWD, "d/f", AT_FDCWD, "d/g", 0, NULL);
}

static int
run_rename_noreplace(void)
{
	return afile_rename(
	    AT_FDCWD, "d/f", AT_FDCWD, "d/g", AFILE_NOREPLACE, NULL);
}

static int
run_rename_exchange(void)
{
	return afile_rename(
	    AT_FDCWD, "d/f", AT_FDCWD, "d/g", AFILE_EXCHANGE, NULL);
}

static int
run_rename_xdir(void)
{
	return afile_rename(AT_FDCWD, "d/f", AT_FDCWD, "e/g", 0, NULL);
}

/* Either before (f=old, g=@g_before) or after (no f, g=old). */
static const char *
check_moved(struct simfs *fs, bool acked, const char *g, const void *g_old,
    size_t g_len)
{
	bool before = is_file(fs, "d/f", old_f, sizeof(old_f)) &&
	    (g_old ? is_file(fs, g, g_old, g_len) : absent(fs, g));
	bool after = absent(fs, "d/f") && is_file(fs, g, old_f, sizeof(old_f));

	if (!before && !after)
		return "names neither before nor after the rename";
	if (acked && !after)
		return "acknowledged rename not durable";
	return strays(fs);
}

static const char *
check_rename(struct simfs *fs, bool acked)
{
	return check_moved(fs, acked, "d/g", old_g, sizeof(old_g));
}

static const char *
check_rename_new(struct simfs *fs, bool acked)
{
	return check_moved(fs, acked, "d/g", NULL, 0);
}

/*
 * Without renameat2 a no-replace rename is a link and an unlink: after a
 * crash between them the file may have both names (each path is then old
 * or new), but never neither.
 */
static const char *
check_rename_link(struct simfs *fs, bool acked)
{
	if (is_file(fs, "d/f", old_f, sizeof(old_f)) &&
	    is_file(fs, "d/g", old_f, sizeof(old_f)) && !acked)
		return strays(fs);
	if (absent(fs, "d/f") && absent(fs, "d/g"))
		return "the file lost both names";
	return check_moved(fs, acked, "d/g", NULL, 0);
}

static const char *
check_rename_xdir(struct simfs *fs, bool acked)
{
	return check_moved(fs, acked, "e/g", NULL, 0);
}

/*
 * A move between directories on a file system that commits them apart
 * (SIMFS_SPLIT_XDIR), or across file systems (SIMFS_XDEV: a copy, then
 * the source removed): until the call returns both names may show;
 * once it returned the source name must never come back (issue 9: the
 * source directory's sync after the move).
 */
static const char *
check_moved_apart(struct simfs *fs, bool acked)
{
	bool src = is_file(fs, "d/f", old_f, sizeof(old_f));
	bool dst = is_file(fs, "e/g", old_f, sizeof(old_f));

	if (acked && (src || !dst))
		return src ? "the source name came back after the move returned"
			   : "acknowledged move not durable";
	if (!src && !dst)
		return "the file lost both names";
	if (!src && !absent(fs, "d/f"))
		return "d/f neither the file nor absent";
	if (!dst && !absent(fs, "e/g"))
		return "e/g neither the file nor absent";
	return strays(fs);
}

static const char *
check_exchange(struct simfs *fs, bool acked)
{
	bool before = is_file(fs, "d/f", old_f, sizeof(old_f)) &&
	    is_file(fs, "d/g", old_g, sizeof(old_g));
	bool after = is_file(fs, "d/g", old_f, sizeof(old_f)) &&
	    is_file(fs, "d/f", old_g, sizeof(old_g));

	if (!before && !after)
		return "names neither before nor after the exchange";
	if (acked && !after)
		return "acknowledged exchange not durable";
	return strays(fs);
}

/* ---- patch ---- */

static int
run_patch(void)
{
	return afile_patch(AT_FDCWD, "d/f", PATCH_OFF, patch_bytes,
	    sizeof(patch_bytes), 0, NULL);
}

static const char *
check_patched(struct simfs *fs, bool acked, const char *old, size_t len)
{
	char *want = malloc(len);
	bool is_new, is_old;

	if (!want)
		abort();
	memcpy(want, old, len);
	memcpy(want + PATCH_OFF, patch_bytes, sizeof(patch_bytes));
	is_new = is_file(fs, "d/f", want, len);
	is_old = is_file(fs, "d/f", old, len);
	free(want);
	if (!is_new && !is_old)
		return absent(fs, "d/f") ? "d/f missing"
					 : "d/f neither old nor patched";
	if (acked && !is_new)
		return "acknowledged patch not durable";
	if (!has_mode(fs, "d/f", 0640))
		return "d/f lost its mode";
	return strays(fs);
}

static const char *
check_patch(struct simfs *fs, bool acked)
{
	return check_patched(fs, acked, old_f, sizeof(old_f));
}

static const char *
check_patch_big(struct simfs *fs, bool acked)
{
	return check_patched(fs, acked, big_f, sizeof(big_f));
}

/*
 * ---- in-place patch (AFILE_INPLACE): two ranges, each across a sector
 * boundary, the second growing the file; judged after the recovery that
 * the next afile_read() runs (every crash state is a new boot, so the
 * redo log is replayed).  "-again": the log file exists already (empty),
 * as for a file whose log was reset.  "-checkpoint": two patches with
 * the log's limit at 1 byte, so that the second one checkpoints first
 * (syncs the file, starts a new generation); the first must survive
 * that from its acknowledgement on, the second from its own ----
 */
static const struct afile_range ip_ranges[] = {
    {500, "INPLACE-A-ACROSS-SECTORS-0-1", 28},
    {1490, "INPLACE-B-GROWS-THE-FILE-ACROSS-SECTORS-2-3", 43},
};
#define IP_LEN (1490 + 43)
static const struct afile_range ip_ranges2[] = {
    {1600, "SECOND-GROWS-MORE", 17},
};
#define IP2_LEN (1600 + 17)

static void
setup_f_redo(struct simfs *fs)
{
	setup_f(fs);
	(void)simfs_put(fs, "d/.f.afile-redo", "", 0, 0640);
	(void)simfs_put(fs, "d/.f.afile-lock", "", 0, 0644);
}

static int
run_patch_inplace(void)
{
	return afile_patchv(AT_FDCWD, "d/f", ip_ranges, 2, AFILE_INPLACE, NULL);
}

static int
run_patch_inplace_checkpoint(void)
{
	uint64_t max = afile__inplace_log_max;
	int r;

	afile__inplace_log_max = 1;
	r = afile_patchv(AT_FDCWD, "d/f", ip_ranges, 2, AFILE_INPLACE, NULL);
	if (r == 0) {
		harness_acked();
		r = afile_patchv(
		    AT_FDCWD, "d/f", ip_ranges2, 1, AFILE_INPLACE, NULL);
	}
	afile__inplace_log_max = max;
	return r;
}

/*
 * The checkpoint workload through one patcher kept open: its second patch
 * takes the locks again, sees the log its first one grew, and syncs the
 * file before starting a new generation.
 */
static int
run_patch_inplace_patcher(void)
{
	uint64_t max = afile__inplace_log_max;
	struct afile_patcher *p = NULL;
	int r;

	afile__inplace_log_max = 1;
	r = afile_patcher_open(AT_FDCWD, "d/f", 0, NULL, &p);
	if (r == 0)
		r = afile_patcher_patchv(p, ip_ranges, 2);
	if (r == 0) {
		harness_acked();
		r = afile_patcher_patchv(p, ip_ranges2, 1);
	}
	afile_patcher_free(p);
	afile__inplace_log_max = max;
	return r;
}

/* A patch, then afile_patch_recover() folds the log into the file. */
static int
run_patch_inplace_recover(void)
{
	int r =
	    afile_patchv(AT_FDCWD, "d/f", ip_ranges, 2, AFILE_INPLACE, NULL);

	if (r == 0) {
		harness_acked();
		r = afile_patch_recover(AT_FDCWD, "d/f", 0, NULL);
		r = r < 0 ? r : 0;
	}
	return r;
}

/* d/f after the first @k ranges of ip_ranges then ip_ranges2. */
static size_t
ip_version(char *out, unsigned int k)
{
	size_t len = sizeof(old_f);

	memset(out, 0, IP2_LEN);
	memcpy(out, old_f, sizeof(old_f));
	for (unsigned int i = 0; i < k; i++) {
		const struct afile_range *r =
		    i < 2 ? &ip_ranges[i] : &ip_ranges2[i - 2];

		memcpy(out + r->offset, r->buf, r->len);
		if (r->offset + r->len > len)
			len = r->offset + r->len;
	}
	return len;
}

/* Recover by reading; which version (0 old, 1, 2 patches) is d/f? */
static const char *
ip_recover(struct simfs *fs, int *version)
{
	char want[IP2_LEN];
	void *buf;
	size_t len;
	int r;

	simfs_install(fs);
	r = afile_read(AT_FDCWD, "d/f", &buf, &len, 0, NULL);
	simfs_install(NULL);
	if (r < 0)
		return "recovery by afile_read() failed";
	free(buf);
	*version = -1;
	for (unsigned int v = 0; v <= 2 && *version < 0; v++) {
		size_t n = ip_version(want, v == 2 ? 3 : v * 2);

		if (is_file(fs, "d/f", want, n))
			*version = (int)v;
	}
	if (*version < 0)
		return "d/f neither old nor patched after recovery";
	if (!has_mode(fs, "d/f", 0640))
		return "d/f lost its mode";
	/* The lock sidecar and the log may stay. */
	return only_names(fs, "d", " f other .f.afile-lock .f.afile-redo ",
	    " f ", "a stray name in d/");
}

static const char *
check_patch_inplace(struct simfs *fs, bool acked)
{
	const char *why;
	int v;

	if ((why = ip_recover(fs, &v)))
		return why;
	if (v == 2)
		return "a patch nobody made";
	if (acked && v != 1)
		return "acknowledged in-place patch not durable";
	return NULL;
}

static const char *
check_patch_inplace_checkpoint(struct simfs *fs, bool acked)
{
	const char *why;
	int v;

	if ((why = ip_recover(fs, &v)))
		return why;
	if (acked && v < 1)
		return "acknowledged first in-place patch lost";
	if (harness_returned && v != 2)
		return "acknowledged second in-place patch not durable";
	return NULL;
}

/* ---- batch: replace d/f and d/g, create e/h, sharing the syncs ---- */

static int
run_batch(void)
{
	const struct afile_item items[] = {
	    {"d/f", new_f, sizeof(new_f)},
	    {"d/g", big_f, 700},
	    {"e/h", patch_bytes, sizeof(patch_bytes)},
	};

	return afile_write_many(AT_FDCWD, items, 3, 0, NULL);
}

/*
 * Each item alone is old or new (afile_write_many() promises each file's
 * atomicity, not the batch's); once it returned, all are new.
 */
static const char *
check_batch(struct simfs *fs, bool acked)
{
	bool f_new = is_file(fs, "d/f", new_f, sizeof(new_f));
	bool g_new = is_file(fs, "d/g", big_f, 700);
	bool h_new = is_file(fs, "e/h", patch_bytes, sizeof(patch_bytes));

	if (!f_new && !is_file(fs, "d/f", old_f, sizeof(old_f)))
		return "d/f neither old nor new";
	if (!g_new && !is_file(fs, "d/g", old_g, sizeof(old_g)))
		return "d/g neither old nor new";
	if (!h_new && !absent(fs, "e/h"))
		return "e/h neither absent nor new";
	if (acked && !(f_new && g_new && h_new))
		return "acknowledged batch not durable";
	if (!has_mode(fs, "d/f", 0640))
		return "d/f lost its mode";
	if (strays(fs))
		return strays(fs);
	return only_names(fs, "e", " h ", " h ", "a stray name in e/");
}

#define NT SIMFS_NO_TMPFILE
#define NR SIMFS_NO_RENAMEAT2

/*
 * The cross-directory rename is not in the mutation set: under the model
 * a rename is forced by a sync of either directory (one journal
 * transaction), so dropping one of the two directory syncs is an
 * equivalent mutant that no crash state can expose.
 */
const struct workload workloads[] = {
    {"write-replace", 0, true, NULL, setup_f, run_replace, check_replace},
    {"write-replace-named", NT, true, NULL, setup_f, run_replace,
	check_replace},
    {"write-replace-data", 0, true, NULL, setup_f, run_replace_data,
	check_replace_data},
    {"update", 0, true, NULL, setup_f_lock, run_update, check_update},
    /* view.c's own syncs: the update on FUSE (issue 9). */
    {"update-fuse", NT | SIMFS_FUSE, true, NULL, setup_f_lock, run_update,
	check_update},
    {"write-create", 0, true, NULL, setup_base, run_create, check_create},
    {"write-create-named", NT, true, NULL, setup_base, run_create,
	check_create},
    {"write-create-link", NT | NR, true, NULL, setup_base, run_create,
	check_create},
    {"remove", 0, true, NULL, setup_f, run_remove, check_remove},
    {"rename", 0, true, NULL, setup_fg, run_rename, check_rename},
    {"rename-noreplace", 0, true, NULL, setup_f, run_rename_noreplace,
	check_rename_new},
    /* Found here: the link fallback lacked a sync between link and unlink. */
    {"rename-noreplace-link", NR, true, NULL, setup_f, run_rename_noreplace,
	check_rename_link},
    {"rename-exchange", 0, true, NULL, setup_fg, run_rename_exchange,
	check_exchange},
    {"rename-xdir", 0, false, NULL, setup_f, run_rename_xdir,
	check_rename_xdir},
    {"rename-xdir-split", SIMFS_SPLIT_XDIR, true, NULL, setup_f,
	run_rename_xdir, check_moved_apart},
    {"move-across", SIMFS_XDEV, true, NULL, setup_f, run_rename_xdir,
	check_moved_apart},
    {"patch", 0, true, NULL, setup_f, run_patch, check_patch},
    {"patch-named", NT, true, NULL, setup_f, run_patch, check_patch},
    {"patch-big", 0, true, NULL, setup_big, run_patch, check_patch_big},
    {"patch-inplace", 0, true, NULL, setup_f, run_patch_inplace,
	check_patch_inplace},
    {"patch-inplace-again", 0, true, NULL, setup_f_redo, run_patch_inplace,
	check_patch_inplace},
    {"patch-inplace-recover", 0, true, NULL, setup_f, run_patch_inplace_recover,
	check_patch_inplace},
    /* No boot id: the patch syncs the file and marks the log durable. */
    {"patch-inplace-noboot", SIMFS_NO_BOOT_ID, true, NULL, setup_f,
	run_patch_inplace, check_patch_inplace},
    {"patch-inplace-checkpoint", 0, true, NULL, setup_f,
	run_patch_inplace_checkpoint, check_patch_inplace_checkpoint},
    {"patch-inplace-patcher", 0, true, NULL, setup_f, run_patch_inplace_patcher,
	check_patch_inplace_checkpoint},
    {"write-many", 0, true, NULL, setup_fg, run_batch, check_batch},
    {"write-many-named", NT, true, NULL, setup_fg, run_batch, check_batch},
    /* Off the syncfs allowlist (FUSE): an fsync per file (issue 9). */
    {"write-many-fuse", NT | SIMFS_FUSE, true, NULL, setup_fg, run_batch,
	check_batch},
};

const unsigned int n_workloads = sizeof(workloads) / sizeof(workloads[0]);
