/* SPDX-License-Identifier: MIT */
/*
 * ace.c - simfs-ace: Ace-style API workloads on the power-loss simulator
 * (issue 5, item 3; crash-testing.md §3b "Workload generator").
 *
 * Role: generate sequences of library calls over a small fixed file set,
 * run each once on simfs, and judge every crash state of every crash
 * point after recovery, and, for a sample, every state of a second crash
 * during that recovery (depth 2).
 *
 * File set: d/a, d/b (one directory) and d/sub/c (another, for
 * cross-directory renames); d is also the transaction root.  Each name
 * starts absent, small (1 B), multi-sector (1500 B) or multi-page
 * (9000 B).  Operations (all AFILE_SYNC_FULL): replace, create
 * (AFILE_NOREPLACE), remove, rename (plain and AFILE_NOREPLACE), patch,
 * transactions touching 2 and 3 files, batches (afile_write_many) of 2
 * and 3 files.  The space is every sequence of length 1 and 2 over those
 * operations times the initial states of the names the sequence touches
 * (the names it does not touch start small: their state cannot matter
 * but must stay unchanged).  Seeded random sequences of length 3..8 over
 * all initial states come on top.
 *
 * Method.  An abstract model (name -> contents or absent) gives the
 * states S0..Sn after each call and each call's expected return, which
 * the actual return must equal.  At crash point p (the first p simfs
 * events happened), with k calls returned before p, the next process's
 * recovery (afile_recover on d, then afile_cleanup on d and d/sub) must:
 *   - return 0 and leave d/a, d/b, d/sub/c equal to S_k or to S_{k+1}
 *     (the call in progress), never a mix; except for a batch in
 *     progress, where afile_write_many documents only that each file is
 *     replaced atomically: each file is old or new on its own;
 *   - so every call that returned before p is durable;
 *   - leave no other name: no .afile-tmp, .afile-txn, journal or intent
 *     log (lock sidecars .*.afile-lock are allowed anywhere);
 *   - give the same tree when run a second time (idempotent).
 * Depth 2: recovery is itself recorded on the crashed simfs (its durable
 * state is the base), and each state of each of its crash points is
 * recovered again: the result must be legal as above and equal to what
 * the uninterrupted recovery gave (the header promises "the same
 * result").  Termination is checked by the calls returning (a hang is
 * caught by the ctest timeout).
 *
 * Cost control: identical crash states are common (many subsets of
 * pending micro-ops give the same tree), and recovery is deterministic
 * given the tree (names, inode numbers, modes, link counts, contents), so
 * the verdict of a (tree, k) pair is cached per sequence: every state is
 * enumerated and counted, but only distinct ones are recovered.  The PR
 * tier checks the returns of every sequence of the space against the
 * model (cheap: one run each) and every crash state of a seeded subset
 * sized to its time budget (AFILE_SOAK=K runs K times as many, all of
 * them once K is large enough); it is split into shards (--shard=I/N)
 * that ctest runs in parallel.
 *
 * Every violation prints one FAIL line with the sequence, the crash point
 * and state (and the depth-2 ones), what was wrong, the tree, and the
 * command that replays just that case.
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
#include "simfs.h"

/*
 * Known library finding (reported; the lead is fixing src/txn.c): a
 * staged temp (.afile-txn) can survive recovery after a power cut
 *   - during a transaction's staging: the intent log naming the temp's
 *     directory is not synced before the temp is created ("staging");
 *   - after a rollback, whether afile_txn_free() of a transaction whose
 *     commit failed (-EEXIST, -ENOENT) or recovery's: the temps and then
 *     the intent log are unlinked with no directory sync in between, so
 *     the log's removal can persist without the temps' ("rollback",
 *     found by this test).
 * Both are fixed in src/txn.c (log_dir() syncs the intent line first;
 * unstage() and rollback() sync the temps' directories before the
 * intent log goes), so this is 0: such a temp fails.  Set to 1, it is
 * counted, not failed, in those two situations only (for bisecting an
 * older library).
 */
#ifndef AFILE_ACE_TOLERATE_TXN_LEAK
#define AFILE_ACE_TOLERATE_TXN_LEAK 0
#endif

enum leak { LEAK_NONE, LEAK_STAGING, LEAK_ROLLBACK };

/*
 * PR-tier budget per shard (scaled by AFILE_SOAK).  Cut from 66 and 10 on
 * 2026-12-06 to keep CI under its time goal: the four shards took about
 * 510 s of the CI run, one shard 167 CPU-seconds here (21 of them the
 * returns-only pass); AFILE_SOAK=2 runs more than the old budget.
 */
#define ACE_SEQS_PER_SHARD  40 /* sampled sequences of length 1..2 */
#define RAND_SEQS_PER_SHARD 6  /* random sequences of length 3..8 */
#define D2_EVERY            16 /* depth 2 for 1 in D2_EVERY distinct states */
#define BASE_SEED           0xace5eedu

#define MAX_OPS              8
#define N_NAMES              3
#define MAXLEN               10600 /* 10000 + a 600-byte patch past the end */
#define PATCH_LEN            600
#define MAX_FAIL_PRINT_SEQ   5
#define MAX_FAIL_PRINT_TOTAL 60

static const char *const path_of[N_NAMES] = {"d/a", "d/b", "d/sub/c"};
static const char *const rel_of[N_NAMES] = {"a", "b", "sub/c"};
static const char *const short_of[N_NAMES] = {"a", "b", "c"};

/* Initial states of a name. */
static const size_t init_len[] = {0, 1, 1500, 9000};
static const char *const init_name[] = {"absent", "small", "sectors", "pages"};
#define INIT_ABSENT 0
#define INIT_SMALL  1
#define N_INIT      4

/* ------------------------------------------------------------------
 * Operations
 * ------------------------------------------------------------------ */

enum kind {
	K_REPLACE,
	K_CREATE,
	K_REMOVE,
	K_RENAME,
	K_RENAME_NR,
	K_PATCH,
	K_TXN,
	K_BATCH
};

enum skind { S_PUT, S_CREATE, S_REMOVE, S_RENAME };

struct sub {
	enum skind k;
	int n, n2;
	size_t len;
};

struct op {
	enum kind kind;
	int n, n2;
	size_t len; /* replace, create */
	size_t off; /* patch */
	int nsub;   /* txn, batch (batch items are S_PUT) */
	struct sub sub[3];
};

