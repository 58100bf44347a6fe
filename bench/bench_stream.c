/* SPDX-License-Identifier: MIT */
/*
 * bench_stream.c - a streamed replace through the library's writer.
 *
 * Copies INPUT into a new version of OUTPUT with afile_writer_open(),
 * afile_writer_write() in chunks of one buffer (1 MiB by default, the
 * block size run.sh gives dd) and afile_writer_commit().  It is the
 * library half of the large-file benchmark: run.sh times it from outside,
 * exactly as it times dd and the CLI, so that all three pay for process
 * start-up alike, and reads the peak memory from /usr/bin/time.  The
 * program also prints its own elapsed time and the library's counters,
 * for a reader who runs it by hand.
 */
#include <atomicfile.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Alignment of the copy buffer; a multiple of every page size in use. */
#define BENCH_PAGE ((size_t)4096)

struct config {
	const char *input;
	const char *output;
	size_t buffer;
	unsigned int sync;
	int size_hint;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
usage(FILE *f)
{
	fputs("usage: bench_stream --input=FILE --output=FILE "
	      "[--buffer=BYTES]\n"
	      "                    [--sync=full|data|none] [--size-hint]\n"
	      "\n"
	      "Replaces OUTPUT atomically with the contents of INPUT through\n"
	      "afile_writer_write() in BUFFER-sized chunks (default 1 MiB).\n"
	      "--size-hint passes the input size as opts.size_hint.\n",
	    f);
}

static int
parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
	    {"input", required_argument, NULL, 'i'},
	    {"output", required_argument, NULL, 'o'},
	    {"buffer", required_argument, NULL, 'b'},
	    {"sync", required_argument, NULL, 's'},
	    {"size-hint", no_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	unsigned long v;
	int c;

	while (
	    (c = getopt_long(argc, argv, "i:o:b:s:Hh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			cfg->input = optarg;
			break;
		case 'o':
			cfg->output = optarg;
			break;
		case 'b':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v == 0 ||
			    optarg[0] == '-')
				goto bad;
			cfg->buffer = (size_t)v;
			break;
		case 's':
			if (strcmp(optarg, "full") == 0)
				cfg->sync = AFILE_SYNC_FULL;
			else if (strcmp(optarg, "data") == 0)
				cfg->sync = AFILE_SYNC_DATA;
			else if (strcmp(optarg, "none") == 0)
				cfg->sync = AFILE_SYNC_NONE;
			else
				goto bad;
			break;
		case 'H':
			cfg->size_hint = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			goto bad;
		}
	}
	if (optind != argc || cfg->input == NULL || cfg->output == NULL)
		goto bad;
	return 0;
bad:
	usage(stderr);
	return -EINVAL;
}

/* Reads up to @len bytes, retrying EINTR; returns the count or -errno. */
static ssize_t
read_some(int fd, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);

		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static int
stream(const struct config *cfg, int in, unsigned char *buf,
    uint64_t *ret_bytes, struct afile_errinfo *ei)
{
	struct afile_opts opts = AFILE_OPTS_INIT;
	struct afile_writer *w = NULL;
	struct stat st;
	uint64_t total = 0;
	int r;

	opts.sync = cfg->sync;
	opts.err = ei;
	if (cfg->size_hint && fstat(in, &st) == 0 && S_ISREG(st.st_mode))
		opts.size_hint = (uint64_t)st.st_size;
	r = afile_writer_open(AT_FDCWD, cfg->output, 0, &opts, &w);
	if (r < 0)
		goto out;
	for (;;) {
		ssize_t n = read_some(in, buf, cfg->buffer);

		if (n < 0) {
			/* A read error is ours, not the library's. */
			ei->step = "read input";
			snprintf(ei->path, sizeof(ei->path), "%s", cfg->input);
			r = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		r = afile_writer_write(w, buf, (size_t)n);
		if (r < 0)
			goto out;
		total += (uint64_t)n;
	}
	r = afile_writer_commit(w);
out:
	afile_writer_free(w);
	*ret_bytes = total;
	return r;
}

int
main(int argc, char **argv)
{
	struct config cfg = {.buffer = 1u << 20, .sync = AFILE_SYNC_FULL};
	struct afile_errinfo ei = {0};
	struct afile_stats st = {.size = sizeof(st)};
	unsigned char *buf;
	uint64_t bytes = 0, t0, t1;
	double secs;
	int in, r;

	if (parse_args(argc, argv, &cfg) < 0)
		return 2;
	in = open(cfg.input, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		fprintf(stderr, "bench_stream: %s: %s\n", cfg.input,
		    strerror(errno));
		return 1;
	}
	/*
	 * Page-aligned, as dd's buffer is: copies between the page cache and
	 * a misaligned user buffer are measurably slower, and the comparison
	 * is about the library, not about malloc's alignment.
	 */
	cfg.buffer = (cfg.buffer + BENCH_PAGE - 1) / BENCH_PAGE * BENCH_PAGE;
	buf = aligned_alloc(BENCH_PAGE, cfg.buffer);
	if (buf == NULL) {
		fputs("bench_stream: out of memory\n", stderr);
		(void)close(in);
		return 1;
	}
	t0 = now_ns();
	r = stream(&cfg, in, buf, &bytes, &ei);
	t1 = now_ns();
	free(buf);
	(void)close(in);
	if (r < 0) {
		fprintf(stderr, "bench_stream: %s '%s': %s\n",
		    ei.step != NULL ? ei.step : "write",
		    ei.path[0] != '\0' ? ei.path : cfg.output,
		    afile_strerror(r));
		return 1;
	}
	secs = (double)(t1 - t0) / 1e9;
	printf("bench_stream: %" PRIu64 " bytes in %.3f s, %.1f MB/s\n", bytes,
	    secs, secs > 0 ? (double)bytes / secs / 1e6 : 0.0);
	if (afile_stats_get(&st) == 0)
		printf("bench_stream: library counters: %" PRIu64
		       " bytes written, %" PRIu64 " file syncs, %" PRIu64
		       " directory syncs, %" PRIu64 " retries\n",
		    st.bytes_written, st.syncs, st.dir_syncs, st.retries);
	return 0;
}
