/**
 * `tdxpa vectors --kunit` (src/vectors/kunit.ts): the sample KUnit suite. Its cases are the descriptor
 * vectors made relative to the pages (offsets and extra entry bits, no PFN of the simulated host); its
 * C is kernel style (the rules checkpatch.pl applies to a new file that can be checked without it); and
 * it compiles, with -Wall -Wextra -Werror, against minimal stand-ins of the kernel headers it uses
 * (declarations only, written here) when `cc` exists.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateVectors } from "../../src/vectors/generate.js";
import { KUNIT_FILE, kunitCase, kunitSuite } from "../../src/vectors/kunit.js";
import { runCli } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "tdxpa-kunit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const set = generateVectors({ seed: 1 });
const c = kunitSuite(set);

const hasCc = (() => {
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const MOCK = `#pragma once
#include <stddef.h>
#include <stdint.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint64_t u64;
#define __maybe_unused __attribute__((__unused__))
#define PAGE_SIZE 4096UL
#define GFP_KERNEL 0x10u
#define __GFP_COMP 0x4000u
#define ENOMEM 12
#define GENMASK_ULL(h, l) (((~0ULL) << (l)) & (~0ULL >> (63 - (h))))
#define IS_ERR_OR_NULL(p) (!(p) || (unsigned long)(p) >= (unsigned long)-4095)
struct page;
struct page *alloc_pages(unsigned int gfp, unsigned int order);
void __free_pages(struct page *page, unsigned int order);
void __free_page(struct page *page);
void split_page(struct page *page, unsigned int order);
struct page *nth_page(struct page *page, unsigned long n);
int get_order(unsigned long size);
u64 page_to_phys(struct page *page);
void *phys_to_virt(u64 pa);
long PTR_ERR(const void *p);
long strscpy(char *dst, const char *src, size_t n);
struct tdx_page_array;
struct tdx_page_array *tdx_page_array_create(struct page **pages, unsigned int nr_pages);
u64 to_hpa_list_info(struct tdx_page_array *array);
void tdx_page_array_free(struct tdx_page_array *array);
#define KUNIT_PARAM_DESC_SIZE 128
struct kunit { const void *param_value; };
struct kunit_case {
	void (*run_case)(struct kunit *test);
	const void *(*generate_params)(const void *prev, char *desc);
};
struct kunit_suite { const char *name; struct kunit_case *test_cases; };
void kunit_fail(struct kunit *test, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void *kunit_kcalloc(struct kunit *test, size_t n, size_t size, unsigned int gfp);
#define KUNIT_CASE_PARAM(f, g) { .run_case = f, .generate_params = g }
#define KUNIT_ARRAY_PARAM(name, array, get_desc) \\
	static const void *name##_gen_params(const void *prev, char *desc) \\
	{ \\
		const __typeof__((array)[0]) *p = prev ? (const __typeof__((array)[0]) *)prev + 1 : (array); \\
		if (p < (array) + sizeof(array) / sizeof((array)[0])) { get_desc(p, desc); return p; } \\
		return NULL; \\
	}
#define KUNIT_FAIL(t, ...) kunit_fail(t, __VA_ARGS__)
#define KUNIT_EXPECT_EQ(t, a, b) do { if ((a) != (b)) kunit_fail(t, "%s", #a); } while (0)
#define KUNIT_EXPECT_EQ_MSG(t, a, b, ...) do { if ((a) != (b)) kunit_fail(t, __VA_ARGS__); } while (0)
#define KUNIT_ASSERT_EQ(t, a, b) do { if ((a) != (b)) { kunit_fail(t, "%s", #a); return; } } while (0)
#define KUNIT_ASSERT_NOT_NULL(t, p) do { if (!(p)) { kunit_fail(t, "%s", #p); return; } } while (0)
#define kunit_test_suite(s) struct kunit_suite *tdxpa_suite_ptr = &(s)
#define MODULE_DESCRIPTION(s) extern int tdxpa_module_description
#define MODULE_LICENSE(s) extern int tdxpa_module_license
`;

describe("the KUnit cases", () => {
  it("carry the vectors' shape relative to the pages: offsets, extra bits, no simulated PFN", () => {
    for (const d of set.descriptors) {
      const k = kunitCase(d);
      expect(k.nrPages).toBe(d.nrPages);
      // Rebuild each vector's root entries from the case and the vector's own pages: they must agree.
      const base = d.pages.filter((p) => p.order === 0).map((p) => BigInt(p.pfn) << 12n);
      let min = base[0] ?? 0n;
      for (const b of base) if (b < min) min = b;
      k.pages.forEach((p, i) => {
        const hpa = p.order === 0 ? min + (BigInt(p.offset) << 12n) : BigInt(d.pages[i]!.pfn) << 12n;
        expect(`0x${(hpa | p.extra).toString(16).padStart(16, "0")}`).toBe(d.rootEntries[i]);
      });
      for (const pg of d.pages) expect(c).not.toContain(pg.pfn.replace(/^0x0*/, "0x"));
    }
    const mt = kunitCase(set.descriptors.find((d) => d.name === "iommu-mt-2x2+4")!);
    expect(mt.pages.slice(0, 2).map((p) => [p.order, p.extra])).toEqual([
      [1, 2n],
      [1, 2n],
    ]);
    expect(mt.runPages).toBe(4);
  });
});

