// SPDX-License-Identifier: MIT
/*
 * An example TDX host written by this project in kernel style from docs/spec/ (not from kernel source):
 * the 2026-04-14 tdx_page_array (create, repopulate, destroy with the flush flag, the encoders) of
 * docs/spec/02-kapi.md 2.1-2.2, the SEAMCALL wrappers of 2.3 with both retry rules of 2.4, and the
 * callers of 2.5: the extensions bring-up (MEMORY_POOL_REQUIRED_PAGES pages, 12,800 on the default
 * platform, fed in chunks of 512) and the IOMMU setup and clear of every DMA remapping unit. Operand
 * layouts: docs/spec/01-formats.md 1.1-1.2; leaves: docs/spec/03-module.md 3.3.
 *
 * Built against the shims in c/include and run under `tdxpa exec`; docs/C-HARNESS.md. Compile-time
 * switches make it one of the known wrong hosts, which the emulator catches:
 *   -DTDXPA_WRONG_HEAD_PAGE_ONLY        destroy writes back only pages[i], not every 4 KiB page
 *                                       (the 2026-04-16 diff): tail pages of the queue blocks go back
 *                                       to the allocator with the module's dirty lines (a hazard)
 *   -DTDXPA_WRONG_ORIGINAL_OPERAND      an interrupted TDH.EXT.MEM.ADD is re-issued with the original
 *                                       operand: the module refuses the re-added page
 *   -DTDXPA_WRONG_NO_CLFLUSH            pages are handed over without CLFLUSH although the module
 *                                       asks for it (CLFLUSH_BEFORE_ALLOC)
 * Exit status 0 when it ran to the end; failures are kernel warnings (findings of the run).
 */
#include <asm/cacheflush.h>
#include <asm/tdx.h>
#include <linux/bitfield.h>
#include <linux/bits.h>
#include <linux/cleanup.h>
#include <linux/err.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <stdio.h>
#include <tdxpa.h>
#include <time.h>

/* ---- operand layouts (docs/spec/01-formats.md 1.1-1.2), from the generated field table ---------- */
#define FIELD_MASK(layout, field) \
	GENMASK_ULL(TDX_##layout##_##field##_SHIFT + TDX_##layout##_##field##_WIDTH - 1, \
		    TDX_##layout##_##field##_SHIFT)
#define HPA_LIST_INFO_FIRST_ENTRY FIELD_MASK(HPA_LIST_INFO, FIRST_ENTRY)
#define HPA_LIST_INFO_PFN FIELD_MASK(HPA_LIST_INFO, PFN)
#define HPA_LIST_INFO_LAST_ENTRY FIELD_MASK(HPA_LIST_INFO, LAST_ENTRY)
#define HPA_ARRAY_T_PFN FIELD_MASK(HPA_ARRAY_T, PFN)
#define HPA_ARRAY_T_SIZE FIELD_MASK(HPA_ARRAY_T, SIZE)
#define IOMMU_MT_PFN FIELD_MASK(IOMMU_MT, PFN)
#define IOMMU_MT_ENTRY_NUM_PAGES FIELD_MASK(IOMMU_MT_ENTRY, NUM_PAGES)
#define MAX_ENTRIES TDX_PAGE_LIST_MAX_ENTRIES

/* The queue block order Linux uses for IOMMU_MT entries 0 and 1 (01-formats.md 1.2). */
#define IOMMU_IQ_ORDER 1
/* Most re-issues of an interrupted call before giving up (a module that never finishes is a bug). */
#define MAX_RESUMES 1000000

/* ---- struct tdx_page_array (02-kapi.md 2.1-2.2) ----------------------------------------------- */
struct tdx_page_array {
	unsigned int nr_pages;
	struct page **pages;
	/* private */
	struct page *root;
	bool flush_on_free;
};

/* Writes the root: entry i = HPA of pages[i] | NUM_PAGES for a multi-page block; clears the rest. */
static void tdx_page_array_populate(struct tdx_page_array *array, unsigned int old_nr)
{
	TDXPA_MARK_FUNCTION();
	u64 *entries = page_address(array->root);

	for (unsigned int i = 0; i < array->nr_pages; i++) {
		struct page *page = array->pages[i];
		unsigned int order = compound_order(page);

		entries[i] = page_to_phys(page) | (order ? FIELD_PREP(IOMMU_MT_ENTRY_NUM_PAGES, 1ULL << order) : 0);
	}
	for (unsigned int i = array->nr_pages; i < old_nr; i++)
		entries[i] = 0;
}

static bool tdx_page_array_args_ok(struct page **pages, unsigned int nr_pages)
{
	/* One root page holds 512 eight-byte entries: one operand names at most 512 pages. */
	if (WARN_ON(!pages || nr_pages == 0 || nr_pages > MAX_ENTRIES))
		return false;
	for (unsigned int i = 0; i < nr_pages; i++)
		if (WARN_ON(!pages[i]))
			return false;
	return true;
}

/** tdx_page_array_create: a descriptor of the caller's pages with a zeroed, populated root page. */
static struct tdx_page_array *tdx_page_array_create(struct page **pages, unsigned int nr_pages)
{
	TDXPA_MARK_FUNCTION();
	if (!tdx_page_array_args_ok(pages, nr_pages))
		return NULL;
	struct tdx_page_array *array __free(kfree) = kzalloc(sizeof(*array), GFP_KERNEL);
	if (!array)
		return NULL;
	array->root = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!array->root)
		return NULL;
	array->pages = pages;
	array->nr_pages = nr_pages;
	tdx_page_array_populate(array, 0);
	return_ptr(array);
}

