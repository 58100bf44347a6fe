/* SPDX-License-Identifier: MIT */
/*
 * journal.c - the transaction journal's byte format: encode, validate,
 * parse.  No I/O: txn.c writes, syncs and reads the file.
 *
 * A journal is the commit record of one transaction (DESIGN §4): it is
 * written, with every staged temp already synced, into ROOT/.atomicfile/,
 * and the transaction is committed once the journal and its directory are
 * synced.  This file defines what a complete journal is, so that recovery
 * can tell a committed transaction (redo it) from one that crashed while
 * its journal was being written (roll it back).
 *
 * Format, version 1.  All integers are little-endian and unaligned; a
 * "u32" is 4 bytes, and so on.  Offsets are in bytes.
 *
 *   Header, 36 bytes:
 *     0  magic[8]   89 41 46 4a 52 4e 0d 0a  ("\x89AFJRN\r\n")
 *     8  u32        version, 1
 *    12  u32        header flags, 0 (any other value is rejected)
 *    16  u64        transaction id
 *    24  u32        record count, N
 *    28  u32        length A of the records area (all N records)
 *    32  u32        header CRC: CRC-32C of bytes 0..31
 *
 *   N records, back to back from offset 36, A bytes in all.  Record i:
 *     0  u8         op: 1 put, 2 create, 3 remove, 4 rename
 *                   (enum afile__jop)
 *     1  u8         flags, 0
 *     2  u16        reserved, 0
 *     4  u32        L1, length of path
 *     8  u32        L2, length of path2
 *    12  u64        guard inode (struct afile__jrec), 0 for put and create
 *    20  L1 bytes   path, without a terminating NUL
 *  20+L1 L2 bytes   path2, without a terminating NUL
 *  20+L1+L2 u32     record CRC: crc32c(S, bytes 0 .. 19+L1+L2 of this
 *                   record), where the seed S is the record CRC of record
 *                   i-1, or for record 0 the header CRC as stored
 *   A record is 24 + L1 + L2 bytes long.
 *
 *   Trailer, 12 bytes, at offset 36 + A:
 *     0  u32        journal CRC: CRC-32C of bytes 0 .. 35+A (header and
 *                   records)
 *     4  magic[8]   41 46 4a 45 4e 44 0d 0a  ("AFJEND\r\n")
 *
 *   The journal is exactly 48 + A bytes: nothing may follow the end magic.
 *
 * Paths (afile__jpath_ok): 1 to 4095 bytes, no NUL, not starting with
 * '/', and no empty, "." or ".." component (so no "//" and no trailing
 * '/').  path2 is empty (L2 = 0) for remove and only for remove.
 *
 * CRC-32C is the Castagnoli CRC of iSCSI, ext4 and btrfs: reflected
 * polynomial 0x82f63b78, initial value and final XOR 0xffffffff, so that
 * crc32c(0, "123456789") is 0xe3069283.  crc32c(S, bytes) is the
 * incremental form: the CRC of a stream whose CRC so far is S, continued
 * by bytes; crc32c(crc32c(0, a), b) = crc32c(0, a b).  crc32c.c computes
 * it (the CPU's instruction where there is one).
 *
 * Why these parts:
 *   - The magics: the start magic says "this is a journal" (its first byte
 *     has the high bit set and it holds "\r\n", PNG's trick against
 *     7-bit and newline-mangling copies); the end magic after the journal
 *     CRC makes a journal cut exactly at a record boundary incomplete even
 *     if the header's lengths were damaged.
 *   - The header CRC lets the parser trust N, A and the transaction id
 *     before it reads records.
 *   - The record CRC, chained from the header's, is an addition to "one
 *     checksum over all": when the journal as a whole is invalid, the
 *     recovery still needs the records written before the damage (to find
 *     the staged temps).  A record that is structurally sound can still
 *     be damaged (a flipped letter in a path) or stale (left on disk by an
 *     older journal); its own CRC, seeded by the chain, rejects both, and
 *     the chain makes the records returned an in-order prefix of what was
 *     written, bound to this header.  Cost: 4 bytes a record.
 *   - The journal CRC over everything is then redundant with the chain
 *     plus N and A, and kept on purpose: it is the one check that alone
 *     decides "valid", simple to audit.
 *   - Version and flags are checked exactly: a journal of an unknown
 *     version or with unknown flags is not guessed at.
 *
 * Parsing (afile__journal_decode) never reads outside the buffer: every
 * length is checked against the bytes left before it is used, and all
 * lengths are bounded (paths < 4096, N and A are u32 compared with the
 * buffer length, never added to an offset unchecked).  The journal is
 * valid when: length >= 48; magic, version and flags are right; the
 * header CRC matches; exactly N records parse, filling exactly A bytes;
 * each record has a known op, zero flags and reserved, acceptable paths,
 * a zero guard for put and create, and a matching record CRC; the journal
 * CRC matches; the end magic follows, and then the end of the buffer.
 *
 * An invalid journal is reported with the records that parsed before the
 * first damaged one: none when the magic, version or flags are wrong;
 * otherwise records are read from offset 36 (up to 36 + A when the header
 * CRC matches and A fits, else up to the end of the buffer) and the first
 * record that is incomplete, malformed, or fails its CRC ends the list.
 * Every record returned is complete, well-formed and carries a matching
 * chained CRC.  The transaction id is returned when the header CRC
 * matched, else 0: a damaged header's id means nothing.
 *
 * Recovery, done by txn.c (DESIGN §4), on the parse result:
 *   - Valid: the transaction committed.  Redo every record, in order; each
 *     step is idempotent (a put whose temp is gone and whose target is in
 *     place is done; a remove or rename checks its guard inode, so a
 *     replay never acts on a file put there later), then retire the
 *     journal.
 *   - Invalid, and every staged temp (path2 of put and create) named by
 *     the records returned is still present: the crash came while the
 *     journal was being written, before the commit point, so nothing was
 *     applied.  Roll back: remove those temps, and the journal.  Temps
 *     of records lost in the tear are not named; the temp sweeper removes
 *     them later, as any abandoned temp.
 *   - Invalid, but a staged temp it names is gone: the apply had begun,
 *     so the journal was complete at the commit point and was damaged
 *     later (media error, a stray write).  Neither redo nor roll back is
 *     safe: refuse with AFILE_ECORRUPT, change nothing, keep every temp
 *     and the journal for salvage, and name the files affected.
 *   - The journal cannot be read (an I/O error): recovery refuses with
 *     that error and changes nothing; the journal stays hot, so the next
 *     attempt recovers again.  A short read is not a tear: the reader must
 *     read to end of file and hand the parser all of it.
 *
 * The limit of that test: a header damaged in its magic, version, flags
 * or CRC field yields no records, so a consumed temp cannot be seen and
 * the journal looks torn; damage elsewhere in the header (the id, N, A)
 * still yields every intact record, the chain being anchored in the
 * header CRC as stored.
 *
 * Paths in a journal are relative to ROOT and cannot name ROOT's parent
 * (no "..", no leading '/'), but a forged journal can still name any file
 * under ROOT, so the recovery acts only through RESOLVE_BENEATH and
 * removes, on rollback, only names that have the form of a staged temp.
 */
