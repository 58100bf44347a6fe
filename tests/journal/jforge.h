/* SPDX-License-Identifier: MIT */
/*
 * jforge.h - forging journals for tests: little-endian stores and a
 * routine that recomputes every CRC of a journal, so that a test (or the
 * fuzzer) can present a malformed journal whose checksums all match and
 * so reach the parser's structural checks.  Offsets as in src/journal.c.
 */
#ifndef AFILE_JFORGE_H
#define AFILE_JFORGE_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"

#define JF_HDR     36u
#define JF_REC     20u /* fixed part of a record */
#define JF_TRAILER 12u

static inline void
jf_put16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static inline void
jf_put32(unsigned char *p, uint32_t v)
{
	jf_put16(p, v);
	jf_put16(p + 2, v >> 16);
}

static inline void
jf_put64(unsigned char *p, uint64_t v)
{
	jf_put32(p, (uint32_t)v);
	jf_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t
jf_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/*
 * Recompute the CRCs of the journal in @buf[0 .. @len): the header's;
 * each record's, chained, following the declared lengths for at most the
 * header's record count and as long as a record fits in @len; and the
 * journal CRC at 36 + area when it fits.  Lengths may be anything: this
 * never touches a byte outside @buf.
 */
static inline void
jf_fix_crcs(unsigned char *buf, size_t len)
{
	uint32_t seed, count, area, i;
	size_t off = JF_HDR;

	if (len < JF_HDR)
		return;
	seed = afile__crc32c(0, buf, 32);
	jf_put32(buf + 32, seed);
	count = jf_get32(buf + 24);
	area = jf_get32(buf + 28);
	for (i = 0; i < count && len - off >= JF_REC + 4; i++) {
		uint64_t l1 = jf_get32(buf + off + 4);
		uint64_t l2 = jf_get32(buf + off + 8);
		uint64_t body = JF_REC + l1 + l2;

		if (body + 4 > len - off)
			break;
		seed = afile__crc32c(seed, buf + off, (size_t)body);
		jf_put32(buf + off + body, seed);
		off += (size_t)body + 4;
	}
	if (area <= len - JF_HDR && len - JF_HDR - area >= 4)
		jf_put32(buf + JF_HDR + area,
		    afile__crc32c(0, buf, JF_HDR + (size_t)area));
}

#endif /* AFILE_JFORGE_H */
