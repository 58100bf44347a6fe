/* SPDX-License-Identifier: MIT */
/*
 * test_journal.c - the journal format (src/journal.c): CRC-32C against
 * published vectors, round trips, a golden journal, and rejection of every
 * truncation, every flipped bit or byte, and forged journals whose CRCs
 * all match but whose structure is wrong.
 *
 * Besides "invalid", the tests check what an invalid journal still
 * yields: its records must be a prefix of the ones written, never a
 * damaged record.  The checked buffers are malloc'd to their exact size,
 * so that AddressSanitizer catches a read past the end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "atomicfile.h"
#include "jforge.h"
#include "journal.h"
#include "sys.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* One of each op, with paths of various lengths and a non-ASCII name. */
static const struct afile__jrec big_recs[] = {
    {AFILE__J_PUT, "etc/app.conf", "etc/.app.conf.k3J9xQ2mP7aZ.afile-tmp", 0},
    {AFILE__J_CREATE, "data/new file \xc3\xbc.bin",
	".new file \xc3\xbc.bin.Qw8e7r6t5y4u.afile-tmp", 0},
    {AFILE__J_REMOVE, "var/old.log", "", 123456789012u},
    {AFILE__J_RENAME, "a/b/c", "a/b/d", 42},
    {AFILE__J_PUT, "x", ".x.000000000000.afile-tmp", 0},
    {AFILE__J_REMOVE, "deep/er/than/you/think/...a/file", "", UINT64_MAX},
};

static const struct afile__jrec small_recs[] = {
    {AFILE__J_PUT, "f", ".f.t", 0},
    {AFILE__J_REMOVE, "g", "", 9},
};

/* The worked example of docs/FORMAT.md: any change of the format shows. */
static const struct afile__jrec golden_recs[] = {
    {AFILE__J_PUT, "conf", ".conf.a1b2c3d4e5f6.afile-tmp", 0},
    {AFILE__J_REMOVE, "old", "", 1234},
};
static const unsigned char golden[] = {0x89, 0x41, 0x46, 0x4a, 0x52, 0x4e, 0x0d,
    0x0a, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x53, 0x00, 0x00,
    0x00, 0xe2, 0xe5, 0xe7, 0x1f, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00,
    0x00, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x63, 0x6f, 0x6e, 0x66, 0x2e, 0x63, 0x6f, 0x6e, 0x66, 0x2e, 0x61,
    0x31, 0x62, 0x32, 0x63, 0x33, 0x64, 0x34, 0x65, 0x35, 0x66, 0x36, 0x2e,
    0x61, 0x66, 0x69, 0x6c, 0x65, 0x2d, 0x74, 0x6d, 0x70, 0x7e, 0xcc, 0xd2,
    0xb4, 0x03, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xd2, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6f, 0x6c, 0x64,
    0xe0, 0x3a, 0xdc, 0xc0, 0x0b, 0x55, 0xc9, 0x7f, 0x41, 0x46, 0x4a, 0x45,
    0x4e, 0x44, 0x0d, 0x0a};

/* Counters for the report at the end of the run. */
static unsigned long n_truncations, n_bitflips, n_byteflips, n_forged;

static const char *
nz(const char *s)
{
	return s == NULL ? "" : s;
}

static void
assert_rec_equal(const struct afile__jrec *a, const struct afile__jrec *b)
{
	assert_int_equal(a->op, b->op);
	assert_string_equal(a->path, b->path);
	assert_string_equal(nz(a->path2), nz(b->path2));
	assert_true(a->guard_ino == b->guard_ino);
}

static void
encode(uint64_t txn, const struct afile__jrec *recs, size_t n,
    unsigned char **ret_buf, size_t *ret_len)
{
	void *buf = NULL;

	assert_int_equal(afile__journal_encode(txn, recs, n, &buf, ret_len), 0);
	*ret_buf = buf;
}

/* Decode a copy of @len bytes of @buf, in a buffer of exactly that size. */
static int
decode_exact(const unsigned char *buf, size_t len, struct afile__journal *j)
{
	unsigned char *copy = malloc(len > 0 ? len : 1);
	int r;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, buf, len);
	r = afile__journal_decode(len > 0 ? copy : NULL, len, j);
	free(copy);
	/* The records must not point into the input. */
	return r;
}