#define MAX_OPS_SPACE 64
static struct op ops[MAX_OPS_SPACE];
static int n_ops;

static void
add(struct op o)
{
	if (n_ops == MAX_OPS_SPACE)
		abort();
	ops[n_ops++] = o;
}

#define PUT(n, l)              \
	{                      \
		S_PUT, n, 0, l \
	}
#define CRT(n, l)                 \
	{                         \
		S_CREATE, n, 0, l \
	}
#define RM(n)                     \
	{                         \
		S_REMOVE, n, 0, 0 \
	}
#define MV(n, n2)                  \
	{                          \
		S_RENAME, n, n2, 0 \
	}

static void
build_ops(void)
{
	static const size_t sizes[] = {0, 1, 512, 1500, 9000};
	static const size_t csizes[] = {0, 1500};
	static const size_t offs[] = {0, 1000, 10000};
	/* Transactions of 2 and 3 files, and batches (names a=0 b=1 c=2). */
	static const struct op txns[] = {
	    {.kind = K_TXN, .nsub = 2, .sub = {PUT(0, 1500), PUT(2, 1)}},
	    {.kind = K_TXN, .nsub = 2, .sub = {RM(0), PUT(1, 512)}},
	    {.kind = K_TXN, .nsub = 2, .sub = {CRT(1, 1), MV(0, 2)}},
	    {.kind = K_TXN, .nsub = 2, .sub = {PUT(1, 9000), RM(2)}},
	    {.kind = K_TXN,
		.nsub = 3,
		.sub = {PUT(0, 1), PUT(1, 1500), PUT(2, 0)}},
	    {.kind = K_TXN,
		.nsub = 3,
		.sub = {CRT(0, 512), RM(1), PUT(2, 9000)}},
	    {.kind = K_TXN, .nsub = 3, .sub = {PUT(0, 0), CRT(2, 1500), RM(1)}},
	    {.kind = K_BATCH, .nsub = 2, .sub = {PUT(0, 1500), PUT(1, 1)}},
	    {.kind = K_BATCH, .nsub = 2, .sub = {PUT(0, 512), PUT(2, 9000)}},
	    {.kind = K_BATCH,
		.nsub = 3,
		.sub = {PUT(0, 0), PUT(1, 9000), PUT(2, 1500)}},
	};

	for (int n = 0; n < N_NAMES; n++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(*sizes); s++)
			add((struct op){
			    .kind = K_REPLACE, .n = n, .len = sizes[s]});
	for (int n = 0; n < N_NAMES; n++)
		for (size_t s = 0; s < sizeof(csizes) / sizeof(*csizes); s++)
			add((struct op){
			    .kind = K_CREATE, .n = n, .len = csizes[s]});
	for (int n = 0; n < N_NAMES; n++)
		add((struct op){.kind = K_REMOVE, .n = n});
	for (int nr = 0; nr < 2; nr++)
		for (int n = 0; n < N_NAMES; n++)
			for (int n2 = 0; n2 < N_NAMES; n2++)
				if (n != n2)
					add((struct op){
					    .kind = nr ? K_RENAME_NR : K_RENAME,
					    .n = n,
					    .n2 = n2});
	for (int n = 0; n < N_NAMES; n++)
		for (size_t s = 0; s < sizeof(offs) / sizeof(*offs); s++)
			add((struct op){
			    .kind = K_PATCH, .n = n, .off = offs[s]});
	for (size_t t = 0; t < sizeof(txns) / sizeof(*txns); t++)
		add(txns[t]);
}

/* Names an operation touches, as a bit mask. */
static unsigned int
touched(const struct op *o)
{
	unsigned int m = 0;

	switch (o->kind) {
	case K_RENAME:
	case K_RENAME_NR:
		return 1u << o->n | 1u << o->n2;
	case K_TXN:
	case K_BATCH:
		for (int s = 0; s < o->nsub; s++) {
			m |= 1u << o->sub[s].n;
			if (o->sub[s].k == S_RENAME)
				m |= 1u << o->sub[s].n2;
		}
		return m;
	default:
		return 1u << o->n;
	}
}

static void
describe_op(const struct op *o, char *out, size_t room)
{
	static const char *const sk[] = {"put", "create", "remove", "rename"};
	size_t u = 0;

	switch (o->kind) {
	case K_REPLACE:
	case K_CREATE:
		(void)snprintf(out, room, "%s(%s,%zu)",
		    o->kind == K_REPLACE ? "replace" : "create", short_of[o->n],
		    o->len);
		return;
	case K_REMOVE:
		(void)snprintf(out, room, "remove(%s)", short_of[o->n]);
		return;
	case K_RENAME:
	case K_RENAME_NR:
		(void)snprintf(out, room, "%s(%s,%s)",
		    o->kind == K_RENAME ? "rename" : "rename-noreplace",
		    short_of[o->n], short_of[o->n2]);
		return;
	case K_PATCH:
		(void)snprintf(out, room, "patch(%s,%zu+%u)", short_of[o->n],
		    o->off, PATCH_LEN);
		return;
	case K_TXN:
	case K_BATCH:
		u += (size_t)snprintf(
		    out + u, room - u, o->kind == K_TXN ? "txn[" : "batch[");
		for (int s = 0; s < o->nsub && u < room; s++) {
			const struct sub *b = &o->sub[s];

			if (b->k == S_RENAME)
				u += (size_t)snprintf(out + u, room - u,
				    "%srename(%s,%s)", s ? " " : "",
				    short_of[b->n], short_of[b->n2]);
			else if (b->k == S_REMOVE)
				u += (size_t)snprintf(out + u, room - u,
				    "%sremove(%s)", s ? " " : "",
				    short_of[b->n]);
			else
				u += (size_t)snprintf(out + u, room - u,
				    "%s%s(%s,%zu)", s ? " " : "", sk[b->k],
				    short_of[b->n], b->len);
		}
		if (u < room)
			(void)snprintf(out + u, room - u, "]");
		return;
	}
}

/* ------------------------------------------------------------------
 * Contents and the model
 * ------------------------------------------------------------------ */

/*
 * Contents are a function of a tag (which write made them) and the
 * offset: never a zero byte (a size change without its data reads as
 * zeros and must not pass for contents), different first bytes for
 * different tags (below 127), so old and new differ whenever they are not
 * empty, and never printable ASCII, so that simfs_describe_dir() renders
 * short contents as \xHH escapes, without spaces or '='.
 */
