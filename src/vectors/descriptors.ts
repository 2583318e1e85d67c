/**
 * Descriptor vectors (docs/spec/02-kapi.md 2.1–2.2): pages in, operands and root entries out, produced by
 * running the real `tdxPageArrayCreate` on a small simulated host.
 */
import { MAX_ENTRIES } from "../common/formats.js";
import { REG } from "../common/status.js";
import { pagesToBytes, u64ToHex } from "../common/u64.js";
import { createHostKernel, type HostKernel } from "../host/kernel.js";
import type { Page } from "../host/page.js";
import { PageAllocator } from "../host/page-alloc.js";
import { tdxPageArrayCreate } from "../host/page-array.js";
import { PhysMem } from "../hw/physmem.js";
import { hex, hpaHex } from "./formats.js";
import type { VectorRng } from "./rng.js";
import type { DescriptorVector } from "./types.js";

const MEM_BASE = 0x12_3440_0000;
const MEM_SIZE = pagesToBytes(4096); // 16 MiB

/** A small host whose SEAMCALLs all succeed (create issues none; the double is never reached). */
function smallHost(): HostKernel {
  const mem = new PhysMem([{ base: MEM_BASE, size: MEM_SIZE }]);
  const alloc = new PageAllocator(mem);
  return createHostKernel({
    mem,
    alloc,
    seamcall: (regs) => {
      regs.setHalves(REG.RAX, 0, 0);
    },
    sysinfo: { globalKeyId: 1, keyIdShift: 46 },
  });
}

function need<T>(v: T | null, what: string): T {
  if (v === null) throw new Error(`vectors: the simulated host ran out of memory for ${what}`);
  return v;
}

/** `n` physically contiguous order-0 pages, picked at `offsets` of the run (in that order). */
function runPages(k: HostKernel, runLength: number, offsets: readonly number[]): Page[] {
  const first = need(k.alloc.allocContigPages(runLength, { tag: "vectors:data" }), `${runLength} pages`);
  return offsets.map((o) => first.nth(o));
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

interface DescriptorPlan {
  readonly name: string;
  readonly note: string;
  readonly origin: "fixed" | "random";
  readonly entryFormat: "list" | "iommu-mt";
  readonly queuePages: number;
  pages(k: HostKernel): Page[];
}

function descriptorPlans(r: VectorRng): DescriptorPlan[] {
  const list = (name: string, note: string, pages: (k: HostKernel) => Page[]): DescriptorPlan => ({
    name,
    note,
    origin: "fixed",
    entryFormat: "list",
    queuePages: 0,
    pages,
  });
  const randomCount = 1 + r.below(MAX_ENTRIES);
  const picks = range(2 * randomCount);
  for (let i = picks.length - 1; i > 0; i--) {
    const j = r.below(i + 1);
    [picks[i], picks[j]] = [picks[j]!, picks[i]!];
  }
  const randomOffsets = picks.slice(0, randomCount);
  return [
    list("order0-1", "1 order-0 page: HPA_ARRAY_T singleton, release input 0", (k) => runPages(k, 1, [0])),
    list("order0-2-reversed", "2 order-0 pages of a contiguous run, higher PFN first", (k) =>
      runPages(k, 2, [1, 0]),
    ),
    list("order0-3-scattered", "3 order-0 pages at offsets 0, 5, 2 of an 8-page run", (k) =>
      runPages(k, 8, [0, 5, 2]),
    ),
    list("order0-511", "511 order-0 pages, ascending PFNs", (k) => runPages(k, 511, range(511))),
    list("order0-512-reversed", "512 order-0 pages (a full root), descending PFNs", (k) =>
      runPages(k, 512, range(512).reverse()),
    ),
    {
      name: "iommu-mt-2x2+4",
      note: "IOMMU_MT shape: two order-1 queue blocks (NUM_PAGES 2), then 4 order-0 pages",
      origin: "fixed",
      entryFormat: "iommu-mt",
      queuePages: 2,
      pages: (k) => [
        need(k.alloc.allocPages(1, { tag: "vectors:iq" }), "a queue block"),
        need(k.alloc.allocPages(1, { tag: "vectors:iq" }), "a queue block"),
        ...runPages(k, 4, [0, 1, 2, 3]),
      ],
    },
    {
      name: `random-${randomCount}`,
      note: `${randomCount} order-0 pages picked at random from a ${2 * randomCount}-page run (seeded)`,
      origin: "random",
      entryFormat: "list",
      queuePages: 0,
      pages: (k) => runPages(k, 2 * randomCount, randomOffsets),
    },
  ];
}

export function descriptorVectors(r: VectorRng): DescriptorVector[] {
  const k = smallHost();
  return descriptorPlans(r).map((plan) => {
    const pages = plan.pages(k);
    const a = need(tdxPageArrayCreate(k, pages, pages.length), `the root page of ${plan.name}`);
    const w = k.mem.words(a.rootPage.pfn);
    const rootEntries: string[] = [];
    for (let i = 0; i < 512; i++) {
      const lo = w[2 * i]!;
      const hi = w[2 * i + 1]!;
      if (i < pages.length) rootEntries.push(u64ToHex(lo, hi));
      else if (lo !== 0 || hi !== 0)
        throw new Error(
          `vectors: ${plan.name}: root entry ${i} past nr_pages is ${u64ToHex(lo, hi)}, not zero`,
        );
    }
    return {
      name: plan.name,
      note: plan.note,
      origin: plan.origin,
      entryFormat: plan.entryFormat,
      queuePages: plan.queuePages,
      nrPages: a.nrPages,
      coveredPages: a.coveredPages,
      pages: pages.map((p) => ({ pfn: hpaHex(p.pfn), order: p.order })),
      rootHpa: hpaHex(a.rootHpa),
      hpaListInfo: hex(a.toHpaListInfo()),
      hpaArray: hex(a.toHpaArray()),
      releaseInput: hex(a.toReleaseInput()),
      iommuMt: hex(a.toIommuMt()),
      rootEntries,
    };
  });
}