/*
 * An invalid journal: AFILE_ECORRUPT, valid false, and its records a
 * prefix of @recs (each one exactly as written).
 */
static void
assert_invalid_prefix(const unsigned char *buf, size_t len,
    const struct afile__jrec *recs, size_t n)
{
	struct afile__journal j;
	size_t i;

	assert_int_equal(decode_exact(buf, len, &j), AFILE_ECORRUPT);
	assert_false(j.valid);
	assert_true(j.nrec <= n);
	for (i = 0; i < j.nrec; i++)
		assert_rec_equal(&j.recs[i], &recs[i]);
	afile__journal_done(&j);
}

static void
assert_valid(const unsigned char *buf, size_t len, uint64_t txn,
    const struct afile__jrec *recs, size_t n)
{
	struct afile__journal j;
	size_t i;

	assert_int_equal(decode_exact(buf, len, &j), 0);
	assert_true(j.valid);
	assert_true(j.txn_id == txn);
	assert_int_equal(j.nrec, n);
	for (i = 0; i < n; i++)
		assert_rec_equal(&j.recs[i], &recs[i]);
	afile__journal_done(&j);
}

/* The CRC bit by bit, as a reference for the table-driven one. */
static uint32_t
crc32c_bitwise(const unsigned char *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	int k;

	while (n-- > 0) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void
test_crc32c_vectors(void **state)
{
	unsigned char b[32];
	size_t i;

	(void)state;
	/* RFC 3720, appendix B.4. */
	memset(b, 0, sizeof(b));
	assert_int_equal(afile__crc32c(0, b, 32), 0x8a9136aa);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(afile__crc32c(0, b, 32), 0x62a8ab43);
	for (i = 0; i < 32; i++)
		b[i] = (unsigned char)i;
	assert_int_equal(afile__crc32c(0, b, 32), 0x46dd794e);
	for (i = 0; i < 32; i++)
		b[i] = (unsigned char)(31 - i);
	assert_int_equal(afile__crc32c(0, b, 32), 0x113fdb5c);
	/* The "check" value of the CRC catalogue. */
	assert_int_equal(afile__crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(afile__crc32c(0, "", 0), 0);
	/* Every table entry: byte b indexes entry ~b on the first step. */
	for (i = 0; i < 256; i++) {
		unsigned char c = (unsigned char)i;

		assert_int_equal(
		    afile__crc32c(0, &c, 1), crc32c_bitwise(&c, 1));
	}
	for (i = 0; i < 32; i++)
		b[i] = (unsigned char)(i * 37 + 11);
	assert_int_equal(afile__crc32c(0, b, 32), crc32c_bitwise(b, 32));
	/* Incremental: any split gives the same CRC. */
	for (i = 0; i <= 9; i++) {
		const char *s = "123456789";

		assert_int_equal(
		    afile__crc32c(afile__crc32c(0, s, i), s + i, 9 - i),
		    0xe3069283);
	}
	assert_int_equal(afile__crc32c_portable(0, "123456789", 9), 0xe3069283);
}

/*
 * The CPU's instruction (crc32c.c) and the table agree on every length
 * and alignment around the 8-byte steps, and on a record-sized buffer.
 */
static void
test_crc32c_paths(void **state)
{
	static unsigned char b[4096 + 80];
	uint32_t seed = 0;
	size_t off, n;

	(void)state;
	for (n = 0; n < sizeof(b); n++)
		b[n] = (unsigned char)(n * 131 + (n >> 7));
	for (off = 0; off < 9; off++)
		for (n = 0; n <= 70; n++) {
			assert_int_equal(afile__crc32c(seed, b + off, n),
			    afile__crc32c_portable(seed, b + off, n));
			seed = seed * 2654435761u + (uint32_t)n;
		}
	assert_int_equal(afile__crc32c(0, b + 3, 4172),
	    afile__crc32c_portable(0, b + 3, 4172));
	assert_int_equal(afile__crc32c(0, b, 4172), crc32c_bitwise(b, 4172));
}

static void
test_jpath_ok(void **state)
{
	static const char *const good[] = {"a", "a/b", ".a", "a.", "a..b",
	    "...", "a/.b/c", "..a/b..", ".afile-tmp", "x y/\xc3\xbc"};
	static const char *const bad[] = {"", "/", "/a", "a//b", "a/", "./a",
	    "a/.", "a/./b", "../a", "a/..", "a/../b", "..", ".", "//a"};
	char *long_path = malloc(4097);
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(good); i++)
		assert_true(afile__jpath_ok(good[i]));
	for (i = 0; i < NELEM(bad); i++) {
		if (afile__jpath_ok(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_false(afile__jpath_ok(NULL));
	assert_non_null(long_path);
	memset(long_path, 'a', 4096);
	long_path[4095] = '\0';
	assert_true(afile__jpath_ok(long_path)); /* 4095 bytes */
	long_path[4095] = 'a';
	long_path[4096] = '\0';
	assert_false(afile__jpath_ok(long_path)); /* 4096 bytes */
	long_path[100] = '/';
	long_path[101] = '/';
	long_path[4095] = '\0';
	assert_false(afile__jpath_ok(long_path));
	free(long_path);
}

static void
test_round_trip(void **state)
{
	unsigned char *buf;
	size_t len, want = 48, i;

	(void)state;
	encode(0x0102030405060708u, big_recs, NELEM(big_recs), &buf, &len);
	for (i = 0; i < NELEM(big_recs); i++)
		want +=
		    24 + strlen(big_recs[i].path) + strlen(big_recs[i].path2);
	assert_int_equal(len, want);
	assert_valid(buf, len, 0x0102030405060708u, big_recs, NELEM(big_recs));
	free(buf);

	/* Each op alone, and the extreme ids. */
	for (i = 0; i < 4; i++) {
		encode(UINT64_MAX - i, &big_recs[i], 1, &buf, &len);
		assert_valid(buf, len, UINT64_MAX - i, &big_recs[i], 1);
		free(buf);
	}

	/* No records at all is a valid journal, 48 bytes. */
	encode(0, NULL, 0, &buf, &len);
	assert_int_equal(len, 48);
	assert_valid(buf, len, 0, NULL, 0);
	free(buf);
}

static void
test_round_trip_longest_paths(void **state)
{
	struct afile__jrec r = {AFILE__J_RENAME, NULL, NULL, 1};
	char *p1 = malloc(4096), *p2 = malloc(4096);
	unsigned char *buf;
	size_t len;

	(void)state;
	assert_non_null(p1);
	assert_non_null(p2);
	memset(p1, 'a', 4095);
	p1[4095] = '\0';
	memset(p2, 'b', 4095);
	p2[2000] = '/';
	p2[4095] = '\0';
	r.path = p1;
	r.path2 = p2;
	encode(5, &r, 1, &buf, &len);
	assert_int_equal(len, 48 + 24 + 2 * 4095);
	assert_valid(buf, len, 5, &r, 1);
	free(buf);
	free(p1);
	free(p2);
}

static void
test_golden(void **state)
{
	unsigned char *buf;
	size_t len;

	(void)state;
	encode(7, golden_recs, NELEM(golden_recs), &buf, &len);
	assert_int_equal(len, sizeof(golden));
	assert_memory_equal(buf, golden, len);
	free(buf);
	assert_valid(
	    golden, sizeof(golden), 7, golden_recs, NELEM(golden_recs));
}

static void
test_encode_refuses(void **state)
{
	static const struct afile__jrec bad[] = {
	    {0, "a", "b", 0},
	    {5, "a", "b", 0},
	    {AFILE__J_PUT, "", ".a.t", 0},
	    {AFILE__J_PUT, "/a", ".a.t", 0},
	    {AFILE__J_PUT, "a/../b", ".a.t", 0},
	    {AFILE__J_PUT, "..", ".a.t", 0},
	    {AFILE__J_PUT, "a//b", ".a.t", 0},
	    {AFILE__J_PUT, "a/", ".a.t", 0},
	    {AFILE__J_PUT, "./a", ".a.t", 0},
	    {AFILE__J_PUT, "a", "../t", 0},
	    {AFILE__J_PUT, "a", "/tmp/t", 0},
	    {AFILE__J_PUT, "a", "", 0},
	    {AFILE__J_PUT, "a", NULL, 0},
	    {AFILE__J_PUT, NULL, "t", 0},
	    {AFILE__J_PUT, "a", ".a.t", 7}, /* put has no guard */
	    {AFILE__J_CREATE, "a", "", 0},
	    {AFILE__J_CREATE, "a", ".a.t", 1},
	    {AFILE__J_REMOVE, "a", "b", 0}, /* remove has no path2 */
	    {AFILE__J_REMOVE, "a/./b", "", 0},
	    {AFILE__J_RENAME, "a", "", 0},
	    {AFILE__J_RENAME, "a", "b/..", 0},
	};
	/* A NUL inside a path cannot be told apart from its end in a C
	 * string: "a\0/../x" is just "a". The decoder refuses raw NULs. */
	struct afile__jrec two[2] = {big_recs[0], {0}};
	void *buf = (void *)&two;
	size_t len = 12345, i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		two[1] = bad[i];
		if (afile__journal_encode(1, two, 2, &buf, &len) != -EINVAL)
			fail_msg("bad record %zu accepted", i);
		/* Nothing returned on failure. */
		assert_ptr_equal(buf, (void *)&two);
		assert_int_equal(len, 12345);
	}
	assert_int_equal(
	    afile__journal_encode(1, NULL, 1, &buf, &len), -EINVAL);
	assert_int_equal(afile__journal_encode(1, two, 1, NULL, &len), -EINVAL);
	/* A remove's path2 may be NULL as well as "". */
	two[0] = (struct afile__jrec){AFILE__J_REMOVE, "gone", NULL, 3};
	assert_int_equal(afile__journal_encode(1, two, 1, &buf, &len), 0);
	assert_valid(buf, len, 1, two, 1);
	afile__free(buf);
}

static void
check_truncations(const struct afile__jrec *recs, size_t n)
{
	unsigned char *buf, *longer;
	size_t len, cut;

	encode(77, recs, n, &buf, &len);
	for (cut = 0; cut < len; cut++) {
		assert_invalid_prefix(buf, cut, recs, n);
		n_truncations++;
	}
	/* And one byte too many: trailing bytes after the end magic. */
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, buf, len);
	longer[len] = 0;
	assert_invalid_prefix(longer, len + 1, recs, n);
	longer[len] = 'A';
	assert_invalid_prefix(longer, len + 1, recs, n);
	free(longer);
	free(buf);
}

static void
test_truncated_everywhere(void **state)
{
	struct afile__journal j;
	unsigned char *buf;
	size_t len, cut, rec_end = 36;

	(void)state;
	check_truncations(big_recs, NELEM(big_recs));
	check_truncations(small_recs, NELEM(small_recs));

	/* A cut right after record k yields exactly records 0..k: records
	 * that were written whole are kept for the rollback. */
	encode(3, big_recs, NELEM(big_recs), &buf, &len);
	for (cut = 0; cut < NELEM(big_recs); cut++) {
		rec_end += 24 + strlen(big_recs[cut].path) +
		    strlen(big_recs[cut].path2);
		assert_int_equal(
		    decode_exact(buf, rec_end, &j), AFILE_ECORRUPT);
		assert_int_equal(j.nrec, cut + 1);
		assert_true(j.txn_id == 3);
		afile__journal_done(&j);
		assert_int_equal(
		    decode_exact(buf, rec_end - 1, &j), AFILE_ECORRUPT);
		assert_int_equal(j.nrec, cut);
		afile__journal_done(&j);
	}
	/* Cut between the journal CRC and the end magic: all records. */
	assert_int_equal(decode_exact(buf, len - 8, &j), AFILE_ECORRUPT);
	assert_int_equal(j.nrec, NELEM(big_recs));
	afile__journal_done(&j);
	free(buf);
}

static void
test_bit_flips(void **state)
{
	unsigned char *buf;
	size_t len, i;
	unsigned int bit;

	(void)state;
	/* Every bit of a small journal. */
	encode(1, small_recs, NELEM(small_recs), &buf, &len);
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			buf[i] ^= (unsigned char)(1u << bit);
			assert_invalid_prefix(
			    buf, len, small_recs, NELEM(small_recs));
			buf[i] ^= (unsigned char)(1u << bit);
			n_bitflips++;
		}
	}
	assert_valid(buf, len, 1, small_recs, NELEM(small_recs));
	free(buf);

	/* Every byte of a bigger one, inverted. */
	encode(2, big_recs, NELEM(big_recs), &buf, &len);
	for (i = 0; i < len; i++) {
		buf[i] ^= 0xff;
		assert_invalid_prefix(buf, len, big_recs, NELEM(big_recs));
		buf[i] ^= 0xff;
		n_byteflips++;
	}
	assert_valid(buf, len, 2, big_recs, NELEM(big_recs));
	free(buf);
}