static void
fill(unsigned char *buf, size_t len, unsigned int tag)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(0x80u + (tag * 37u + i * 13u) % 127u);
}

/* Tags: 1..3 for initial contents, then three per call of the sequence. */
static unsigned int
tag_of(int j, int item)
{
	return 8u + (unsigned int)j * 3u + (unsigned int)item;
}

struct mfile {
	bool present;
	size_t len;
	unsigned char buf[MAXLEN];
};

struct mstate {
	struct mfile f[N_NAMES];
};

struct seq {
	char id[32];
	uint64_t seed;
	int n;
	int op[MAX_OPS];
	int init[N_NAMES];
};

/* Sequence being checked: model states, expected returns, call ends. */
static struct seq cur;
static struct mstate S[MAX_OPS + 1];
static int expect_ret[MAX_OPS];
static size_t op_end[MAX_OPS];

static void
model_init(struct mstate *m, const int init[N_NAMES])
{
	for (int n = 0; n < N_NAMES; n++) {
		m->f[n].present = init[n] != INIT_ABSENT;
		m->f[n].len = m->f[n].present ? init_len[init[n]] : 0;
		fill(m->f[n].buf, m->f[n].len, 1u + (unsigned int)n);
	}
}

static void
model_put(struct mfile *f, size_t len, unsigned int tag)
{
	f->present = true;
	f->len = len;
	fill(f->buf, len, tag);
}

/* One sub-operation of a transaction on @m: 0 or the error. */
static int
model_sub(struct mstate *m, const struct sub *b, int j, int item)
{
	struct mfile *f = &m->f[b->n];

	switch (b->k) {
	case S_PUT:
		model_put(f, b->len, tag_of(j, item));
		return 0;
	case S_CREATE:
		if (f->present)
			return -EEXIST;
		model_put(f, b->len, tag_of(j, item));
		return 0;
	case S_REMOVE:
		if (!f->present)
			return -ENOENT;
		f->present = false;
		f->len = 0;
		return 0;
	case S_RENAME:
		if (!f->present)
			return -ENOENT;
		m->f[b->n2] = *f;
		f->present = false;
		f->len = 0;
		return 0;
	}
	return -EINVAL;
}

/* Apply call @j to @in giving @out; returns the expected result. */
static int
model_apply(
    const struct op *o, int j, const struct mstate *in, struct mstate *out)
{
	struct mfile *f = &out->f[o->n];
	int r = 0;

	*out = *in;
	switch (o->kind) {
	case K_REPLACE:
		model_put(f, o->len, tag_of(j, 0));
		return 0;
	case K_CREATE:
		if (f->present)
			return -EEXIST;
		model_put(f, o->len, tag_of(j, 0));
		return 0;
	case K_REMOVE:
		return model_sub(
		    out, &(struct sub){S_REMOVE, o->n, 0, 0}, j, 0);
	case K_RENAME_NR:
		if (f->present && out->f[o->n2].present)
			return -EEXIST;
		/* fall through */
	case K_RENAME:
		return model_sub(
		    out, &(struct sub){S_RENAME, o->n, o->n2, 0}, j, 0);
	case K_PATCH:
		if (!f->present)
			return -ENOENT;
		if (o->off > f->len)
			memset(f->buf + f->len, 0, o->off - f->len);
		fill(f->buf + o->off, PATCH_LEN, tag_of(j, 0));
		if (o->off + PATCH_LEN > f->len)
			f->len = o->off + PATCH_LEN;
		return 0;
	case K_TXN:
	case K_BATCH:
		for (int s = 0; s < o->nsub && !r; s++)
			r = model_sub(out, &o->sub[s], j, s);
		if (r)
			*out = *in; /* all or nothing */
		return r;
	}
	return -EINVAL;
}

/* ------------------------------------------------------------------
 * Running a call through the library
 * ------------------------------------------------------------------ */

static unsigned char wbuf[3][MAXLEN];

static int
run_txn(const struct op *o, int j)
{
	struct afile_opts opts = {
	    .size = sizeof(opts), .sync = AFILE_SYNC_FULL};
	struct afile_txn *t = NULL;
	int r = afile_txn_begin(AT_FDCWD, "d", 0, &opts, &t);

	for (int s = 0; s < o->nsub && !r; s++) {
		const struct sub *b = &o->sub[s];

		fill(wbuf[s], b->len, tag_of(j, s));
		switch (b->k) {
		case S_PUT:
			r = afile_txn_put(t, rel_of[b->n], wbuf[s], b->len, 0);
			break;
		case S_CREATE:
			r = afile_txn_create(
			    t, rel_of[b->n], wbuf[s], b->len, 0);
			break;
		case S_REMOVE:
			r = afile_txn_remove(t, rel_of[b->n], 0);
			break;
		case S_RENAME:
			r = afile_txn_rename(t, rel_of[b->n], rel_of[b->n2], 0);
			break;
		}
	}
	if (!r)
		r = afile_txn_commit(t);
	afile_txn_free(t);
	return r;
}

static int
run_op(const struct op *o, int j)
{
	struct afile_opts opts = {
	    .size = sizeof(opts), .sync = AFILE_SYNC_FULL};
	struct afile_item items[3];

	switch (o->kind) {
	case K_REPLACE:
	case K_CREATE:
		fill(wbuf[0], o->len, tag_of(j, 0));
		return afile_write(AT_FDCWD, path_of[o->n], wbuf[0], o->len,
		    o->kind == K_CREATE ? AFILE_NOREPLACE : 0, &opts);
	case K_REMOVE:
		return afile_remove(AT_FDCWD, path_of[o->n], 0, &opts);
	case K_RENAME:
	case K_RENAME_NR:
		return afile_rename(AT_FDCWD, path_of[o->n], AT_FDCWD,
		    path_of[o->n2],
		    o->kind == K_RENAME_NR ? AFILE_NOREPLACE : 0, &opts);
	case K_PATCH:
		fill(wbuf[0], PATCH_LEN, tag_of(j, 0));
		return afile_patch(AT_FDCWD, path_of[o->n], o->off, wbuf[0],
		    PATCH_LEN, 0, &opts);
	case K_TXN:
		return run_txn(o, j);
	case K_BATCH:
		for (int s = 0; s < o->nsub; s++) {
			fill(wbuf[s], o->sub[s].len, tag_of(j, s));
			items[s] = (struct afile_item){
			    path_of[o->sub[s].n], wbuf[s], o->sub[s].len};
		}
		return afile_write_many(
		    AT_FDCWD, items, (size_t)o->nsub, 0, &opts);
	}
	return -EINVAL;
}

