/* SPDX-License-Identifier: MIT */
/*
 * cmd_txn.c - the transaction subcommands: txn changes several files of
 * a root all or nothing, recover finishes or rolls back what a crash
 * interrupted.
 *
 * txn reads every operation first, from the command line or a script,
 * and refuses a malformed list (exit 2) before it touches anything.  It
 * then begins the transaction, stages each operation in order, and
 * commits: until the commit nothing visible changes, and every failure
 * (a missing source, a path leading out of the root, a create whose
 * target exists) ends in afile_txn_free(), which rolls back.  The source
 * of a put is streamed through one fixed buffer, so memory stays bounded
 * whatever its size; a create's source is read whole, since the library
 * stages creates from a buffer.
 *
 * Signals.  SIGINT, SIGTERM and SIGPIPE are caught once the transaction
 * has begun and held blocked except while waiting for a source's data
 * (as for write): on one, the transaction is freed (rolled back) and the
 * tool dies by the signal.  Before the begin they keep their default
 * action, so a wait for another transaction of the root can be
 * interrupted; nothing is staged then.  A signal that comes once the
 * commit has started is held until the tool exits, and discarded.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"

/* A source is moved in chunks of this size. */
#define CHUNK_SIZE ((size_t)1 << 20)

enum txop {
	TX_PUT,
	TX_CREATE,
	TX_RM,
	TX_MV,
};

/* The operations, their names on the command line and their operands. */
static const struct {
	const char *name;
	int nargs;
	const char *args;
} txops[] = {
    [TX_PUT] = {"put", 2, "DEST and SRC"},
    [TX_CREATE] = {"create", 2, "DEST and SRC"},
    [TX_RM] = {"rm", 1, "PATH"},
    [TX_MV] = {"mv", 2, "FROM and TO"},
};

/* One operation; its strings point into argv or the script's text. */
struct op {
	enum txop op;
	const char *a; /* DEST, PATH or FROM: relative to ROOT */
	const char *b; /* SRC (relative to the cwd) or TO; NULL for rm */
};

struct oplist {
	struct op *v;
	size_t n, cap;
};

static const struct option txn_longopts[] = {
    {"script", required_argument, NULL, OPT_SCRIPT},
    CLI_LOPT_SYNC,
    CLI_LOPT_BREAK_HARDLINKS,
    CLI_LOPT_ALLOW_OWNER_CHANGE,
    CLI_LOPT_TIMEOUT,
    CLI_LOPT_STATS,
    CLI_LOPT_QUIET,
    CLI_LOPT_HELP,
    CLI_LOPT_END,
};

static const struct option recover_longopts[] = {
    CLI_LOPT_STATS,
    CLI_LOPT_QUIET,
    CLI_LOPT_HELP,
    CLI_LOPT_END,
};

static void
txn_usage(void)
{
	(void)fputs(
	    "Usage: atomicfile txn [OPTIONS] [-C ROOT] OP...\n"
	    "       atomicfile txn [OPTIONS] [-C ROOT] --script=FILE\n"
	    "Apply every OP under ROOT (default: the current directory) "
	    "all or nothing,\n"
	    "across crashes and power cuts. OP is one of:\n"
	    "  put DEST SRC                   DEST gets the contents of "
	    "SRC\n"
	    "  create DEST SRC                the same; DEST must not exist "
	    "(else exit 3)\n"
	    "  rm PATH                        remove PATH\n"
	    "  mv FROM TO                     rename FROM to TO\n"
	    "DEST, PATH, FROM and TO are relative to ROOT and must stay "
	    "beneath it; SRC\n"
	    "is an ordinary path, read by the tool. A script has one OP "
	    "per line, its\n"
	    "words separated by blanks (no quoting); '#' starts a comment. "
	    "FILE '-' is\n"
	    "standard input.\n"
	    "\n"
	    "Options:\n"
	    "  -C ROOT                    the transaction root\n"
	    "      --script=FILE          read the OPs from FILE\n"
	    "      --sync=full|none       durability level (default: full; "
	    "data is full)\n" CLI_HELP_BREAK_HARDLINKS
		CLI_HELP_ALLOW_OWNER_CHANGE
	    "      --timeout=SECONDS      give up (exit 4) if another "
	    "transaction holds\n"
	    "                             ROOT this long; 0 tries "
	    "once\n" CLI_HELP_STATS CLI_HELP_QUIET CLI_HELP_HELP "\n"
	    "Exit status: 0 committed, 1 failed (nothing changed), 2 usage "
	    "error, 3 a\n"
	    "create target exists (nothing changed), 4 ROOT was busy until "
	    "the timeout.\n",
	    stdout);
}

