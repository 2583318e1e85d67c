/**
 * The page map of the HTML report: lays the pages involved in a run out as a grid of cells and says
 * what each cell shows at a slider position. A cell is one page when there are few; with many it is a
 * block of `pagesPerCell` consecutive pages (a power of two, the smallest that keeps the grid within
 * `maxCells`), so the 1,048,576-page pool is 16,385 cells. Pages are grouped by the object they went
 * to (the extension memory pool, each IOMMU unit, SPDM session and IDE stream, then host pages): each
 * group starts with a label row, and each contiguous PFN region within it starts a new row. The number
 * of columns follows the width the page has.
 *
 * A cell's colour is its hazard if any page in it has one, else stranded if any is, else the category
 * holding most of its pages (host free, host held, or module-owned by PAMT type). Core code.
 */
import { BASE, baseOf, type ReportModel, stateAt } from "./model.js";

/** Grid geometry. */
export interface MapLayout {
  readonly pagesPerCell: number;
  readonly cols: number;
  readonly rows: number;
  /** First PFN of each cell. */
  readonly cellPfn: Float64Array;
  /** Pages in each cell. */
  readonly cellPages: Int32Array;
  /** Grid index (row * cols + col) of each cell. */
  readonly cellSlot: Int32Array;
  /** Total pages on the map. */
  readonly pages: number;
  /**
   * Each object group: its label's first row (labels take {@link GROUP_LABEL_ROWS} rows), its label
   * and its pages. Cells are numbered in PFN order; only their slots follow the groups.
   */
  readonly groupRows: readonly { readonly row: number; readonly label: string; readonly pages: number }[];
}

/** Rows a group's label takes above its cells. */
export const GROUP_LABEL_ROWS = 2;

/** Default grid size limits. */
export const MAP_MAX_CELLS = 16384;
export const MAP_COLS = 128;

/** Lays the model's pages out (see the file comment). */
export function mapLayout(m: ReportModel, maxCells = MAP_MAX_CELLS, cols = MAP_COLS): MapLayout {
  const groups = m.groups ?? ["pages"];
  const byGroup: [number, number][][] = groups.map(() => []);
  const groupPages: number[] = groups.map(() => 0);
  let pages = 0;
  for (let i = 0; i < m.runs.length; i += 3) {
    const pfn = m.runs[i]!;
    const n = m.runs[i + 1]!;
    const g = m.runGroups?.[i / 3] ?? 0;
    const regs = byGroup[g]!;
    pages += n;
    groupPages[g]! += n;
    const last = regs[regs.length - 1];
    if (last !== undefined && last[0] + last[1] === pfn) last[1] += n;
    else regs.push([pfn, n]);
  }
  const regions = byGroup.flat();
  let ppc = 1;
  const cellsFor = (b: number) => regions.reduce((s, r) => s + Math.ceil(r[1] / b), 0);
  while (cellsFor(ppc) > maxCells) ppc *= 2;
  const n = cellsFor(ppc);
  const cellPfn = new Float64Array(n);
  const cellPages = new Int32Array(n);
  const cellSlot = new Int32Array(n);
  let c = 0;
  let row = 0;
  const groupRows: { row: number; label: string; pages: number }[] = [];
  for (const [g, regs] of byGroup.entries()) {
    if (regs.length === 0) continue;
    groupRows.push({ row, label: groups[g]!, pages: groupPages[g]! });
    row += GROUP_LABEL_ROWS;
    for (const [start, len] of regs) {
      let col = 0;
      for (let off = 0; off < len; off += ppc) {
        if (col === cols) {
          col = 0;
          row++;
        }
        cellPfn[c] = start + off;
        cellPages[c] = Math.min(ppc, len - off);
        cellSlot[c] = row * cols + col;
        col++;
        c++;
      }
      row++;
    }
  }
  // Number the cells in PFN order (what mapFrame, cellOf and cellsOfRanges walk); slots keep the groups.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => cellPfn[a]! - cellPfn[b]!);
  const sortedPfn = new Float64Array(n);
  const sortedPages = new Int32Array(n);
  const sortedSlot = new Int32Array(n);
  order.forEach((from, to) => {
    sortedPfn[to] = cellPfn[from]!;
    sortedPages[to] = cellPages[from]!;
    sortedSlot[to] = cellSlot[from]!;
  });
  return {
    pagesPerCell: ppc,
    cols,
    rows: row,
    cellPfn: sortedPfn,
    cellPages: sortedPages,
    cellSlot: sortedSlot,
    pages,
    groupRows,
  };
}

