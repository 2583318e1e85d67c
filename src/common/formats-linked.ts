/**
 * HPA_LINKED_LIST (docs/spec/01-formats.md 1.3): laying out the list pages and reading a chain back,
 * with the loop and entry checks. Part of src/common/formats.ts, which re-exports everything here.
 */
import { rangeError, typeError } from "./errors.js";
import { LIST_ENTRY } from "./fields.js";
import { checkHpa } from "./formats-args.js";
import { encodeListEntry, entryHpa, listEntryRule } from "./formats-entries.js";
import { RULE_OK, RULE_REF, reservedViolation, type Violation, violation } from "./rules.js";
import { checkHalves, pageAddress, type U64, U64_ONES } from "./u64.js";

// ---------------------------------------------------------------------------------------------------
// HPA_LINKED_LIST (01-formats.md 1.3)

/** Data entries per list page; entry 511 links to the next list page. */
export const LINKED_DATA_PER_PAGE = 511;

/** List pages from which {@link readLinkedList} keeps the pages it has seen in a Set. */
const SEEN_SET_FROM = 32;

/**
 * Lays out an HPA_LINKED_LIST: returns, for each list page, its 512 entries as u64 halves. `listHpas`
 * must hold ceil(dataHpas.length / 511) pages (at least one). Unused entries and the last link are NULL
 * (all ones).
 */
export function layoutLinkedList(listHpas: readonly number[], dataHpas: readonly number[]): U64[][] {
  if (!Array.isArray(dataHpas)) throw typeError("linked-list.data", dataHpas, "an array of page HPAs");
  const need = Math.max(1, Math.ceil(dataHpas.length / LINKED_DATA_PER_PAGE));
  if (!Array.isArray(listHpas) || listHpas.length !== need) {
    throw rangeError(
      "linked-list.listPages",
      Array.isArray(listHpas) ? listHpas.length : listHpas,
      `exactly ${need} for ${dataHpas.length} data pages`,
    );
  }
  for (const [i, h] of listHpas.entries()) checkHpa(`linked-list.listPages[${i}]`, h);
  for (const [i, h] of dataHpas.entries()) checkHpa(`linked-list.data[${i}]`, h);
  return listHpas.map((_, p) => {
    const page: U64[] = [];
    for (let e = 0; e < LINKED_DATA_PER_PAGE; e++) {
      const d = dataHpas[p * LINKED_DATA_PER_PAGE + e];
      page.push(d === undefined ? U64_ONES : encodeListEntry(d));
    }
    const next = listHpas[p + 1];
    page.push(next === undefined ? U64_ONES : encodeListEntry(next));
    return page;
  });
}

/**
 * Reads an HPA_LINKED_LIST starting at `firstHpa` through `readEntry` (which returns entry e of the
 * list page at `hpa`). Stops at the first NULL data entry or NULL link. Never throws: a loop, more than
 * `maxListPages` pages, or an entry that is neither NULL nor a clean page address is a violation.
 */
export function readLinkedList(
  readEntry: (listHpa: number, e: number) => U64,
  firstHpa: number,
  maxListPages: number,
): { listHpas: number[]; dataHpas: number[]; violation: Violation | null } {
  const listHpas: number[] = [];
  const dataHpas: number[] = [];
  // The list pages seen: `listHpas` itself while it is short (most chains are one page; without a Set
  // per call the linked-list fuzz target ran 5% more inputs per CPU second), a Set from SEEN_SET_FROM
  // pages on.
  let seen: Set<number> | null = null;
  let cur = firstHpa;
  for (;;) {
    if ((seen === null ? listHpas.includes(cur) : seen.has(cur)) || listHpas.length >= maxListPages) {
      return {
        listHpas,
        dataHpas,
        violation: violation(
          "list-cycle",
          `HPA_LINKED_LIST: list page 0x${cur.toString(16)} makes the chain loop or exceed ${maxListPages} pages`,
        ),
      };
    }
    listHpas.push(cur);
    if (seen !== null) seen.add(cur);
    else if (listHpas.length === SEEN_SET_FROM) seen = new Set(listHpas);
    let ended = false;
    for (let e = 0; e < LINKED_DATA_PER_PAGE; e++) {
      const x = readEntry(cur, e);
      const lo = x.lo;
      const hi = x.hi;
      if (lo === 0xffff_ffff && hi === 0xffff_ffff) {
        ended = true;
        break;
      }
      // Fast path: a clean entry is one mask test; the Violation is built only for a bad one.
      if (listEntryRule(lo, hi) !== RULE_OK)
        return { listHpas, dataHpas, violation: listEntryViolation(lo, hi, e) };
      dataHpas.push(entryHpa(lo, hi));
    }
    if (ended) break;
    const link = readEntry(cur, LINKED_DATA_PER_PAGE);
    const lo = link.lo;
    const hi = link.hi;
    if (lo === 0xffff_ffff && hi === 0xffff_ffff) break;
    checkHalves("entry", lo, hi);
    if (listEntryRule(lo, hi) !== RULE_OK)
      return { listHpas, dataHpas, violation: listEntryViolation(lo, hi, LINKED_DATA_PER_PAGE) };
    cur = pageAddress(lo, hi);
  }
  return { listHpas, dataHpas, violation: null };
}

/**
 * The violation of entry `e` of a list page, whose reserved bits are set: what {@link decodeListEntry}
 * says of it (halves checked, the same message), as rule `list-entry`. Built without decodeListEntry's
 * result object and a spread of its violation (a third of the linked-list fuzz target's inputs end here).
 */
function listEntryViolation(lo: number, hi: number, e: number): Violation {
  checkHalves("entry", lo, hi);
  const v = reservedViolation(lo, hi, LIST_ENTRY, true, e)!;
  const out: { -readonly [K in keyof Violation]: Violation[K] } = {
    rule: "list-entry",
    ref: RULE_REF["list-entry"],
    message: v.message,
  };
  if (v.entry !== undefined) out.entry = v.entry;
  if (v.field !== undefined) out.field = v.field;
  if (v.bits !== undefined) out.bits = v.bits;
  return out;
}