#include <errno.h>
#include <string.h>

#include "atomicfile.h"
#include "journal.h"

#define HDR_SIZE     36u
#define REC_FIXED    20u /* a record's fixed part, before the paths */
#define REC_CRC      4u
#define TRAILER_SIZE 12u
#define JVERSION     1u
#define JPATH_MAX    4096u /* a path is shorter than this */

static const unsigned char magic_start[8] = {
    0x89, 'A', 'F', 'J', 'R', 'N', '\r', '\n'};
static const unsigned char magic_end[8] = {
    'A', 'F', 'J', 'E', 'N', 'D', '\r', '\n'};

static uint32_t
get16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

/* The @n bytes at @p, which need not be NUL-terminated, as a journal
 * path. */
static bool
path_ok(const char *p, size_t n)
{
	size_t i, start;

	if (n == 0 || n >= JPATH_MAX || p[0] == '/')
		return false;
	for (start = 0, i = 0; i <= n; i++) {
		size_t clen;

		if (i < n && p[i] == '\0')
			return false;
		if (i < n && p[i] != '/')
			continue;
		/* A component ends at i: p[start .. i-1]. */
		clen = i - start;
		if (clen == 0 || (clen == 1 && p[start] == '.') ||
		    (clen == 2 && p[start] == '.' && p[start + 1] == '.'))
			return false;
		/*
		 * The root's own .atomicfile/ (journal, intent log, locks) is
		 * never a transaction's target: a forged journal must not be
		 * able to name it.
		 */
		if (start == 0 && clen == 11 && !memcmp(p, ".atomicfile", 11))
			return false;
		start = i + 1;
	}
	return true;
}

bool
afile__jpath_ok(const char *path)
{
	size_t n = 0;

	if (path == NULL)
		return false;
	/* Bounded: a longer string is refused without reading it all. */
	while (n < JPATH_MAX && path[n] != '\0')
		n++;
	return path_ok(path, n);
}

