/* SPDX-License-Identifier: MIT */
/*
 * redo.c - the redo log of in-place patches: its byte format, encoded
 * and parsed.  No I/O: inplace.c writes, syncs, reads and replays the
 * log ".NAME.afile-redo" beside the file NAME.
 *
 * Format, version 1, marker version 2 (docs/FORMAT.md mirrors it).  All
 *integers are little-endian and unaligned; offsets in bytes.  CRC-32C as the
 * journal's (journal.c), seed 0.
 *
 *   Header, bytes 0..511 (written when a generation starts: a new log, a
 *   log of a replaced file, a checkpoint); zeros after byte 43:
 *     0  magic[8]  "afredo1\n"
 *     8  u64       G, the generation: random, non-zero
 *    16  u64       st_dev of the file (for a human; never compared)
 *    24  u64       st_ino of the file
 *    32  u64       the file's inode generation (FS_IOC_GETVERSION), or 0
 *    40  u32       CRC-32C of bytes 0..39
 *
 *   Bytes 512..1023: zeros, written with a new header.  (The marker
 *   lived here at first; a log written so is replayed once, in full,
 *   and its marker ignored.)
 *
 *   Marker, in the file's lock sidecar ".NAME.afile-lock" (lock.c) at
 *   bytes 512..595: rewritten by every patch, synced only as "pending"
 *   over a durable marker (inplace.c, step 3).  Not in the
 *   log: there it dirtied a block of its own that each patch's sync of
 *   the log wrote, a second write to the device beside the record's.
 *     0  magic[8]  "afmark2\n"
 *     8  u64       generation
 *    16  u64       seq of the last record the file holds
 *    24  u64       end: the log offset after that record
 *    32  16 bytes  boot id (/proc/sys/kernel/random/boot_id); all zero:
 *                  pending
 *    48  u32       flags: 1 durable (the file was synced; any boot)
 *    52  u32       reserved, 0
 *    56  u64       unique mount id (STATX_MNT_ID_UNIQUE), or 0
 *    64  u64       st_ino of the file, as the log's header names it
 *    72  u64       the file's inode generation, or 0
 *    80  u32       CRC-32C of bytes 0..79
 *
 *   Records, back to back from byte 1024, one per patch:
 *     0  magic[8]  "afrec01\n"
 *     8  u64       generation G
 *    16  u64       seq: 1 for a generation's first record, then +1
 *    24  u32       n, ranges (at most AFILE__PATCH_MAX_RANGES)
 *    28  u32       reserved, 0
 *    32  u64       the file's size before the patch
 *    40  u64       its size after
 *    48  u64       T, the record's length, this header and CRC included
 *    56  16 x n    per range: u64 offset, u64 length L
 *  56+16n  sum L   the new bytes, range after range
 *   T-4  u32       CRC-32C of bytes 0..T-5
 *
 * Invariants (of the bytes; inplace.c keeps those of the protocol):
 *   1. A header names its file by st_ino and inode generation: a log
 *      beside a file that replaced the name (another inode, or the same
 *      number reused) parses as no generation, so nothing is replayed
 *      into a file it was not written for.
 *   2. The live records are a chain from byte 1024: generation G, seq
 *      1, 2, ..., each whole with a good CRC and its range lengths adding
 *      up to its length.  The first record that is not ends the chain:
 *      a torn record was never committed, and a record of an earlier
 *      generation (records are overwritten in place, never truncated
 *      away) is stale.  So a new generation number retires every older
 *      record without touching it.
 *   3. A marker speaks of one generation of the log of one file; a
 *      pending one (no boot, not durable) says nothing, whatever its
 *      other fields.
 *   4. A log is clean (nothing to replay) only when its marker parses,
 *      names the file, ends past the log's head (and, the caller checks,
 *      within the log), and is durable or was written in the boot and
 *      mount given: after a power cut or a remount, unsynced writes to
 *      the file may be lost.  inplace.c writes the marker "pending"
 *      before it changes the log in any way, so a marker that is not
 *      pending speaks of the log as it is.
 *
 * States of a log as these bytes tell them (inplace.c moves between
 * them):
 *
 *	EMPTY (no log, 0 bytes, torn or foreign header)
 *	   |  a patch: marker pending, header G + record 1, synced
 *	   v
 *	PENDING (chain 1..k, marker pending or of another boot/mount)
 *	   |  file written (patch or replay), marker "applied k, here"
 *	   v
 *	CLEAN (chain 1..k, marker applied through k here, or durable)
 *	   |-- next patch: marker pending, record k+1 --> PENDING
 *	   |-- checkpoint: file synced, header G' + record 1 --> PENDING
 *	   '-- afile_patch_recover(): file synced, log truncated --> EMPTY
 */