describe("the KUnit file's style", () => {
  const lines = c.split("\n");
  it("SPDX first, C comments only, tabs for indentation, at most 100 columns, no trailing space", () => {
    expect(lines[0]).toBe("// SPDX-License-Identifier: GPL-2.0");
    for (const [i, l] of lines.entries()) {
      expect(l.length, `line ${i + 1}`).toBeLessThanOrEqual(100);
      expect(l, `line ${i + 1}`).not.toMatch(/\s$/);
      expect(l, `line ${i + 1}`).not.toMatch(/^ +(?!\*)/);
      if (i > 0) expect(l, `line ${i + 1}`).not.toMatch(/(^|[^:])\/\//);
    }
  });
  it("kernel types and __maybe_unused tables, the suite registered", () => {
    expect(c).not.toMatch(/uint\d+_t|int\d+_t|stdint/);
    expect(c).toMatch(/\bu64 extra;/);
    expect(c.match(/\[\] __maybe_unused = \{/g)).toHaveLength(set.descriptors.length);
    expect(c).toMatch(/^kunit_test_suite\(tdxpa_test_suite\);$/m);
    expect(c).toMatch(/^MODULE_LICENSE\("GPL"\);$/m);
    expect(c).toMatch(/split_page\(\*run, run_order\);/);
  });
  it.skipIf(!hasCc)("compiles with -Wall -Wextra -Werror against stand-in kernel headers", () => {
    const inc = join(dir, "include");
    for (const h of [
      "kunit/test.h",
      "linux/gfp.h",
      "linux/io.h",
      "linux/mm.h",
      "linux/string.h",
      "asm/tdx.h",
    ]) {
      mkdirSync(join(inc, h, ".."), { recursive: true });
      writeFileSync(join(inc, h), h === "kunit/test.h" ? MOCK : "#include <kunit/test.h>\n");
    }
    const src = join(dir, KUNIT_FILE);
    writeFileSync(src, c);
    execFileSync("cc", ["-std=gnu11", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-I", inc, src], {
      stdio: "pipe",
    });
  });
});

describe("tdxpa vectors --kunit", () => {
  it("writes the suite next to the JSON and the header, and says so", async () => {
    const out = join(dir, "v");
    const r = await runCli(["vectors", "--out", out, "--kunit", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out[0]!);
    expect(j.kunit).toBe(join(out, KUNIT_FILE));
    expect(readFileSync(j.kunit, "utf8")).toBe(
      kunitSuite(generateVectors({ seed: 1, generator: set.generator })).replace(
        set.generator,
        JSON.parse(readFileSync(j.json, "utf8")).generator,
      ),
    );
    const plain = await runCli(["vectors", "--out", join(dir, "w")]);
    expect(plain.out[0]).not.toContain(KUNIT_FILE);
  });
});
