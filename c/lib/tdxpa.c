// SPDX-License-Identifier: MIT
/*
 * libtdxpa: the client side of the tdxpa wire protocol (docs/PROTOCOL.md) and the memory machinery
 * under the kernel-named shims (docs/C-HARNESS.md): the struct page array indexed by PFN, the page
 * content mirror kept coherent with the emulator, and the channel. See c/include/tdxpa.h.
 */
#define _GNU_SOURCE
#include "tdxpa.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- protocol constants (docs/PROTOCOL.md) ----------------------------------------------------- */
enum {
	MSG_HELLO = 1, MSG_ALLOC = 2, MSG_FREE = 3, MSG_READ = 4, MSG_WRITE = 5, MSG_CLFLUSH = 6,
	MSG_SEAMCALL = 7, MSG_MARK = 8, MSG_PING = 9, MSG_BYE = 10, MSG_REPLY = 0x80, MSG_ERROR = 0xff,
};
enum { MARK_ENTER = 0, MARK_EXIT = 1, MARK_WARN = 2, MARK_STRAND = 3 };
#define HELLO_MAGIC 0x41505854u
#define PROTOCOL_VERSION 1
#define MAX_PAYLOAD (65536 + 64)
#define MAX_BULK 8192
#define MAX_TEXT 256
#define MAX_RANGE_PAGES (1u << 21)
#define PAGE_BYTES 4096ull

/* Exit status of a program whose channel broke (documented in docs/C-HARNESS.md). */
#define TDXPA_EXIT_CHANNEL 125

/* ---- state --------------------------------------------------------------------------------------- */
struct page *tdxpa_vmemmap;
unsigned char *tdxpa_mirror;

static int chan = -1;
static struct tdxpa_platform plat;
static struct tdxpa_stats stats;
static unsigned char *vmemmap_chunks; /* one bit per 2 MiB of struct page array made writable */
static unsigned char *mstate;	      /* per PFN: mirror slot state */
static unsigned long long seam_epoch;
static struct sigaction old_segv;
static bool said_bye;

enum { SLOT_ABSENT = 0, SLOT_PRESENT = 1, SLOT_DIRTY = 2 };
#define VMEMMAP_CHUNK (2ull << 20)
#define MAX_PRESENT 4096
static unsigned long long present[MAX_PRESENT];
static unsigned int nr_present;

static unsigned char obuf[256 * 1024];
static size_t olen;
/* Where the last frame posted starts in obuf (so a CLFLUSH of the next page extends it), or -1. */
static long last_frame = -1;

/* ---- failure ------------------------------------------------------------------------------------- */
static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line; _exit so that atexit does not try the broken channel again. */
	dprintf(2, "tdxpa: %s\n", msg);
	_exit(TDXPA_EXIT_CHANNEL);
}

/* ---- little-endian helpers ------------------------------------------------------------------------ */
static void put16(unsigned char *p, unsigned int v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 0xff; }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (v >> (8 * i)) & 0xff; }
static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* ---- channel ------------------------------------------------------------------------------------- */
/*
 * Replies are read into ibuf with as large a read as the socket gives, so a reply's header and payload
 * (and anything the server sent after it) usually arrive in one system call; bytes past the reply
 * waited for stay in ibuf[ipos..ilen) for the next one.
 */
static unsigned char ibuf[2 * (8 + MAX_PAYLOAD)];
static size_t ipos, ilen;

/* Ends the program with the reason of an error reply (payload e, len bytes: i32 code, u16 length, text). */
static void die_refused(const unsigned char *e, uint32_t len) __attribute__((noreturn));
static void die_refused(const unsigned char *e, uint32_t len)
{
	unsigned int tl = len >= 6 ? (unsigned int)(e[4] | e[5] << 8) : 0;
	if (tl > len - 6)
		tl = 0;
	die("the emulator refused a request (code %d): %.*s", len >= 4 ? (int)get32(e) : 0, (int)tl,
	    (const char *)e + 6);
}

/*
 * After a send failed: the server answers a request it refuses with an error reply and then closes the
 * channel, so a program that sent more in between finds the channel closed while its error reply is
 * still waiting to be read. Reads what the socket holds without waiting and ends the program with that
 * reason if an error reply is there; returns otherwise (the caller reports the failed send).
 */