/* ------------------------------------------------------------------
 * Sequences: the Ace space and random ones
 * ------------------------------------------------------------------ */

static uint64_t
mix(uint64_t z)
{
	/* splitmix64's finalizer: ids and seeds to well-spread bits. */
	z += 0x9e3779b97f4a7c15u;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/*
 * The space, in a fixed order: length 1, then length 2 (op pairs in
 * order), and for each op sequence the initial states of the names it
 * touches (base 4, name a least significant); untouched names are small.
 */
static uint64_t
seq_variants(int len, const int *op)
{
	unsigned int m = 0;
	uint64_t v = 1;

	for (int i = 0; i < len; i++)
		m |= touched(&ops[op[i]]);
	for (int n = 0; n < N_NAMES; n++)
		if (m & 1u << n)
			v *= N_INIT;
	return v;
}

/*
 * Cumulative counts of the space per op sequence, so that ace_seq() finds
 * a sequence by number without walking the space: entry 0 is the start,
 * entry 1 + x the end of op sequence x (n_ops of length 1, then n_ops^2
 * pairs).
 */
static uint64_t *space_cum;
static int space_n;

static uint64_t
space_size(void)
{
	space_n = n_ops + n_ops * n_ops;
	space_cum = calloc((size_t)space_n + 1, sizeof(*space_cum));
	if (!space_cum)
		abort();
	for (int x = 0; x < space_n; x++) {
		int op[2] = {x < n_ops ? x : (x - n_ops) / n_ops,
		    x < n_ops ? 0 : (x - n_ops) % n_ops};

		space_cum[x + 1] =
		    space_cum[x] + seq_variants(x < n_ops ? 1 : 2, op);
	}
	return space_cum[space_n];
}

static void
variant_init(int len, const int *op, uint64_t v, int init[N_NAMES])
{
	unsigned int m = 0;

	for (int i = 0; i < len; i++)
		m |= touched(&ops[op[i]]);
	for (int n = 0; n < N_NAMES; n++) {
		init[n] = INIT_SMALL;
		if (m & 1u << n) {
			init[n] = (int)(v % N_INIT);
			v /= N_INIT;
		}
	}
}

/* Sequence number @id of the space into @s; false past its end. */
static bool
ace_seq(uint64_t id, struct seq *s)
{
	int lo = 0, hi = space_n;

	memset(s, 0, sizeof(*s));
	if (id >= space_cum[space_n])
		return false;
	/* The op sequence x with space_cum[x] <= id < space_cum[x + 1]. */
	while (hi - lo > 1) {
		int mid = (lo + hi) / 2;

		if (space_cum[mid] <= id)
			lo = mid;
		else
			hi = mid;
	}
	(void)snprintf(s->id, sizeof(s->id), "a%" PRIu64, id);
	s->seed = BASE_SEED;
	s->n = lo < n_ops ? 1 : 2;
	s->op[0] = lo < n_ops ? lo : (lo - n_ops) / n_ops;
	s->op[1] = lo < n_ops ? 0 : (lo - n_ops) % n_ops;
	variant_init(s->n, s->op, id - space_cum[lo], s->init);
	return true;
}

/* Random sequence @r: length 3..8, any ops, any initial states. */
static void
rand_seq(uint64_t r, struct seq *s)
{
	uint64_t x = mix(r ^ 0x7a4d0fu);

	memset(s, 0, sizeof(*s));
	(void)snprintf(s->id, sizeof(s->id), "r%" PRIu64, r);
	s->seed = BASE_SEED ^ r;
	s->n = 3 + (int)(x % 6);
	for (int i = 0; i < s->n; i++)
		s->op[i] = (int)((x = mix(x)) % (uint64_t)n_ops);
	for (int n = 0; n < N_NAMES; n++)
		s->init[n] = (int)((x = mix(x)) % N_INIT);
}

static void
describe_seq(const struct seq *s, char *out, size_t room)
{
	size_t u = 0;
	char one[160];

	u += (size_t)snprintf(out, room, "init=[a:%s b:%s c:%s] ops=[",
	    init_name[s->init[0]], init_name[s->init[1]],
	    init_name[s->init[2]]);
	for (int i = 0; i < s->n && u < room; i++) {
		describe_op(&ops[s->op[i]], one, sizeof(one));
		u += (size_t)snprintf(
		    out + u, room - u, "%s%s", i ? "; " : "", one);
	}
	if (u < room)
		(void)snprintf(out + u, room - u, "]");
}

/* ------------------------------------------------------------------
 * Trees: digests (for the verdict cache) and descriptions
 * ------------------------------------------------------------------ */

static const char *const dirs[] = {"d", "d/sub", "d/.atomicfile"};
#define N_DIRS 3

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211u;
	return h;
}

static bool
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && !strcmp(s + n - m, suf);
}

/*
 * The entries of a directory, from simfs_describe_dir()'s
 * "name=body name=body" (sorted).  A body may hold spaces ("<1500 bytes
 * HASH>"), so a token starts an entry only if it is NAME=... with NAME
 * made of the characters the library's names use; fill() keeps our own
 * short contents free of spaces and '=' (they render as \xHH).
 */
#define MAX_ENTRIES 64

struct entries {
	char *list;
	size_t n;
	char *name[MAX_ENTRIES], *body[MAX_ENTRIES];
};

static bool
starts_entry(const char *tok)
{
	const char *eq = strchr(tok, '=');

	if (!eq || eq == tok)
		return false;
	for (const char *c = tok; c < eq; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || *c == '.' || *c == '_' ||
			*c == '-'))
			return false;
	return true;
}

static void
entries_get(struct simfs *fs, const char *dir, struct entries *e)
{
	char *p;

	e->list = simfs_describe_dir(fs, dir);
	e->n = 0;
	if (!strcmp(e->list, "<no directory>"))
		return;
	for (p = e->list; *p;) {
		char *sp;

		if (starts_entry(p) && e->n < MAX_ENTRIES) {
			if (p > e->list)
				p[-1] = '\0';
			e->name[e->n] = p;
			p = strchr(p, '=');
			*p++ = '\0';
			e->body[e->n++] = p;
		}
		sp = strchr(p, ' ');
		if (!sp)
			break;
		p = sp + 1;
	}
}

