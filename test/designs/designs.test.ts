/**
 * The design comparison (src/designs, `tdxpa compare`; docs/spec/02-kapi.md 2.7): every design runs the flows it
 * can express cleanly; the figures that follow from the rules (chunks of 512, one root per descriptor,
 * a write-back per covered page) are pinned, computed from the platform's metadata where they depend on
 * it; v2's ctrl_leak on a short released list; the head-page-only write-back's hazards; hpa_list's
 * missing CLFLUSH; the CLI's table.
 */
import { describe, expect, it } from "vitest";
import { COMPARE_CAVEATS } from "../../src/cli/compare.js";
import { LEAF } from "../../src/common/status.js";
import {
  compareDesigns,
  DESIGNS,
  injectFlow,
  type MachineSetup,
  runCacheFigures,
  runFault,
  runFlow,
  withPoolPages,
} from "../../src/designs/compare.js";
import { DESIGN_FLOWS, isUnsupported } from "../../src/designs/design.js";
import { DRAFT_DESIGN, DRAFT_HEAD_PAGE_ONLY } from "../../src/designs/draft.js";
import { HPA_LIST_DESIGN } from "../../src/designs/hpa-list.js";
import { SPLIT_DESIGN } from "../../src/designs/split.js";
import { V2_DESIGN, V2_PAGES_TAG, v2AllocContig, v2Create } from "../../src/designs/v2.js";
import { defaultPlatform } from "../../src/hw/platform.js";
import { checkConservation } from "../../src/observe/conservation.js";
import { type CliRun, runCli } from "../support/cli.js";
import { machine as newMachine } from "../support/machine.js";

const PLATFORM = defaultPlatform();
const MD = PLATFORM.metadata;
const SETUP: MachineSetup = { platform: PLATFORM };
const DEFAULT_MODE = DESIGNS.filter((d) => d.policy === undefined);
const capableUnits = PLATFORM.iommus.filter((u) => u.tdxCapable).length;
const allUnits = PLATFORM.iommus.length;
const devices = PLATFORM.devices?.length ?? 0;
/** 4 KiB pages of one IOMMU_MT: two 2^iqOrder queue blocks and the order-0 pages. */
const IOMMU_MT_PAGES = 2 * 2 ** MD.iqOrder + MD.IOMMU_MT_PAGE_COUNT;
/** Tail pages of the IOMMU queue blocks of every TDX-capable unit (written back by every-page designs only). */
const QUEUE_TAILS = capableUnits * 2 * (2 ** MD.iqOrder - 1);
/** The same over every unit, skipped ones included (their flag is set before the refused SETUP). */
const ALL_QUEUE_TAILS = allUnits * 2 * (2 ** MD.iqOrder - 1);

const calls = (r: ReturnType<typeof runFlow>, leaf: keyof typeof LEAF) =>
  r.calls.filter((c) => c.leaf === LEAF[leaf]).length;

describe("every design runs the flows it can express, cleanly", () => {
  it("has an entry for every flow, a function or a reason", () => {
    for (const d of DESIGNS) {
      expect(Object.keys(d.flows).sort()).toEqual([...DESIGN_FLOWS].sort());
      for (const f of DESIGN_FLOWS) {
        const impl = d.flows[f];
        if (isUnsupported(impl)) expect(impl.unsupported.length).toBeGreaterThan(40);
      }
    }
    expect(DESIGN_FLOWS.filter((f) => isUnsupported(HPA_LIST_DESIGN.flows[f]))).toEqual([
      "iommu",
      "spdm",
      "ide",
    ]);
  });

  for (const d of DEFAULT_MODE) {
    for (const f of DESIGN_FLOWS) {
      if (isUnsupported(d.flows[f])) continue;
      // v2 writes back the head page of each block only: the IOMMU queue blocks' tails stay dirty.
      const hazards = d === V2_DESIGN && f === "iommu" ? QUEUE_TAILS : 0;
      it(`${d.name} ${f}: ok, conservation ok, ${hazards} hazards, nothing stranded or left over`, () => {
        const r = runFlow(d, f, SETUP).figures;
        expect(r).toMatchObject({
          ok: true,
          conservationOk: true,
          hazards,
          strandedPages: 0,
          hostHeldPages: 0,
          reports: 0,
        });
      });
    }
  }
});

