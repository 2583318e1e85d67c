/* SPDX-License-Identifier: MIT */
/*
 * Checks the generated vectors (tdx_page_array_vectors.h) against a second, independent
 * implementation of the page-list formats written from the spec with shifts and masks:
 * 01-formats.md 1.1 (operands), 1.2 (root-page entries), 1.4 (validation order), and the
 * descriptor of 02-kapi.md 2.2 (root entry i = HPA of pages[i] | 2^order for a block).
 *
 * Build:  cc -std=c11 -Wall -Werror -O1 -I <dir with the header> -o vectors_test test/c/vectors_test.c
 * Prints "C vectors: N passed, M failed" and exits 1 when anything failed.
 */
#include <stdint.h>
#include <stdio.h>

#include "tdx_page_array_vectors.h"

/* Bits hi..lo of v (hi - lo < 63). */
static uint64_t bits(uint64_t v, int hi, int lo)
{
	return (v >> lo) & ((UINT64_C(1) << (hi - lo + 1)) - 1);
}

/* Mask of bits hi..lo. */
static uint64_t mask(int hi, int lo)
{
	return (~UINT64_C(0) >> (63 - hi)) & (~UINT64_C(0) << lo);
}

#define PFN_HPA_MASK mask(51, 12) /* bits 51:12, the page address in every format */

struct range {
	int hi, lo;
};

/* Reserved (must-be-zero) fields of each layout, low to high: the first set one is reported. */
static const struct range rsv_hpa_list_info[] = { { 2, 0 }, { 54, 52 } };
static const struct range rsv_hpa_array[] = { { 11, 0 }, { 54, 52 } };
static const struct range rsv_iommu_mt[] = { { 11, 0 }, { 63, 52 } };
static const struct range rsv_iommu_mt_entry[] = { { 63, 52 } };
static const struct range rsv_list_entry[] = { { 11, 0 }, { 63, 52 } };

struct decoded {
	uint64_t hpa;
	unsigned count, first_entry, num_pages;
	int singleton;
	int rule;
	int bits_hi, bits_lo;
};

static int first_reserved(uint64_t v, const struct range *r, int n, struct decoded *d, int rule)
{
	for (int i = 0; i < n; i++) {
		if (v & mask(r[i].hi, r[i].lo)) {
			d->rule = rule;
			d->bits_hi = r[i].hi;
			d->bits_lo = r[i].lo;
			return 1;
		}
	}
	return 0;
}

#define NRANGES(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int is_pow2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

/* Decodes v as `kind`: fields, then the first broken rule of 01-formats.md 1.4 (1, 2, 4). */
static void decode(int kind, uint64_t v, struct decoded *d)
{
	d->hpa = v & PFN_HPA_MASK;
	d->count = d->first_entry = d->num_pages = 0;
	d->singleton = 0;
	d->rule = TDXPA_RULE_NONE;
	d->bits_hi = d->bits_lo = -1;

	switch (kind) {
	case TDXPA_KIND_HPA_LIST_INFO:
		d->first_entry = (unsigned)bits(v, 11, 3);
		d->count = (unsigned)bits(v, 63, 55) + 1;
		if (first_reserved(v, rsv_hpa_list_info, NRANGES(rsv_hpa_list_info), d, TDXPA_RULE_RESERVED_BITS))
			return;
		if (d->first_entry > d->count - 1) {
			d->rule = TDXPA_RULE_FIRST_AFTER_LAST;
			d->bits_hi = 11;
			d->bits_lo = 3;
		}
		return;
	case TDXPA_KIND_HPA_ARRAY:
		d->count = (unsigned)bits(v, 63, 55) + 1;
		d->singleton = d->count == 1;
		first_reserved(v, rsv_hpa_array, NRANGES(rsv_hpa_array), d, TDXPA_RULE_RESERVED_BITS);
		return;
	case TDXPA_KIND_IOMMU_MT:
		first_reserved(v, rsv_iommu_mt, NRANGES(rsv_iommu_mt), d, TDXPA_RULE_RESERVED_BITS);
		return;
	case TDXPA_KIND_IOMMU_MT_ENTRY: {
		uint64_t np = bits(v, 11, 0);

		d->num_pages = (unsigned)np;
		if (first_reserved(v, rsv_iommu_mt_entry, NRANGES(rsv_iommu_mt_entry), d,
				   TDXPA_RULE_ENTRY_RESERVED_BITS))
			return;
		/* A lone entry: NUM_PAGES is 0 (order-0 page) or a power of two >= 2, block aligned. */
		if (np != 0 && (np < 2 || !is_pow2(np))) {
			d->rule = TDXPA_RULE_ENTRY_NUM_PAGES;
			d->bits_hi = 11;
			d->bits_lo = 0;
		} else if (np >= 2 && ((d->hpa >> 12) % np) != 0) {
			d->rule = TDXPA_RULE_ENTRY_ALIGNMENT;
		}
		return;
	}
	case TDXPA_KIND_LIST_ENTRY:
		first_reserved(v, rsv_list_entry, NRANGES(rsv_list_entry), d, TDXPA_RULE_ENTRY_RESERVED_BITS);
		return;
	default:
		d->rule = -1;
	}
}