static void die_if_refused(void)
{
	for (;;) {
		while (ilen - ipos >= 8) {
			const unsigned char *h = ibuf + ipos;
			uint32_t len = get32(h);
			if (len > MAX_PAYLOAD || ilen - ipos < 8 + (size_t)len)
				break;
			if ((h[4] | h[5] << 8) == MSG_ERROR)
				die_refused(h + 8, len);
			ipos += 8 + (size_t)len;
		}
		if (ipos > 0) {
			memmove(ibuf, ibuf + ipos, ilen - ipos);
			ilen -= ipos;
			ipos = 0;
		}
		if (ilen == sizeof(ibuf))
			return;
		ssize_t r = recv(chan, ibuf + ilen, sizeof(ibuf) - ilen, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		ilen += (size_t)r;
	}
}

static void write_all(const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(chan, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			die_if_refused();
			die("the channel to the emulator closed while sending (%s)", w < 0 ? strerror(e) : "EOF");
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Makes at least n (at most 8 + MAX_PAYLOAD) unread bytes available at ibuf + ipos. */
static void fill(size_t n)
{
	if (ilen - ipos >= n)
		return;
	if (ipos + n > sizeof(ibuf)) {
		memmove(ibuf, ibuf + ipos, ilen - ipos);
		ilen -= ipos;
		ipos = 0;
	}
	while (ilen - ipos < n) {
		ssize_t r = read(chan, ibuf + ilen, sizeof(ibuf) - ilen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("the channel to the emulator closed while waiting for a reply (%s)",
			    r < 0 ? strerror(errno) : "EOF");
		ilen += (size_t)r;
	}
}

/* Takes the next n unread bytes (n <= 8 + MAX_PAYLOAD): a pointer into ibuf, valid until the next fill. */
static const unsigned char *take(size_t n)
{
	fill(n);
	const unsigned char *p = ibuf + ipos;
	ipos += n;
	if (ipos == ilen)
		ipos = ilen = 0;
	return p;
}

static void flush_out(void)
{
	if (olen > 0)
		write_all(obuf, olen);
	olen = 0;
	last_frame = -1;
}

/* Appends one frame: header, then `a` (n bytes) and `b` (m bytes). */
static void post(unsigned int type, const void *a, size_t n, const void *b, size_t m)
{
	if (olen + 8 + n + m > sizeof(obuf))
		flush_out();
	last_frame = (long)olen;
	put32(obuf + olen, (uint32_t)(n + m));
	put16(obuf + olen + 4, type);
	put16(obuf + olen + 6, 0);
	if (n)
		memcpy(obuf + olen + 8, a, n);
	if (m)
		memcpy(obuf + olen + 8 + n, b, m);
	olen += 8 + n + m;
	stats.requests++;
}

/* Sends everything posted, then waits for the reply to `type`; returns its payload length. */
static size_t await_reply(unsigned int type, unsigned char *reply, size_t cap)
{
	flush_out();
	stats.round_trips++;
	const unsigned char *h = take(8);
	uint32_t len = get32(h);
	unsigned int rtype = h[4] | h[5] << 8;
	if (len > MAX_PAYLOAD)
		die("reply of %u bytes is above the protocol limit", len);
	if (rtype == MSG_ERROR)
		die_refused(take(len), len);
	if (rtype != (type | MSG_REPLY) || len > cap)
		die("unexpected reply type %u (%u bytes) to request %u", rtype, len, type);
	memcpy(reply, take(len), len);
	return len;
}

/* ---- the struct page array and the mirror ------------------------------------------------------ */
static void vmemmap_touch(unsigned long long pfn, unsigned long long n)
{
	unsigned long long a = pfn * sizeof(struct page), b = (pfn + n) * sizeof(struct page);
	for (unsigned long long c = a / VMEMMAP_CHUNK; c <= (b - 1) / VMEMMAP_CHUNK; c++) {
		if (vmemmap_chunks[c / 8] & (1u << (c % 8)))
			continue;
		if (mprotect((unsigned char *)tdxpa_vmemmap + c * VMEMMAP_CHUNK, VMEMMAP_CHUNK,
			     PROT_READ | PROT_WRITE))
			die("mprotect of the struct page array failed: %s", strerror(errno));
		vmemmap_chunks[c / 8] |= (unsigned char)(1u << (c % 8));
	}
}

static bool vmemmap_mapped(unsigned long long pfn)
{
	unsigned long long c = pfn * sizeof(struct page) / VMEMMAP_CHUNK;
	return pfn < plat.pfn_limit && (vmemmap_chunks[c / 8] & (1u << (c % 8)));
}

static unsigned char *slot(unsigned long long pfn) { return tdxpa_mirror + pfn * PAGE_BYTES; }

static void slot_drop(unsigned long long pfn)
{
	mprotect(slot(pfn), PAGE_BYTES, PROT_NONE);
	madvise(slot(pfn), PAGE_BYTES, MADV_DONTNEED);
	mstate[pfn] = SLOT_ABSENT;
}

void tdxpa_sync(void)
{
	for (unsigned int i = 0; i < nr_present; i++) {
		unsigned long long pfn = present[i];
		if (mstate[pfn] != SLOT_DIRTY)
			continue;
		unsigned char h[16];
		put64(h, pfn);
		put32(h + 8, 0);
		put32(h + 12, (uint32_t)PAGE_BYTES);
		post(MSG_WRITE, h, 16, slot(pfn), PAGE_BYTES);
		mprotect(slot(pfn), PAGE_BYTES, PROT_READ);
		mstate[pfn] = SLOT_PRESENT;
		stats.pages_written_back++;
	}
}

static void drop_all(void)
{
	for (unsigned int i = 0; i < nr_present; i++)
		slot_drop(present[i]);
	nr_present = 0;
}

static void drop_range(unsigned long long pfn, unsigned long long n)
{
	for (unsigned int i = 0; i < nr_present;) {
		if (present[i] >= pfn && present[i] < pfn + n) {
			slot_drop(present[i]);
			present[i] = present[--nr_present];
		} else {
			i++;
		}
	}
}

/* Fills a slot with the page's contents: zero when the allocator zeroed it since the last SEAMCALL. */
static void slot_fetch(unsigned long long pfn)
{
	unsigned char *s = slot(pfn);

	if (mprotect(s, PAGE_BYTES, PROT_READ | PROT_WRITE))
		die("mprotect of the page mirror failed: %s", strerror(errno));
	if (vmemmap_mapped(pfn) && tdxpa_vmemmap[pfn].refcount > 0 &&
	    tdxpa_vmemmap[pfn].zero_epoch == seam_epoch + 1) {
		memset(s, 0, PAGE_BYTES);
	} else {
		unsigned char req[16], rep[4 + PAGE_BYTES];
		put64(req, pfn);
		put32(req + 8, 0);
		put32(req + 12, (uint32_t)PAGE_BYTES);
		post(MSG_READ, req, 16, NULL, 0);
		size_t n = await_reply(MSG_READ, rep, sizeof(rep));
		if (n == 4 + PAGE_BYTES && (int32_t)get32(rep) == 0)
			memcpy(s, rep + 4, PAGE_BYTES);
		else
			memset(s, 0, PAGE_BYTES); /* refused: the server recorded why (a finding) */
	}
	mprotect(s, PAGE_BYTES, PROT_READ);
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	unsigned char *a = si->si_addr;
	(void)sig;
	(void)ctx;
	if (si->si_code > 0 && tdxpa_mirror != NULL && a >= tdxpa_mirror && a < tdxpa_mirror + plat.pfn_limit * PAGE_BYTES) {
		unsigned long long pfn = (unsigned long long)(a - tdxpa_mirror) / PAGE_BYTES;
		stats.faults++;
		if (mstate[pfn] == SLOT_ABSENT) {
			if (nr_present == MAX_PRESENT) {
				tdxpa_sync();
				drop_all();
			}
			slot_fetch(pfn);
			mstate[pfn] = SLOT_PRESENT;
			present[nr_present++] = pfn;
			return;
		}
		if (mstate[pfn] == SLOT_PRESENT) {
			mprotect(slot(pfn), PAGE_BYTES, PROT_READ | PROT_WRITE);
			mstate[pfn] = SLOT_DIRTY;
			return;
		}
	}
	/*
	 * Not ours: the previous handler (or the default action) takes the repeated fault; a SIGSEGV sent
	 * by kill() or raise() is not repeated by returning, so it is raised again.
	 */
	sigaction(SIGSEGV, &old_segv, NULL);
	if (si->si_code <= 0)
		raise(SIGSEGV);
}

/* ---- connection ---------------------------------------------------------------------------------- */
static void *reserve(unsigned long long bytes, int prot, const char *what)
{
	void *p = mmap(NULL, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		die("cannot reserve %llu bytes of address space for %s: %s", bytes, what, strerror(errno));
	return p;
}

static void at_exit(void) { tdxpa_bye(); }

void tdxpa_connect(void)
{
	if (chan >= 0)
		return;
	const char *fd = getenv("TDXPA_FD"), *path = getenv("TDXPA_SOCKET");
	if (fd != NULL && *fd != '\0') {
		char *end;
		long v = strtol(fd, &end, 10);
		if (*end != '\0' || v < 0 || v > 65535)
			die("TDXPA_FD=%s is not a file descriptor number", fd);
		chan = (int)v;
	} else if (path != NULL && *path != '\0') {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(path) >= sizeof(sa.sun_path))
			die("TDXPA_SOCKET path is too long: %s", path);
		strcpy(sa.sun_path, path);
		chan = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (chan < 0 || connect(chan, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("cannot connect to %s: %s", path, strerror(errno));
	} else {
		die("no channel to the emulator: run this program under 'tdxpa exec -- PROGRAM' "
		    "(TDXPA_FD) or 'tdxpa serve --socket PATH' (TDXPA_SOCKET)");
	}
	signal(SIGPIPE, SIG_IGN);

	unsigned char hello[8], rep[4 + 4 + 4 * 4 + 8 + 64 * 8 + 2 + MAX_TEXT];
	put32(hello, HELLO_MAGIC);
	put16(hello + 4, PROTOCOL_VERSION);
	put16(hello + 6, 0);
	post(MSG_HELLO, hello, 8, NULL, 0);
	size_t n = await_reply(MSG_HELLO, rep, sizeof(rep));
	if (n < 36 || (int32_t)get32(rep) != 0)
		die("HELLO refused");
	unsigned int nr = rep[6] | rep[7] << 8;
	if (nr > 64 || n < 36 + 8ull * nr + 2)
		die("HELLO reply names %u IOMMUs in %zu bytes", nr, n);
	plat.keyid_shift = get32(rep + 8);
	plat.global_keyid = get32(rep + 12);
	plat.clflush_before_alloc = get32(rep + 16) & 1;
	plat.pfn_limit = get64(rep + 24);
	plat.nr_iommus = nr;
	for (unsigned int i = 0; i < nr; i++)
		plat.iommu_reg_base[i] = get64(rep + 32 + 8 * i);
	const unsigned char *t = rep + 32 + 8 * nr;
	unsigned int tl = t[0] | t[1] << 8;
	if (tl > sizeof(plat.name) - 1 || (size_t)(t + 2 + tl - rep) > n)
		tl = 0;
	memcpy(plat.name, t + 2, tl);
	plat.name[tl] = '\0';
	if (plat.pfn_limit == 0 || plat.pfn_limit > (1ull << 40))
		die("HELLO reply gives a PFN limit of %llu", plat.pfn_limit);

	unsigned long long vm_bytes = plat.pfn_limit * sizeof(struct page);
	vm_bytes = (vm_bytes + VMEMMAP_CHUNK - 1) / VMEMMAP_CHUNK * VMEMMAP_CHUNK;
	tdxpa_vmemmap = reserve(vm_bytes, PROT_NONE, "the struct page array");
	vmemmap_chunks = calloc(vm_bytes / VMEMMAP_CHUNK / 8 + 1, 1);
	mstate = reserve(plat.pfn_limit, PROT_READ | PROT_WRITE, "the mirror state");
	tdxpa_mirror = reserve(plat.pfn_limit * PAGE_BYTES, PROT_NONE, "the page mirror");
	if (vmemmap_chunks == NULL)
		die("out of memory");

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	atexit(at_exit);
}

const struct tdxpa_platform *tdxpa_platform(void)
{
	tdxpa_connect();
	return &plat;
}

/* ---- requests ------------------------------------------------------------------------------------ */
static void page_init(unsigned long long pfn, unsigned int order, unsigned long long head, bool zero)
{
	struct page *p = &tdxpa_vmemmap[pfn];
	p->order = order;
	p->compound_head = head;
	p->refcount = 1;
	p->zero_epoch = zero ? seam_epoch + 1 : 0;
}

static unsigned int alloc_once(enum tdxpa_alloc_kind kind, unsigned int order, unsigned int count,
			       bool zero, unsigned long long *pfns)
{
	static unsigned char rep[8 + 8 * MAX_BULK];
	unsigned char req[12 + 2];

	req[0] = (unsigned char)kind;
	req[1] = (unsigned char)order;
	put16(req + 2, zero ? 1 : 0);
	put32(req + 4, count);
	put16(req + 8, 0); /* tag: the server names it after the current mark */
	post(MSG_ALLOC, req, 10, NULL, 0);
	size_t n = await_reply(MSG_ALLOC, rep, sizeof(rep));
	if (n < 8)
		die("short ALLOC reply");
	unsigned int got = get32(rep + 4);
	if ((int32_t)get32(rep) != 0 || got == 0)
		return 0;
	if (n != 8 + 8ull * got || got > (kind == TDXPA_ALLOC_BULK ? count : 1))
		die("malformed ALLOC reply");
	for (unsigned int i = 0; i < got; i++)
		pfns[i] = get64(rep + 8 + 8 * i);
	return got;
}

unsigned int tdxpa_alloc(enum tdxpa_alloc_kind kind, unsigned int order, unsigned int count, bool zero,
			 bool compound, unsigned long long *pfns)
{
	tdxpa_connect();
	unsigned int got = 0;
	if (kind == TDXPA_ALLOC_BULK) {
		while (got < count) {
			unsigned int ask = count - got > MAX_BULK ? MAX_BULK : count - got;
			unsigned int n = alloc_once(kind, 0, ask, zero, pfns + got);
			got += n;
			if (n < ask)
				break;
		}
		for (unsigned int i = 0; i < got; i++) {
			vmemmap_touch(pfns[i], 1);
			page_init(pfns[i], 0, 0, zero);
		}
		return got;
	}
	if (alloc_once(kind, order, count, zero, pfns) == 0)
		return 0;
	unsigned long long pfn = pfns[0];
	unsigned long long n = kind == TDXPA_ALLOC_CONTIG ? count : 1ull << order;
	vmemmap_touch(pfn, n);
	for (unsigned long long i = 0; i < n; i++) {
		if (kind == TDXPA_ALLOC_CONTIG || !compound)
			page_init(pfn + i, 0, 0, zero);
		else
			page_init(pfn + i, i == 0 ? order : 0, i == 0 ? 0 : pfn + 1, zero);
	}
	return 1;
}

void tdxpa_free(enum tdxpa_free_kind kind, unsigned long long pfn, unsigned int order, unsigned int count)
{
	unsigned char req[16];
	unsigned long long n = kind == TDXPA_FREE_CONTIG ? count : 1ull << order;

	tdxpa_connect();
	/* Write back what the host wrote before the pages leave it, and forget their contents. */
	tdxpa_sync();
	if (kind != TDXPA_GET_PAGE && pfn < plat.pfn_limit && vmemmap_mapped(pfn)) {
		struct page *p = &tdxpa_vmemmap[pfn];
		if (kind == TDXPA_PUT_PAGE)
			n = 1ull << p->order;
		if (kind == TDXPA_FREE_CONTIG) {
			for (unsigned long long i = 0; i < n && pfn + i < plat.pfn_limit; i++)
				if (vmemmap_mapped(pfn + i) && tdxpa_vmemmap[pfn + i].refcount > 0)
					tdxpa_vmemmap[pfn + i].refcount--;
		} else if (p->refcount > 0) {
			p->refcount--;
		}
		drop_range(pfn, n);
	} else if (kind == TDXPA_GET_PAGE && pfn < plat.pfn_limit && vmemmap_mapped(pfn)) {
		tdxpa_vmemmap[pfn].refcount++;
	}
	req[0] = (unsigned char)kind;
	req[1] = (unsigned char)order;
	put16(req + 2, 0);
	put32(req + 4, count);
	put64(req + 8, pfn);
	post(MSG_FREE, req, 16, NULL, 0);
}

void tdxpa_clflush_pages(unsigned long long pfn, unsigned int npages)
{
	unsigned char req[16];

	tdxpa_connect();
	tdxpa_sync();
	/* A CLFLUSH of the pages right after the previous CLFLUSH extends it: one frame, same effect. */
	if (last_frame >= 0 && obuf[last_frame + 4] == MSG_CLFLUSH && (size_t)last_frame + 8 + 16 == olen) {
		unsigned char *prev = obuf + last_frame + 8;
		uint32_t count = get32(prev + 8);
		if (get64(prev) + count == pfn && (uint64_t)count + npages <= MAX_RANGE_PAGES) {
			put32(prev + 8, count + npages);
			return;
		}
	}
	put64(req, pfn);
	put32(req + 8, npages);
	put32(req + 12, 0);
	post(MSG_CLFLUSH, req, 16, NULL, 0);
}

uint64_t tdxpa_seamcall_regs(uint64_t regs[16])
{
	unsigned char req[128], rep[8 + 128];

	tdxpa_connect();
	tdxpa_sync();
	for (int i = 0; i < 16; i++)
		put64(req + 8 * i, regs[i]);
	post(MSG_SEAMCALL, req, 128, NULL, 0);
	size_t n = await_reply(MSG_SEAMCALL, rep, sizeof(rep));
	if (n != sizeof(rep) || (int32_t)get32(rep) != 0)
		die("malformed SEAMCALL reply");
	for (int i = 0; i < 16; i++)
		regs[i] = get64(rep + 8 + 8 * i);
	/* The module may have written any page: drop the mirror so the next touch reads it again. */
	seam_epoch++;
	drop_all();
	return regs[0];
}

int tdxpa_ping(void)
{
	unsigned char rep[4];

	tdxpa_connect();
	post(MSG_PING, NULL, 0, NULL, 0);
	return await_reply(MSG_PING, rep, sizeof(rep)) == 4 && get32(rep) == 0 ? 0 : -1;
}

static void mark(unsigned int kind, uint64_t a, uint64_t b, const char *text)
{
	unsigned char req[24 + 2 + MAX_TEXT];
	size_t tl = text == NULL ? 0 : strnlen(text, MAX_TEXT);

	tdxpa_connect();
	req[0] = (unsigned char)kind;
	req[1] = 0;
	put16(req + 2, 0);
	put32(req + 4, 0);
	put64(req + 8, a);
	put64(req + 16, b);
	put16(req + 24, (unsigned int)tl);
	if (tl)
		memcpy(req + 26, text, tl);
	post(MSG_MARK, req, 26 + tl, NULL, 0);
}

void tdxpa_mark_enter(const char *fn) { mark(MARK_ENTER, 0, 0, fn); }
void tdxpa_mark_exit(const char *fn) { mark(MARK_EXIT, 0, 0, fn); }

void tdxpa_warn(const char *fn, const char *file, int line, const char *text)
{
	char msg[MAX_TEXT];

	snprintf(msg, sizeof(msg), "%s (%s:%d)", text, file, line);
	dprintf(2, "WARNING: at %s:%d %s: %s\n", file, line, fn, text);
	mark(MARK_WARN, 0, 0, msg);
}

void tdxpa_strand(unsigned long long pfn, unsigned long long npages, const char *reason)
{
	tdxpa_sync();
	mark(MARK_STRAND, pfn, npages, reason);
}

void tdxpa_bye(void)
{
	if (chan < 0 || said_bye)
		return;
	said_bye = true;
	tdxpa_sync();
	post(MSG_BYE, NULL, 0, NULL, 0);
	flush_out();
}

struct tdxpa_stats tdxpa_stats(void) { return stats; }
