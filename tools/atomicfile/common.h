/* SPDX-License-Identifier: MIT */
/*
 * common.h - what every subcommand of the atomicfile tool shares.
 *
 * The common options, the exit codes, error reporting in the one message
 * format scripts rely on, --stats, and the signal handling that lets a
 * subcommand abandon an unpublished file and still die by the signal.
 */
#ifndef AFILE_CLI_COMMON_H
#define AFILE_CLI_COMMON_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomicfile.h>

/* Exit codes of DESIGN.md section 6. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_EXISTS = 3,
	EXIT_LOCKED = 4,
};

/*
 * Values of the long-only options.  Above UCHAR_MAX so that they never
 * collide with a short option character.
 */
enum {
	OPT_SYNC = 0x100,
	OPT_MODE,
	OPT_NO_FOLLOW,
	OPT_BREAK_HARDLINKS,
	OPT_ALLOW_OWNER_CHANGE,
	OPT_STATS,
	OPT_LOCK,
	OPT_TIMEOUT,
	/* Subcommand-specific options follow. */
	OPT_NO_CLOBBER,
	OPT_PROGRESS,
	OPT_EXCHANGE,
	OPT_OFFSET,
	OPT_IN_PLACE,
	OPT_SHARED,
	OPT_OLDER_THAN,
	OPT_DRY_RUN,
	OPT_SCRIPT,
};

/* Entries for the getopt_long tables of the subcommands. */
/* clang-format off */
#define CLI_LOPT_SYNC {"sync", required_argument, NULL, OPT_SYNC}
#define CLI_LOPT_MODE {"mode", required_argument, NULL, OPT_MODE}
#define CLI_LOPT_NO_FOLLOW {"no-follow", no_argument, NULL, OPT_NO_FOLLOW}
#define CLI_LOPT_BREAK_HARDLINKS \
	{"break-hardlinks", no_argument, NULL, OPT_BREAK_HARDLINKS}
#define CLI_LOPT_ALLOW_OWNER_CHANGE \
	{"allow-owner-change", no_argument, NULL, OPT_ALLOW_OWNER_CHANGE}
#define CLI_LOPT_STATS {"stats", no_argument, NULL, OPT_STATS}
#define CLI_LOPT_LOCK {"lock", no_argument, NULL, OPT_LOCK}
#define CLI_LOPT_TIMEOUT {"timeout", required_argument, NULL, OPT_TIMEOUT}
#define CLI_LOPT_QUIET {"quiet", no_argument, NULL, 'q'}
/* Every subcommand takes --help and --version. */
#define CLI_LOPT_HELP \
	{"help", no_argument, NULL, 'h'}, \
	{"version", no_argument, NULL, 'V'}
#define CLI_LOPT_END {NULL, 0, NULL, 0}

/* Help text lines for the common options, in the order above. */
#define CLI_HELP_SYNC \
	"      --sync=full|data|none  durability level (default: full)\n"
#define CLI_HELP_MODE \
	"      --mode=OCTAL           give the file exactly this mode\n"
#define CLI_HELP_NO_FOLLOW \
	"      --no-follow            act on a symlink itself, not its target\n"
#define CLI_HELP_BREAK_HARDLINKS \
	"      --break-hardlinks      replace a file that has other hard " \
	"links\n"
#define CLI_HELP_ALLOW_OWNER_CHANGE \
	"      --allow-owner-change   let the owner change when it cannot be " \
	"kept\n"
#define CLI_HELP_LOCK \
	"      --lock                 serialize with other lockers of the " \
	"target\n" \
	"      --timeout=SECONDS      with --lock: give up (exit 4) after " \
	"this long;\n" \
	"                             0 tries once (default: wait as long " \
	"as it takes)\n"
#define CLI_HELP_STATS \
	"      --stats                print the library counters to stderr\n"
#define CLI_HELP_QUIET \
	"  -q, --quiet                print no error messages\n"
#define CLI_HELP_HELP \
	"      --help                 show this help\n" \
	"      --version              show the version\n"
/* clang-format on */

/*
 * State of one subcommand run: its name, the library flags and options
 * built from the command line, and where the library reports a failure.
 * opts.err always points at err.
 */
struct cli {
	const char *verb;
	unsigned int flags;
	struct afile_opts opts;
	struct afile_errinfo err;
	bool stats;
	bool quiet;
	/* --timeout in milliseconds (0: try once), or -1 when not given. */
	int timeout_ms;
};

/* What cli_common_option() made of an option. */
enum cli_optres {
	CLI_OPT_DONE,    /* a common option, applied */
	CLI_OPT_HELP,    /* --help: print the usage, exit 0 */
	CLI_OPT_VERSION, /* --version: printed, exit 0 */
	CLI_OPT_USAGE,   /* a bad value, already reported: exit 2 */
	CLI_OPT_UNKNOWN, /* not a common option: the subcommand's own */
};

void cli_init(struct cli *c, const char *verb, char **argv);
enum cli_optres cli_common_option(struct cli *c, int opt, const char *arg);

bool cli_lock_options(struct cli *c);

/* A wait for AFILE_LOCK done by the tool, between tries of the library. */
struct cli_lock_wait {
	bool forever;
	long long deadline_ns; /* CLOCK_MONOTONIC */
	long long backoff_ns;
};
void cli_lock_wait_init(struct cli *c, struct cli_lock_wait *w);
bool cli_lock_wait(struct cli *c, int code, struct cli_lock_wait *w);
bool cli_lock_timed_out(const struct cli *c, int code);
int cli_fail_locked(const struct cli *c, const char *path);
int cli_usage_error(const struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cli_fail(struct cli *c, const char *path, int code);
int cli_fail_msg(const struct cli *c, const char *path, const char *step,
    const char *reason);
void cli_print_stats(void);
int cli_finish(const struct cli *c, int status);

int cli_parse_u64(const char *s, uint64_t *ret);
int cli_parse_duration(const char *s, uint64_t *ret_seconds);
int cli_parse_seconds(const char *s, int *ret_ms);
const char *cli_basename(const char *path, char *buf, size_t size);

/* Standard input was closed when the tool started (see main()). */
extern bool cli_stdin_closed;

/* Signals that abandon an unpublished file (SIGINT, SIGTERM, SIGPIPE). */
extern volatile sig_atomic_t cli_signal;
void cli_signals_catch(bool block);
ssize_t cli_read(int fd, void *buf, size_t len);
int cli_open_input(const char *path);
bool cli_signals_check(void);
void cli_signals_reraise(void) __attribute__((noreturn));

#endif /* AFILE_CLI_COMMON_H */