static void
recover_usage(void)
{
	(void)fputs(
	    "Usage: atomicfile recover [OPTIONS] [ROOT|FILE...]\n"
	    "Finish or roll back the transaction that a crash "
	    "interrupted in each ROOT\n"
	    "(default: the current directory); replay an interrupted "
	    "in-place patch of\n"
	    "each regular FILE and fold its redo log into it. One line per "
	    "operand:\n"
	    "  ROOT: nothing to do\n"
	    "  ROOT: finished transaction ID (N operations)\n"
	    "  ROOT: rolled back transaction ID (N temps removed)\n"
	    "  FILE: replayed an interrupted in-place patch\n"
	    "A damaged journal is left alone, with every staged "
	    "file: exit 1.\n"
	    "\n"
	    "Options:\n" CLI_HELP_STATS
	    "  -q, --quiet                print nothing\n" CLI_HELP_HELP,
	    stdout);
}

static int
oplist_add(struct oplist *l, enum txop op, const char *a, const char *b)
{
	struct op *v;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap == 0 ? 16 : l->cap * 2;
		v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].op = op;
	l->v[l->n].a = a;
	l->v[l->n].b = b;
	l->n++;
	return 0;
}

static int
lookup_op(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(txops) / sizeof(txops[0]); i++)
		if (strcmp(name, txops[i].name) == 0)
			return (int)i;
	return -1;
}

/* The operations on the command line; false after a usage error. */
static bool
parse_args(const struct cli *c, int argc, char **argv, struct oplist *l)
{
	int i = 0, k;

	while (i < argc) {
		k = lookup_op(argv[i]);
		if (k < 0) {
			(void)cli_usage_error(
			    c, "unknown operation '%s'", argv[i]);
			return false;
		}
		if (argc - i - 1 < txops[k].nargs) {
			(void)cli_usage_error(
			    c, "'%s' takes %s", txops[k].name, txops[k].args);
			return false;
		}
		if (oplist_add(l, (enum txop)k, argv[i + 1],
			txops[k].nargs == 2 ? argv[i + 2] : NULL) < 0) {
			(void)cli_usage_error(c, "out of memory");
			return false;
		}
		i += 1 + txops[k].nargs;
	}
	return true;
}

/*
 * Read all of FILE ("-": standard input) into a NUL-terminated buffer.
 * Returns 0 or -errno.
 */
static int
read_script(const char *path, char **ret)
{
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, r = 0;

	fd = strcmp(path, "-") == 0 ? STDIN_FILENO
				    : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap == 0 ? 65536 : cap * 2;
			nbuf = realloc(buf, cap);
			if (nbuf == NULL) {
				r = -ENOMEM;
				break;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		(void)close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		free(buf);
		return -EINVAL; /* a NUL byte: not a script */
	}
	*ret = buf;
	return 0;
}

/*
 * Split a script into operations, in place: one per line, words
 * separated by blanks, '#' at the start of a word begins a comment.
 * False after a usage error naming FILE:LINE.
 */
static bool
parse_script(
    const struct cli *c, const char *file, char *text, struct oplist *l)
{
	char *line = text, *next, *save, *w[4];
	unsigned long lineno = 0;
	int nw, k;

	for (; line != NULL; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		nw = 0;
		save = NULL;
		for (char *t = strtok_r(line, " \t\r\v\f", &save);
		     t != NULL && t[0] != '#';
		     t = strtok_r(NULL, " \t\r\v\f", &save)) {
			if (nw == 4) {
				nw++;
				break;
			}
			w[nw++] = t;
		}
		if (nw == 0)
			continue;
		k = lookup_op(w[0]);
		if (k < 0) {
			(void)cli_usage_error(c,
			    "%s:%lu: unknown operation '%s'", file, lineno,
			    w[0]);
			return false;
		}
		if (nw - 1 != txops[k].nargs) {
			(void)cli_usage_error(c, "%s:%lu: '%s' takes %s", file,
			    lineno, txops[k].name, txops[k].args);
			return false;
		}
		if (oplist_add(l, (enum txop)k, w[1],
			txops[k].nargs == 2 ? w[2] : NULL) < 0) {
			(void)cli_usage_error(c, "out of memory");
			return false;
		}
	}
	return true;
}