static void
entries_done(struct entries *e)
{
	free(e->list);
}

/*
 * Everything recovery can see: every entry of the three directories with
 * its inode number (the journal's guards compare them), mode, link count
 * and contents (simfs_describe_dir hashes contents).
 */
static uint64_t
tree_digest(struct simfs *fs)
{
	uint64_t h = 14695981039346656037u;

	for (int d = 0; d < N_DIRS; d++) {
		struct entries e;
		char path[PATH_MAX];

		entries_get(fs, dirs[d], &e);
		h = fnv(h, dirs[d], strlen(dirs[d]) + 1);
		for (size_t i = 0; i < e.n; i++) {
			struct stat st;

			h = fnv(h, e.name[i], strlen(e.name[i]) + 1);
			h = fnv(h, e.body[i], strlen(e.body[i]) + 1);
			(void)snprintf(
			    path, sizeof(path), "%s/%s", dirs[d], e.name[i]);
			if (simfs_stat(fs, path, &st) < 0)
				continue;
			h = fnv(h, &st.st_ino, sizeof(st.st_ino));
			h = fnv(h, &st.st_mode, sizeof(st.st_mode));
			h = fnv(h, &st.st_nlink, sizeof(st.st_nlink));
		}
		entries_done(&e);
	}
	return h;
}

/*
 * "d: ... | d/sub: ... | d/.atomicfile: ..." (malloc()ed).  @filter
 * drops lock sidecars, which any run may or may not have created
 * durably, and, while tolerated, staged temps (the known leaks), so that
 * two trees compare on what matters.
 */
static char *
tree_text(struct simfs *fs, bool filter)
{
	struct entries e[N_DIRS];
	size_t total = 1;
	char *out;

	for (int d = 0; d < N_DIRS; d++) {
		entries_get(fs, dirs[d], &e[d]);
		total += strlen(dirs[d]) + 8;
		for (size_t i = 0; i < e[d].n; i++)
			total +=
			    strlen(e[d].name[i]) + strlen(e[d].body[i]) + 2;
	}
	out = malloc(total);
	if (!out)
		abort();
	out[0] = '\0';
	for (int d = 0; d < N_DIRS; d++) {
		if (d)
			strcat(out, " | ");
		strcat(out, dirs[d]);
		strcat(out, ":");
		for (size_t i = 0; i < e[d].n; i++) {
			const char *name = e[d].name[i];

			if (filter &&
			    (has_suffix(name, ".afile-lock") ||
				(AFILE_ACE_TOLERATE_TXN_LEAK &&
				    has_suffix(name, ".afile-txn"))))
				continue;
			strcat(out, " ");
			strcat(out, name);
			strcat(out, "=");
			strcat(out, e[d].body[i]);
		}
		entries_done(&e[d]);
	}
	return out;
}

/* A verdict cache: open addressing over nonzero 64-bit keys. */
static uint64_t *seen;
static size_t seen_cap, seen_n;

static void
seen_reset(void)
{
	if (seen)
		memset(seen, 0, seen_cap * sizeof(*seen));
	seen_n = 0;
}

/* Insert @key; true if it was there already. */
static bool
seen_test_set(uint64_t key)
{
	size_t i;

	key = key ? key : 1;
	if (2 * (seen_n + 1) > seen_cap) {
		uint64_t *old = seen;
		size_t oc = seen_cap;

		seen_cap = seen_cap ? 2 * seen_cap : 4096;
		seen = calloc(seen_cap, sizeof(*seen));
		if (!seen)
			abort();
		seen_n = 0;
		for (size_t k = 0; k < oc; k++)
			if (old[k])
				(void)seen_test_set(old[k]);
		free(old);
	}
	for (i = key & (seen_cap - 1); seen[i]; i = (i + 1) & (seen_cap - 1))
		if (seen[i] == key)
			return true;
	seen[i] = key;
	seen_n++;
	return false;
}

/* ------------------------------------------------------------------
 * Checking one crash state
 * ------------------------------------------------------------------ */

static bool skip_recovery; /* self-test: the checks must then fail */
/*
 * Only compare each call's return with the model, no crash states: the
 * sequences of a shard not sampled for crash checking, and every
 * sequence with --returns-only.
 */
static bool returns_only;
static const char *tag = "FAIL";
static const char *argv0 = "simfs_ace";

/* Replay filters (from the command line; -1: all). */
static long want_point = -1, want_state = -1, want_d2point = -1,
	    want_d2state = -1;

struct totals {
	uint64_t seqs, ace_seqs, rand_seqs, points, states, distinct;
	uint64_t d2_points, d2_states, leaks[3], violations, printed_total;
};
static struct totals tot;
static unsigned int printed_seq;

/* The crash being judged. */
struct ctx {
	size_t p, points;
	int k;           /* calls returned before p */
	bool txn_busy;   /* the call in progress is a transaction */
	bool txn_failed; /* a transaction returned an error before p */
	size_t index;    /* state index at p */
	long q, qindex;  /* depth-2 point and state, -1 at depth 1 */
	size_t q_points;
	char *t1; /* depth 2: the tree the uninterrupted recovery gave */
};

static void
report(const struct ctx *c, struct simfs *fs, const char *why)
{
	char seqtxt[1024], d2[96] = "", rerun_d2[96] = "";
	char *tree;

	tot.violations++;
	if (printed_seq >= MAX_FAIL_PRINT_SEQ ||
	    tot.printed_total >= MAX_FAIL_PRINT_TOTAL)
		return;
	printed_seq++;
	tot.printed_total++;
	describe_seq(&cur, seqtxt, sizeof(seqtxt));
	if (c->q >= 0) {
		(void)snprintf(d2, sizeof(d2), " d2point=%ld/%zu d2state=%ld",
		    c->q, c->q_points, c->qindex);
		(void)snprintf(rerun_d2, sizeof(rerun_d2),
		    " --d2point=%ld --d2state=%ld", c->q, c->qindex);
	}
	tree = tree_text(fs, false);
	printf("%s simfs-ace seq=%s %s seed=%" PRIu64
	       " point=%zu/%zu k=%d state=%zu%s: %s; tree: %s; rerun: %s "
	       "--seq=%s --point=%zu --state=%zu%s\n",
	    tag, cur.id, seqtxt, cur.seed, c->p, c->points, c->k, c->index, d2,
	    why, tree, argv0, cur.id, c->p, c->index, rerun_d2);
	free(tree);
}

