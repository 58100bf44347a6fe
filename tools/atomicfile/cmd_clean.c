/* SPDX-License-Identifier: MIT */
/*
 * cmd_clean.c - the subcommands about leftovers: clean removes abandoned
 * temporary files, verify reports everything an interruption can leave.
 *
 * clean is afile_cleanup() per directory, with one line per temp found.
 * A temp's writer holds an OFD lock on it for its whole life, so the
 * library tells a live writer's temp from an abandoned one by its lock,
 * not by its age; --older-than adds an age for file systems whose locks
 * cannot be trusted (NFS).
 *
 * verify changes nothing.  It looks at what the library's recovery and
 * cleanup would act on: ROOT/.atomicfile/journal (a transaction
 * interrupted after its commit point, or a damaged journal: telling
 * them apart needs the journal parser, which is the library's, so both
 * are "run recover"), ROOT/.atomicfile/intent (a transaction interrupted
 * while staging), and temps anywhere beneath ROOT.  It asks the kernel,
 * with F_OFD_GETLK, whether their owners are alive: the files of a live
 * writer or a running transaction are not leftovers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"

/* The names the library gives its files (see atomicfile.h). */
#define TMP_SUFFIX  ".afile-tmp"
#define REDO_SUFFIX ".afile-redo"
#define TXN_SUFFIX  ".afile-txn"
#define ADIR        ".atomicfile"
#define TXN_SIDECAR ".txn.afile-lock"
/* Random characters in a temp's name: ".NAME.XXXXXXXXXXXX.afile-tmp". */
#define RANDOM_LEN  12

static const struct option clean_longopts[] = {
    {"older-than", required_argument, NULL, OPT_OLDER_THAN},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    CLI_LOPT_STATS,
    CLI_LOPT_QUIET,
    CLI_LOPT_HELP,
    CLI_LOPT_END,
};

static const struct option verify_longopts[] = {
    CLI_LOPT_QUIET,
    CLI_LOPT_HELP,
    CLI_LOPT_END,
};

static void
clean_usage(void)
{
	(void)fputs("Usage: atomicfile clean [OPTIONS] DIR...\n"
		    "Remove the abandoned temporary files (.*.afile-tmp) "
		    "in each DIR (not\n"
		    "recursive). A temp whose writer is alive is never "
		    "removed: its writer\n"
		    "holds a lock on it. One line per temp found:\n"
		    "  removed DIR/NAME\n"
		    "  kept DIR/NAME (writer alive)\n"
		    "  kept DIR/NAME (younger than DURATION)\n"
		    "  failed DIR/NAME: REASON\n"
		    "\n"
		    "Options:\n"
		    "      --older-than=DURATION  also keep temps modified "
		    "less than DURATION ago\n"
		    "                             (90, 90s, 15m, 2h, 7d; for "
		    "NFS, whose locks can\n"
		    "                             be lost)\n"
		    "      --dry-run              remove nothing; say 'would "
		    "remove'\n" CLI_HELP_STATS
		    "  -q, --quiet                print nothing\n" CLI_HELP_HELP
		    "\n"
		    "Exit status: 0 when every DIR was swept, whatever it "
		    "removed; 1 if a DIR\n"
		    "could not be; 2 for a usage error.\n",
	    stdout);
}

static void
verify_usage(void)
{
	(void)fputs("Usage: atomicfile verify [OPTIONS] [ROOT...]\n"
		    "Report, changing nothing, what an interruption left "
		    "in each ROOT (default:\n"
		    "the current directory): a hot journal or interrupted "
		    "staging of a\n"
		    "transaction, and abandoned temporary files anywhere "
		    "beneath ROOT.\n"
		    "\n"
		    "Options:\n"
		    "  -q, --quiet                print nothing; the exit "
		    "status tells\n" CLI_HELP_HELP "\n"
		    "Exit status: 0 when nothing was found, 1 when something "
		    "was (or a ROOT\n"
		    "could not be examined), 2 for a usage error.\n",
	    stdout);
}

/* What the report callback of one clean run needs. */
struct clean_run {
	const struct cli *c;
	const char *dir;
	const char *older_than; /* as the user typed it, or NULL */
	bool dry_run;
};

