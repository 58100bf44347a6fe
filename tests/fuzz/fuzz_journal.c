/* SPDX-License-Identifier: MIT */
/*
 * fuzz_journal.c - libFuzzer target for the journal parser (src/journal.c).
 *
 * Input: one mode byte, then the journal bytes.  With an odd mode byte
 * every CRC of the journal is recomputed first (tests/journal/jforge.h),
 * so that the fuzzer also reaches the structural checks that lie behind
 * the checksums; with an even one the bytes are parsed as they are.
 *
 * Properties checked (abort() when one fails):
 *   - decode returns 0 exactly when the journal is valid, else
 *     AFILE_ECORRUPT (or -ENOMEM);
 *   - every record returned, valid or not, is acceptable: a known op and
 *     paths that afile__jpath_ok() accepts, path2 empty for remove only;
 *     so the encoder accepts them all;
 *   - a valid journal re-encodes to exactly the same bytes;
 *   - the records returned are the ones in the buffer: re-encoded, each
 *     record's bytes (CRC aside) equal the input's at the same offset.
 * The journal is copied into a buffer of its exact size, so that
 * AddressSanitizer sees any read past its end.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"
#include "jforge.h"
#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
check_records(const struct afile__journal *j, const unsigned char *buf,
    size_t len, int valid)
{
	void *out = NULL;
	size_t out_len = 0, off = JF_HDR, i;
	int r;

	for (i = 0; i < j->nrec; i++) {
		const struct afile__jrec *rec = &j->recs[i];

		check(rec->op >= AFILE__J_PUT && rec->op <= AFILE__J_RENAME);
		check(afile__jpath_ok(rec->path));
		if (rec->op == AFILE__J_REMOVE)
			check(rec->path2[0] == '\0');
		else
			check(afile__jpath_ok(rec->path2));
	}
	r = afile__journal_encode(j->txn_id, j->recs, j->nrec, &out, &out_len);
	if (r == -ENOMEM)
		return;
	check(r == 0);
	if (valid) {
		check(out_len == len && memcmp(out, buf, len) == 0);
	} else {
		for (i = 0; i < j->nrec; i++) {
			size_t body = JF_REC + strlen(j->recs[i].path) +
			    strlen(j->recs[i].path2);

			check(
			    off + body + 4 <= len && off + body + 4 <= out_len);
			check(memcmp((const unsigned char *)out + off,
				  buf + off, body) == 0);
			off += body + 4;
		}
	}
	afile__free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct afile__journal j;
	unsigned char *buf;
	size_t len;
	int r;

	if (size == 0)
		return 0;
	len = size - 1;
	buf = malloc(len > 0 ? len : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, len);
	if (data[0] & 1)
		jf_fix_crcs(buf, len);

	r = afile__journal_decode(buf, len, &j);
	check(r == 0 || r == AFILE_ECORRUPT || r == -ENOMEM);
	check((r == 0) == j.valid);
	if (r != -ENOMEM)
		check_records(&j, buf, len, j.valid);
	else
		check(j.nrec == 0 && j.recs == NULL);
	afile__journal_done(&j);
	free(buf);
	return 0;
}