/*
 * Report a failed operation: "atomicfile: txn 'PATH': OP: STEP: REASON",
 * where STEP is the library's (or the tool's own) when there is one.
 * Returns EXIT_FAIL.
 */
static int
op_fail(struct cli *c, const struct op *o, const char *path, const char *step,
    int code)
{
	char what[256];
	const char *reason = afile_strerror(code);
	char hinted[256];

	if (step == NULL)
		step = c->err.step;
	if (step != NULL && *step != '\0')
		(void)snprintf(
		    what, sizeof(what), "%s: %s", txops[o->op].name, step);
	else
		(void)snprintf(what, sizeof(what), "%s", txops[o->op].name);
	/* The library refuses paths leading out of the root with these. */
	if ((code == -EINVAL || code == -EXDEV) && path != o->b) {
		(void)snprintf(hinted, sizeof(hinted),
		    "%s (paths must be relative and stay beneath ROOT)",
		    reason);
		reason = hinted;
	}
	(void)cli_fail_msg(c, path, what, reason);
	c->err.step = NULL;
	c->err.path[0] = '\0';
	return EXIT_FAIL;
}

/*
 * Stream SRC into a writer staged at DEST.  Returns 0, -EINTR when a
 * caught signal arrived, or the exit status of a reported failure.
 */
static int
stage_put(struct cli *c, struct afile_txn *txn, const struct op *o,
    unsigned char *buf)
{
	struct afile_writer *w = NULL;
	ssize_t n;
	int fd, r;

	fd = cli_open_input(o->b);
	if (fd == -EINTR)
		return -EINTR;
	if (fd < 0)
		return op_fail(c, o, o->b, "open source", fd);
	r = afile_txn_writer(txn, o->a, c->flags, &w);
	if (r < 0) {
		(void)close(fd);
		return op_fail(c, o, o->a, NULL, r);
	}
	for (;;) {
		n = cli_read(fd, buf, CHUNK_SIZE);
		if (n == -EINTR) {
			r = -EINTR;
			goto out;
		}
		if (n < 0) {
			r = op_fail(c, o, o->b, "read source", (int)n);
			goto out;
		}
		if (n == 0)
			break;
		r = afile_writer_write(w, buf, (size_t)n);
		if (r < 0) {
			r = op_fail(c, o, o->a, NULL, r);
			goto out;
		}
	}
	/* For a transaction's writer, the commit stages; it publishes not. */
	r = afile_writer_commit(w);
	if (r < 0)
		r = op_fail(c, o, o->a, NULL, r);
out:
	afile_writer_free(w);
	(void)close(fd);
	return r;
}

/* Read all of SRC into memory and stage it as a create of DEST. */
static int
stage_create(struct cli *c, struct afile_txn *txn, const struct op *o)
{
	unsigned char *data = NULL, *ndata;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, r = 0;

	fd = cli_open_input(o->b);
	if (fd == -EINTR)
		return -EINTR;
	if (fd < 0)
		return op_fail(c, o, o->b, "open source", fd);
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			ndata = cap > len ? realloc(data, cap) : NULL;
			if (ndata == NULL) {
				r = op_fail(c, o, o->b, "read source", -ENOMEM);
				goto out;
			}
			data = ndata;
		}
		n = cli_read(fd, data + len, cap - len);
		if (n == -EINTR) {
			r = -EINTR;
			goto out;
		}
		if (n < 0) {
			r = op_fail(c, o, o->b, "read source", (int)n);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = afile_txn_create(txn, o->a, data, len, c->flags);
	if (r < 0)
		r = op_fail(c, o, o->a, NULL, r);
out:
	free(data);
	(void)close(fd);
	return r;
}