#include <string.h>

#include "internal.h"
#include "journal.h"
#include "redo.h"

#define HDR_MAGIC  "afredo1\n"
#define MARK_MAGIC "afmark2\n"
#define REC_MAGIC  "afrec01\n"
#define RANGE_LEN  16u
#define CRC_LEN    4u

void
afile__redo_hdr_encode(
    unsigned char *b, uint64_t gen, const struct afile__redo_id *id)
{
	memset(b, 0, AFILE__REDO_HDR_AREA);
	memcpy(b, HDR_MAGIC, 8);
	afile__put64(b + 8, gen);
	afile__put64(b + 16, id->dev);
	afile__put64(b + 24, id->ino);
	afile__put64(b + 32, id->igen);
	afile__put32(b + 40, afile__crc32c(0, b, 40));
}

uint64_t
afile__redo_hdr_gen(const unsigned char *b, const struct afile__redo_id *id)
{
	if (memcmp(b, HDR_MAGIC, 8) ||
	    afile__crc32c(0, b, 40) != afile__get32(b + 40))
		return 0;
	/*
	 * Invariant 1.  Not st_dev: the log is beside the file, so on its
	 * file system, and btrfs gives a subvolume a new anonymous st_dev
	 * on every mount, which would make every log stale after a reboot
	 * and lose the patches since the last checkpoint.
	 */
	if (id &&
	    (afile__get64(b + 24) != id->ino ||
		afile__get64(b + 32) != id->igen))
		return 0;
	return afile__get64(b + 8);
}

void
afile__redo_mark_encode(unsigned char *b, uint64_t gen, uint64_t seq,
    uint64_t end, const struct afile__redo_id *id,
    const struct afile__redo_here *here, uint32_t flags)
{
	memset(b, 0, AFILE__REDO_MARK_LEN);
	memcpy(b, MARK_MAGIC, 8);
	afile__put64(b + 8, gen);
	afile__put64(b + 16, seq);
	afile__put64(b + 24, end);
	if (here) {
		memcpy(b + 32, here->boot, 16);
		afile__put64(b + 56, here->mnt);
	}
	afile__put32(b + 48, flags);
	afile__put64(b + 64, id->ino);
	afile__put64(b + 72, id->igen);
	afile__put32(b + 80, afile__crc32c(0, b, 80));
}

bool
afile__redo_mark_parse(const unsigned char *b, struct afile__redo_mark *m)
{
	static const unsigned char zero[16];

	if (memcmp(b, MARK_MAGIC, 8) ||
	    afile__crc32c(0, b, 80) != afile__get32(b + 80))
		return false;
	m->gen = afile__get64(b + 8);
	m->seq = afile__get64(b + 16);
	m->end = afile__get64(b + 24);
	memcpy(m->boot, b + 32, 16);
	m->flags = afile__get32(b + 48);
	m->mnt = afile__get64(b + 56);
	m->ino = afile__get64(b + 64);
	m->igen = afile__get64(b + 72);
	/* Invariant 3: a pending marker says nothing. */
	return (m->flags & AFILE__REDO_DURABLE) || memcmp(m->boot, zero, 16);
}

bool
afile__redo_clean(const unsigned char *b, const struct afile__redo_id *id,
    const struct afile__redo_here *here, struct afile__redo_mark *m)
{
	/* Invariant 4. */
	return afile__redo_mark_parse(b, m) && m->gen &&
	    m->end >= AFILE__REDO_REC_START &&
	    (!id || (m->ino == id->ino && m->igen == id->igen)) &&
	    ((m->flags & AFILE__REDO_DURABLE) ||
		(here && !memcmp(m->boot, here->boot, 16) &&
		    m->mnt == here->mnt));
}

