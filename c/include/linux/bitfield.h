/* SPDX-License-Identifier: MIT */
/* Shim of <linux/bitfield.h>: FIELD_PREP, FIELD_GET, FIELD_FIT, FIELD_MAX (docs/C-HARNESS.md). */
#ifndef _TDXPA_LINUX_BITFIELD_H
#define _TDXPA_LINUX_BITFIELD_H

#include <linux/bits.h>

#define __bf_shf(x) (__builtin_ffsll(x) - 1)
#define FIELD_MAX(mask) ((typeof(mask))((mask) >> __bf_shf(mask)))
#define FIELD_FIT(mask, val) (!((((typeof(mask))(val)) << __bf_shf(mask)) & ~(mask)))
#define FIELD_PREP(mask, val) ((((typeof(mask))(val)) << __bf_shf(mask)) & (mask))
#define FIELD_GET(mask, reg) ((typeof(mask))(((reg) & (mask)) >> __bf_shf(mask)))

#endif