/*
 * A damaged header: the records, bound to the header CRC as stored, are
 * still returned, but not the transaction id, which cannot be trusted.
 */
static void
test_damaged_header_keeps_records(void **state)
{
	struct afile__journal j;
	unsigned char *buf;
	size_t len;

	(void)state;
	encode(0x55, big_recs, NELEM(big_recs), &buf, &len);
	buf[16] ^= 1; /* the transaction id */
	assert_int_equal(decode_exact(buf, len, &j), AFILE_ECORRUPT);
	assert_int_equal(j.nrec, NELEM(big_recs));
	assert_true(j.txn_id == 0);
	afile__journal_done(&j);
	buf[16] ^= 1;
	buf[33] ^= 1; /* the header CRC itself: the chain breaks at once */
	assert_int_equal(decode_exact(buf, len, &j), AFILE_ECORRUPT);
	assert_int_equal(j.nrec, 0);
	afile__journal_done(&j);
	free(buf);
}

/*
 * Records from another journal (a stale block, a splice) are refused
 * even when every CRC but the records' own is made to match: the record
 * CRCs chain from the header's.
 */
static void
test_stale_and_reordered_records(void **state)
{
	static const struct afile__jrec same_len[] = {
	    {AFILE__J_RENAME, "a", "b", 1},
	    {AFILE__J_RENAME, "c", "d", 2},
	    {AFILE__J_RENAME, "e", "f", 3},
	};
	struct afile__journal j;
	unsigned char *a, *b, tmp[26];
	size_t alen, blen;

	(void)state;
	encode(1, same_len, 3, &a, &alen);
	encode(2, same_len, 3, &b, &blen);
	/* b's header on a's records, header and journal CRCs recomputed. */
	memcpy(a, b, 36);
	jf_put32(a + alen - 12, afile__crc32c(0, a, alen - 12));
	assert_int_equal(decode_exact(a, alen, &j), AFILE_ECORRUPT);
	assert_int_equal(j.nrec, 0);
	afile__journal_done(&j);

	/* Records 1 and 2 of b swapped, journal CRC recomputed. */
	memcpy(tmp, b + 36 + 26, 26);
	memmove(b + 36 + 26, b + 36 + 52, 26);
	memcpy(b + 36 + 52, tmp, 26);
	jf_put32(b + blen - 12, afile__crc32c(0, b, blen - 12));
	assert_int_equal(decode_exact(b, blen, &j), AFILE_ECORRUPT);
	assert_int_equal(j.nrec, 1);
	assert_rec_equal(&j.recs[0], &same_len[0]);
	afile__journal_done(&j);
	free(a);
	free(b);
}

