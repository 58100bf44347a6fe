/* SPDX-License-Identifier: MIT */
/*
 * journal.h - the transaction journal: encoding, validation, parsing.
 *
 * The byte-by-byte format is specified at the top of journal.c and in
 * docs/FORMAT.md.  This module only turns records into bytes and bytes
 * into records; it does no I/O (txn.c writes and reads the file), so the
 * parser can be fuzzed and tested on its own.
 */
#ifndef AFILE_JOURNAL_H
#define AFILE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sys.h"

enum afile__jop {
	AFILE__J_PUT = 1,    /* rename staged temp @path2 over @path */
	AFILE__J_CREATE = 2, /* link staged temp @path2 to new @path */
	AFILE__J_REMOVE = 3, /* unlink @path */
	AFILE__J_RENAME = 4, /* rename @path to @path2 */
};

/*
 * struct afile__jrec - one operation of a transaction
 * @op:        an enum afile__jop
 * @path:      the target (put, create, remove) or the source (rename),
 *             relative to the transaction root
 * @path2:     put, create: the staged temp, relative to the root;
 *             rename: the destination; remove: "" (empty)
 * @guard_ino: remove and rename: the inode number @path had when the
 *             transaction committed, so that a replay never acts on a file
 *             that a later writer put there; 0 for put and create, whose
 *             guard is the staged temp itself (present until applied)
 *
 * Paths are NUL-terminated, relative (no leading '/'), with no empty,
 * "." or ".." component, and at most 4095 bytes.
 */
struct afile__jrec {
	unsigned int op;
	const char *path;
	const char *path2;
	uint64_t guard_ino;
};

/*
 * struct afile__journal - a parsed journal
 * @txn_id: the transaction id from the header
 * @nrec:   records parsed
 * @recs:   the records; their strings point into @blob
 * @valid:  the whole journal checked out (magic, version, lengths,
 *          checksum); when false, @recs holds the records that could be
 *          parsed before the damage, for a rollback to find its temps
 */
struct afile__journal {
	uint64_t txn_id;
	size_t nrec;
	struct afile__jrec *recs;
	char *blob;
	bool valid;
};

/* CRC-32C (Castagnoli), as in iSCSI and ext4: crc32c(0, "123456789", 9)
 * is 0xe3069283 (crc32c.c). */
AFILE_HIDDEN uint32_t afile__crc32c(uint32_t crc, const void *buf, size_t len);
/* The same, by table, on every CPU: the reference of tests. */
AFILE_HIDDEN uint32_t afile__crc32c_portable(
    uint32_t crc, const void *buf, size_t len);

/*
 * Little-endian fields of the on-disk formats (this journal and the redo
 * log, redo.c), byte by byte: any alignment, any host.
 */
static inline uint32_t
afile__get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
afile__get64(const unsigned char *p)
{
	return (uint64_t)afile__get32(p) | (uint64_t)afile__get32(p + 4) << 32;
}

static inline void
afile__put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline void
afile__put64(unsigned char *p, uint64_t v)
{
	afile__put32(p, (uint32_t)v);
	afile__put32(p + 4, (uint32_t)(v >> 32));
}

/* Is @path acceptable as a journal path (see struct afile__jrec)? */
AFILE_HIDDEN bool afile__jpath_ok(const char *path);

/*
 * Encode @n records into a fresh buffer (free with afile__free()).
 * Returns 0, -EINVAL for a bad record (unknown op, bad path), -ENOMEM.
 */
AFILE_HIDDEN int afile__journal_encode(uint64_t txn_id,
    const struct afile__jrec *recs, size_t n, void **ret_buf, size_t *ret_len);

/*
 * Parse @len bytes.  Returns 0 when the journal is valid
 * (@ret->valid), AFILE_ECORRUPT when it is torn or damaged (@ret still
 * holds what could be parsed before the damage, @ret->valid false), or
 * -ENOMEM.  Never reads outside @buf, whatever it holds.  Free @ret with
 * afile__journal_done() in every case.
 */
AFILE_HIDDEN int afile__journal_decode(
    const void *buf, size_t len, struct afile__journal *ret);
AFILE_HIDDEN void afile__journal_done(struct afile__journal *j);

#endif /* AFILE_JOURNAL_H */