/* One line about one temp, as afile_cleanup() found it. */
static void
on_temp(const char *name, int what, void *ctx)
{
	const struct clean_run *cr = ctx;
	size_t dlen = strlen(cr->dir);
	const char *sep = dlen > 0 && cr->dir[dlen - 1] == '/' ? "" : "/";

	if (cr->c->quiet)
		return;
	switch (what) {
	case AFILE_CLEAN_REMOVED:
		(void)printf("%s %s%s%s\n",
		    cr->dry_run ? "would remove" : "removed", cr->dir, sep,
		    name);
		break;
	case AFILE_CLEAN_LIVE:
		(void)printf(
		    "kept %s%s%s (writer alive)\n", cr->dir, sep, name);
		break;
	case AFILE_CLEAN_YOUNG:
		(void)printf("kept %s%s%s (younger than %s)\n", cr->dir, sep,
		    name, cr->older_than != NULL ? cr->older_than : "0");
		break;
	default:
		(void)printf("failed %s%s%s: %s\n", cr->dir, sep, name,
		    afile_strerror(what));
		break;
	}
}

int
cmd_clean(int argc, char **argv)
{
	struct cli c;
	struct clean_run cr;
	struct afile_cleanup_report rep;
	uint64_t min_age = 0;
	int opt, r, i, status = EXIT_OK;

	cli_init(&c, "clean", argv);
	memset(&cr, 0, sizeof(cr));
	cr.c = &c;
	while (
	    (opt = getopt_long(argc, argv, "qh", clean_longopts, NULL)) != -1) {
		switch (cli_common_option(&c, opt, optarg)) {
		case CLI_OPT_DONE:
			continue;
		case CLI_OPT_VERSION:
			return EXIT_OK;
		case CLI_OPT_HELP:
			clean_usage();
			return EXIT_OK;
		case CLI_OPT_USAGE:
			return EXIT_USAGE;
		case CLI_OPT_UNKNOWN:
			break;
		}
		switch (opt) {
		case OPT_OLDER_THAN:
			if (cli_parse_duration(optarg, &min_age) < 0)
				return cli_usage_error(&c,
				    "invalid --older-than '%s' (90, 90s, "
				    "15m, 2h or 7d)",
				    optarg);
			cr.older_than = optarg;
			break;
		case OPT_DRY_RUN:
			cr.dry_run = true;
			break;
		default:
			return cli_usage_error(&c, NULL);
		}
	}
	if (optind >= argc)
		return cli_usage_error(&c, "missing DIR operand");
	for (i = optind; i < argc; i++) {
		memset(&rep, 0, sizeof(rep));
		rep.size = sizeof(rep);
		rep.each = on_temp;
		rep.ctx = &cr;
		cr.dir = argv[i];
		r = afile_cleanup(AT_FDCWD, argv[i], min_age,
		    cr.dry_run ? AFILE_CLEAN_DRY_RUN : 0, &rep);
		/* The lines go out before a later directory's message. */
		(void)fflush(stdout);
		if (r < 0)
			status =
			    cli_fail_msg(&c, argv[i], NULL, afile_strerror(r));
	}
	return cli_finish(&c, status);
}

/*
 * Is some process holding a lock on PATH (a temp's writer, a transaction
 * on its sidecar)?  Asked with F_OFD_GETLK, which takes no lock: verify
 * must not disturb a writer, not even for a moment.  False when PATH
 * cannot be opened (then nobody holds it either).
 */
