/* SPDX-License-Identifier: MIT */
/*
 * libtdxpa: the C client of the tdxpa wire protocol (docs/PROTOCOL.md) and the machinery under the
 * kernel-named shim headers (docs/C-HARNESS.md). A host program built against the shims runs as the
 * host kernel of docs/spec/02-kapi.md; `tdxpa exec` (or `tdxpa serve`) is the hardware and the TDX
 * Module of docs/spec/03-module.md.
 *
 * - struct page lives in one array indexed by PFN (SPARSEMEM_VMEMMAP style), reserved with PROT_NONE
 *   and MAP_NORESERVE and made writable 2 MiB at a time as pages are allocated, so page + i,
 *   pfn_to_page() and page_to_pfn() are plain arithmetic as in the kernel.
 * - Page contents are reached through a direct-map-like mirror, one 4 KiB slot per PFN: page_address()
 *   is arithmetic too. A slot is fetched on first touch (a page fault the library handles), marked
 *   dirty on first write, written back before every SEAMCALL, CLFLUSH and free, and dropped after every
 *   SEAMCALL so the next touch sees what the module wrote.
 * - Frees, writes, CLFLUSHes and marks are posted (no reply); they go out with the next request that
 *   needs an answer, so they cost no round trip.
 *
 * The library is single-threaded, like the harness it serves: one channel, no locking.
 */
#ifndef _TDXPA_H
#define _TDXPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The kernel's struct page, as far as the shims need it. One per PFN in tdxpa_vmemmap. */
struct page {
	/** Order of the compound block this page heads (__GFP_COMP), else 0. */
	unsigned int order;
	/** Non-zero for a tail page of a compound block: the head's PFN + 1. */
	unsigned long long compound_head;
	/** Contents are known to be zero until SEAMCALL number zero_epoch - 1 (0: not known). */
	unsigned long long zero_epoch;
	/** Reference count as this program sees it (the server keeps the authoritative one). */
	int refcount;
};

/** The platform the server describes in its HELLO reply. */
struct tdxpa_platform {
	char name[128];
	unsigned int keyid_shift;
	unsigned int global_keyid;
	bool clflush_before_alloc;
	/** One past the highest PFN of memory. */
	unsigned long long pfn_limit;
	unsigned int nr_iommus;
	/** Register base of every DMA remapping unit (the kernel finds them in the ACPI DMAR table). */
	unsigned long long iommu_reg_base[64];
};

/** Base of the struct page array (valid once connected). */
extern struct page *tdxpa_vmemmap;
/** Base of the page-content mirror (valid once connected). */
extern unsigned char *tdxpa_mirror;

/** Connects (once) over the fd in TDXPA_FD or the socket path in TDXPA_SOCKET; exits on failure. */
void tdxpa_connect(void);
/** The platform (connects first). */
const struct tdxpa_platform *tdxpa_platform(void);

/** Allocation kinds (docs/PROTOCOL.md, ALLOC). */
enum tdxpa_alloc_kind { TDXPA_ALLOC_PAGES = 0, TDXPA_ALLOC_BULK = 1, TDXPA_ALLOC_CONTIG = 2 };
/** Free kinds (docs/PROTOCOL.md, FREE). */
enum tdxpa_free_kind { TDXPA_FREE_PAGES = 0, TDXPA_FREE_CONTIG = 1, TDXPA_GET_PAGE = 2, TDXPA_PUT_PAGE = 3 };

/**
 * Allocates through the server's allocator. PAGES: one 2^order block (pfns[0]); BULK: up to `count`
 * order-0 pages (returns how many); CONTIG: `count` contiguous pages (pfns[0] the first). Returns the
 * number of PFNs written, 0 on failure. `compound` records a compound block in struct page.
 */
unsigned int tdxpa_alloc(enum tdxpa_alloc_kind kind, unsigned int order, unsigned int count, bool zero,
			 bool compound, unsigned long long *pfns);
/** Frees (posted): __free_pages(pfn, order), free_contig_range(pfn, count), get_page, put_page. */
void tdxpa_free(enum tdxpa_free_kind kind, unsigned long long pfn, unsigned int order, unsigned int count);
/** CLFLUSH of `npages` pages from `pfn` (posted; dirty mirror pages are written back first). */
void tdxpa_clflush_pages(unsigned long long pfn, unsigned int npages);
/** SEAMCALL: regs[0..15] by architectural register number; RAX in is the leaf, RAX out the status. */
uint64_t tdxpa_seamcall_regs(uint64_t regs[16]);
/** Writes back every dirty mirror page (posted). */
void tdxpa_sync(void);
/** One empty round trip; returns 0 on success (for benchmarks). */
int tdxpa_ping(void);
/** Marks: the host enters / leaves a function (names it in traces and reports). */
void tdxpa_mark_enter(const char *fn);
void tdxpa_mark_exit(const char *fn);
/** A kernel warning (WARN_ON and friends): a finding of the run. */
void tdxpa_warn(const char *fn, const char *file, int line, const char *text);
/** Declares pages stranded forever on purpose (the failure policy of docs/spec/02-kapi.md 2.6). */
void tdxpa_strand(unsigned long long pfn, unsigned long long npages, const char *reason);
/** Ends the session cleanly (also done at exit). */
void tdxpa_bye(void);

/** Requests sent, and of those the ones that waited for a reply (round trips). */
struct tdxpa_stats {
	unsigned long long requests;
	unsigned long long round_trips;
	unsigned long long faults;
	unsigned long long pages_written_back;
};
/** The library's counters. */
struct tdxpa_stats tdxpa_stats(void);

static inline void tdxpa__mark_exit_cleanup(const char *const *fn) { tdxpa_mark_exit(*fn); }

/**
 * Names the enclosing function in traces and reports until it returns (a MARK enter now, a MARK exit
 * when the scope ends, through the cleanup attribute). Harness-only: kernel code does not need it.
 */
#define TDXPA_MARK_FUNCTION() \
	const char *const tdxpa__fn __attribute__((cleanup(tdxpa__mark_exit_cleanup), unused)) = \
		(tdxpa_mark_enter(__func__), __func__)

#ifdef __cplusplus
}
#endif

#endif /* _TDXPA_H */
