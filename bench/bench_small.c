/* SPDX-License-Identifier: MIT */
/*
 * bench_small.c - latency of a small durable replace: afile_write() with
 * AFILE_SYNC_FULL against the minimal hand-written protocol.
 *
 * The minimal protocol is the least a program can do to replace a file
 * durably: open a temporary name with O_CREAT|O_EXCL, write, fsync,
 * close, rename over the target, open the directory, fsync it, close.
 * DESIGN.md section 7 asks afile_write() to stay within 1.1x of its median
 * latency and to use no more syncs.
 *
 * Both variants run in the same directory, each replacing its own target
 * file, and are interleaved call by call (AB BA AB BA ...) so that noise
 * from the machine (journal commits, other tenants, CPU frequency) falls
 * on both alike and neither always runs right after the other.  The first
 * calls of each variant create the targets and warm the caches; they are
 * not measured, so every measured call is a replace.
 *
 * With --populate=N the directory first gets N other (empty) files, so
 * that work the library does per directory entry shows up; a real
 * configuration directory or spool is rarely empty.
 *
 * The measured loop is bracketed by two access(2) calls on marker names
 * ("afile-bench-mark-begin", "afile-bench-mark-end") so that run.sh can
 * count, in an strace log, only the system calls of the measured
 * operations and not those of start-up and set-up.
 *
 * Nothing here asserts a time: the program reports, run.sh compares.
 */
#include <atomicfile.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/vfs.h>
#endif

#define BENCH_TMPFS_MAGIC 0x01021994L

#define TARGET_AFILE   "target-afile"
#define TARGET_MINIMAL "target-minimal"
#define TEMP_MINIMAL   ".target-minimal.tmp"
#define MARK_BEGIN     "afile-bench-mark-begin"
#define MARK_END       "afile-bench-mark-end"

enum variant {
	VAR_AFILE = 1,
	VAR_MINIMAL = 2,
	VAR_BOTH = VAR_AFILE | VAR_MINIMAL,
};

struct config {
	unsigned long iterations;
	unsigned long warmup;
	unsigned long populate;
	size_t size;
	int only;
	const char *dir;
	const char *kv_path;
	FILE *kv; /* opened before chdir(), so a relative name works */
};

struct summary {
	double p50_us;
	double p90_us;
	double p99_us;
	double mean_us;
	double min_us;
	double max_us;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The minimal durable replace, written as a careful program would without
 * a library: every step checked, the temporary removed on failure.  The
 * directory is opened per call, as afile_write() must do, so that both
 * variants pay for the same work.
 */
/* --nosync: W2, the non-durable replace (no syncs on either side). */
static bool nosync;

static int
replace_minimal(const unsigned char *buf, size_t len)
{
	int fd, dfd, r;

	fd = open(TEMP_MINIMAL, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = write_all(fd, buf, len);
	if (r == 0 && !nosync && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(TEMP_MINIMAL, TARGET_MINIMAL) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(TEMP_MINIMAL);
		return r;
	}
	if (nosync)
		return 0;
	dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd) < 0)
		r = -errno;
	if (close(dfd) < 0 && r == 0)
		r = -errno;
	return r;
}

/*
 * --floor (W2 only): the afile side becomes the system calls that
 * afile_write()'s guarantees need, written by hand in a bare loop: the
 * directory pinned (opened, closed), the target's mode and owner read
 * (fstatat) and its extended attributes listed (llistxattr, as the
 * library does, through /proc), an unnamed temp (O_TMPFILE: a kill
 * leaves nothing), its fstat (the library skips fchmod and fchown that
 * match) and OFD lock (a sweeper tells a live temp from a dead one),
 * linkat to a fresh name, rename over the target.  No checks, no
 * library: what any implementation of those guarantees pays, so that
 * floor/minimal is their price and afile/floor the library's own.
 */
static bool floor_side;

#define TARGET_FLOOR "target-floor"

