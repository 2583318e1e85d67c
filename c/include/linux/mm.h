/* SPDX-License-Identifier: MIT */
/*
 * Shim of <linux/mm.h> for user-space builds against the tdxpa emulator (docs/C-HARNESS.md).
 *
 * struct page lives in one array indexed by PFN, as with SPARSEMEM_VMEMMAP, so page + i, nth_page,
 * pfn_to_page, page_to_pfn and page_to_phys are plain arithmetic. The allocator is the emulator's
 * buddy allocator (every allocation and free is an event of the run); page_address() points into a
 * mirror of physical memory kept coherent with the emulator (read on first touch, written back before
 * every SEAMCALL, CLFLUSH and free, dropped after every SEAMCALL).
 */
#ifndef _TDXPA_LINUX_MM_H
#define _TDXPA_LINUX_MM_H

#include <linux/gfp.h>
#include <linux/types.h>
#include <tdxpa.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define MAX_PAGE_ORDER 10
#define NUMA_NO_NODE (-1)
#define PHYS_PFN(x) ((unsigned long)((x) >> PAGE_SHIFT))
#define PFN_PHYS(x) ((phys_addr_t)(x) << PAGE_SHIFT)

typedef struct { unsigned long bits[1]; } nodemask_t;

/** A folio is its head page here (the kernel's overlays struct page the same way). */
struct folio {
	struct page page;
};

static inline unsigned long page_to_pfn(const struct page *page) { return (unsigned long)(page - tdxpa_vmemmap); }
static inline struct page *pfn_to_page(unsigned long pfn) { return tdxpa_vmemmap + pfn; }
#define nth_page(page, n) ((page) + (n))
static inline phys_addr_t page_to_phys(const struct page *page) { return PFN_PHYS(page_to_pfn(page)); }
static inline void *page_address(const struct page *page)
{
	return tdxpa_mirror + ((unsigned long long)page_to_pfn(page) << PAGE_SHIFT);
}
#define page_to_virt(page) page_address(page)
static inline phys_addr_t virt_to_phys(const void *addr)
{
	return (phys_addr_t)((const unsigned char *)addr - tdxpa_mirror);
}
static inline struct page *virt_to_page(const void *addr) { return pfn_to_page(PHYS_PFN(virt_to_phys(addr))); }
static inline void *phys_to_virt(phys_addr_t pa) { return tdxpa_mirror + pa; }
#define __va(pa) phys_to_virt(pa)
#define __pa(va) virt_to_phys(va)

static inline struct page *compound_head(struct page *page)
{
	return page->compound_head ? pfn_to_page((unsigned long)(page->compound_head - 1)) : page;
}
static inline unsigned int compound_order(const struct page *page) { return page->compound_head ? 0 : page->order; }
static inline unsigned long compound_nr(const struct page *page) { return 1UL << compound_order(page); }
static inline bool PageCompound(const struct page *page) { return page->order > 0 || page->compound_head; }
static inline bool PageHead(const struct page *page) { return page->order > 0 && !page->compound_head; }
static inline bool PageTail(const struct page *page) { return page->compound_head != 0; }
static inline int page_ref_count(const struct page *page) { return page->refcount; }

static inline struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	unsigned long long pfn;
	if (!tdxpa_alloc(TDXPA_ALLOC_PAGES, order, 1, gfp & __GFP_ZERO, order > 0 && (gfp & __GFP_COMP), &pfn))
		return NULL;
	return pfn_to_page((unsigned long)pfn);
}
#define alloc_page(gfp) alloc_pages(gfp, 0)
#define alloc_pages_node(nid, gfp, order) alloc_pages(gfp, order)

static inline void __free_pages(struct page *page, unsigned int order)
{
	tdxpa_free(TDXPA_FREE_PAGES, page_to_pfn(page), order, 1);
}
#define __free_page(page) __free_pages((page), 0)
static inline void free_pages(unsigned long addr, unsigned int order)
{
	if (addr)
		__free_pages(virt_to_page((const void *)addr), order);
}
#define free_page(addr) free_pages((addr), 0)
static inline unsigned long __get_free_pages(gfp_t gfp, unsigned int order)
{
	struct page *p = alloc_pages(gfp, order);
	return p ? (unsigned long)page_address(p) : 0;
}
#define __get_free_page(gfp) __get_free_pages((gfp), 0)
#define get_zeroed_page(gfp) __get_free_pages((gfp) | __GFP_ZERO, 0)

/** Fills the NULL slots of page_array with order-0 pages; returns how many slots are filled. */
static inline unsigned long alloc_pages_bulk(gfp_t gfp, unsigned long nr_pages, struct page **page_array)
{
	unsigned long filled = 0, want = 0;
	for (unsigned long i = 0; i < nr_pages; i++)
		want += page_array[i] == NULL;
	if (want == 0)
		return nr_pages;
	unsigned long long buf[512];
	unsigned long i = 0;
	while (want > 0) {
		unsigned int ask = want > 512 ? 512 : (unsigned int)want;
		unsigned int got = tdxpa_alloc(TDXPA_ALLOC_BULK, 0, ask, gfp & __GFP_ZERO, false, buf);
		for (unsigned int j = 0; j < got; j++) {
			while (page_array[i] != NULL)
				i++;
			page_array[i] = pfn_to_page((unsigned long)buf[j]);
		}
		want -= got;
		if (got < ask)
			break;
	}
	for (unsigned long k = 0; k < nr_pages; k++)
		filled += page_array[k] != NULL;
	return filled;
}

static inline struct page *alloc_contig_pages(unsigned long nr_pages, gfp_t gfp, int nid, nodemask_t *nodemask)
{
	unsigned long long pfn;
	(void)nid;
	(void)nodemask;
	if (nr_pages == 0 || nr_pages > 0xffffffffUL ||
	    !tdxpa_alloc(TDXPA_ALLOC_CONTIG, 0, (unsigned int)nr_pages, gfp & __GFP_ZERO, false, &pfn))
		return NULL;
	return pfn_to_page((unsigned long)pfn);
}
static inline void free_contig_range(unsigned long pfn, unsigned long nr_pages)
{
	tdxpa_free(TDXPA_FREE_CONTIG, pfn, 0, (unsigned int)nr_pages);
}

static inline struct folio *folio_alloc(gfp_t gfp, unsigned int order)
{
	return (struct folio *)alloc_pages(gfp | __GFP_COMP, order);
}
static inline struct page *folio_page(struct folio *folio, unsigned long n) { return &folio->page + n; }
static inline struct folio *page_folio(struct page *page) { return (struct folio *)compound_head(page); }
static inline unsigned long folio_nr_pages(const struct folio *folio) { return compound_nr(&folio->page); }
static inline unsigned int folio_order(const struct folio *folio) { return compound_order(&folio->page); }
static inline void *folio_address(const struct folio *folio) { return page_address(&folio->page); }
static inline unsigned long folio_pfn(const struct folio *folio) { return page_to_pfn(&folio->page); }

static inline void get_page(struct page *page)
{
	tdxpa_free(TDXPA_GET_PAGE, page_to_pfn(compound_head(page)), 0, 1);
}
static inline void put_page(struct page *page)
{
	tdxpa_free(TDXPA_PUT_PAGE, page_to_pfn(compound_head(page)), 0, 1);
}
static inline void folio_get(struct folio *folio) { get_page(&folio->page); }
static inline void folio_put(struct folio *folio) { put_page(&folio->page); }

#include <linux/highmem.h>

#endif