/* A journal builder for forgeries: raw fields, CRCs fixed at the end. */
struct forge {
	unsigned char *buf;
	size_t len;
	uint32_t count;
};

static void
forge_begin(struct forge *f)
{
	f->buf = calloc(1, 36);
	assert_non_null(f->buf);
	f->len = 36;
	f->count = 0;
	memcpy(f->buf,
	    "\x89"
	    "AFJRN\r\n",
	    8);
	jf_put32(f->buf + 8, 1);
	jf_put64(f->buf + 16, 99);
}

static void
forge_append(struct forge *f, const void *p, size_t n)
{
	f->buf = realloc(f->buf, f->len + n);
	assert_non_null(f->buf);
	memcpy(f->buf + f->len, p, n);
	f->len += n;
}

/* A record whose declared lengths are @l1 and @l2, followed by @n1 and
 * @n2 bytes of paths (which may disagree with the lengths) and a CRC
 * slot. */
static void
forge_rec(struct forge *f, unsigned int op, unsigned int flags,
    unsigned int reserved, uint32_t l1, uint32_t l2, uint64_t guard,
    const char *p1, size_t n1, const char *p2, size_t n2)
{
	unsigned char fixed[20] = {0}, crc[4] = {0};

	fixed[0] = (unsigned char)op;
	fixed[1] = (unsigned char)flags;
	jf_put16(fixed + 2, reserved);
	jf_put32(fixed + 4, l1);
	jf_put32(fixed + 8, l2);
	jf_put64(fixed + 12, guard);
	forge_append(f, fixed, sizeof(fixed));
	forge_append(f, p1, n1);
	forge_append(f, p2, n2);
	forge_append(f, crc, sizeof(crc));
	f->count++;
}