static int
replace_floor(const unsigned char *buf, size_t len)
{
	static unsigned int seq;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char tmp[64], proc[64], list[1024];
	struct stat st;
	int dfd, fd, r;

	dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	(void)fstatat(dfd, TARGET_FLOOR, &st, AT_SYMLINK_NOFOLLOW);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/" TARGET_FLOOR, dfd);
	(void)llistxattr(proc, list, sizeof(list));
	fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	r = fd < 0 ? -errno : write_all(fd, buf, len);
	if (r == 0 && fstat(fd, &st) < 0)
		r = -errno;
	if (r == 0 && fcntl(fd, F_OFD_SETLK, &fl) < 0)
		r = -errno;
	snprintf(tmp, sizeof(tmp), "." TARGET_FLOOR ".%08x.tmp", seq++);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (r == 0 && linkat(AT_FDCWD, proc, dfd, tmp, AT_SYMLINK_FOLLOW) < 0)
		r = -errno;
	if (r == 0 && renameat(dfd, tmp, dfd, TARGET_FLOOR) < 0) {
		r = -errno;
		(void)unlinkat(dfd, tmp, 0);
	}
	if (fd >= 0)
		(void)close(fd);
	(void)close(dfd);
	return r;
}

/* --many=K: W3, K new files per call (0: W1/W2, one replace per call). */
static size_t many;
static struct afile_item *many_items;
static char (*many_names)[32];
static int many_dfd_a = -1;

#define MANY_AFILE   "many-afile"
#define MANY_MINIMAL "many-minimal"

