// SPDX-License-Identifier: MIT
/*
 * Hostile and careless clients of the tdxpa wire protocol (docs/PROTOCOL.md), for test/exec.test.ts:
 * each mode breaks one rule, and `tdxpa exec` must answer with one clear line, the report up to that
 * point and its documented exit status, without hanging. Usage: hostile_client MODE.
 */
#define _GNU_SOURCE
#include <asm/cacheflush.h>
#include <asm/tdx.h>
#include <linux/bug.h>
#include <linux/mm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <tdxpa.h>
#include <unistd.h>

static void put32(unsigned char *p, unsigned int v) { for (int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 0xff; }

/* Reads until the server closes the channel (it does after an error reply). */
static void drain(void)
{
	unsigned char b[4096];
	while (read(3, b, sizeof(b)) > 0)
		;
}

static void send_raw(const void *p, size_t n)
{
	if (write(3, p, n) != (ssize_t)n)
		exit(9);
}

/* A valid HELLO, its reply read and dropped. */
static void hello_raw(void)
{
	unsigned char f[16] = { 0 }, rep[1024];
	put32(f, 8);
	f[4] = 1;
	put32(f + 8, 0x41505854u);
	f[12] = 1;
	send_raw(f, 16);
	(void)!read(3, rep, sizeof(rep));
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "garbage")) {
		send_raw("GET / HTTP/1.1\r\n\r\n", 18);
		drain();
		return 0;
	}
	if (!strcmp(mode, "oversized")) {
		unsigned char f[8] = { 0 };
		hello_raw();
		put32(f, 0x7fffffffu);
		f[4] = 5;
		send_raw(f, 8);
		drain();
		return 0;
	}
	if (!strcmp(mode, "unknown-type")) {
		unsigned char f[8] = { 0 };
		hello_raw();
		f[4] = 77;
		send_raw(f, 8);
		drain();
		return 0;
	}
	if (!strcmp(mode, "refused") || !strcmp(mode, "refused-late")) {
		/*
		 * A frame the server refuses, then a library call: its reply is the server's error reply.
		 * "refused-late" makes the call only after the server has closed the channel, so the call's
		 * send fails first and the library finds the error reply waiting.
		 */
		unsigned char f[8] = { 0 };
		tdxpa_connect();
		f[4] = 77;
		send_raw(f, 8);
		if (!strcmp(mode, "refused-late"))
			usleep(300 * 1000);
		tdxpa_ping();
		return 0;
	}
	if (!strcmp(mode, "no-hello")) {
		unsigned char f[8] = { 0 };
		f[4] = 9;
		send_raw(f, 8);
		drain();
		return 0;
	}
	if (!strcmp(mode, "bad-version")) {
		unsigned char f[16] = { 0 };
		put32(f, 8);
		f[4] = 1;
		put32(f + 8, 0x41505854u);
		f[12] = 99;
		send_raw(f, 16);
		drain();
		return 0;
	}
	if (!strcmp(mode, "truncated")) {
		unsigned char f[12] = { 0 };
		hello_raw();
		put32(f, 128);
		f[4] = 7;
		send_raw(f, 12); /* a SEAMCALL header and 4 of its 128 bytes, then a clean exit */
		return 0;
	}
	if (!strcmp(mode, "crash-mid-seamcall")) {
		unsigned char f[40] = { 0 };
		hello_raw();
		put32(f, 128);
		f[4] = 7;
		send_raw(f, 40);
		raise(SIGSEGV);
		return 0;
	}
	if (!strcmp(mode, "crash-after-calls")) {
		struct tdx_module_args a = { .rdx = TDX_MD_TDX_FEATURES0 };
		struct page *p = alloc_page(GFP_KERNEL | __GFP_ZERO);
		seamcall_ret(TDH_SYS_RD, &a);
		tdxpa_sync();
		(void)p;
		raise(SIGSEGV);
		return 0;
	}
	if (!strcmp(mode, "never-sends")) {
		for (;;)
			pause();
	}
	if (!strcmp(mode, "not-reading")) {
		unsigned char f[8 * 512] = { 0 };
		hello_raw();
		for (int i = 0; i < 512; i++)
			f[8 * i + 4] = 9; /* PING, empty */
		for (;;)
			send_raw(f, sizeof(f));
	}
	if (!strcmp(mode, "no-free")) {
		struct page *p = alloc_pages(GFP_KERNEL | __GFP_ZERO, 2);
		return p == NULL;
	}
	if (!strcmp(mode, "double-free")) {
		struct page *p = alloc_page(GFP_KERNEL);
		__free_page(p);
		__free_page(p);
		return 0;
	}
	if (!strcmp(mode, "use-after-free")) {
		struct page *p = alloc_page(GFP_KERNEL | __GFP_ZERO);
		unsigned char *a = page_address(p);
		__free_page(p);
		return a[0]; /* the fault reads a page the allocator has back */
	}
	if (!strcmp(mode, "warn")) {
		WARN_ON(argc > 0);
		return 0;
	}
	if (!strcmp(mode, "fork")) {
		/* The child keeps the channel open and sleeps; the parent frees its page and exits 0. */
		struct page *p = alloc_page(GFP_KERNEL);
		pid_t c = fork();
		if (c == 0) {
			for (;;)
				pause();
		}
		__free_page(p);
		tdxpa_bye();
		return c < 0;
	}
	if (!strcmp(mode, "release-list")) {
		/* The module writes the released list into the host's root page: the host must read it. */
		struct tdx_module_args a = { .rdx = TDX_MD_SPDM_MT_PAGE_COUNT };
		struct page *pages[16], *root;
		unsigned int n;

		/* The Connect page counts are readable once the module is configured (TDH.SYS.CONFIG v1). */
		struct tdx_module_args cfg = { .r8 = tdx_global_keyid_get(), .r9 = 1ULL << TDX_FEATURES0_TDX_CONNECT_BIT };

		if (seamcall(TDX_LEAF_VERSION(TDH_SYS_CONFIG, 1), &cfg) != TDX_SUCCESS)
			return 9;
		if (seamcall_ret(TDH_SYS_RD, &a) != TDX_SUCCESS || a.r8 < 2 || a.r8 > 16)
			return 10;
		n = (unsigned int)a.r8;
		for (unsigned int i = 0; i < n; i++)
			pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		root = alloc_page(GFP_KERNEL | __GFP_ZERO);
		u64 *e = page_address(root);
		for (unsigned int i = 0; i < n; i++) {
			e[i] = page_to_phys(pages[i]);
			clflush_cache_range(page_address(pages[i]), PAGE_SIZE);
		}
		struct tdx_module_args c = { .rcx = 0x1700, .rdx = page_to_phys(root) | ((u64)(n - 1) << 55) };
		if (seamcall_ret(TDH_SPDM_CREATE, &c) != TDX_SUCCESS)
			return 11;
		memset(e, 0, PAGE_SIZE); /* the host reuses its root page for the release list */
		struct tdx_module_args d = { .rcx = c.rcx, .rdx = page_to_phys(root) };
		if (seamcall_ret(TDH_SPDM_DELETE, &d) != TDX_SUCCESS)
			return 12;
		bool seen = e[0] == page_to_phys(pages[0]) && e[n - 1] == page_to_phys(pages[n - 1]);
		printf("release list %s\n", seen ? "seen" : "stale");
		for (unsigned int i = 0; i < n; i++) {
			struct tdx_module_args w = { .rcx = set_hkid_to_hpa(page_to_phys(pages[i]), tdx_global_keyid_get()) };
			seamcall(TDH_PHYMEM_PAGE_WBINVD, &w);
			__free_page(pages[i]);
		}
		__free_page(root);
		return seen ? 0 : 13;
	}
	if (!strcmp(mode, "tour")) {
		/* Every allocator shim, with the kernel's page arithmetic, freeing everything: a clean run. */
		struct page *blk = alloc_pages(GFP_KERNEL | __GFP_COMP, 3);
		if (!blk || compound_order(blk) != 3 || compound_nr(blk) != 8 || compound_head(blk + 5) != blk ||
		    page_to_pfn(nth_page(blk, 5)) != page_to_pfn(blk) + 5 || pfn_to_page(page_to_pfn(blk)) != blk ||
		    page_to_phys(blk) != (phys_addr_t)page_to_pfn(blk) << PAGE_SHIFT || !PageTail(blk + 1))
			return 20;
		struct folio *f = folio_alloc(GFP_KERNEL | __GFP_ZERO, 2);
		if (!f || folio_nr_pages(f) != 4 || folio_page(f, 3) != &f->page + 3)
			return 21;
		struct page *arr[40] = { NULL };
		if (alloc_pages_bulk(GFP_KERNEL, 40, arr) != 40)
			return 22;
		struct page *run = alloc_contig_pages(300, GFP_KERNEL | __GFP_ZERO, NUMA_NO_NODE, NULL);
		if (!run)
			return 23;
		unsigned char *a = page_address(run + 299);
		if (a[4095] != 0)
			return 24;
		a[0] = 0x5a; /* written back before the free */
		struct page *one = alloc_page(GFP_KERNEL);
		get_page(one);
		put_page(one);
		if (page_ref_count(one) != 1)
			return 25;
		put_page(one);
		__free_pages(blk, 3);
		folio_put(f);
		for (int i = 0; i < 40; i++)
			__free_page(arr[i]);
		free_contig_range(page_to_pfn(run), 300);
		printf("tour ok\n");
		return 0;
	}
	if (!strcmp(mode, "exit-3")) {
		tdxpa_connect();
		return 3;
	}
	fprintf(stderr, "unknown mode %s\n", mode);
	return 64;
}