static void
forge_good(struct forge *f)
{
	forge_rec(f, AFILE__J_PUT, 0, 0, 1, 4, 0, "f", 1, ".f.t", 4);
}

/* Close the journal: header counts, trailer, every CRC made right. */
static void
forge_end(struct forge *f)
{
	unsigned char trailer[12] = {0};

	jf_put32(f->buf + 24, f->count);
	jf_put32(f->buf + 28, (uint32_t)(f->len - 36));
	memcpy(trailer + 4, "AFJEND\r\n", 8);
	forge_append(f, trailer, sizeof(trailer));
	jf_fix_crcs(f->buf, f->len);
}

/* The forged journal: refused, with only its leading good records. */
static void
assert_forged(struct forge *f, size_t want_nrec)
{
	struct afile__journal j;

	assert_int_equal(decode_exact(f->buf, f->len, &j), AFILE_ECORRUPT);
	assert_false(j.valid);
	assert_int_equal(j.nrec, want_nrec);
	if (want_nrec > 0) {
		assert_string_equal(j.recs[0].path, "f");
		assert_string_equal(j.recs[0].path2, ".f.t");
	}
	afile__journal_done(&j);
	free(f->buf);
	n_forged++;
}

/* @p as path (@second: as path2) of a put after a good record. */
static void
forge_bad_path(const char *p, size_t n, bool second)
{
	struct forge f;

	forge_begin(&f);
	forge_good(&f);
	if (second)
		forge_rec(
		    &f, AFILE__J_PUT, 0, 0, 1, (uint32_t)n, 0, "a", 1, p, n);
	else
		forge_rec(
		    &f, AFILE__J_PUT, 0, 0, (uint32_t)n, 4, 0, p, n, ".a.t", 4);
	forge_good(&f);
	forge_end(&f);
	assert_forged(&f, 1);
}