/* Recovery as the next process runs it: NULL or what failed. */
static const char *
recover(struct simfs *fs)
{
	static char why[128];
	int r;

	if (skip_recovery)
		return NULL;
	simfs_install(fs);
	r = afile_recover(AT_FDCWD, "d", 0, NULL);
	if (!r)
		r = afile_cleanup(AT_FDCWD, "d", 0, 0, NULL);
	if (!r)
		r = afile_cleanup(AT_FDCWD, "d/sub", 0, 0, NULL);
	simfs_install(NULL);
	if (!r)
		return NULL;
	(void)snprintf(
	    why, sizeof(why), "recovery returned %s", afile_err_name(r));
	return why;
}

/*
 * Names other than the model's: lock sidecars are fine; a staged temp is
 * one of the known leaks while tolerated: the staging leak while a
 * transaction is in progress, the rollback leak after one failed.
 */
static const char *
leftovers(const struct ctx *c, struct simfs *fs, int *leak)
{
	static const char *const allowed[N_DIRS] = {
	    " a b sub .atomicfile ", " c ", " "};
	const char *bad = NULL;

	for (int d = 0; d < N_DIRS && !bad; d++) {
		struct entries e;
		char key[NAME_MAX + 3];

		entries_get(fs, dirs[d], &e);
		for (size_t i = 0; i < e.n && !bad; i++) {
			const char *name = e.name[i];

			(void)snprintf(key, sizeof(key), " %s ", name);
			if (strstr(allowed[d], key) ||
			    (name[0] == '.' && has_suffix(name, ".afile-lock")))
				continue;
			if (has_suffix(name, ".afile-txn") &&
			    AFILE_ACE_TOLERATE_TXN_LEAK && c->txn_busy) {
				*leak = LEAK_STAGING;
				continue;
			}
			if (has_suffix(name, ".afile-txn") &&
			    AFILE_ACE_TOLERATE_TXN_LEAK && c->txn_failed) {
				*leak = LEAK_ROLLBACK;
				continue;
			}
			if (has_suffix(name, ".afile-txn"))
				bad = "a staged temp (.afile-txn) left";
			else if (has_suffix(name, ".afile-tmp"))
				bad = "a write temp (.afile-tmp) left";
			else if (!strcmp(name, "journal") ||
			    !strcmp(name, "intent"))
				bad = "journal or intent log left";
			else
				bad = "a stray name";
		}
		entries_done(&e);
	}
	return bad;
}

static bool
same_file(struct simfs *fs, const char *path, const struct mfile *f)
{
	char *buf;
	size_t len;
	bool same;
	int r = simfs_get(fs, path, &buf, &len);

	if (r == -ENOENT)
		return !f->present;
	if (r < 0)
		return false;
	same = f->present && len == f->len && !memcmp(buf, f->buf, len);
	free(buf);
	return same;
}

/* Do the visible files equal model state @m? */
static bool
same_state(struct simfs *fs, const struct mstate *m)
{
	for (int i = 0; i < N_NAMES; i++)
		if (!same_file(fs, path_of[i], &m->f[i]))
			return false;
	return true;
}

/* The visible files against S_k and S_{k+1}: NULL or what is wrong. */
static const char *
judge_files(const struct ctx *c, struct simfs *fs)
{
	static char why[160];
	const struct mstate *o = &S[c->k];
	const struct mstate *n = &S[c->k < cur.n ? c->k + 1 : c->k];
	bool batch = c->k < cur.n && ops[cur.op[c->k]].kind == K_BATCH;
	bool all_old = true, all_new = true, mixed = false;

	for (int i = 0; i < N_NAMES; i++) {
		bool is_old = same_file(fs, path_of[i], &o->f[i]);
		bool is_new = same_file(fs, path_of[i], &n->f[i]);

		mixed = mixed || (!is_old && !is_new);
		all_old = all_old && is_old;
		all_new = all_new && is_new;
	}
	if (all_old || all_new || (batch && !mixed))
		return NULL;
	/* Name the failure: an older state means a lost acknowledgement. */
	for (int j = c->k - 1; j >= 0; j--)
		if (same_state(fs, &S[j])) {
			(void)snprintf(why, sizeof(why),
			    "the tree is the state before call %d, which "
			    "returned before the crash: acknowledged but not "
			    "durable",
			    j);
			return why;
		}
	return mixed ? "a file is neither its state before the call in "
		       "progress nor after it (partial or foreign contents)"
		     : "the call in progress is half applied (some files "
		       "old, some new)";
}

/* Everything but idempotence: NULL or what is wrong. */
static const char *
judge(const struct ctx *c, struct simfs *fs, int *leak)
{
	const char *why = judge_files(c, fs);

	return why ? why : leftovers(c, fs, leak);
}

static int visit_d2(struct simfs *c2, size_t index, void *arg);

static bool
d2_sampled(uint64_t key)
{
	if (want_point >= 0)
		return want_d2point >= 0;
	return mix(key ^ 0xd2) % D2_EVERY == 0;
}

static int
visit(struct simfs *crashed, size_t index, void *arg)
{
	struct ctx *c = arg;
	const char *why;
	char *t1, *t2;
	size_t e1;
	int leak = LEAK_NONE;
	uint64_t key;

	if (want_state >= 0 && (long)index != want_state)
		return 0;
	c->index = index;
	c->q = c->qindex = -1;
	key = mix(tree_digest(crashed) ^ (uint64_t)c->k);
	if (seen_test_set(key) && want_state < 0)
		return 0; /* an identical state was judged already */
	tot.distinct++;

	why = recover(crashed);
	e1 = simfs_events(crashed);
	t1 = tree_text(crashed, true);
	if (!why && !skip_recovery) {
		why = recover(crashed);
		t2 = tree_text(crashed, true);
		if (!why && strcmp(t1, t2))
			why = "recovery is not idempotent: a second run "
			      "changed the tree";
		free(t2);
	}
	if (!why)
		why = judge(c, crashed, &leak);
	if (why)
		report(c, crashed, why);
	else if (leak)
		tot.leaks[leak]++;

	if (!why && !skip_recovery && d2_sampled(key)) {
		c->t1 = t1;
		c->q_points = e1;
		tot.d2_points += e1 + 1;
		for (size_t q = 0; q <= e1; q++) {
			if (want_d2point >= 0 && (long)q != want_d2point)
				continue;
			c->q = (long)q;
			(void)simfs_each_state(
			    crashed, q, visit_d2, c, &tot.d2_states);
		}
		c->q = -1;
	}
	free(t1);
	return 0;
}