/** Colour categories: 0 host free, 1 host held, 2 stranded, 3 + k module-owned of type `moduleTypes[k]`. */
export interface Categories {
  readonly names: readonly string[];
  readonly moduleTypes: readonly string[];
  /** Category of each state index. */
  readonly ofState: Int32Array;
}

/** Category indices. */
export const CAT = Object.freeze({ FREE: 0, HELD: 1, STRANDED: 2, MODULE0: 3 });

/** The categories of a model's states. */
export function categories(m: ReportModel): Categories {
  const moduleTypes: string[] = [];
  const ofState = new Int32Array(m.states.length);
  m.states.forEach((s, i) => {
    const b = baseOf(s);
    if (b === BASE.MODULE) {
      const t = m.strings[s[1]]!;
      let k = moduleTypes.indexOf(t);
      if (k < 0) k = moduleTypes.push(t) - 1;
      ofState[i] = CAT.MODULE0 + k;
    } else ofState[i] = b === BASE.STRANDED ? CAT.STRANDED : b === BASE.HELD ? CAT.HELD : CAT.FREE;
  });
  return {
    names: ["host free", "host held", "stranded", ...moduleTypes.map((t) => `module: ${t}`)],
    moduleTypes,
    ofState,
  };
}

/** What the map shows at one position. */
export interface MapFrame {
  /** Category shown by each cell. */
  readonly cellCat: Int32Array;
  /** Pages with a hazard in each cell. */
  readonly cellHazard: Int32Array;
  /** Pages per category over the whole map. */
  readonly pagesByCat: readonly number[];
  /** Pages with the hazard flag over the whole map. */
  readonly hazardPages: number;
}

/** Computes the frame at position `pos`: O(runs + cells × categories). */
export function mapFrame(m: ReportModel, l: MapLayout, cats: Categories, pos: number): MapFrame {
  const k = cats.names.length;
  const n = l.cellPfn.length;
  const tally = new Float64Array(n * k);
  const cellHazard = new Int32Array(n);
  const pagesByCat = new Array<number>(k).fill(0);
  let hazardPages = 0;
  let c = 0;
  for (let i = 0; i < m.runs.length; i += 3) {
    let pfn = m.runs[i]!;
    let left = m.runs[i + 1]!;
    const st = stateAt(m.histories[m.runs[i + 2]!]!, pos);
    const cat = cats.ofState[st]!;
    const hz = m.states[st]![3] === 1;
    pagesByCat[cat]! += left;
    if (hz) hazardPages += left;
    while (left > 0) {
      while (c < n - 1 && l.cellPfn[c]! + l.cellPages[c]! <= pfn) c++;
      const take = Math.min(left, l.cellPfn[c]! + l.cellPages[c]! - pfn);
      tally[c * k + cat]! += take;
      if (hz) cellHazard[c]! += take;
      pfn += take;
      left -= take;
    }
  }
  const cellCat = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    let best = 0;
    for (let q = 1; q < k; q++) if (tally[j * k + q]! > tally[j * k + best]!) best = q;
    cellCat[j] = tally[j * k + CAT.STRANDED]! > 0 ? CAT.STRANDED : best;
  }
  return { cellCat, cellHazard, pagesByCat, hazardPages };
}

/** Index of the cell holding `pfn`, or -1 when the page is not on the map. */
export function cellOf(l: MapLayout, pfn: number): number {
  let lo = 0;
  let hi = l.cellPfn.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const first = l.cellPfn[mid]!;
    if (pfn < first) hi = mid - 1;
    else if (pfn >= first + l.cellPages[mid]!) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Cells covering the PFN ranges `[pfn, count, …]` (a set of cell indices). */
export function cellsOfRanges(
  l: MapLayout,
  ranges: readonly number[],
  into = new Set<number>(),
): Set<number> {
  for (let i = 0; i + 1 < ranges.length; i += 2) {
    const first = ranges[i]!;
    const end = first + ranges[i + 1]!;
    let pfn = first;
    while (pfn < end) {
      const c = cellOf(l, pfn);
      if (c < 0) {
        pfn++;
        // Skip quickly over a gap: jump to the next cell start above pfn.
        let lo = 0;
        let hi = l.cellPfn.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (l.cellPfn[mid]! < pfn) lo = mid + 1;
          else hi = mid;
        }
        if (lo >= l.cellPfn.length) break;
        pfn = Math.max(pfn, l.cellPfn[lo]!);
        continue;
      }
      into.add(c);
      pfn = l.cellPfn[c]! + l.cellPages[c]!;
    }
  }
  return into;
}
