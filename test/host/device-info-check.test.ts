/**
 * The host's read-back check of the device information TDH.SPDM.CONNECT wrote (src/host/flows/spdm.ts):
 * the pages are read in place, one view per page, and compared with the device's data byte for byte
 * across page boundaries, as the copy into one buffer it replaced compared them.
 */
import { describe, expect, it } from "vitest";
import { pagesStartWith } from "../../src/host/flows/spdm.js";

const PAGE = 4096;

/** `n` pages holding bytes 0, 1, 2, … (mod 251) one after another. */
function pages(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, p) =>
    Uint8Array.from({ length: PAGE }, (_, i) => (p * PAGE + i) % 251),
  );
}

/** The first `len` bytes the pages of {@link pages} hold. */
function prefix(len: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => i % 251);
}

describe("device info read back: the pages start with the device's bytes", () => {
  const cases: { name: string; n: number; want: Uint8Array; same: boolean }[] = [
    { name: "nothing to compare", n: 2, want: new Uint8Array(0), same: true },
    { name: "within the first page", n: 2, want: prefix(100), same: true },
    { name: "the whole first page", n: 2, want: prefix(PAGE), same: true },
    { name: "across the page boundary", n: 2, want: prefix(PAGE + 7), same: true },
    { name: "every byte of every page", n: 3, want: prefix(3 * PAGE), same: true },
    { name: "one byte more than the pages hold", n: 2, want: prefix(2 * PAGE + 1), same: false },
    { name: "no pages", n: 0, want: prefix(1), same: false },
  ];
  for (const c of cases) it(c.name, () => expect(pagesStartWith(pages(c.n), c.want)).toBe(c.same));

  it("a difference in any one byte is seen: first, last of a page, first of the next, last", () => {
    const len = 2 * PAGE + 10;
    for (const at of [0, 1, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE - 1, 2 * PAGE, len - 1]) {
      const want = prefix(len);
      want[at] = (want[at]! + 1) & 0xff;
      expect(pagesStartWith(pages(3), want), `byte ${at}`).toBe(false);
    }
  });
});