/** tdx_page_array_repopulate: points the descriptor at new pages (create when there is none). */
static struct tdx_page_array *tdx_page_array_repopulate(struct tdx_page_array *array, struct page **pages,
							unsigned int nr_pages)
{
	if (!array)
		return tdx_page_array_create(pages, nr_pages);
	/* Refused while a write-back is owed: that would drop the record of pages to write back. */
	if (WARN_ON(array->flush_on_free) || !tdx_page_array_args_ok(pages, nr_pages))
		return NULL;
	unsigned int old = array->nr_pages;
	array->pages = pages;
	array->nr_pages = nr_pages;
	tdx_page_array_populate(array, old);
	return array;
}

static u64 tdh_phymem_page_wbinvd_hkid(u64 pa, u16 hkid)
{
	struct tdx_module_args args = { .rcx = set_hkid_to_hpa(pa, hkid) };

	return seamcall(TDH_PHYMEM_PAGE_WBINVD, &args);
}

/**
 * tdx_page_array_destroy: when the flag is set, TDH.PHYMEM.PAGE.WBINVD with the global KeyID of every
 * 4 KiB page covered; then frees the root and the descriptor, never the data pages. Returns false when
 * a write-back failed (the caller must then not free the pages).
 */
static bool tdx_page_array_destroy(struct tdx_page_array *array)
{
	TDXPA_MARK_FUNCTION();
	bool ok = true;

	if (!array)
		return true;
	if (array->flush_on_free) {
		for (unsigned int i = 0; i < array->nr_pages; i++) {
			struct page *page = array->pages[i];
#ifdef TDXPA_WRONG_HEAD_PAGE_ONLY
			unsigned long span = 1;
#else
			unsigned long span = compound_nr(page);
#endif
			for (unsigned long j = 0; j < span; j++)
				if (tdh_phymem_page_wbinvd_hkid(page_to_phys(page + j), tdx_global_keyid_get()) != TDX_SUCCESS)
					ok = false;
		}
	}
	__free_page(array->root);
	kfree(array);
	return ok;
}

DEFINE_FREE(tdx_page_array_destroy, struct tdx_page_array *, if (_T) tdx_page_array_destroy(_T))