static int
visit_d2(struct simfs *c2, size_t index, void *arg)
{
	static char d2why[2048];
	struct ctx *c = arg;
	const char *why;
	char *t;
	int leak = LEAK_NONE;
	uint64_t key;

	if (want_d2state >= 0 && (long)index != want_d2state)
		return 0;
	c->qindex = (long)index;
	key = mix(tree_digest(c2) ^ fnv(0xd2d2, c->t1, strlen(c->t1)) ^
	    (uint64_t)c->k);
	if (seen_test_set(key) && want_d2state < 0)
		return 0;
	why = recover(c2);
	if (!why)
		why = judge(c, c2, &leak);
	if (!why) {
		t = tree_text(c2, true);
		if (strcmp(t, c->t1)) {
			(void)snprintf(d2why, sizeof(d2why),
			    "recovery of a crashed recovery gives another "
			    "tree than the uninterrupted recovery (%s; got %s)",
			    c->t1, t);
			why = d2why;
		}
		free(t);
	}
	if (why)
		report(c, c2, why);
	else if (leak)
		tot.leaks[leak]++;
	return 0;
}

/* ------------------------------------------------------------------
 * Running one sequence
 * ------------------------------------------------------------------ */

/* The initial tree S0, made durable: recording starts from it. */
static void
setup(struct simfs *fs)
{
	(void)simfs_mkdir(fs, "d", 0755);
	(void)simfs_mkdir(fs, "d/sub", 0755);
	for (int n = 0; n < N_NAMES; n++)
		if (S[0].f[n].present)
			(void)simfs_put(
			    fs, path_of[n], S[0].f[n].buf, S[0].f[n].len, 0644);
	simfs_sync_all(fs);
}

/*
 * Run @s and check it; @mut (may be NULL) names a sync mutant for the
 * self-test.  Returns the number of violations it found.
 */
static uint64_t
run_seq(const struct seq *s, const struct simfs_opts *mut)
{
	struct simfs_opts so = {.seed = s->seed};
	struct ctx c = {.q = -1, .qindex = -1};
	uint64_t before = tot.violations;
	struct simfs *fs;
	char seqtxt[1024];
	bool ret_ok = true;

	if (mut) {
		so.mutant = mut->mutant;
		so.mutant_n = mut->mutant_n;
	}
	cur = *s;
	printed_seq = 0;
	seen_reset();
	model_init(&S[0], s->init);
	for (int j = 0; j < s->n; j++)
		expect_ret[j] =
		    model_apply(&ops[s->op[j]], j, &S[j], &S[j + 1]);

	fs = simfs_new(&so);
	setup(fs);
	simfs_install(fs);
	for (int j = 0; j < s->n; j++) {
		int r = run_op(&ops[s->op[j]], j);

		op_end[j] = simfs_events(fs);
		if (r != expect_ret[j] && ret_ok) {
			describe_seq(s, seqtxt, sizeof(seqtxt));
			simfs_install(NULL);
			printf("%s simfs-ace seq=%s %s seed=%" PRIu64
			       ": call %d returned %s, the model expects %s; "
			       "rerun: %s --seq=%s\n",
			    tag, s->id, seqtxt, s->seed, j, afile_err_name(r),
			    afile_err_name(expect_ret[j]), argv0, s->id);
			simfs_install(fs);
			tot.violations++;
			ret_ok = false;
		}
	}
	simfs_install(NULL);

	/* The model is only meaningful if every call did what it expects. */
	c.points = simfs_events(fs);
	for (size_t p = 0; ret_ok && !returns_only && p <= c.points; p++) {
		if (want_point >= 0 && (long)p != want_point)
			continue;
		c.p = p;
		c.k = 0;
		while (c.k < s->n && op_end[c.k] <= p)
			c.k++;
		c.txn_busy = c.k < s->n && ops[s->op[c.k]].kind == K_TXN;
		c.txn_failed = false;
		for (int j = 0; j < c.k; j++)
			c.txn_failed = c.txn_failed ||
			    (ops[s->op[j]].kind == K_TXN && expect_ret[j]);
		tot.points++;
		(void)simfs_each_state(fs, p, visit, &c, &tot.states);
	}
	simfs_free(fs);
	tot.seqs++;
	return tot.violations - before;
}

/* ------------------------------------------------------------------
 * Self-test: the checks must see violations
 * ------------------------------------------------------------------ */

static int
find_op(enum kind k, int n)
{
	for (int i = 0; i < n_ops; i++)
		if (ops[i].kind == k && (k == K_TXN || ops[i].n == n))
			return i;
	abort();
}

static bool
self_test(void)
{
	struct totals saved = tot;
	struct seq s = {.seed = BASE_SEED, .n = 2};
	struct simfs_opts mut = {.mutant = SIMFS_MUT_SKIP};
	bool ok = true;
	uint64_t v;

	/* 1. No recovery: a transaction's journal or a temp must show. */
	strcpy(s.id, "self-norecovery");
	s.op[0] = find_op(K_REPLACE, 0);
	s.op[1] = find_op(K_TXN, 0);
	for (int n = 0; n < N_NAMES; n++)
		s.init[n] = 2;
	skip_recovery = true;
	tag = "EXPECTED (self-test, recovery skipped)";
	v = run_seq(&s, NULL);
	skip_recovery = false;
	if (!v) {
		printf("FAIL simfs-ace self-test: no violation without "
		       "recovery: the checks are blind\n");
		ok = false;
	}

	/*
	 * 2. A replace whose last sync (the directory's) does nothing: the
	 * acknowledged replace must be found not durable.
	 */
	strcpy(s.id, "self-skipsync");
	s.n = 1;
	mut.mutant_n = 2; /* the temp's fsync is 1, the directory's 2 */
	tag = "EXPECTED (self-test, directory sync skipped)";
	v = run_seq(&s, &mut);
	if (!v) {
		printf("FAIL simfs-ace self-test: a skipped directory sync "
		       "went unnoticed: the checks are blind\n");
		ok = false;
	}
	tag = "FAIL";
	tot = saved;
	return ok;
}