static bool
op_known(unsigned int op)
{
	return op >= AFILE__J_PUT && op <= AFILE__J_RENAME;
}

/* The rules that bind a record's op, path2 and guard together. */
static bool
rec_shape_ok(unsigned int op, size_t len2, uint64_t guard_ino)
{
	if (!op_known(op))
		return false;
	if ((op == AFILE__J_REMOVE) != (len2 == 0))
		return false;
	/* Put and create are guarded by their staged temp instead. */
	if ((op == AFILE__J_PUT || op == AFILE__J_CREATE) && guard_ino != 0)
		return false;
	return true;
}

/* Length of a C string already known to be a journal path, or "". */
static size_t
slen(const char *s)
{
	return s == NULL ? 0 : strlen(s);
}

int
afile__journal_encode(uint64_t txn_id, const struct afile__jrec *recs, size_t n,
    void **ret_buf, size_t *ret_len)
{
	unsigned char *buf, *p;
	uint64_t area = 0;
	size_t i, total;
	uint32_t seed;

	if (ret_buf == NULL || ret_len == NULL || (recs == NULL && n > 0) ||
	    n > UINT32_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		const struct afile__jrec *r = &recs[i];

		if (!afile__jpath_ok(r->path))
			return -EINVAL;
		/* A remove has no path2: "" or NULL. */
		if (r->op == AFILE__J_REMOVE) {
			if (slen(r->path2) != 0)
				return -EINVAL;
		} else if (!afile__jpath_ok(r->path2)) {
			return -EINVAL;
		}
		if (!rec_shape_ok(r->op, slen(r->path2), r->guard_ino))
			return -EINVAL;
		area += REC_FIXED + slen(r->path) + slen(r->path2) + REC_CRC;
		/* A record is < 8.2 KiB: area cannot wrap before this. */
		if (area > UINT32_MAX ||
		    area > SIZE_MAX - HDR_SIZE - TRAILER_SIZE)
			return -EINVAL;
	}
	total = HDR_SIZE + (size_t)area + TRAILER_SIZE;
	buf = afile__malloc(total);
	if (buf == NULL)
		return -ENOMEM;

	memcpy(buf, magic_start, sizeof(magic_start));
	afile__put32(buf + 8, JVERSION);
	afile__put32(buf + 12, 0);
	afile__put64(buf + 16, txn_id);
	afile__put32(buf + 24, (uint32_t)n);
	afile__put32(buf + 28, (uint32_t)area);
	seed = afile__crc32c(0, buf, 32);
	afile__put32(buf + 32, seed);

	p = buf + HDR_SIZE;
	for (i = 0; i < n; i++) {
		const struct afile__jrec *r = &recs[i];
		size_t l1 = slen(r->path), l2 = slen(r->path2);

		p[0] = (unsigned char)r->op;
		p[1] = 0;
		p[2] = 0;
		p[3] = 0;
		afile__put32(p + 4, (uint32_t)l1);
		afile__put32(p + 8, (uint32_t)l2);
		afile__put64(p + 12, r->guard_ino);
		memcpy(p + REC_FIXED, r->path, l1);
		if (l2 > 0)
			memcpy(p + REC_FIXED + l1, r->path2, l2);
		seed = afile__crc32c(seed, p, REC_FIXED + l1 + l2);
		afile__put32(p + REC_FIXED + l1 + l2, seed);
		p += REC_FIXED + l1 + l2 + REC_CRC;
	}
	afile__put32(p, afile__crc32c(0, buf, (size_t)(p - buf)));
	memcpy(p + 4, magic_end, sizeof(magic_end));

	*ret_buf = buf;
	*ret_len = total;
	return 0;
}

/* One record as it lies in the buffer. */
struct rec_view {
	unsigned int op;
	uint64_t guard_ino;
	const char *path, *path2;
	size_t len1, len2;
	uint32_t crc; /* this record's CRC: the seed of the next */
	size_t next;  /* offset just past the record */
};

/*
 * Parse the record at @off of @buf, which must end by @end (off <= end),
 * its CRC chained from @seed.  Returns false when it is incomplete,
 * malformed or fails its CRC.
 */
static bool
rec_parse(const unsigned char *buf, size_t end, size_t off, uint32_t seed,
    struct rec_view *v)
{
	const unsigned char *p = buf + off;
	size_t left = end - off, body;
	uint32_t l1, l2;