/* ---- encoders (02-kapi.md 2.2) ------------------------------------------------------------------ */
static u64 tdx_page_array_to_hpa_list_info(const struct tdx_page_array *array)
{
	return FIELD_PREP(HPA_LIST_INFO_FIRST_ENTRY, 0) |
	       FIELD_PREP(HPA_LIST_INFO_PFN, page_to_pfn(array->root)) |
	       FIELD_PREP(HPA_LIST_INFO_LAST_ENTRY, array->nr_pages - 1);
}

static __maybe_unused u64 tdx_page_array_to_hpa_array(const struct tdx_page_array *array)
{
	if (array->nr_pages == 1)
		return FIELD_PREP(HPA_ARRAY_T_PFN, page_to_pfn(array->pages[0]));
	return FIELD_PREP(HPA_ARRAY_T_PFN, page_to_pfn(array->root)) |
	       FIELD_PREP(HPA_ARRAY_T_SIZE, array->nr_pages - 1);
}

static __maybe_unused u64 tdx_page_array_to_release_input(const struct tdx_page_array *array)
{
	return array->nr_pages == 1 ? 0 : page_to_phys(array->root);
}

static u64 tdx_page_array_to_iommu_mt(const struct tdx_page_array *array)
{
	return FIELD_PREP(IOMMU_MT_PFN, page_to_pfn(array->root));
}

/* ---- wrappers (02-kapi.md 2.3-2.4) ---------------------------------------------------------------- */
static bool tdx_clflush_needed(void)
{
#ifdef TDXPA_WRONG_NO_CLFLUSH
	return false;
#else
	return tdxpa_platform()->clflush_before_alloc;
#endif
}

/* CLFLUSH of every 4 KiB page the descriptor covers, when the module asks for it. */
static void tdx_clflush_page_array(const struct tdx_page_array *array)
{
	if (!tdx_clflush_needed())
		return;
	for (unsigned int i = 0; i < array->nr_pages; i++)
		for (unsigned long j = 0; j < compound_nr(array->pages[i]); j++)
			clflush_cache_range(page_address(array->pages[i] + j), PAGE_SIZE);
}

/* Resume with the original inputs: re-issue from a saved copy while interrupted. */
static u64 seamcall_retry_original(u64 fn, struct tdx_module_args *args)
{
	struct tdx_module_args saved = *args;
	u64 r;

	for (int n = 0;; n++) {
		r = seamcall_ret(fn, args);
		if (r != TDX_INTERRUPTED_RESUMABLE || n >= MAX_RESUMES)
			return r;
		*args = saved;
	}
}

static u64 tdh_sys_rd(u64 field_id, u64 *value)
{
	struct tdx_module_args args = { .rdx = field_id };
	u64 r = seamcall_ret(TDH_SYS_RD, &args);

	*value = r == TDX_SUCCESS ? args.r8 : 0;
	return r;
}

/**
 * tdh_sys_config, version 1 (docs/spec/03-module.md 3.3): R8 = the module's global KeyID, R9 = the
 * features to enable, R11 = wall-clock seconds (ignored by the module; 0 so runs replay).
 */
static u64 tdh_sys_config(u64 features)
{
	struct tdx_module_args args = { .r8 = tdx_global_keyid_get(), .r9 = features, .r11 = 0 };

	return seamcall(TDX_LEAF_VERSION(TDH_SYS_CONFIG, 1), &args);
}

/** tdh_ext_mem_add: donates the descriptor's pages to the extension pool (resume: returned RCX). */
static u64 tdh_ext_mem_add(struct tdx_page_array *array)
{
	TDXPA_MARK_FUNCTION();
	struct tdx_module_args args = { .rcx = tdx_page_array_to_hpa_list_info(array) };

	tdx_clflush_page_array(array);
#ifdef TDXPA_WRONG_ORIGINAL_OPERAND
	return seamcall_retry_original(TDH_EXT_MEM_ADD, &args);
#else
	u64 r;
	for (int n = 0;; n++) {
		/* The module wrote RCX back with FIRST_ENTRY at the next entry: re-issue it as returned. */
		r = seamcall_ret(TDH_EXT_MEM_ADD, &args);
		if (r != TDX_INTERRUPTED_RESUMABLE || n >= MAX_RESUMES)
			return r;
	}
#endif
}

