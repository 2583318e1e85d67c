/* SPDX-License-Identifier: MIT */
/* Shim of <linux/highmem.h>: every page is in the (mirrored) direct map (docs/C-HARNESS.md). */
#ifndef _TDXPA_LINUX_HIGHMEM_H
#define _TDXPA_LINUX_HIGHMEM_H

#include <linux/mm.h>
#include <string.h>

static inline void *kmap_local_page(struct page *page) { return page_address(page); }
static inline void kunmap_local(const void *addr) { (void)addr; }
static inline void *kmap(struct page *page) { return page_address(page); }
static inline void kunmap(struct page *page) { (void)page; }
static inline void clear_page(void *addr) { memset(addr, 0, 4096); }
static inline void clear_highpage(struct page *page) { clear_page(page_address(page)); }

#endif