static void
test_forged_paths(void **state)
{
	static const char *const bad[] = {"..", ".", "../x", "a/..", "a/../b",
	    "/abs", "/", "a//b", "a/", "./a", "a/./b", "//"};
	struct forge f;
	int second;
	size_t i;

	(void)state;
	/* Control: the forge builds a valid journal when nothing is bad. */
	forge_begin(&f);
	forge_good(&f);
	forge_good(&f);
	forge_end(&f);
	{
		struct afile__journal j;

		assert_int_equal(decode_exact(f.buf, f.len, &j), 0);
		assert_int_equal(j.nrec, 2);
		afile__journal_done(&j);
		free(f.buf);
	}
	for (second = 0; second < 2; second++) {
		for (i = 0; i < NELEM(bad); i++)
			forge_bad_path(bad[i], strlen(bad[i]), second);
		forge_bad_path("a\0b", 3, second);
		forge_bad_path("\0", 1, second);
		forge_bad_path("ab\0", 3, second);
	}
	/* An empty path. */
	forge_bad_path("", 0, false);
}

static void
test_forged_fields(void **state)
{
	struct forge f;
	unsigned int op;

	(void)state;
	/* Unknown ops. */
	for (op = 0; op < 256; op++) {
		if (op >= AFILE__J_PUT && op <= AFILE__J_RENAME)
			continue;
		forge_begin(&f);
		forge_good(&f);
		forge_rec(&f, op, 0, 0, 1, 1, 0, "a", 1, "b", 1);
		forge_end(&f);
		assert_forged(&f, 1);
	}
	/* Nonzero flags, nonzero reserved. */
	forge_begin(&f);
	forge_good(&f);
	forge_rec(&f, AFILE__J_RENAME, 1, 0, 1, 1, 0, "a", 1, "b", 1);
	forge_end(&f);
	assert_forged(&f, 1);
	forge_begin(&f);
	forge_good(&f);
	forge_rec(&f, AFILE__J_RENAME, 0, 0x100, 1, 1, 0, "a", 1, "b", 1);
	forge_end(&f);
	assert_forged(&f, 1);
	/* A remove with a path2; a put, create, rename without one. */
	forge_begin(&f);
	forge_good(&f);
	forge_rec(&f, AFILE__J_REMOVE, 0, 0, 1, 1, 0, "a", 1, "b", 1);
	forge_end(&f);
	assert_forged(&f, 1);
	for (op = AFILE__J_PUT; op <= AFILE__J_RENAME; op++) {
		if (op == AFILE__J_REMOVE)
			continue;
		forge_begin(&f);
		forge_good(&f);
		forge_rec(&f, op, 0, 0, 1, 0, 0, "a", 1, "", 0);
		forge_end(&f);
		assert_forged(&f, 1);
	}
	/* A guard on a put or a create. */
	for (op = AFILE__J_PUT; op <= AFILE__J_CREATE; op++) {
		forge_begin(&f);
		forge_good(&f);
		forge_rec(&f, op, 0, 0, 1, 1, 5, "a", 1, "b", 1);
		forge_end(&f);
		assert_forged(&f, 1);
	}
	/* Unknown version, header flags: nothing is read at all. */
	forge_begin(&f);
	forge_good(&f);
	jf_put32(f.buf + 8, 2);
	forge_end(&f);
	assert_forged(&f, 0);
	forge_begin(&f);
	forge_good(&f);
	jf_put32(f.buf + 8, 0);
	forge_end(&f);
	assert_forged(&f, 0);
	forge_begin(&f);
	forge_good(&f);
	jf_put32(f.buf + 12, 1);
	forge_end(&f);
	assert_forged(&f, 0);
	/* Wrong end magic. */
	forge_begin(&f);
	forge_good(&f);
	forge_end(&f);
	f.buf[f.len - 1] = '\0';
	assert_forged(&f, 1);
}