describe("figures that follow from the rules (12,800-page pool)", () => {
  const pool = MD.MEMORY_POOL_REQUIRED_PAGES;
  const chunks = Math.ceil(pool / 512);

  it("every 512-entry design: 25 EXT.MEM.ADD calls, 1 root page, 3 SYS.RD + SYS.CONFIG + 25 + EXT.INIT SEAMCALLs", () => {
    expect(pool).toBe(12_800);
    for (const d of DEFAULT_MODE) {
      const r = runFlow(d, "extensions", SETUP);
      expect(calls(r, "TDH.EXT.MEM.ADD"), d.name).toBe(25);
      expect(r.figures.rootPages, d.name).toBe(1);
      expect(r.figures.seamcalls, d.name).toBe(3 + 1 + chunks + 1);
    }
  });

  it("CLFLUSH of every pool page, except hpa_list which issues none", () => {
    for (const d of DEFAULT_MODE) {
      const r = runFlow(d, "extensions", SETUP).figures;
      expect(r.clflushes, d.name).toBe(d === HPA_LIST_DESIGN ? 0 : pool);
    }
  });

  it("v2 allocates the 12,800 pages itself, plus its root and an order-5 pointer array", () => {
    const machine = newMachine();
    const a = v2Create(machine.kernel, pool, v2AllocContig, "test:pool");
    expect(a?.pages.length).toBe(pool);
    expect(a?.pointerBlock?.order).toBe(5); // 12,800 × 8 bytes = 25 pages → kvmalloc order 5
    expect(machine.alloc.stats().byTag[V2_PAGES_TAG]).toBe(32);
    const r = runFlow(V2_DESIGN, "extensions", SETUP).figures;
    expect(r.pagesAllocated).toBe(pool + 1 + 32);
    expect(r.peakExtraPages).toBe(33);
    // The 2026-04-16 diff's setup kvcalloc's a pointer per pool page too: root + order-5 block.
    const d = runFlow(DRAFT_DESIGN, "extensions", SETUP).figures;
    expect(d.peakExtraPages).toBe(33);
    expect(d.pagesAllocated).toBe(pool + 1 + 32);
    expect(runFlow(SPLIT_DESIGN, "extensions", SETUP).figures.peakExtraPages).toBe(33);
  });

  it("write-backs = every covered page for the designs that write back every page; v2 one per pages[i]", () => {
    // The flush flag is set before IOMMU.SETUP (the kernel): a skipped unit's pages are written back too.
    const want = {
      iommu: allUnits * IOMMU_MT_PAGES,
      spdm: devices * MD.SPDM_MT_PAGE_COUNT,
      ide: devices * (MD.SPDM_MT_PAGE_COUNT + MD.IDE_MT_PAGE_COUNT),
    };
    expect(want).toEqual({ iommu: 120, spdm: 24, ide: 36 });
    for (const d of [DRAFT_DESIGN, SPLIT_DESIGN])
      for (const f of ["iommu", "spdm", "ide"] as const)
        expect(runFlow(d, f, SETUP).figures.writeBacks, `${d.name} ${f}`).toBe(want[f]);
    // v2 writes back one page per pages[i]: every queue block's tail is left out, skipped units' too.
    const v2 = { ...want, iommu: want.iommu - ALL_QUEUE_TAILS };
    for (const f of ["iommu", "spdm", "ide"] as const)
      expect(runFlow(V2_DESIGN, f, SETUP).figures.writeBacks, `v2 ${f}`).toBe(v2[f]);
  });

  it("head-page-only write-back issues one per queue-block tail fewer and leaves that tail dirty", () => {
    const r = runFlow(DRAFT_HEAD_PAGE_ONLY, "iommu", SETUP).figures;
    const tails = (n: number) => n * 2 * (2 ** MD.iqOrder - 1);
    // Every unit's pages are written back (skipped ones too: the flag is set before the call), head
    // pages only; only the set-up units' tails hold the module's lines.
    expect(r.writeBacks).toBe(allUnits * IOMMU_MT_PAGES - tails(allUnits));
    expect(r.hazards).toBe(tails(capableUnits));
    expect(r.conservationOk).toBe(true);
  });

  it("split trades root allocations for peak: a root per build, none held between calls", () => {
    const s = runFlow(SPLIT_DESIGN, "spdm", SETUP).figures;
    const d = runFlow(DRAFT_DESIGN, "spdm", SETUP).figures;
    // draft: a root per session and per device-info buffer; split adds one per DELETE's release list.
    expect(d.rootPages).toBe(2 * devices);
    expect(s.rootPages).toBe(3 * devices);
    expect(d.peakExtraPages).toBe(devices + 1);
    expect(s.peakExtraPages).toBe(1);
  });

  it("the figures come from the run: a smaller pool and interrupts change them", () => {
    const small = { platform: withPoolPages(PLATFORM, 1024) };
    for (const d of DEFAULT_MODE) {
      const r = runFlow(d, "extensions", small);
      expect(calls(r, "TDH.EXT.MEM.ADD"), d.name).toBe(2);
      const i = runFlow(d, "extensions", { ...small, interrupts: { kind: "every", k: 100 } });
      expect(i.figures.ok, d.name).toBe(true);
      expect(calls(i, "TDH.EXT.MEM.ADD"), d.name).toBe(2 * Math.ceil(512 / 100));
    }
  });
});