/* ------------------------------------------------------------------
 * Main
 * ------------------------------------------------------------------ */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: simfs_ace [--shard=I/N] [--seq=ID [--point=P [--state=S "
	    "[--d2point=Q [--d2state=R]]]]] [--returns-only] [--list]\n"
	    "  ID is aNUMBER (the Ace space), rNUMBER (random) or self-* "
	    "(the self-test)\n");
	exit(2);
}

static bool
parse_seq(const char *id, struct seq *s)
{
	char *end;
	unsigned long long v;

	if (id[0] != 'a' && id[0] != 'r')
		return false;
	v = strtoull(id + 1, &end, 10);
	if (*end || end == id + 1)
		return false;
	if (id[0] == 'r') {
		rand_seq(v, s);
		return true;
	}
	return ace_seq(v, s);
}

int
main(int argc, char **argv)
{
	unsigned long shard = 1, shards = 1;
	const char *only = NULL, *soak = getenv("AFILE_SOAK");
	uint64_t k_soak = 1, total, want, ace_ran = 0, ace_states = 0,
		 singles = 0;
	uint64_t returns_checked = 0;
	bool list = false, ok = true, only_returns = false;
	struct seq s;

	argv0 = argv[0];
	build_ops();
	total = space_size();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strncmp(a, "--shard=", 8)) {
			if (sscanf(a + 8, "%lu/%lu", &shard, &shards) != 2 ||
			    !shard || shard > shards)
				usage();
		} else if (!strncmp(a, "--seq=", 6)) {
			only = a + 6;
		} else if (!strncmp(a, "--point=", 8)) {
			want_point = atol(a + 8);
		} else if (!strncmp(a, "--state=", 8)) {
			want_state = atol(a + 8);
		} else if (!strncmp(a, "--d2point=", 10)) {
			want_d2point = atol(a + 10);
		} else if (!strncmp(a, "--d2state=", 10)) {
			want_d2state = atol(a + 10);
		} else if (!strcmp(a, "--returns-only")) {
			only_returns = true;
		} else if (!strcmp(a, "--list")) {
			list = true;
		} else {
			usage();
		}
	}
	if (soak && atoi(soak) > 1)
		k_soak = (uint64_t)atoi(soak);

	if (list) {
		char txt[1024];

		for (uint64_t id = 0; ace_seq(id, &s); id++) {
			describe_seq(&s, txt, sizeof(txt));
			printf("%s %s\n", s.id, txt);
		}
		return 0;
	}
	if (only && !strncmp(only, "self-", 5)) {
		/* The self-test's sequences replay as the whole self-test. */
		ok = self_test();
		printf("simfs-ace self-test: %s\n", ok ? "ok" : "FAIL");
		return ok ? 0 : 1;
	}
	if (only) {
		if (!parse_seq(only, &s))
			usage();
		run_seq(&s, NULL);
		printf("simfs-ace seq=%s: %" PRIu64 " crash points, %" PRIu64
		       " crash states (%" PRIu64 " distinct), %" PRIu64
		       " depth-2 states, known txn leaks (%" PRIu64
		       " staging, %" PRIu64 " rollback), %" PRIu64
		       " violations\n",
		    s.id, tot.points, tot.states, tot.distinct, tot.d2_states,
		    tot.leaks[LEAK_STAGING], tot.leaks[LEAK_ROLLBACK],
		    tot.violations);
		return tot.violations ? 1 : 0;
	}

	if (shard == 1 && !only_returns && !self_test())
		ok = false;

	/*
	 * Every sequence of length 1 (each operation from each initial
	 * state), and a seeded subset of the longer ones: a sequence id is
	 * taken when its hash falls under want/total; shards split the ids
	 * by residue.
	 */
	want = only_returns ? 0 : ACE_SEQS_PER_SHARD * shards * k_soak;
	for (uint64_t id = shard - 1; ace_seq(id, &s); id += shards) {
		returns_only = only_returns ||
		    (s.n > 1 && want < total &&
			mix(id ^ BASE_SEED) % total >= want);
		run_seq(&s, NULL);
		ace_ran += !returns_only;
		singles += !returns_only && s.n == 1;
		returns_checked++;
	}
	returns_only = only_returns;
	tot.ace_seqs = ace_ran;
	ace_states = tot.states;
	for (uint64_t i = 0; i < RAND_SEQS_PER_SHARD * k_soak; i++) {
		rand_seq((shard - 1) + i * shards, &s);
		run_seq(&s, NULL);
		tot.rand_seqs++;
	}
	if (tot.violations)
		ok = false;
	printf("simfs-ace shard %lu/%lu: returns of %" PRIu64
	       " sequences of length <= 2 checked, %" PRIu64
	       " of them (all %" PRIu64 " of length 1, and a sample of %" PRIu64
	       " of %" PRIu64 " in all shards) at every crash state, + %" PRIu64
	       " random of length 3..8; %" PRIu64 " crash points, %" PRIu64
	       " crash states (%" PRIu64 " in random sequences, %" PRIu64
	       " distinct recovered), %" PRIu64 " depth-2 states at %" PRIu64
	       " recovery crash points, known "
	       "txn leaks%s (%" PRIu64 " staging, %" PRIu64
	       " rollback), %" PRIu64 " violations: %s\n",
	    shard, shards, returns_checked, ace_ran, singles,
	    want < total ? want : total, total, tot.rand_seqs, tot.points,
	    tot.states, tot.states - ace_states, tot.distinct, tot.d2_states,
	    tot.d2_points, AFILE_ACE_TOLERATE_TXN_LEAK ? " tolerated" : "",
	    tot.leaks[LEAK_STAGING], tot.leaks[LEAK_ROLLBACK], tot.violations,
	    ok ? "ok" : "FAIL");
	if (AFILE_ACE_TOLERATE_TXN_LEAK && !tot.leaks[LEAK_STAGING] &&
	    !tot.leaks[LEAK_ROLLBACK])
		printf("simfs-ace: no known txn leak seen: if src/txn.c is "
		       "fixed, set AFILE_ACE_TOLERATE_TXN_LEAK to 0\n");
	return ok ? 0 : 1;
}