static void
test_forged_counts(void **state)
{
	struct forge f;

	(void)state;
	/* Count one short, one over, zero, and huge; area likewise. */
	forge_begin(&f);
	forge_good(&f);
	forge_good(&f);
	forge_end(&f);
	jf_put32(f.buf + 24, 1);
	jf_fix_crcs(f.buf, f.len);
	assert_forged(&f, 1);

	forge_begin(&f);
	forge_good(&f);
	forge_good(&f);
	forge_end(&f);
	jf_put32(f.buf + 24, 3);
	jf_fix_crcs(f.buf, f.len);
	assert_forged(&f, 2);

	forge_begin(&f);
	forge_good(&f);
	forge_end(&f);
	jf_put32(f.buf + 24, 0);
	jf_fix_crcs(f.buf, f.len);
	assert_forged(&f, 0);

	forge_begin(&f);
	forge_good(&f);
	forge_end(&f);
	jf_put32(f.buf + 24, UINT32_MAX);
	jf_fix_crcs(f.buf, f.len);
	assert_forged(&f, 1);

	forge_begin(&f);
	forge_good(&f);
	forge_good(&f);
	forge_end(&f);
	jf_put32(f.buf + 28, 29); /* one record's worth */
	jf_fix_crcs(f.buf, f.len);
	assert_forged(&f, 1);

	forge_begin(&f);
	forge_good(&f);
	forge_end(&f);
	jf_put32(f.buf + 28, 30);
	jf_fix_crcs(f.buf, f.len);
	assert_forged(&f, 1);

	forge_begin(&f);
	forge_good(&f);
	forge_end(&f);
	jf_put32(f.buf + 28, UINT32_MAX);
	jf_fix_crcs(f.buf, f.len);
	assert_forged(&f, 1);

	/* A whole extra journal after the first one. */
	forge_begin(&f);
	forge_good(&f);
	forge_end(&f);
	{
		unsigned char *copy = malloc(f.len);
		size_t one = f.len;

		assert_non_null(copy);
		memcpy(copy, f.buf, one);
		forge_append(&f, copy, one);
		free(copy);
	}
	assert_forged(&f, 1);
}

