/* SPDX-License-Identifier: MIT */
/*
 * Shim of <linux/gfp.h>: the GFP flags the emulator's allocator honours (__GFP_ZERO, __GFP_COMP) and
 * the others accepted and ignored (docs/C-HARNESS.md). The page allocator is in <linux/mm.h>.
 */
#ifndef _TDXPA_LINUX_GFP_H
#define _TDXPA_LINUX_GFP_H

#include <linux/types.h>

#define __GFP_ZERO 0x100u
#define __GFP_COMP 0x40000u
#define __GFP_NOWARN 0x2000u
#define __GFP_RETRY_MAYFAIL 0x4000u
#define __GFP_NORETRY 0x10000u
#define __GFP_ACCOUNT 0x400000u
#define GFP_KERNEL 0xcc0u
#define GFP_ATOMIC 0x820u
#define GFP_NOWAIT 0x800u
#define GFP_HIGHUSER 0x100cc2u

#endif