/* Encodes the fields back (valid values only). */
static uint64_t encode(int kind, const struct decoded *d)
{
	switch (kind) {
	case TDXPA_KIND_HPA_LIST_INFO:
		return ((uint64_t)(d->count - 1) << 55) | ((uint64_t)d->first_entry << 3) | d->hpa;
	case TDXPA_KIND_HPA_ARRAY:
		return ((uint64_t)(d->count - 1) << 55) | d->hpa;
	case TDXPA_KIND_IOMMU_MT_ENTRY:
		return d->hpa | d->num_pages;
	default:
		return d->hpa;
	}
}

static unsigned passed, failed;

static void result(int ok, const char *what, unsigned i, const char *note)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("FAIL %s %u: %s\n", what, i, note);
	}
}

static int check_format(const struct tdxpa_format_vector *t)
{
	struct decoded d;

	decode(t->kind, t->raw, &d);
	if (d.rule < 0)
		return 0;
	/* Fields are recorded for invalid values too. */
	if (d.hpa != t->hpa || d.num_pages != t->num_pages || d.singleton != t->singleton)
		return 0;
	if ((t->kind == TDXPA_KIND_HPA_LIST_INFO || t->kind == TDXPA_KIND_HPA_ARRAY) && d.count != t->count)
		return 0;
	if (d.first_entry != t->first_entry)
		return 0;
	if (t->valid)
		return d.rule == TDXPA_RULE_NONE && encode(t->kind, &d) == t->raw;
	/* Invalid: rejected for the recorded reason, at the recorded bits. */
	return d.rule == t->rule && d.bits_hi == t->bits_hi && d.bits_lo == t->bits_lo;
}

static int check_status(const struct tdxpa_status_vector *s)
{
	uint64_t v = s->raw;

	return bits(v, 63, 63) == s->error && bits(v, 62, 62) == s->non_recoverable &&
	       bits(v, 61, 61) == s->fatal && bits(v, 60, 60) == s->host_hint &&
	       bits(v, 47, 40) == s->class_ && bits(v, 39, 32) == s->detail &&
	       bits(v, 31, 0) == s->info;
}

static int check_descriptor(const struct tdxpa_descriptor_vector *dv)
{
	const struct tdxpa_page_vector *pages = &tdxpa_descriptor_pages[dv->first];
	const uint64_t *entries = &tdxpa_descriptor_root_entries[dv->first];
	uint64_t root = dv->root_hpa, n = dv->nr_pages, covered = 0;

	if (n < 1 || n > 512 || dv->first + n > TDXPA_DESCRIPTOR_PAGE_COUNT)
		return 0;
	if ((root & ~PFN_HPA_MASK) != 0)
		return 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pfn = pages[i].pfn, order = pages[i].order;
		uint64_t want = (pfn << 12) | (order ? UINT64_C(1) << order : 0);
		struct decoded d;

		if (entries[i] != want)
			return 0;
		covered += UINT64_C(1) << order;
		/* The entry must also be valid in the format the module reads it as. */
		if (dv->iommu_mt) {
			decode(TDXPA_KIND_IOMMU_MT_ENTRY, entries[i], &d);
			if (d.rule != TDXPA_RULE_NONE || d.num_pages != (i < 2 ? dv->queue_pages : 0))
				return 0;
		} else {
			decode(TDXPA_KIND_LIST_ENTRY, entries[i], &d);
			if (d.rule != TDXPA_RULE_NONE)
				return 0;
		}
	}
	if (covered != dv->covered_pages)
		return 0;
	if (dv->hpa_list_info != (((n - 1) << 55) | root))
		return 0;
	if (dv->hpa_array != (n == 1 ? pages[0].pfn << 12 : ((n - 1) << 55) | root))
		return 0;
	if (dv->release_input != (n == 1 ? 0 : root))
		return 0;
	return dv->iommu_mt_op == root;
}

int main(void)
{
	unsigned i;

	if (TDXPA_VECTORS_VERSION != 1) {
		printf("C vectors: header layout version %d, this test knows 1\n", TDXPA_VECTORS_VERSION);
		return 1;
	}
	for (i = 0; i < TDXPA_FORMAT_VECTOR_COUNT; i++)
		result(check_format(&tdxpa_format_vectors[i]), "format", i, tdxpa_format_vectors[i].note);
	for (i = 0; i < TDXPA_STATUS_VECTOR_COUNT; i++)
		result(check_status(&tdxpa_status_vectors[i]), "status", i, tdxpa_status_vectors[i].name);
	for (i = 0; i < TDXPA_DESCRIPTOR_VECTOR_COUNT; i++)
		result(check_descriptor(&tdxpa_descriptor_vectors[i]), "descriptor", i,
		       tdxpa_descriptor_vectors[i].name);
	printf("C vectors: %u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