/* Lengths that point far beyond the buffer: ASan watches. */
static void
test_forged_huge_lengths(void **state)
{
	static const uint32_t lens[][2] = {
	    {UINT32_MAX, 1},
	    {1, UINT32_MAX},
	    {UINT32_MAX, UINT32_MAX},
	    {0x80000000u, 0x80000000u},
	    {4096, 1},
	    {1, 4096},
	    {4095, 4095}, /* legal lengths, but not that many bytes */
	    {2, 4},       /* one byte more than given */
	    {1, 5},
	};
	struct forge f;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(lens); i++) {
		forge_begin(&f);
		forge_good(&f);
		forge_rec(&f, AFILE__J_PUT, 0, 0, lens[i][0], lens[i][1], 0,
		    "a", 1, ".a.t", 4);
		forge_end(&f);
		assert_forged(&f, 1);
		/* The same record last, with nothing after it. */
		forge_begin(&f);
		forge_good(&f);
		forge_rec(&f, AFILE__J_PUT, 0, 0, lens[i][0], lens[i][1], 0,
		    "a", 1, ".a.t", 4);
		f.len -= 4;
		jf_put32(f.buf + 24, f.count);
		jf_put32(f.buf + 28, UINT32_MAX);
		jf_fix_crcs(f.buf, f.len);
		assert_forged(&f, 1);
	}
}

static void
test_decode_edges(void **state)
{
	struct afile__journal j;

	(void)state;
	assert_int_equal(afile__journal_decode(NULL, 0, &j), AFILE_ECORRUPT);
	assert_false(j.valid);
	assert_int_equal(j.nrec, 0);
	assert_null(j.recs);
	afile__journal_done(&j);
	afile__journal_done(&j); /* twice is harmless */
	afile__journal_done(NULL);
	/* The header alone, and the header with a valid CRC. */
	assert_int_equal(decode_exact(golden, 36, &j), AFILE_ECORRUPT);
	assert_int_equal(j.nrec, 0);
	assert_true(j.txn_id == 7);
	afile__journal_done(&j);
	/* Not a journal: zeros. */
	{
		unsigned char z[200] = {0};

		assert_int_equal(
		    decode_exact(z, sizeof(z), &j), AFILE_ECORRUPT);
		assert_int_equal(j.nrec, 0);
		afile__journal_done(&j);
	}
}

/* Allocation failures: -ENOMEM, nothing leaked (LeakSanitizer). */
static unsigned int fail_after;

static void *
failing_malloc(size_t n)
{
	if (fail_after == 0)
		return NULL;
	fail_after--;
	return malloc(n);
}

static void
test_enomem(void **state)
{
	struct afile__journal j;
	void *buf = NULL;
	size_t len;
	unsigned int k;

	(void)state;
	afile__sys.malloc = failing_malloc;
	fail_after = 0;
	assert_int_equal(
	    afile__journal_encode(1, big_recs, NELEM(big_recs), &buf, &len),
	    -ENOMEM);
	for (k = 0; k < 2; k++) {
		fail_after = k;
		assert_int_equal(
		    afile__journal_decode(golden, sizeof(golden), &j), -ENOMEM);
		assert_false(j.valid);
		assert_int_equal(j.nrec, 0);
		assert_null(j.recs);
		afile__journal_done(&j);
	}
	fail_after = 2;
	assert_int_equal(afile__journal_decode(golden, sizeof(golden), &j), 0);
	afile__journal_done(&j);
	afile__sys_reset();
}

static int
report(void **state)
{
	(void)state;
	printf("journal: %lu truncations, %lu bit flips, %lu byte flips, "
	       "%lu forged journals checked\n",
	    n_truncations, n_bitflips, n_byteflips, n_forged);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32c_vectors),
	    cmocka_unit_test(test_crc32c_paths),
	    cmocka_unit_test(test_jpath_ok),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_round_trip_longest_paths),
	    cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_encode_refuses),
	    cmocka_unit_test(test_truncated_everywhere),
	    cmocka_unit_test(test_bit_flips),
	    cmocka_unit_test(test_damaged_header_keeps_records),
	    cmocka_unit_test(test_stale_and_reordered_records),
	    cmocka_unit_test(test_forged_paths),
	    cmocka_unit_test(test_forged_fields),
	    cmocka_unit_test(test_forged_counts),
	    cmocka_unit_test(test_forged_huge_lengths),
	    cmocka_unit_test(test_decode_edges),
	    cmocka_unit_test(test_enomem),
	};

	return cmocka_run_group_tests(tests, NULL, report);
}