static bool
held(int dirfd, const char *path)
{
	struct flock fl;
	int fd, r;

	fd = openat(dirfd, path,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return false;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	r = fcntl(fd, F_OFD_GETLK, &fl);
	(void)close(fd);
	return r == 0 && fl.l_type != F_UNLCK;
}

/* Is NAME ".X.<12 characters>SUFFIX", the shape of the library's temps? */
static bool
temp_name(const char *name, const char *suffix)
{
	size_t len = strlen(name), slen = strlen(suffix);

	return name[0] == '.' && len >= 2 + 1 + RANDOM_LEN + slen &&
	    strcmp(name + len - slen, suffix) == 0 &&
	    name[len - slen - RANDOM_LEN - 1] == '.';
}

/* State of one verify walk; verify walks one ROOT at a time. */
static struct {
	const struct cli *c;
	bool txn_live; /* a transaction holds the root: its files are its */
	bool findings; /* something was reported */
	bool failed;   /* some directory could not be read */
} walk;

static void
finding(const char *path, const char *what)
{
	walk.findings = true;
	if (!walk.c->quiet)
		(void)printf("%s: %s\n", path, what);
}

/* Does the file of redo log @path (named @name: ".F.afile-redo") exist? */
static bool
redo_owner_exists(const char *path, const char *name)
{
	size_t dlen = strlen(path) - strlen(name);
	size_t flen = strlen(name) - 1 - strlen(REDO_SUFFIX);
	char *file = malloc(dlen + flen + 1);
	struct stat st;
	bool there;

	if (file == NULL)
		return true; /* no finding rather than a false one */
	memcpy(file, path, dlen);
	memcpy(file + dlen, name + 1, flen);
	file[dlen + flen] = '\0';
	there = lstat(file, &st) == 0 || errno != ENOENT;
	free(file);
	return there;
}

/* A file that is neither a directory nor a symlink. */
static void
visit_file(const char *path, const char *name, const struct stat *st)
{
	if (temp_name(name, TMP_SUFFIX) && !held(AT_FDCWD, path))
		finding(
		    path, "abandoned temporary file (run 'atomicfile clean')");
	else if (temp_name(name, TXN_SUFFIX) && !walk.txn_live)
		finding(path, "staged file of an unfinished transaction");
	else if (name[0] == '.' && st->st_size > 0 &&
	    strlen(name) > sizeof(REDO_SUFFIX) &&
	    strcmp(name + strlen(name) - strlen(REDO_SUFFIX), REDO_SUFFIX) ==
		0 &&
	    !redo_owner_exists(path, name))
		/*
		 * A redo log holds in-place patches until its file folds
		 * them in: part of the file's state, not a leftover, while
		 * the file is there.
		 */
		finding(path,
		    "redo log of in-place patches of a file that no longer "
		    "exists (safe to remove)");
}

/* "DIR/NAME" in a new buffer, or NULL (errno ENOMEM). */
static char *
join(const char *dir, const char *name)
{
	size_t dlen = strlen(dir), nlen = strlen(name);
	size_t slash = dlen > 0 && dir[dlen - 1] != '/' ? 1 : 0;
	char *p = malloc(dlen + slash + nlen + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, dir, dlen);
	if (slash)
		p[dlen] = '/';
	memcpy(p + dlen + slash, name, nlen + 1);
	return p;
}

static void
free_names(char **names, size_t n)
{
	while (n > 0)
		free(names[--n]);
	free(names);
}

/*
 * The names in directory stream D, in the order readdir() gives them,
 * without "." and "..".  The whole directory is read before any of its
 * subdirectories is walked, so that the walk keeps no descriptor open per
 * level.  Returns 0, or -1 with errno set.
 */
static int
read_names(DIR *d, char ***ret_names, size_t *ret_n)
{
	char **names = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *de;

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			grown = realloc(names, cap * sizeof(*names));
			if (grown == NULL)
				goto fail;
			names = grown;
		}
		names[n] = strdup(de->d_name);
		if (names[n] == NULL)
			goto fail;
		n++;
	}
	if (errno != 0)
		goto fail;
	*ret_names = names;
	*ret_n = n;
	return 0;
fail:
	if (errno == 0)
		errno = ENOMEM;
	free_names(names, n);
	return -1;
}

/*
 * Visit PATH (NAME is its last component) and, if it is a directory,
 * everything beneath it, depth first, parents before their entries,
 * symlinks not followed (what nftw(FTW_PHYS) does; written out because
 * musl has no FTW_ACTIONRETVAL to skip a subtree).  A directory that
 * cannot be read or an entry that cannot be examined is reported and the
 * walk goes on.  Returns 0, or -1 with errno set when the walk had to
 * stop (out of memory, a failed readdir).
 */
