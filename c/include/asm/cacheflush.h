/* SPDX-License-Identifier: MIT */
/*
 * Shim of <asm/cacheflush.h>: clflush_cache_range on an address from page_address() is a CLFLUSH of
 * those pages in the emulator's cache model (KeyID 0), after the host's pending writes to any page are
 * written back (docs/C-HARNESS.md). An address outside the page mirror is a warning.
 */
#ifndef _TDXPA_ASM_CACHEFLUSH_H
#define _TDXPA_ASM_CACHEFLUSH_H

#include <linux/bug.h>
#include <linux/mm.h>

static inline void clflush_cache_range(void *vaddr, unsigned int size)
{
	const unsigned char *a = vaddr;
	const struct tdxpa_platform *p = tdxpa_platform();
	if (WARN(a < tdxpa_mirror || a >= tdxpa_mirror + (p->pfn_limit << PAGE_SHIFT),
		 "clflush_cache_range: %p is not an address from page_address()", vaddr) || size == 0)
		return;
	unsigned long long first = (unsigned long long)(a - tdxpa_mirror) >> PAGE_SHIFT;
	unsigned long long last = ((unsigned long long)(a - tdxpa_mirror) + size - 1) >> PAGE_SHIFT;
	tdxpa_clflush_pages(first, (unsigned int)(last - first + 1));
}

#endif