	if (left < REC_FIXED + REC_CRC)
		return false;
	v->op = p[0];
	l1 = afile__get32(p + 4);
	l2 = afile__get32(p + 8);
	v->guard_ino = afile__get64(p + 12);
	if (p[1] != 0 || get16(p + 2) != 0)
		return false;
	/* Both lengths are bounded before any sum is formed. */
	if (l1 == 0 || l1 >= JPATH_MAX || l2 >= JPATH_MAX)
		return false;
	if (!rec_shape_ok(v->op, l2, v->guard_ino))
		return false;
	body = REC_FIXED + l1 + l2;
	if (left - REC_CRC < body)
		return false;
	v->crc = afile__crc32c(seed, p, body);
	if (v->crc != afile__get32(p + body))
		return false;
	v->path = (const char *)p + REC_FIXED;
	v->path2 = v->path + l1;
	v->len1 = l1;
	v->len2 = l2;
	if (!path_ok(v->path, l1) || (l2 > 0 && !path_ok(v->path2, l2)))
		return false;
	v->next = off + body + REC_CRC;
	return true;
}

int
afile__journal_decode(const void *vbuf, size_t len, struct afile__journal *ret)
{
	const unsigned char *buf = vbuf;
	struct rec_view v;
	uint32_t count, area, seed0, seed;
	size_t end, off, n, i, blob_len;
	bool hdr_ok, valid;
	char *q;

	memset(ret, 0, sizeof(*ret));
	if (buf == NULL || len < HDR_SIZE)
		return AFILE_ECORRUPT;
	if (memcmp(buf, magic_start, sizeof(magic_start)) != 0 ||
	    afile__get32(buf + 8) != JVERSION || afile__get32(buf + 12) != 0)
		return AFILE_ECORRUPT;
	count = afile__get32(buf + 24);
	area = afile__get32(buf + 28);
	seed0 = afile__get32(buf + 32);
	hdr_ok = seed0 == afile__crc32c(0, buf, 32);
	if (hdr_ok)
		ret->txn_id = afile__get64(buf + 16);

	/*
	 * Pass 1: find the intact prefix of records and the room their
	 * strings need.  A trusted header bounds the records by its area;
	 * otherwise the chained CRCs alone decide, up to the buffer's end.
	 */
	end = len;
	if (hdr_ok && area <= len - HDR_SIZE)
		end = HDR_SIZE + (size_t)area;
	off = HDR_SIZE;
	seed = seed0;
	n = 0;
	blob_len = 0;
	while (off < end && (!hdr_ok || n < count) &&
	    rec_parse(buf, end, off, seed, &v)) {
		n++;
		blob_len += v.len1 + 1 + v.len2 + 1;
		off = v.next;
		seed = v.crc;
	}
	valid = hdr_ok && n == count && off == HDR_SIZE + (size_t)area &&
	    len - off == TRAILER_SIZE &&
	    afile__get32(buf + off) == afile__crc32c(0, buf, off) &&
	    memcmp(buf + off + 4, magic_end, sizeof(magic_end)) == 0;

	/*
	 * Pass 2: copy the strings out, NUL-terminated.  Each record takes
	 * more bytes of @buf than its strings take in the blob, so blob_len
	 * is below len; the array's size is checked.
	 */
	if (n > 0) {
		if (n <= SIZE_MAX / sizeof(*ret->recs))
			ret->recs = afile__malloc(n * sizeof(*ret->recs));
		ret->blob = afile__malloc(blob_len);
		if (ret->recs == NULL || ret->blob == NULL) {
			afile__journal_done(ret);
			return -ENOMEM;
		}
	}
	off = HDR_SIZE;
	seed = seed0;
	q = ret->blob;
	for (i = 0; i < n; i++) {
		struct afile__jrec *r = &ret->recs[i];

		/* Pass 1 accepted these very bytes; but should the buffer
		 * change under us, stop rather than trust a stale view. */
		if (!rec_parse(buf, end, off, seed, &v)) {
			n = i;
			valid = false;
			break;
		}
		r->op = v.op;
		r->guard_ino = v.guard_ino;
		memcpy(q, v.path, v.len1);
		q[v.len1] = '\0';
		r->path = q;
		q += v.len1 + 1;
		if (v.len2 > 0)
			memcpy(q, v.path2, v.len2);
		q[v.len2] = '\0';
		r->path2 = q;
		q += v.len2 + 1;
		off = v.next;
		seed = v.crc;
	}
	ret->nrec = n;
	ret->valid = valid;
	return valid ? 0 : AFILE_ECORRUPT;
}

void
afile__journal_done(struct afile__journal *j)
{
	if (j == NULL)
		return;
	afile__free(j->recs);
	afile__free(j->blob);
	memset(j, 0, sizeof(*j));
}