static u64 tdh_ext_init(void)
{
	TDXPA_MARK_FUNCTION();
	struct tdx_module_args args = { 0 };

	return seamcall_retry_original(TDH_EXT_INIT, &args);
}

/** tdh_iommu_setup: the flag is set before the call, whatever its result (02-kapi.md 2.3). */
static u64 tdh_iommu_setup(u64 reg_base, struct tdx_page_array *array, u64 *iommu_id)
{
	TDXPA_MARK_FUNCTION();
	struct tdx_module_args args = { .rcx = reg_base, .rdx = tdx_page_array_to_iommu_mt(array) };

	tdx_clflush_page_array(array);
	array->flush_on_free = true;
	u64 r = seamcall_retry_original(TDH_IOMMU_SETUP, &args);
	*iommu_id = args.rcx;
	return r;
}

static u64 tdh_iommu_clear(u64 iommu_id, struct tdx_page_array *array)
{
	TDXPA_MARK_FUNCTION();
	struct tdx_module_args args = { .rcx = iommu_id, .rdx = tdx_page_array_to_iommu_mt(array) };

	return seamcall_retry_original(TDH_IOMMU_CLEAR, &args);
}

/* ---- extensions bring-up (02-kapi.md 2.5) -------------------------------------------------------- */
static DEFINE_MUTEX(tdx_ext_lock);
static unsigned long ext_pool_pages, ext_chunks;

static int tdx_ext_bringup(void)
{
	TDXPA_MARK_FUNCTION();
	u64 features, pool, ext_required, r;

	r = tdh_sys_rd(TDX_MD_TDX_FEATURES0, &features);
	if (WARN(r != TDX_SUCCESS, "TDH.SYS.RD TDX_FEATURES0: 0x%016llx", (unsigned long long)r))
		return -EFAULT;
	if (!(features & BIT_ULL(TDX_FEATURES0_EXTENSIONS_BIT)))
		return 0;
	/* Feature-dependent metadata is valid only once the module is configured with TDX Connect. */
	r = tdh_sys_config(features & BIT_ULL(TDX_FEATURES0_TDX_CONNECT_BIT));
	if (WARN(r != TDX_SUCCESS, "TDH.SYS.CONFIG: 0x%016llx", (unsigned long long)r))
		return -EFAULT;
	r = tdh_sys_rd(TDX_MD_MEMORY_POOL_REQUIRED_PAGES, &pool);
	if (WARN(r != TDX_SUCCESS, "TDH.SYS.RD MEMORY_POOL_REQUIRED_PAGES: 0x%016llx", (unsigned long long)r))
		return -EFAULT;
	r = tdh_sys_rd(TDX_MD_EXT_REQUIRED, &ext_required);
	if (WARN(r != TDX_SUCCESS, "TDH.SYS.RD EXT_REQUIRED: 0x%016llx", (unsigned long long)r))
		return -EFAULT;
	unsigned long nr = (u32)pool;

	guard(mutex)(&tdx_ext_lock);
	if (nr > 0) {
		struct page *first = alloc_contig_pages(nr, GFP_KERNEL, NUMA_NO_NODE, NULL);
		if (!first)
			return -ENOMEM;
		struct page **chunk __free(kfree) = kcalloc(MAX_ENTRIES, sizeof(*chunk), GFP_KERNEL);
		struct tdx_page_array *array = NULL;
		bool failed = false, full = false, no_root = false;

		for (unsigned long off = 0; chunk && off < nr; off += MAX_ENTRIES) {
			unsigned int n = (unsigned int)min(nr - off, (unsigned long)MAX_ENTRIES);
			for (unsigned int i = 0; i < n; i++)
				chunk[i] = nth_page(first, off + i);
			struct tdx_page_array *next = tdx_page_array_repopulate(array, chunk, n);
			if (!next) {
				no_root = array == NULL;
				failed = !no_root;
				break;
			}
			array = next;
			ext_chunks++;
			r = tdh_ext_mem_add(array);
			if ((r & TDX_SEAMCALL_STATUS_MASK) == TDX_EXT_MEMORY_POOL_FULL) {
				full = true;
				break;
			}
			if (r != TDX_SUCCESS) {
				WARN(1, "TDH.EXT.MEM.ADD chunk %lu failed: 0x%016llx", off / MAX_ENTRIES,
				     (unsigned long long)r);
				failed = true;
				break;
			}
			cond_resched();
		}
		tdx_page_array_destroy(array);
		if (!chunk || no_root) {
			/* No page reached the module: the pool goes back to the allocator. */
			free_contig_range(page_to_pfn(first), nr);
			return -ENOMEM;
		}
		if (failed || full) {
			/* Fatal: the module may hold any of these pages; none may ever be reused. */
			WARN(full, "TDH.EXT.MEM.ADD: pool full before all pages were added");
			tdxpa_strand(page_to_pfn(first), nr, "extensions bring-up failed");
			return -EFAULT;
		}
		ext_pool_pages = nr;
		if ((u32)ext_required) {
			r = tdh_ext_init();
			if (WARN(r != TDX_SUCCESS, "TDH.EXT.INIT failed: 0x%016llx", (unsigned long long)r)) {
				tdxpa_strand(page_to_pfn(first), nr, "extensions bring-up: TDH.EXT.INIT failed");
				return -EFAULT;
			}
		}
	} else if ((u32)ext_required) {
		r = tdh_ext_init();
		if (WARN(r != TDX_SUCCESS, "TDH.EXT.INIT failed: 0x%016llx", (unsigned long long)r))
			return -EFAULT;
	}
	return 0;
}