static int
walk_tree(const char *path, const char *name)
{
	struct stat st;
	char **names = NULL;
	size_t i, n = 0;
	char *child;
	DIR *d;
	int r = 0;

	if (lstat(path, &st) < 0) {
		walk.failed = true;
		(void)cli_fail_msg(
		    walk.c, path, "read metadata", "cannot be examined");
		return 0;
	}
	if (S_ISLNK(st.st_mode))
		return 0;
	if (!S_ISDIR(st.st_mode)) {
		visit_file(path, name, &st);
		return 0;
	}
	d = opendir(path);
	if (d == NULL) {
		walk.failed = true;
		(void)cli_fail_msg(
		    walk.c, path, "read directory", afile_strerror(-EACCES));
		return 0;
	}
	/* The library's own directory holds no user files. */
	if (strcmp(name, ADIR) == 0) {
		(void)closedir(d);
		return 0;
	}
	r = read_names(d, &names, &n);
	(void)closedir(d);
	for (i = 0; r == 0 && i < n; i++) {
		child = join(path, names[i]);
		if (child == NULL) {
			r = -1;
			break;
		}
		r = walk_tree(child, names[i]);
		free(child);
	}
	free_names(names, n);
	return r;
}

/*
 * Walk ROOT as nftw() did: trailing slashes are dropped, and the name of
 * the root is its last component.
 */
static int
walk_root(const char *root)
{
	size_t len = strlen(root);
	const char *name;
	char *path;
	int r, e;

	while (len > 1 && root[len - 1] == '/')
		len--;
	path = malloc(len + 1);
	if (path == NULL) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(path, root, len);
	path[len] = '\0';
	name = strrchr(path, '/');
	name = name != NULL && name[1] != '\0' ? name + 1 : path;
	r = walk_tree(path, name);
	e = errno;
	free(path);
	errno = e;
	return r;
}

/* Verify one ROOT; returns true when nothing was found. */
static bool
verify_root(const struct cli *c, const char *root)
{
	struct stat st;
	int rfd;

	rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) {
		(void)cli_fail_msg(
		    c, root, "open directory", afile_strerror(-errno));
		return false;
	}
	memset(&walk, 0, sizeof(walk));
	walk.c = c;
	walk.txn_live = held(rfd, ADIR "/" TXN_SIDECAR);
	if (fstatat(rfd, ADIR "/journal", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (walk.txn_live && !c->quiet)
			(void)printf("%s: transaction in progress\n", root);
		else if (!walk.txn_live)
			finding(root, "hot journal (run 'atomicfile recover')");
	} else if (fstatat(rfd, ADIR "/intent", &st, AT_SYMLINK_NOFOLLOW) ==
	    0) {
		if (walk.txn_live && !c->quiet)
			(void)printf("%s: transaction in progress\n", root);
		else if (!walk.txn_live)
			finding(root,
			    "interrupted staging (run 'atomicfile recover')");
	}
	(void)close(rfd);
	if (walk_root(root) < 0 && !walk.failed) {
		walk.failed = true;
		(void)cli_fail_msg(
		    c, root, "walk directory", afile_strerror(-errno));
	}
	if (!walk.findings && !walk.failed && !c->quiet)
		(void)printf("%s: nothing found\n", root);
	(void)fflush(stdout);
	return !walk.findings && !walk.failed;
}

int
cmd_verify(int argc, char **argv)
{
	struct cli c;
	char dot[] = ".";
	char *defaults[] = {dot};
	char **roots;
	int opt, i, n, status = EXIT_OK;

	cli_init(&c, "verify", argv);
	while ((opt = getopt_long(argc, argv, "qh", verify_longopts, NULL)) !=
	    -1) {
		switch (cli_common_option(&c, opt, optarg)) {
		case CLI_OPT_DONE:
			continue;
		case CLI_OPT_VERSION:
			return EXIT_OK;
		case CLI_OPT_HELP:
			verify_usage();
			return EXIT_OK;
		case CLI_OPT_USAGE:
			return EXIT_USAGE;
		case CLI_OPT_UNKNOWN:
			return cli_usage_error(&c, NULL);
		}
	}
	roots = optind < argc ? argv + optind : defaults;
	n = optind < argc ? argc - optind : 1;
	for (i = 0; i < n; i++)
		if (!verify_root(&c, roots[i]))
			status = EXIT_FAIL;
	return status;
}
