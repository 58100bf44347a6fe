/* SPDX-License-Identifier: MIT */
/*
 * redo.h - the redo log of in-place patches: its bytes (header, marker,
 * records), encoded and parsed.
 *
 * The byte-by-byte format is at the top of redo.c and in docs/FORMAT.md
 * ("The redo log of in-place patches").  This module does no I/O:
 * inplace.c reads, writes and syncs the log, and decides what to replay.
 */
#ifndef AFILE_REDO_H
#define AFILE_REDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomicfile.h"
#include "sys.h"

#define AFILE__REDO_SUFFIX    ".afile-redo"
#define AFILE__REDO_HDR_AREA  512u  /* the header has a sector of its own */
#define AFILE__REDO_MARK_OFF  512u  /* the marker, in the lock sidecar */
#define AFILE__REDO_REC_START 1024u /* the first record */
#define AFILE__REDO_HDR_LEN   44u   /* magic, gen, dev, ino, igen, CRC */
#define AFILE__REDO_MARK_LEN  84u   /* magic, gen, seq, end, ..., CRC */
#define AFILE__REDO_REC_HDR   56u   /* a record's fixed part */
#define AFILE__REDO_DURABLE   1u    /* marker flag: valid in any boot */

/*
 * struct afile__redo_id - the file a log belongs to
 * @dev:  st_dev, written for a human, never compared (btrfs changes it
 *        from mount to mount)
 * @ino:  st_ino
 * @igen: the inode generation (FS_IOC_GETVERSION), 0 where there is none
 */
struct afile__redo_id {
	uint64_t dev, ino, igen;
};

/* Where the page cache holds the file: this boot's id, this mount. */
struct afile__redo_here {
	unsigned char boot[16];
	uint64_t mnt;
};

/*
 * struct afile__redo_mark - a parsed marker
 * @gen:   the generation it speaks of
 * @seq:   the last record the file holds
 * @end:   the log offset after that record
 * @boot:  the boot it was written in; all zero: pending
 * @flags: AFILE__REDO_DURABLE: the file was synced
 * @mnt:   the unique mount id it was written under
 * @ino:   st_ino of the file (as the log's header names it)
 * @igen:  its inode generation, 0 where there is none
 */
struct afile__redo_mark {
	uint64_t gen, seq, end, mnt, ino, igen;
	unsigned char boot[16];
	uint32_t flags;
};

/* A parsed record; the pointers point into the caller's buffer. */
struct afile__redo_rec {
	uint64_t seq, old_size, new_size, total;
	uint32_t n;
	const unsigned char *ranges; /* n x {u64 offset, u64 length} */
	const unsigned char *bytes;  /* the new bytes, in range order */
};

/* The header into @b (AFILE__REDO_HDR_AREA bytes, zero-padded). */
AFILE_HIDDEN void afile__redo_hdr_encode(
    unsigned char *b, uint64_t gen, const struct afile__redo_id *id);
/*
 * The generation of the header @b, or 0 when it is torn or (with @id)
 * names another file.
 */
AFILE_HIDDEN uint64_t afile__redo_hdr_gen(
    const unsigned char *b, const struct afile__redo_id *id);

/*
 * The marker of the file @id into @b (AFILE__REDO_MARK_LEN bytes); @here
 * NULL: pending.
 */
AFILE_HIDDEN void afile__redo_mark_encode(unsigned char *b, uint64_t gen,
    uint64_t seq, uint64_t end, const struct afile__redo_id *id,
    const struct afile__redo_here *here, uint32_t flags);
/* Parse the marker @b; false when torn or pending. */
AFILE_HIDDEN bool afile__redo_mark_parse(
    const unsigned char *b, struct afile__redo_mark *m);

/*
 * Does the marker @b say that the file holds every record of its log
 * (nothing to replay)?  @id: check that it speaks of this file; @here:
 * this boot and mount (NULL: unknown, only a durable marker is trusted).
 * Fills *@m when it does.  The caller checks that the log reaches m->end.
 */
AFILE_HIDDEN bool afile__redo_clean(const unsigned char *b,
    const struct afile__redo_id *id, const struct afile__redo_here *here,
    struct afile__redo_mark *m);

/*
 * The length of the record of @rg[0..@n) (0 when it would not fit a
 * size_t), and in *@new_size the file's size after it from @old_size.
 */
AFILE_HIDDEN size_t afile__redo_rec_size(const struct afile_range *rg, size_t n,
    uint64_t old_size, uint64_t *new_size);
/* Encode that record into @b (@total bytes). */
AFILE_HIDDEN void afile__redo_rec_encode(unsigned char *b, size_t total,
    uint64_t gen, uint64_t seq, uint64_t old_size, uint64_t new_size,
    const struct afile_range *rg, size_t n);
/* Give the record @b (@total bytes) another generation and seq. */
AFILE_HIDDEN void afile__redo_rec_restamp(
    unsigned char *b, size_t total, uint64_t gen, uint64_t seq);
/*
 * Parse the record at @b (@avail bytes left in the log) of generation
 * @gen and number @seq; false when it is not one (torn, stale, garbage).
 */
AFILE_HIDDEN bool afile__redo_rec_parse(const unsigned char *b, uint64_t avail,
    uint64_t gen, uint64_t seq, struct afile__redo_rec *r);
/* Range @i of a parsed record. */
AFILE_HIDDEN void afile__redo_rec_range(
    const struct afile__redo_rec *r, uint32_t i, uint64_t *off, uint64_t *len);

#endif /* AFILE_REDO_H */