describe("release and failure policy", () => {
  const omit: MachineSetup = { platform: PLATFORM, behaviours: { deleteOmitsOnePage: true } };

  it("v2: a short released list goes to ctrl_leak, which strands the data pages and frees the root", () => {
    const r = runFlow(V2_DESIGN, "spdm", omit).figures;
    expect(r.strandedPages).toBe(devices * MD.SPDM_MT_PAGE_COUNT);
    expect(r.writeBacks).toBe(0);
    expect(r.hazards).toBe(0);
    // The only conservation finding is the module's own: a page left owned by a deleted session.
    const machine = newMachine({ behaviours: { deleteOmitsOnePage: true } }, PLATFORM);
    (V2_DESIGN.flows.spdm as (x: typeof machine) => unknown)(machine);
    const c = checkConservation(machine);
    expect(c.violationCount).toBe(devices);
    for (const v of c.violations) expect(v).toMatch(/which the module no longer has$/);
  });

  it("draft trusts DELETE; the omitted page's write-back fails and only it is stranded", () => {
    const r = runFlow(DRAFT_DESIGN, "spdm", omit).figures;
    expect(r.strandedPages).toBe(devices);
    expect(r.writeBacks).toBe(devices * (MD.SPDM_MT_PAGE_COUNT - 1));
    expect(r.reports).toBe(devices);
  });

  it("single-fault injection covers every point, conservation holds, no hazards (spdm)", () => {
    for (const d of [V2_DESIGN, DRAFT_DESIGN, SPLIT_DESIGN]) {
      const i = injectFlow(d, "spdm", SETUP);
      expect(i.covered, d.name).toBe(i.allocPoints + i.seamcallPoints);
      expect(i.conservationFailures, d.name).toBe(0);
      expect(i.hazards, d.name).toBe(0);
      expect(i.hostHeldPages, d.name).toBe(0);
      expect(i.strandedPages, d.name).toBeGreaterThan(0);
    }
  });

  it("single-fault injection of head-page-only IOMMU teardown finds hazards", () => {
    const small = { platform: { ...PLATFORM, iommus: PLATFORM.iommus.slice(0, 1) } };
    expect(injectFlow(DRAFT_HEAD_PAGE_ONLY, "iommu", small).hazards).toBeGreaterThan(0);
    expect(injectFlow(DRAFT_DESIGN, "iommu", small).hazards).toBe(0);
  });
});

describe("the comparison's narrow runs measure what a full run measures", () => {
  const small = {
    platform: {
      ...withPoolPages(PLATFORM, 1024),
      iommus: PLATFORM.iommus.slice(0, 1),
      devices: PLATFORM.devices?.slice(0, 1),
    },
  };
  it("a fault run (injection sums) agrees with runFlow on the same fault, point by point", () => {
    for (const [d, f] of [
      [DRAFT_HEAD_PAGE_ONLY, "iommu"],
      [V2_DESIGN, "spdm"],
      [SPLIT_DESIGN, "extensions"],
    ] as const) {
      const clean = runFlow(d, f, small);
      const faults = [
        ...Array.from({ length: clean.figures.allocations }, (_, i) => ({ alloc: i + 1 })),
        ...clean.calls,
      ];
      let hazards = 0;
      let stranded = 0;
      for (const fault of faults) {
        const full = runFlow(d, f, small, fault);
        const narrow = runFault(d, f, small, fault);
        expect(narrow, `${d.name} ${f} ${JSON.stringify(fault)}`).toEqual({
          fired: full.fired,
          strandedPages: full.figures.strandedPages,
          hazards: full.figures.hazards,
          hostHeldPages: full.figures.hostHeldPages,
          conservationOk: full.figures.conservationOk,
        });
        hazards += narrow.hazards;
        stranded += narrow.strandedPages;
      }
      // The points compared are not all trivial: faults strand pages (and, head-page-only, leave hazards).
      expect(stranded, `${d.name} ${f}`).toBeGreaterThan(0);
      if (d === DRAFT_HEAD_PAGE_ONLY) expect(hazards).toBeGreaterThan(0);
    }
  });

  it("a cache-figures run agrees with runFlow, on fresh and on host-used memory", () => {
    for (const d of [HPA_LIST_DESIGN, DRAFT_DESIGN, V2_DESIGN])
      for (const used of [false, true]) {
        const full = runFlow(d, "extensions", small, null, used).figures;
        expect(runCacheFigures(d, small, used), `${d.name} used=${used}`).toEqual({
          clflushes: full.clflushes,
          hazards: full.hazards,
        });
      }
  });

  it("the CLFLUSH experiment's fresh column is a run with the flag on, whatever the platform's flag", () => {
    for (const flag of [true, false]) {
      const platform = { ...withPoolPages(PLATFORM, 1024), clflushBeforeAlloc: flag };
      const c = compareDesigns({
        platform,
        flows: ["extensions"],
        injection: false,
        designs: [DRAFT_DESIGN],
      });
      const on = runFlow(DRAFT_DESIGN, "extensions", { platform: { ...platform, clflushBeforeAlloc: true } });
      expect(c.clflush[0], `platform flag ${flag}`).toMatchObject({
        clflushes: on.figures.clflushes,
        freshOn: on.figures.hazards,
      });
      expect(on.figures.clflushes).toBe(1024);
      // With the flag off the table's clean run issues no CLFLUSH: the column cannot be that run.
      const clean = c.designs[0]!.flows.extensions;
      expect(clean.supported && clean.clean.clflushes).toBe(flag ? 1024 : 0);
    }
  });
});

