/**
 * readLinkedList on long chains (src/common/formats-linked.ts): it keeps the list pages it has seen in
 * its own array while the chain is short and in a Set from 32 pages on, so loops back to a page seen
 * before and after that switch must both end the walk there, as the spec's walk does (01-formats.md 1.3).
 */
import { describe, expect, it } from "vitest";
import {
  encodeListEntry,
  LINKED_DATA_PER_PAGE,
  layoutLinkedList,
  readLinkedList,
} from "../../src/common/formats.js";
import type { U64 } from "../../src/common/u64.js";

const PAGES = 40;
const lists = Array.from({ length: PAGES }, (_, i) => 0x9000_0000 + i * 4096);
const data = Array.from({ length: PAGES * LINKED_DATA_PER_PAGE }, (_, i) => 0x1_0000_0000 + i * 4096);

/** The chain with its last link pointing back to list page `to` (or NULL when `to` is -1). */
function chain(to: number): (hpa: number, e: number) => U64 {
  const pages = layoutLinkedList(lists, data);
  if (to >= 0) pages[PAGES - 1]![LINKED_DATA_PER_PAGE] = encodeListEntry(lists[to]!);
  const byHpa = new Map(lists.map((h, i) => [h, pages[i]!]));
  return (h, e) => byHpa.get(h)?.[e] ?? { lo: 0xffff_ffff, hi: 0xffff_ffff };
}

describe("readLinkedList on a chain of 40 list pages", () => {
  it("walks it whole when it ends", () => {
    const r = readLinkedList(chain(-1), lists[0]!, 100);
    expect(r.violation).toBeNull();
    expect(r.listHpas).toEqual(lists);
    expect(r.dataHpas).toEqual(data);
  });

  it.each([0, 5, 31, 32, 35, 39])(
    "stops at a loop back to list page %i, having walked each page once",
    (to) => {
      const r = readLinkedList(chain(to), lists[0]!, 100);
      expect(r.violation?.rule).toBe("list-cycle");
      expect(r.listHpas).toEqual(lists);
      expect(r.dataHpas.length).toBe(data.length);
    },
  );

  it("stops at the page limit when it is below the chain's length", () => {
    const r = readLinkedList(chain(-1), lists[0]!, 36);
    expect(r.violation?.rule).toBe("list-cycle");
    expect(r.listHpas).toEqual(lists.slice(0, 36));
  });
});