size_t
afile__redo_rec_size(const struct afile_range *rg, size_t n, uint64_t old_size,
    uint64_t *new_size)
{
	size_t total = AFILE__REDO_REC_HDR + n * RANGE_LEN + CRC_LEN;

	*new_size = old_size;
	for (size_t i = 0; i < n; i++) {
		uint64_t end = rg[i].offset + rg[i].len;

		if (end > *new_size && rg[i].len)
			*new_size = end;
		if (rg[i].len > SIZE_MAX - total)
			return 0;
		total += rg[i].len;
	}
	return total;
}

void
afile__redo_rec_encode(unsigned char *b, size_t total, uint64_t gen,
    uint64_t seq, uint64_t old_size, uint64_t new_size,
    const struct afile_range *rg, size_t n)
{
	unsigned char *p = b + AFILE__REDO_REC_HDR + n * RANGE_LEN;

	memset(b, 0, AFILE__REDO_REC_HDR);
	memcpy(b, REC_MAGIC, 8);
	afile__put32(b + 24, (uint32_t)n);
	afile__put64(b + 32, old_size);
	afile__put64(b + 40, new_size);
	afile__put64(b + 48, total);
	for (size_t i = 0; i < n; i++) {
		afile__put64(
		    b + AFILE__REDO_REC_HDR + i * RANGE_LEN, rg[i].offset);
		afile__put64(
		    b + AFILE__REDO_REC_HDR + i * RANGE_LEN + 8, rg[i].len);
		if (rg[i].len)
			memcpy(p, rg[i].buf, rg[i].len);
		p += rg[i].len;
	}
	afile__redo_rec_restamp(b, total, gen, seq);
}

void
afile__redo_rec_restamp(
    unsigned char *b, size_t total, uint64_t gen, uint64_t seq)
{
	afile__put64(b + 8, gen);
	afile__put64(b + 16, seq);
	afile__put32(b + total - CRC_LEN, afile__crc32c(0, b, total - CRC_LEN));
}

bool
afile__redo_rec_parse(const unsigned char *b, uint64_t avail, uint64_t gen,
    uint64_t seq, struct afile__redo_rec *r)
{
	uint64_t sum = 0;

	/* Invariant 2: the next link of the chain, or its end. */
	if (avail < AFILE__REDO_REC_HDR + CRC_LEN || memcmp(b, REC_MAGIC, 8) ||
	    afile__get64(b + 8) != gen || afile__get64(b + 16) != seq)
		return false;
	r->seq = seq;
	r->n = afile__get32(b + 24);
	r->old_size = afile__get64(b + 32);
	r->new_size = afile__get64(b + 40);
	r->total = afile__get64(b + 48);
	if (r->total > avail || r->total < AFILE__REDO_REC_HDR + CRC_LEN ||
	    r->n > AFILE__PATCH_MAX_RANGES ||
	    (uint64_t)r->n * RANGE_LEN >
		r->total - AFILE__REDO_REC_HDR - CRC_LEN ||
	    afile__crc32c(0, b, (size_t)r->total - CRC_LEN) !=
		afile__get32(b + r->total - CRC_LEN))
		return false;
	r->ranges = b + AFILE__REDO_REC_HDR;
	r->bytes = r->ranges + (size_t)r->n * RANGE_LEN;
	for (uint32_t i = 0; i < r->n; i++)
		sum += afile__get64(r->ranges + i * RANGE_LEN + 8);
	return sum ==
	    r->total - AFILE__REDO_REC_HDR - CRC_LEN -
	    (uint64_t)r->n * RANGE_LEN;
}

void
afile__redo_rec_range(
    const struct afile__redo_rec *r, uint32_t i, uint64_t *off, uint64_t *len)
{
	*off = afile__get64(r->ranges + i * RANGE_LEN);
	*len = afile__get64(r->ranges + i * RANGE_LEN + 8);
}