describe("CLFLUSH_BEFORE_ALLOC and hpa_list", () => {
  const small = withPoolPages(PLATFORM, 1024);
  it("on host-used memory hpa_list leaves dirty lines on every pool page when the module asks for CLFLUSH", () => {
    const c = compareDesigns({
      platform: small,
      flows: ["extensions"],
      injection: false,
      designs: [HPA_LIST_DESIGN, DRAFT_DESIGN],
    });
    expect(c.clflush).toEqual([
      { design: "hpa_list", clflushes: 0, freshOn: 0, usedOn: 1024, usedOff: 0 },
      { design: "draft", clflushes: 1024, freshOn: 0, usedOn: 0, usedOff: 0 },
    ]);
  });
});

type Run = Omit<CliRun, "out"> & { out: string };

async function run(argv: string[]): Promise<Run> {
  const r = await runCli(argv);
  return { ...r, out: r.out.join("\n") };
}

describe("tdxpa compare", () => {
  it("prints one column per design and exits 0 (default run, with fault injection)", async () => {
    const r = await run(["compare"]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    const header = r.out.split("\n").find((l) => /^\s+v2\s+draft\s/.test(l));
    expect(header?.trim().split(/\s{2,}/)).toEqual(DESIGNS.map((d) => d.name));
    expect(r.out).toMatch(/conservation failures\s+0\s+0\s+0\s+0\s+0/);
    expect(r.out).toMatch(/\[1\] hpa_list iommu: IOMMU_MT entries 0 and 1/);
    expect(r.out).toMatch(/MEMORY_POOL_REQUIRED_PAGES 2048 \(clean figures: 12800\)/);
  }, 30_000);

  it("--json carries the same figures as the library and the caveats, no code size", async () => {
    const r = await run(["compare", "--json", "--no-faults"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as {
      designs: {
        name: string;
        flows: Record<string, { supported: boolean; clean?: { writeBacks: number } }>;
      }[];
      caveats: string[];
      injectionPoolPages: number | null;
    };
    expect(j.designs.map((d) => d.name)).toEqual(DESIGNS.map((d) => d.name));
    expect(j.injectionPoolPages).toBeNull();
    expect(j.designs[0]?.flows.iommu?.clean?.writeBacks).toBe(allUnits * IOMMU_MT_PAGES - ALL_QUEUE_TAILS);
    expect(j.designs.at(-1)?.flows.spdm?.supported).toBe(false);
    expect(j.caveats).toEqual([...COMPARE_CAVEATS]);
    expect("codeSize" in j).toBe(false);
  });

  it("prints no code-size figures (TypeScript ports say nothing of the kernel's C) and every caveat", async () => {
    const r = await run(["compare", "--no-faults"]);
    expect(r.out).not.toMatch(/lines of source|exported functions/);
    for (const c of COMPARE_CAVEATS) expect(r.out).toContain(`caveat: ${c}`);
    expect(r.out).toMatch(
      /head-page-only write-back .* assume one TDH\.PHYMEM\.PAGE\.WBINVD writes back exactly one 4 KiB page/,
    );
  });

  it("rejects bad usage with exit 2", async () => {
    expect((await run(["compare", "--fault-pool", "0"])).code).toBe(2);
    expect((await run(["compare", "a.yaml", "b.yaml"])).code).toBe(2);
    expect((await run(["compare", "--bogus"])).code).toBe(2);
    const h = await run(["compare", "--help"]);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^Usage: tdxpa compare/);
  });
});
