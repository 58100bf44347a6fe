/* SPDX-License-Identifier: MIT */
/*
 * txn.h - declarations shared by the transaction layer's modules, and
 * what the public API layer (api.c) takes from it.  Only files of the
 * transaction layer and api.c include it (tests/check-layers.sh).
 */
#ifndef AFILE_TXN_H
#define AFILE_TXN_H

#include "internal.h"

/*
 * afile_read()'s hot-journal check: when @dirfd holds .atomicfile/journal
 * and no transaction owns it, recover.  0 when there is nothing to do.
 */
AFILE_HIDDEN int afile__recover_if_hot(struct afile__op *op, int dirfd);

#endif /* AFILE_TXN_H */