/* ---- IOMMU setup and clear (02-kapi.md 2.5) -------------------------------------------------------- */
struct tdx_iommu {
	u64 reg_base;
	u64 iommu_id;
	struct tdx_page_array *array;
	struct page **pages; /* queue block heads, then order-0 pages */
	unsigned int nr_pages;
};

static struct tdx_iommu tdx_iommus[64];
static unsigned int nr_tdx_iommus, nr_skipped, nr_cleared;

static void tdx_iommu_free_pages(struct page **pages, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		if (pages[i])
			__free_pages(pages[i], compound_order(pages[i]));
}

/* Two 2^IOMMU_IQ_ORDER queue blocks and `count` order-0 pages, all zeroed; NULL on failure. */
static struct page **tdx_iommu_alloc_mt(unsigned int count)
{
	struct page **pages = kcalloc(count + 2, sizeof(*pages), GFP_KERNEL);

	if (!pages)
		return NULL;
	for (unsigned int i = 0; i < count + 2; i++) {
		pages[i] = i < 2 ? alloc_pages(GFP_KERNEL | __GFP_ZERO | __GFP_COMP, IOMMU_IQ_ORDER)
				 : alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!pages[i]) {
			tdx_iommu_free_pages(pages, i);
			kfree(pages);
			return NULL;
		}
	}
	return pages;
}

/* After the module gave the pages back: write back (destroy) and free, or strand them all. */
static bool tdx_iommu_release(struct tdx_page_array *array, struct page **pages, unsigned int nr)
{
	if (!tdx_page_array_destroy(array)) {
		for (unsigned int i = 0; i < nr; i++)
			tdxpa_strand(page_to_pfn(pages[i]), compound_nr(pages[i]),
				     "PAGE.WBINVD failed: caches may hold private lines");
		WARN(1, "TDH.PHYMEM.PAGE.WBINVD failed");
		kfree(pages);
		return false;
	}
	tdx_iommu_free_pages(pages, nr);
	kfree(pages);
	return true;
}

