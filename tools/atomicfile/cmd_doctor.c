/* SPDX-License-Identifier: MIT */
/*
 * cmd_doctor.c - atomicfile doctor PATH: what the file system under PATH
 * supports, what durability it reaches, and what a FUSE or network file
 * system needs for several clients to see one another's changes.
 *
 * The facts come from afile_probe(); this file only words them.  The
 * output is one "key: value" line per fact (stable, for scripts), then
 * "warning: ..." lines.  The advice per file system mirrors the "File
 * systems" section of atomicfile(7).
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

static const struct option doctor_longopts[] = {
    CLI_LOPT_QUIET,
    CLI_LOPT_HELP,
    CLI_LOPT_END,
};

static void
doctor_usage(void)
{
	(void)fputs(
	    "Usage: atomicfile doctor [OPTIONS] PATH...\n"
	    "Report what the file system holding each PATH supports: its "
	    "type,\n"
	    "the primitives that work there (O_TMPFILE, rename flags, OFD "
	    "locks,\n"
	    "file and directory fsync, trusted syncfs, reflink, one-flush "
	    "replaces), the "
	    "durability\n"
	    "reachable, and the client settings that FUSE and network file\n"
	    "systems need.  A temporary file is created in PATH's directory "
	    "and\n"
	    "removed.\n"
	    "\n" CLI_HELP_QUIET CLI_HELP_HELP "\n"
	    "Output: one 'key: value' line per fact, then 'warning: ...' "
	    "lines.\n"
	    "Exit status: 0 when every PATH was probed, 1 otherwise, 2 usage "
	    "error.\n",
	    stdout);
}

static const char *
yes(unsigned int works, unsigned int bit)
{
	return (works & bit) ? "yes" : "no";
}

static const char *
level(unsigned int d)
{
	switch (d) {
	case AFILE_SYNC_FULL:
		return "full";
	case AFILE_SYNC_DATA:
		return "data";
	default:
		return "none";
	}
}

static bool
type_is(const struct afile_probe *p, const char *t)
{
	return strcmp(p->mount_type, t) == 0;
}

static bool
type_starts(const struct afile_probe *p, const char *prefix)
{
	return strncmp(p->mount_type, prefix, strlen(prefix)) == 0;
}

static void
warn(const char *text)
{
	(void)printf("warning: %s\n", text);
}

static void
warnings(const struct afile_probe *p)
{
	if (p->kind & AFILE_PROBE_VOLATILE)
		warn("memory only: nothing survives a power cut or a reboot, "
		     "whatever is synced");
	if (strcmp(p->fstype, "unknown") == 0)
		warn("unknown file system: nothing is trusted, each file gets "
		     "its own fsync");
	if (p->kind & AFILE_PROBE_FUSE)
		warn("FUSE: syncfs does not reach the server, so each file "
		     "gets its own fsync; durability is what the server makes "
		     "of fsync");
	if (!(p->works & AFILE_PROBE_DIR_FSYNC) &&
	    (p->works & AFILE_PROBE_FILE_FSYNC))
		warn("directory fsync refused: a rename may be lost in a power "
		     "cut (durability data at best)");
	if (!(p->works & AFILE_PROBE_OFD_LOCKS))
		warn("no OFD locks: locks fall back to flock(2), which may not "
		     "exclude other clients");
	if (type_is(p, "fuse.glusterfs"))
		warn("GlusterFS: for clients to see one another's changes, "
		     "turn the client caches off (gluster volume set VOLUME "
		     "performance.quick-read off, and likewise "
		     "performance.io-cache, performance.stat-prefetch, "
		     "performance.open-behind, performance.read-ahead, "
		     "performance.readdir-ahead) and mount with -o "
		     "entry-timeout=0,attribute-timeout=0,negative-timeout=0; "
		     "with the defaults afile_update() waits out or refuses "
		     "a stale view, other reads may see an old version or "
		     "ESTALE");
	else if (type_starts(p, "nfs"))
		warn("NFS: other clients see changes only when their caches "
		     "expire; for coherence mount with noac (or actimeo=0) "
		     "and lookupcache=none; locks need NFSv4 or lockd; "
		     "ESTALE after another client's rename is retried");
	else if (type_is(p, "ceph") || type_is(p, "fuse.ceph-fuse") ||
	    type_is(p, "fuse.ceph"))
		warn("CephFS: clients are kept coherent by the metadata "
		     "server's capabilities and locks are the server's; do "
		     "not relax them (lazy I/O)");
	else if (type_is(p, "cifs") || type_is(p, "smb3"))
		warn("SMB: for coherence mount with cache=none (or the "
		     "default cache=strict) and actimeo=0; durability is "
		     "what the server makes of a flush");
	else if (p->kind & AFILE_PROBE_SHARED)
		warn("shared by several clients: their caches decide when "
		     "one sees another's changes; see atomicfile(7)");
}

static bool
doctor(struct cli *c, const char *path)
{
	struct afile_probe p = {.size = sizeof(p)};
	int r = afile_probe(AT_FDCWD, path, 0, &p);

	if (r < 0) {
		(void)cli_fail(c, path, r);
		return false;
	}
	(void)printf("path: %s\n", path);
	(void)printf("file-system: %s (magic 0x%lx)\n", p.fstype, p.magic);
	(void)printf("mount-type: %s\n", p.mount_type[0] ? p.mount_type : "?");
	(void)printf(
	    "mount-source: %s\n", p.mount_source[0] ? p.mount_source : "?");
	(void)printf("kind:%s%s%s%s%s\n",
	    (p.kind & AFILE_PROBE_LOCAL) ? " local" : "",
	    (p.kind & AFILE_PROBE_VOLATILE) ? " volatile" : "",
	    (p.kind & AFILE_PROBE_FUSE) ? " fuse" : "",
	    (p.kind & AFILE_PROBE_NETWORK) ? " network" : "",
	    (p.kind & AFILE_PROBE_SHARED) ? " shared" : "");
	(void)printf("tmpfile: %s\n", yes(p.works, AFILE_PROBE_TMPFILE));
	(void)printf("rename-noreplace: %s\n",
	    yes(p.works, AFILE_PROBE_RENAME_NOREPLACE));
	(void)printf(
	    "rename-exchange: %s\n", yes(p.works, AFILE_PROBE_RENAME_EXCHANGE));
	(void)printf("ofd-locks: %s\n", yes(p.works, AFILE_PROBE_OFD_LOCKS));
	(void)printf("file-fsync: %s\n", yes(p.works, AFILE_PROBE_FILE_FSYNC));
	(void)printf("dir-fsync: %s\n", yes(p.works, AFILE_PROBE_DIR_FSYNC));
	(void)printf("syncfs: %s\n", yes(p.works, AFILE_PROBE_SYNCFS));
	(void)printf("reflink: %s\n", yes(p.works, AFILE_PROBE_REFLINK));
	(void)printf("one-flush: %s\n", yes(p.works, AFILE_PROBE_ONE_FLUSH));
	(void)printf("durability: %s\n", level(p.durability));
	if (!c->quiet)
		warnings(&p);
	return true;
}

int
cmd_doctor(int argc, char **argv)
{
	struct cli c;
	int opt, status = EXIT_OK;

	cli_init(&c, "doctor", argv);
	while ((opt = getopt_long(argc, argv, "qh", doctor_longopts, NULL)) !=
	    -1) {
		switch (cli_common_option(&c, opt, optarg)) {
		case CLI_OPT_DONE:
			continue;
		case CLI_OPT_VERSION:
			return EXIT_OK;
		case CLI_OPT_HELP:
			doctor_usage();
			return EXIT_OK;
		case CLI_OPT_USAGE:
			return EXIT_USAGE;
		case CLI_OPT_UNKNOWN:
			return cli_usage_error(&c, NULL);
		}
	}
	if (optind >= argc)
		return cli_usage_error(&c, "missing PATH");
	for (int i = optind; i < argc; i++) {
		if (!doctor(&c, argv[i]))
			status = EXIT_FAIL;
		(void)fflush(stdout);
	}
	return status;
}