/* W3's minimal side: the minimal protocol for K new names, one by one. */
static int
many_minimal(const unsigned char *buf, size_t len)
{
	char tmp[64], dst[64];
	int fd, dfd, r = 0;

	for (size_t k = 0; k < many && r == 0; k++) {
		snprintf(
		    tmp, sizeof(tmp), MANY_MINIMAL "/.%s.tmp", many_names[k]);
		snprintf(dst, sizeof(dst), MANY_MINIMAL "/%s", many_names[k]);
		fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		r = write_all(fd, buf, len);
		if (r == 0 && !nosync && fsync(fd) < 0)
			r = -errno;
		if (close(fd) < 0 && r == 0)
			r = -errno;
		if (r == 0 && rename(tmp, dst) < 0)
			r = -errno;
		if (r < 0 || nosync)
			continue;
		dfd = open(MANY_MINIMAL, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		if (fsync(dfd) < 0)
			r = -errno;
		if (close(dfd) < 0 && r == 0)
			r = -errno;
	}
	return r;
}

static int
many_afile(const unsigned char *buf, size_t len)
{
	static struct afile_opts o = AFILE_OPTS_INIT;

	for (size_t k = 0; k < many; k++) {
		many_items[k].buf = buf;
		many_items[k].len = len;
	}
	o.sync = nosync ? AFILE_SYNC_NONE : AFILE_SYNC_FULL;
	return afile_write_many(many_dfd_a, many_items, many, 0, &o);
}

/* Remove the files of the last call (unmeasured), so the next are new. */
static void
many_reset(void)
{
	char p[64];

	for (size_t k = 0; k < many; k++) {
		snprintf(p, sizeof(p), MANY_AFILE "/%s", many_names[k]);
		(void)unlink(p);
		snprintf(p, sizeof(p), MANY_MINIMAL "/%s", many_names[k]);
		(void)unlink(p);
	}
}

static int
many_setup(void)
{
	if ((mkdir(MANY_AFILE, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(MANY_MINIMAL, 0755) < 0 && errno != EEXIST))
		return -errno;
	many_dfd_a = open(MANY_AFILE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (many_dfd_a < 0)
		return -errno;
	many_items = calloc(many, sizeof(*many_items));
	many_names = calloc(many, sizeof(*many_names));
	if (!many_items || !many_names)
		return -ENOMEM;
	for (size_t k = 0; k < many; k++) {
		snprintf(many_names[k], sizeof(many_names[k]), "f%06zu", k);
		many_items[k].path = many_names[k];
	}
	return 0;
}

static void
many_teardown(void)
{
	if (!many_names)
		return;
	many_reset();
	(void)rmdir(MANY_AFILE);
	(void)rmdir(MANY_MINIMAL);
	if (many_dfd_a >= 0)
		(void)close(many_dfd_a);
	free(many_items);
	free(many_names);
}

static int
replace_afile(const unsigned char *buf, size_t len)
{
	static struct afile_opts o = AFILE_OPTS_INIT;

	o.sync = nosync ? AFILE_SYNC_NONE : AFILE_SYNC_FULL;
	return afile_write(AT_FDCWD, TARGET_AFILE, buf, len, 0, &o);
}

/* The afile side's name in the output: "afile", or "floor" (--floor). */
static const char *
a_name(void)
{
	return floor_side ? "floor" : "afile";
}

/*
 * Runs one replace of variant @v and stores its latency.  The first bytes
 * of the buffer carry a counter so that every version differs.
 */
static int
run_one(enum variant v, unsigned char *buf, size_t len, unsigned long seq,
    uint64_t *ret_ns)
{
	uint64_t t0, t1;
	int r;

	if (len >= sizeof(seq))
		memcpy(buf, &seq, sizeof(seq));
	if (many)
		many_reset();
	t0 = now_ns();
	if (many)
		r = v == VAR_AFILE ? many_afile(buf, len)
				   : many_minimal(buf, len);
	else if (v == VAR_AFILE)
		r = floor_side ? replace_floor(buf, len)
			       : replace_afile(buf, len);
	else
		r = replace_minimal(buf, len);
	t1 = now_ns();
	if (r < 0) {
		fprintf(stderr, "bench_small: %s replace failed: %s (%s)\n",
		    v == VAR_AFILE ? a_name() : "minimal", afile_strerror(r),
		    afile_err_name(r));
		return r;
	}
	if (ret_ns != NULL)
		*ret_ns = t1 - t0;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array, in microseconds. */
static double
percentile_us(const uint64_t *sorted, size_t n, double p)
{
	size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)sorted[rank - 1] / 1000.0;
}

static void
summarize(uint64_t *ns, size_t n, struct summary *s)
{
	double sum = 0;
	size_t i;

	qsort(ns, n, sizeof(*ns), cmp_u64);
	for (i = 0; i < n; i++)
		sum += (double)ns[i];
	s->p50_us = percentile_us(ns, n, 50);
	s->p90_us = percentile_us(ns, n, 90);
	s->p99_us = percentile_us(ns, n, 99);
	s->mean_us = sum / (double)n / 1000.0;
	s->min_us = (double)ns[0] / 1000.0;
	s->max_us = (double)ns[n - 1] / 1000.0;
}

static void
print_row(const char *name, const struct summary *s)
{
	printf("  %-8s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", name,
	    s->p50_us, s->p90_us, s->p99_us, s->mean_us, s->min_us, s->max_us);
}

static void
kv_summary(FILE *f, const char *name, const struct summary *s)
{
	fprintf(f, "small.%s.p50_us %.3f\n", name, s->p50_us);
	fprintf(f, "small.%s.p90_us %.3f\n", name, s->p90_us);
	fprintf(f, "small.%s.p99_us %.3f\n", name, s->p99_us);
	fprintf(f, "small.%s.mean_us %.3f\n", name, s->mean_us);
}

static void
usage(FILE *f)
{
	fputs(
	    "usage: bench_small [--iterations=N] [--warmup=N] [--size=BYTES]\n"
	    "                   [--only=afile|minimal] [--dir=DIR] "
	    "[--kv=FILE]\n"
	    "                   [--populate=N]\n"
	    "\n"
	    "Times N small durable replaces with afile_write() and N with\n"
	    "the minimal hand-written protocol, interleaved, and prints\n"
	    "p50/p90/p99 latencies and their ratios.  DIR defaults to a\n"
	    "fresh directory under the current one, removed at the end.\n"
	    "--populate=N first fills the directory with N empty files.\n"
	    "--nosync: both sides skip every sync (AFILE_SYNC_NONE; W2).\n"
	    "--many=K: W3, each call writes K new files: afile_write_many()\n"
	    "against K runs of the minimal protocol (new names; the files\n"
	    "are removed between calls, unmeasured).\n"
	    "--floor (with --nosync): the afile side becomes the system\n"
	    "calls of afile_write()'s guarantees written by hand "
	    "(\"floor\").\n",
	    f);
}

static int
parse_ulong(const char *s, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		return -EINVAL;
	*ret = v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
	    {"iterations", required_argument, NULL, 'n'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"size", required_argument, NULL, 's'},
	    {"only", required_argument, NULL, 'o'},
	    {"dir", required_argument, NULL, 'd'},
	    {"kv", required_argument, NULL, 'k'},
	    {"populate", required_argument, NULL, 'p'},
	    {"nosync", no_argument, NULL, 'N'},
	    {"many", required_argument, NULL, 'm'},
	    {"floor", no_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long v;
	int c;

	while ((c = getopt_long(
		    argc, argv, "n:w:s:o:d:k:p:Nm:Fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_ulong(optarg, &cfg->iterations) < 0 ||
			    cfg->iterations == 0)
				goto bad;
			break;
		case 'w':
			if (parse_ulong(optarg, &cfg->warmup) < 0)
				goto bad;
			break;
		case 's':
			if (parse_ulong(optarg, &v) < 0 || v == 0)
				goto bad;
			cfg->size = (size_t)v;
			break;
		case 'o':
			if (strcmp(optarg, "afile") == 0)
				cfg->only = VAR_AFILE;
			else if (strcmp(optarg, "minimal") == 0)
				cfg->only = VAR_MINIMAL;
			else
				goto bad;
			break;
		case 'd':
			cfg->dir = optarg;
			break;
		case 'k':
			cfg->kv_path = optarg;
			break;
		case 'p':
			if (parse_ulong(optarg, &cfg->populate) < 0)
				goto bad;
			break;
		case 'N':
			nosync = true;
			break;
		case 'm':
			if (parse_ulong(optarg, &v) < 0 || v == 0)
				goto bad;
			many = (size_t)v;
			break;
		case 'F':
			floor_side = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			goto bad;
		}
	}
	if (optind != argc || (floor_side && (!nosync || many)))
		goto bad;
	return 0;
bad:
	usage(stderr);
	return -EINVAL;
}

/* Warns when the directory is on tmpfs, where fsync costs nothing. */
static void
check_fs(void)
{
#ifdef __linux__
	struct statfs sfs;

	if (statfs(".", &sfs) == 0 && (long)sfs.f_type == BENCH_TMPFS_MAGIC)
		fprintf(stderr,
		    "bench_small: WARNING: the directory is on "
		    "tmpfs; syncs are free there and the numbers "
		    "say nothing about a disk\n");
#endif
}

static int
measure(const struct config *cfg, uint64_t *lat_a, uint64_t *lat_m,
    uint64_t *ret_lib_syncs, uint64_t *ret_lib_dir_syncs)
{
	struct afile_stats st0 = {.size = sizeof(st0)};
	struct afile_stats st1 = {.size = sizeof(st1)};
	unsigned char *buf;
	unsigned long i;
	int r = 0;

	buf = malloc(cfg->size);
	if (buf == NULL)
		return -ENOMEM;
	memset(buf, 'x', cfg->size);

	/* Warm-up: creates both targets, so every measured call replaces. */
	for (i = 0; i < cfg->warmup + 1 && r == 0; i++) {
		if (cfg->only & VAR_AFILE)
			r = run_one(VAR_AFILE, buf, cfg->size, i, NULL);
		if (r == 0 && (cfg->only & VAR_MINIMAL))
			r = run_one(VAR_MINIMAL, buf, cfg->size, i, NULL);
	}

	if (r == 0)
		r = afile_stats_get(&st0);
	(void)access(MARK_BEGIN, F_OK);
	for (i = 0; i < cfg->iterations && r == 0; i++) {
		/* Alternate the order inside each pair: AB, BA, AB, ... */
		int a_first = (i & 1) == 0;

		if (a_first && (cfg->only & VAR_AFILE))
			r = run_one(VAR_AFILE, buf, cfg->size, i, &lat_a[i]);
		if (r == 0 && (cfg->only & VAR_MINIMAL))
			r = run_one(VAR_MINIMAL, buf, cfg->size, i, &lat_m[i]);
		if (r == 0 && !a_first && (cfg->only & VAR_AFILE))
			r = run_one(VAR_AFILE, buf, cfg->size, i, &lat_a[i]);
	}
	(void)access(MARK_END, F_OK);
	if (r == 0)
		r = afile_stats_get(&st1);
	if (r < 0)
		fprintf(stderr, "bench_small: %s\n", afile_strerror(r));
	*ret_lib_syncs = st1.syncs - st0.syncs;
	*ret_lib_dir_syncs = st1.dir_syncs - st0.dir_syncs;
	free(buf);
	return r;
}

static void
report(const struct config *cfg, uint64_t *lat_a, uint64_t *lat_m,
    uint64_t lib_syncs, uint64_t lib_dir_syncs)
{
	struct summary sa = {0}, sm = {0};
	FILE *kv = cfg->kv;
	double n = (double)cfg->iterations;

	if (many)
		printf("W3: %zu new files of %zu bytes per call "
		       "(afile_write_many vs the minimal protocol each), ",
		    many, cfg->size);
	else
		printf("small %s replace: %zu bytes, ",
		    nosync ? "non-durable" : "durable", cfg->size);
	printf("%lu measured calls per variant, %lu warm-up, %lu other "
	       "files in the directory\n",
	    cfg->iterations, cfg->warmup + 1, cfg->populate);
	printf("  latency in microseconds (CLOCK_MONOTONIC per call)\n");
	printf("  %-8s %10s %10s %10s %10s %10s %10s\n", "variant", "p50",
	    "p90", "p99", "mean", "min", "max");
	if (cfg->only & VAR_AFILE) {
		summarize(lat_a, cfg->iterations, &sa);
		print_row(a_name(), &sa);
	}
	if (cfg->only & VAR_MINIMAL) {
		summarize(lat_m, cfg->iterations, &sm);
		print_row("minimal", &sm);
	}
	if (cfg->only == VAR_BOTH) {
		printf("  ratio %s/minimal: p50 %.3f, p90 %.3f, p99 %.3f\n",
		    a_name(), sa.p50_us / sm.p50_us, sa.p90_us / sm.p90_us,
		    sa.p99_us / sm.p99_us);
	}
	if ((cfg->only & VAR_AFILE) && !floor_side)
		printf("  library counters per afile call: %.2f file syncs, "
		       "%.2f directory syncs\n",
		    (double)lib_syncs / n, (double)lib_dir_syncs / n);

	if (kv == NULL)
		return;
	fprintf(kv, "small.size %zu\n", cfg->size);
	fprintf(kv, "small.iterations %lu\n", cfg->iterations);
	if (cfg->only & VAR_AFILE) {
		kv_summary(kv, a_name(), &sa);
		fprintf(kv, "small.afile.lib_syncs_per_op %.3f\n",
		    (double)lib_syncs / n);
		fprintf(kv, "small.afile.lib_dir_syncs_per_op %.3f\n",
		    (double)lib_dir_syncs / n);
	}
	if (cfg->only & VAR_MINIMAL)
		kv_summary(kv, "minimal", &sm);
}

/* The name of the @i-th filler file of --populate. */
static void
filler_name(char *buf, size_t size, unsigned long i)
{
	snprintf(buf, size, "filler-%07lu", i);
}

/* Creates @n empty filler files; returns 0 or -errno. */
static int
populate(unsigned long n)
{
	char name[32];
	unsigned long i;

	for (i = 0; i < n; i++) {
		int fd;

		filler_name(name, sizeof(name), i);
		fd = open(name, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		(void)close(fd);
	}
	return 0;
}

/* Removes what the benchmark created in the current directory. */
static void
clean_dir(unsigned long populated)
{
	char name[32];
	unsigned long i;

	(void)unlink(TARGET_AFILE);
	(void)unlink(TARGET_FLOOR);
	(void)unlink(TARGET_MINIMAL);
	(void)unlink(TEMP_MINIMAL);
	for (i = 0; i < populated; i++) {
		filler_name(name, sizeof(name), i);
		(void)unlink(name);
	}
}

int
main(int argc, char **argv)
{
	struct config cfg = {
	    .iterations = 2000,
	    .warmup = 10,
	    .size = 4096,
	    .only = VAR_BOTH,
	};
	char made[PATH_MAX] = "";
	char oldcwd[PATH_MAX];
	int entered = 0;
	uint64_t *lat_a = NULL, *lat_m = NULL;
	uint64_t lib_syncs = 0, lib_dir_syncs = 0;
	int r, status = 1;

	if (parse_args(argc, argv, &cfg) < 0)
		return 2;
	if (cfg.kv_path != NULL) {
		cfg.kv = fopen(cfg.kv_path, "we");
		if (cfg.kv == NULL) {
			fprintf(stderr, "bench_small: %s: %s\n", cfg.kv_path,
			    strerror(errno));
			return 1;
		}
	}
	if (getcwd(oldcwd, sizeof(oldcwd)) == NULL) {
		perror("bench_small: getcwd");
		return 1;
	}
	if (cfg.dir == NULL) {
		/* Under the current directory: /tmp may be tmpfs. */
		int n = snprintf(
		    made, sizeof(made), "%s/bench-small.XXXXXX", oldcwd);

		if (n < 0 || (size_t)n >= sizeof(made)) {
			fputs("bench_small: current directory name too long\n",
			    stderr);
			return 1;
		}
		if (mkdtemp(made) == NULL) {
			perror("bench_small: mkdtemp");
			return 1;
		}
		cfg.dir = made;
	}
	if (chdir(cfg.dir) < 0) {
		fprintf(
		    stderr, "bench_small: %s: %s\n", cfg.dir, strerror(errno));
		goto out;
	}
	entered = 1;
	check_fs();
	if (many && many_setup() < 0) {
		fputs("bench_small: --many: set-up failed\n", stderr);
		goto out;
	}
	r = populate(cfg.populate);
	if (r < 0) {
		fprintf(stderr, "bench_small: populate: %s\n", strerror(-r));
		goto out;
	}
	lat_a = calloc(cfg.iterations, sizeof(*lat_a));
	lat_m = calloc(cfg.iterations, sizeof(*lat_m));
	if (lat_a == NULL || lat_m == NULL) {
		fputs("bench_small: out of memory\n", stderr);
		goto out;
	}
	r = measure(&cfg, lat_a, lat_m, &lib_syncs, &lib_dir_syncs);
	if (r == 0) {
		report(&cfg, lat_a, lat_m, lib_syncs, lib_dir_syncs);
		status = 0;
	}
out:
	if (entered) {
		many_teardown();
		clean_dir(cfg.populate);
		if (chdir(oldcwd) < 0)
			perror("bench_small: chdir back");
	}
	if (made[0] != '\0' && rmdir(made) < 0)
		fprintf(stderr, "bench_small: rmdir %s: %s\n", made,
		    strerror(errno));
	if (cfg.kv != NULL && fclose(cfg.kv) != 0) {
		fprintf(stderr, "bench_small: %s: %s\n", cfg.kv_path,
		    strerror(errno));
		status = 1;
	}
	free(lat_a);
	free(lat_m);
	return status;
}