static int tdx_iommu_clear_all(void)
{
	TDXPA_MARK_FUNCTION();
	int ret = 0;

	for (unsigned int i = 0; i < nr_tdx_iommus; i++) {
		struct tdx_iommu *u = &tdx_iommus[i];
		u64 r = tdh_iommu_clear(u->iommu_id, u->array);

		if (WARN(r != TDX_SUCCESS, "TDH.IOMMU.CLEAR unit %u: 0x%016llx", i, (unsigned long long)r)) {
			/* The host and the module disagree: leave the pages allocated forever. */
			for (unsigned int j = 0; j < u->nr_pages; j++)
				tdxpa_strand(page_to_pfn(u->pages[j]), compound_nr(u->pages[j]), "TDH.IOMMU.CLEAR failed");
			tdxpa_strand(page_to_pfn(u->array->root), 1, "TDH.IOMMU.CLEAR failed");
			ret = -EFAULT;
			continue;
		}
		if (tdx_iommu_release(u->array, u->pages, u->nr_pages))
			nr_cleared++;
		else
			ret = -EFAULT;
	}
	nr_tdx_iommus = 0;
	return ret;
}

static int tdx_iommu_setup_all(void)
{
	TDXPA_MARK_FUNCTION();
	const struct tdxpa_platform *plat = tdxpa_platform();
	u64 count, r;

	r = tdh_sys_rd(TDX_MD_IOMMU_MT_PAGE_COUNT, &count);
	if (WARN(r != TDX_SUCCESS, "TDH.SYS.RD IOMMU_MT_PAGE_COUNT: 0x%016llx", (unsigned long long)r))
		return -EFAULT;
	for (unsigned int i = 0; i < plat->nr_iommus && i < ARRAY_SIZE(tdx_iommus); i++) {
		unsigned int nr = (unsigned int)count + 2;
		struct page **pages = tdx_iommu_alloc_mt((unsigned int)count);
		if (!pages)
			return -ENOMEM;
		struct tdx_page_array *array = tdx_page_array_create(pages, nr);
		if (!array) {
			tdx_iommu_free_pages(pages, nr);
			kfree(pages);
			return -ENOMEM;
		}
		u64 id;
		r = tdh_iommu_setup(plat->iommu_reg_base[i], array, &id);
		if (r == TDX_SUCCESS) {
			tdx_iommus[nr_tdx_iommus++] = (struct tdx_iommu){
				.reg_base = plat->iommu_reg_base[i], .iommu_id = id, .array = array,
				.pages = pages, .nr_pages = nr,
			};
			continue;
		}
		/* Not taken: the pages are the host's again; the flag makes destroy write them back. */
		if (!tdx_iommu_release(array, pages, nr)) {
			tdx_iommu_clear_all();
			return -EFAULT;
		}
		/* The kernel's probe: TDX_OPERAND_INVALID, any operand id, means not TDX-capable. */
		if ((r & TDX_SEAMCALL_STATUS_MASK) == TDX_OPERAND_INVALID) {
			nr_skipped++;
			continue;
		}
		WARN(1, "TDH.IOMMU.SETUP unit %u: 0x%016llx", i, (unsigned long long)r);
		tdx_iommu_clear_all();
		return -EFAULT;
	}
	return 0;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(void)
{
	tdxpa_connect();
	double t0 = now_ms();
	int ret = tdx_ext_bringup();
	double t1 = now_ms();
	struct tdxpa_stats s = tdxpa_stats();

	printf("tdx_host: extensions bring-up %.2f ms; libtdxpa so far: %llu requests, %llu round trips, "
	       "%llu page faults, %llu pages written back\n",
	       t1 - t0, s.requests, s.round_trips, s.faults, s.pages_written_back);

	if (ret == 0) {
		unsigned int set_up;
		ret = tdx_iommu_setup_all();
		set_up = nr_tdx_iommus;
		if (ret == 0)
			ret = tdx_iommu_clear_all();
		printf("tdx_host: extensions %lu pages in %lu chunks; IOMMU %u set up, %u skipped, %u cleared: %s\n",
		       ext_pool_pages, ext_chunks, set_up, nr_skipped, nr_cleared, ret ? "failed" : "ok");
	} else {
		printf("tdx_host: extensions bring-up failed (%d); TDX Connect not initialised\n", ret);
	}
	return 0;
}
