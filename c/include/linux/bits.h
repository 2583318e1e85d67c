/* SPDX-License-Identifier: MIT */
/* Shim of <linux/bits.h>: BIT, BIT_ULL, GENMASK, GENMASK_ULL, GENMASK_U64 (docs/C-HARNESS.md). */
#ifndef _TDXPA_LINUX_BITS_H
#define _TDXPA_LINUX_BITS_H

#define BIT(nr) (1UL << (nr))
#define BIT_ULL(nr) (1ULL << (nr))
#define GENMASK(h, l) ((~0UL << (l)) & (~0UL >> (sizeof(unsigned long) * 8 - 1 - (h))))
#define GENMASK_ULL(h, l) ((~0ULL << (l)) & (~0ULL >> (63 - (h))))
#define GENMASK_U64(h, l) ((unsigned long long)GENMASK_ULL(h, l))

#endif