/*
 * The operation a commit failure is about: the library names the path
 * its failing step acted on, relative to the root.  NULL when it names
 * none of them (a directory sync, the journal).
 */
static const struct op *
failed_op(const struct cli *c, const struct oplist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(c->err.path, l->v[i].a) == 0 ||
		    (l->v[i].op == TX_MV &&
			strcmp(c->err.path, l->v[i].b) == 0))
			return &l->v[i];
	return NULL;
}

/* Begin, stage every operation, commit; returns the exit status. */
static int
run_txn(struct cli *c, const char *root, const struct oplist *l)
{
	struct afile_txn *txn = NULL;
	const struct op *o;
	unsigned char *buf;
	size_t i;
	int r = 0;

	buf = malloc(CHUNK_SIZE);
	if (buf == NULL)
		return cli_fail_msg(c, root, NULL, afile_strerror(-ENOMEM));
	r = afile_txn_begin(AT_FDCWD, root, 0, &c->opts, &txn);
	if (r == -ETIMEDOUT || r == -EAGAIN) {
		free(buf);
		return cli_fail_locked(c, root);
	}
	if (r < 0) {
		free(buf);
		return cli_fail(c, root, r);
	}
	cli_signals_catch(true);
	for (i = 0; i < l->n && r == 0; i++) {
		o = &l->v[i];
		switch (o->op) {
		case TX_PUT:
			r = stage_put(c, txn, o, buf);
			break;
		case TX_CREATE:
			r = stage_create(c, txn, o);
			break;
		case TX_RM:
			r = afile_txn_remove(txn, o->a, 0);
			if (r < 0)
				r = op_fail(c, o, o->a, NULL, r);
			break;
		case TX_MV:
			r = afile_txn_rename(txn, o->a, o->b, 0);
			if (r < 0)
				r = op_fail(c, o, o->a, NULL, r);
			break;
		}
	}
	free(buf);
	if (r == -EINTR || cli_signals_check()) {
		afile_txn_free(txn);
		cli_signals_reraise();
	}
	if (r != 0) {
		afile_txn_free(txn);
		return r;
	}
	r = afile_txn_commit(txn);
	afile_txn_free(txn);
	if (r == 0)
		return EXIT_OK;
	o = failed_op(c, l);
	if (r == -EEXIST && o != NULL && o->op == TX_CREATE) {
		/* As for create: "File exists" says it all. */
		(void)cli_fail_msg(c, o->a, "create", afile_strerror(r));
		return EXIT_EXISTS;
	}
	if (o != NULL && r != AFILE_EJOURNAL)
		return op_fail(c, o, c->err.path, NULL, r);
	return cli_fail(c, root, r);
}

int
cmd_txn(int argc, char **argv)
{
	struct cli c;
	struct oplist l = {0};
	const char *root = ".", *script = NULL;
	char *text = NULL;
	int opt, r, status;

	cli_init(&c, "txn", argv);
	/* "+": the first OP ends the options; SRC may start with '-'. */
	while ((opt = getopt_long(argc, argv, "+C:qh", txn_longopts, NULL)) !=
	    -1) {
		switch (cli_common_option(&c, opt, optarg)) {
		case CLI_OPT_DONE:
			continue;
		case CLI_OPT_VERSION:
			return EXIT_OK;
		case CLI_OPT_HELP:
			txn_usage();
			return EXIT_OK;
		case CLI_OPT_USAGE:
			return EXIT_USAGE;
		case CLI_OPT_UNKNOWN:
			break;
		}
		switch (opt) {
		case 'C':
			root = optarg;
			break;
		case OPT_SCRIPT:
			script = optarg;
			break;
		default:
			return cli_usage_error(&c, NULL);
		}
	}
	/* --timeout bounds the wait for the root's transaction lock. */
	if (c.timeout_ms >= 0)
		c.opts.lock_wait_ms =
		    c.timeout_ms == 0 ? AFILE_LOCK_TRY : c.timeout_ms;
	if (script != NULL && optind < argc)
		return cli_usage_error(
		    &c, "--script and operations cannot be combined");
	if (script == NULL && optind >= argc)
		return cli_usage_error(&c, "missing OP");
	if (script != NULL) {
		r = read_script(script, &text);
		if (r < 0)
			return cli_finish(&c,
			    cli_fail_msg(
				&c, script, "read script", afile_strerror(r)));
		if (!parse_script(&c, script, text, &l)) {
			free(text);
			free(l.v);
			return EXIT_USAGE;
		}
		if (l.n == 0) {
			free(text);
			free(l.v);
			return cli_usage_error(&c, "%s: no operations", script);
		}
	} else if (!parse_args(&c, argc - optind, argv + optind, &l)) {
		free(l.v);
		return EXIT_USAGE;
	}
	status = run_txn(&c, root, &l);
	free(text);
	free(l.v);
	return cli_finish(&c, status);
}

/* Replay and fold in FILE's redo log (atomicfile patch --in-place). */
static int
recover_file(struct cli *c, const char *file)
{
	int r = afile_patch_recover(AT_FDCWD, file, 0, &c->opts);

	if (r < 0)
		return cli_fail(c, file, r);
	if (!c->quiet)
		(void)printf(r ? "%s: replayed an interrupted in-place patch\n"
			       : "%s: nothing to do\n",
		    file);
	return EXIT_OK;
}

/* Recover one ROOT and say what was done; returns the exit status. */
static int
recover_root(struct cli *c, const char *root)
{
	struct afile_recover_report rep;
	struct stat st;
	int r;

	if (stat(root, &st) == 0 && S_ISREG(st.st_mode))
		return recover_file(c, root);
	memset(&rep, 0, sizeof(rep));
	rep.size = sizeof(rep);
	r = afile_recover(AT_FDCWD, root, 0, &rep);
	if (r == AFILE_ECORRUPT ||
	    (r == 0 && rep.action == AFILE_RECOVER_CORRUPT))
		return cli_fail_msg(c, root, NULL,
		    "damaged journal (.atomicfile/journal): nothing was "
		    "changed and every staged file was kept for salvage");
	if (r < 0) {
		(void)cli_fail_msg(c, root, NULL, afile_strerror(r));
		return EXIT_FAIL;
	}
	if (c->quiet)
		return EXIT_OK;
	switch (rep.action) {
	case AFILE_RECOVER_REDONE:
		(void)printf("%s: finished transaction %016" PRIx64 " (%" PRIu64
			     " operations)\n",
		    root, rep.txn_id, rep.records);
		break;
	case AFILE_RECOVER_ROLLED_BACK:
		if (rep.txn_id != 0)
			(void)printf("%s: rolled back transaction %016" PRIx64
				     " (%" PRIu64 " temps removed)\n",
			    root, rep.txn_id, rep.temps_removed);
		else
			/* Interrupted while staging: it had no journal. */
			(void)printf("%s: rolled back an unfinished "
				     "transaction (%" PRIu64
				     " temps removed)\n",
			    root, rep.temps_removed);
		break;
	default:
		(void)printf("%s: nothing to do\n", root);
		break;
	}
	return EXIT_OK;
}

int
cmd_recover(int argc, char **argv)
{
	struct cli c;
	int opt, i, status = EXIT_OK;

	cli_init(&c, "recover", argv);
	while ((opt = getopt_long(argc, argv, "qh", recover_longopts, NULL)) !=
	    -1) {
		switch (cli_common_option(&c, opt, optarg)) {
		case CLI_OPT_DONE:
			continue;
		case CLI_OPT_VERSION:
			return EXIT_OK;
		case CLI_OPT_HELP:
			recover_usage();
			return EXIT_OK;
		case CLI_OPT_USAGE:
			return EXIT_USAGE;
		case CLI_OPT_UNKNOWN:
			return cli_usage_error(&c, NULL);
		}
	}
	if (optind >= argc)
		status = recover_root(&c, ".");
	for (i = optind; i < argc; i++)
		if (recover_root(&c, argv[i]) != EXIT_OK)
			status = EXIT_FAIL;
	(void)fflush(stdout);
	return cli_finish(&c, status);
}
