/**
 * The mutation catalogue of `npm run mutants` (mutants/index.ts): each entry changes one rule of the
 * model in one place (an exact text that must occur once in its file) and names the test files (and
 * optionally a test-name filter) that must catch it. Groups: the mutation table of the judge issue
 * (`table`), every wrong-host variant made the default (`host`), every conservation rule
 * (`conservation`, src/observe/conservation.ts), every hazard and the end-of-run judge (`hazard`), the
 * module's page checks and slot (`module`, 03-module.md 3.2–3.4), and the host rules added with the
 * judge (`rule`). An entry with `survives` is expected to survive, with the reason.
 */

/** One mutation. */
export interface Mutation {
  readonly name: string;
  readonly group: "table" | "host" | "conservation" | "hazard" | "module" | "rule";
  readonly file: string;
  /** Exact text, present exactly once in `file`. */
  readonly find: string;
  readonly replace: string;
  /** Test files to run against the mutant. */
  readonly tests: readonly string[];
  /** Optional vitest `-t` filter (a test-name pattern) to keep the run short. */
  readonly filter?: string;
  /** Why this mutation cannot be killed (an equivalent mutant), when it is expected to survive. */
  readonly survives?: string;
}

const J = "test/observe/judge.test.ts";
const R = "test/fuzz/regressions.test.ts";
const FLOWS = "test/host/flows.test.ts";
const SPDM = "test/host/spdm-ide.test.ts";
const MODULE = "test/module/module.test.ts";
const ARRAY = "test/host/page-array.test.ts";
const ALLOC = "test/host/page-alloc.test.ts";
const SCEN = "test/scenario/scenarios.test.ts";
const MB = "test/suites/model-based.test.ts";

const CONS = "src/observe/conservation.ts";
const KERNEL = "src/host/kernel.ts";
const EMU = "src/module/emulator.ts";
const CACHE = "src/hw/cache.ts";

/** A DEFAULT_POLICY field set to its wrong value: the correct-host tests must notice. */
const hostVariant = (name: string, find: string, replace: string, filter?: string): Mutation => ({
  name,
  group: "host",
  file: KERNEL,
  find,
  replace,
  tests: [FLOWS, R],
  ...(filter === undefined ? { filter: "flows end to end|regression" } : { filter }),
});

/** A conservation rule that never flags. */
const rule = (name: string, find: string, replace: string, tests: readonly string[] = [J]): Mutation => ({
  name,
  group: "conservation",
  file: CONS,
  find,
  replace,
  tests,
});

export const CATALOGUE: readonly Mutation[] = [
  // ---- the table --------------------------------------------------------------------------
  {
    name: "leak the pool when the root-page allocation fails",
    group: "table",
    file: "src/host/flows/extensions.ts",
    find: "        k.alloc.freeContigRange(first.pfn, n);\n",
    replace: "",
    tests: [R],
  },
  {
    name: "skip stranding after a failed TDH.EXT.INIT",
    group: "table",
    file: "src/host/flows/extensions.ts",
    find: 'rec.stranded += strandDonated(k, EXT_POOL_OWNER, "extensions bring-up: TDH.EXT.INIT failed");',
    replace: "rec.stranded += 0;",
    tests: [J],
  },
  {
    name: "check PT_NDA on the head page of a block only",
    group: "table",
    file: EMU,
    find: "    for (let i = 0; i < pages; i++) {\n      if (this.pamt.type(pfn + i) !== PT.NDA) {",
    replace: "    for (let i = 0; i < 1; i++) {\n      if (this.pamt.type(pfn + i) !== PT.NDA) {",
    tests: [J],
  },
  rule(
    "drop conservation's 'donated but not owned' rule",
    "    if (!module.pamt.isPrivate(pfn))\n      flag(`page ${hex(pfn)}: the host believes it donated it",
    "    if (false)\n      flag(`page ${hex(pfn)}: the host believes it donated it",
  ),
  {
    name: "conservation never reports anything",
    group: "table",
    file: CONS,
    find: "return { ok: count === 0, totals, byObject, violations, violationCount: count };",
    replace: "return { ok: true, totals, byObject, violations: [], violationCount: 0 };",
    tests: [J, R],
  },
  {
    name: "the module ignores the queue slot on EXT.MEM.ADD (another extension call in flight)",
    group: "table",
    file: "src/module/leaves-ext.ts",
    find: "    if (held.leaf !== c.leaf) return EXT_QUEUE_BUSY;\n",
    replace: "",
    tests: [MODULE, SPDM],
  },
  {
    name: "EXT.MEM.ADD takes an entry with a KeyID (the leaf's check by PFN)",
    group: "module",
    file: "src/module/leaves-ext.ts",
    find: " || mod.keyIdOfPfn(pfn) !== 0",
    replace: " || false",
    tests: ["test/module/module.test.ts"],
    filter: "private KeyID",
  },
  {
    name: "an interrupted EXT.MEM.ADD does not hold the queue slot",
    group: "table",
    file: "src/module/leaves-ext.ts",
    find: "      mod.extSlot = slot;\n",
    replace: "",
    tests: [J, R],
  },
  {
    name: "a resumed call ignores its inputs",
    group: "table",
    file: EMU,
    find: "        if (inputs[i] !== cur.inputs[i]) return st(STATUS.TDX_INVALID_RESUMPTION);\n",
    replace: "",
    tests: [MODULE, SPDM],
  },
  {
    name: "leak the message pages when SPDM.CREATE fails",
    group: "table",
    file: "src/host/flows/spdm.ts",
    find: "    freeEach(k, msg);\n    const step = clean ? `TDH.SPDM.CREATE",
    replace: "    const step = clean ? `TDH.SPDM.CREATE",
    tests: [R],
  },
  {
    name: "the PAMT check before the lock check",
    group: "table",
    file: EMU,
    find: "    for (let i = 0; i < pages; i++) {\n      const busy = this.lockPage(pfn + i, \"exclusive\", operand);\n      if (busy !== null) {\n        for (let j = 0; j < i; j++) this.pamtLocks.release(this.cpu, pfn + j);\n        return busy;\n      }\n    }\n    for (let i = 0; i < pages; i++) {\n      if (this.pamt.type(pfn + i) !== PT.NDA) {\n        for (let j = 0; j < pages; j++) this.pamtLocks.release(this.cpu, pfn + j);\n        return st(STATUS.TDX_PAGE_METADATA_INCORRECT, operand);\n      }\n    }\n",
    replace: "    for (let i = 0; i < pages; i++) {\n      if (this.pamt.type(pfn + i) !== PT.NDA) {\n        for (let j = 0; j < pages; j++) this.pamtLocks.release(this.cpu, pfn + j);\n        return st(STATUS.TDX_PAGE_METADATA_INCORRECT, operand);\n      }\n    }\n    for (let i = 0; i < pages; i++) {\n      const busy = this.lockPage(pfn + i, \"exclusive\", operand);\n      if (busy !== null) {\n        for (let j = 0; j < i; j++) this.pamtLocks.release(this.cpu, pfn + j);\n        return busy;\n      }\n    }\n",
    tests: [J],
  },
  {
    name: "repopulate does not zero the entries past the new count",
    group: "table",
    file: "src/host/page-array.ts",
    find: "    populateRoot(k, this.#root.pfn, entries, n, old);",
    replace: "    populateRoot(k, this.#root.pfn, entries, n, 0);",
    tests: [ARRAY],
  },
  rule(
    "drop conservation's 'module-owned but free' rule",
    "    else if (alloc.isFree(pfn))\n      flag(`page ${hex(pfn)} is module-owned",
    "    else if (false)\n      flag(`page ${hex(pfn)} is module-owned",
  ),

  // ---- every wrong-host variant, made the default ---------------------------------------------------
  hostVariant("host never flushes (clflush: never)", 'clflush: "if-required",', 'clflush: "never",'),
  hostVariant(
    "host writes back head pages only",
    'writeBack: "every-page",\n  extAddResume',
    'writeBack: "head-page-only",\n  extAddResume',
  ),
  hostVariant(
    "host resumes EXT.MEM.ADD with the original operand",
    'extAddResume: "returned",',
    'extAddResume: "original",',
    "EXT.MEM.ADD with interrupts|regression",
  ),
  hostVariant("host frees before the write-back", "freeBeforeWriteBack: false,", "freeBeforeWriteBack: true,"),
  hostVariant("host uses queue blocks of order 2", "  iqOrder: 1,\n", "  iqOrder: 2,\n"),
  hostVariant("host lists a page twice", "duplicatePage: false,", "duplicatePage: true,"),
  hostVariant("host passes a stale root", "staleRoot: false,", "staleRoot: true,"),
  {
    ...hostVariant("host forgets the flush flag", "forgetFlushFlag: false,", "forgetFlushFlag: true,"),
    tests: [SPDM],
    filter: "full bring-up and teardown",
  },
  {
    ...hostVariant(
      "host reuses its metadata pages as the device-info buffer",
      "devInfoInMetadata: false,",
      "devInfoInMetadata: true,",
    ),
    tests: [SPDM],
    filter: "full bring-up and teardown",
  },
  hostVariant(
    "destroy reads block sizes at destroy time (compound_nr)",
    'destroyOrders: "recorded",\n});',
    'destroyOrders: "read-at-destroy",\n});',
    "regression|freed first",
  ),
  {
    name: "host frees a failed claim whatever the status (no clean-refusal rule)",
    group: "host",
    file: "src/host/claim-rule.ts",
    find: "  return CLEAN_REFUSALS.some((kind) => isStatus(status, kind));",
    replace: "  return CLEAN_REFUSALS.length > 0 || isStatus(status, STATUS.TDX_SYS_SHUTDOWN);",
    tests: [J, R],
  },

  // ---- every conservation rule ----------------------------------------------------------------------
  rule(
    "no check of a page listed by two objects",
    "        flag(`page ${hex(pfn)} is listed by ${obj.name} and by object ${other}`);",
    "",
  ),
  rule(
    "no check of an object's list against the PAMT",
    "      if (!module.pamt.isPrivate(pfn) || module.pamt.owner(pfn) !== obj.id)",
    "      if (false)",
  ),
  rule(
    "no check that the owner object exists",
    "    if (obj === undefined)\n      flag(`page ${hex(pfn)} is ${ptName(type)} owned by object ${owner}, which",
    "    if (false)\n      flag(`page ${hex(pfn)} is ${ptName(type)} owned by object ${owner}, which",
  ),
  rule(
    "no check of the PAMT against the owner's list",
    "      if (listedBy.get(pfn) !== String(owner))",
    "      if (false)",
  ),
  rule("no check of page type against owner kind", "      if (TYPE_OF_KIND[obj.kind] !== type)", "      if (false)"),
  rule(
    "no check of module-owned pages the allocator reserves",
    "    if (alloc.isReserved(pfn))\n      flag(",
    "    if (false)\n      flag(",
  ),
  rule(
    "no check of which object the host gave a page to",
    "      if (obj !== undefined && !labelNamesObj(label, obj))",
    "      if (false)",
  ),
  rule(
    "no check of module-owned pages the host holds",
    "    } else if (ledger.held.has(pfn))\n      flag(",
    "    } else if (ledger.held.has(pfn))\n      (() => {})(",
  ),
  rule(
    "no check of module-owned pages the host has no record of",
    "    else flag(`page ${hex(pfn)} is module-owned (${ptName(type)}, ${name}) but the host has no record of it`);",
    "",
  ),
  rule(
    "no check of the PAMT's owned-page count",
    "  if (pamtOwned !== module.pamt.ownedPages)",
    "  if (false)",
  ),
  rule(
    "no check of donated pages the allocator has free",
    "    if (alloc.isFree(pfn))\n      flag(`page ${hex(pfn)}: the host believes it donated it",
    "    if (false)\n      flag(`page ${hex(pfn)}: the host believes it donated it",
  ),
  rule(
    "no check of held pages the allocator has free",
    "    if (alloc.isFree(pfn)) flag(`page ${hex(pfn)}: the host believes it holds it",
    "    if (false) flag(`page ${hex(pfn)}: the host believes it holds it",
  ),
  rule(
    "no check of a page in two places of the host's ledger",
    "    if (ledger.donated.has(pfn) || ledger.stranded.has(pfn) || ledger.lent.has(pfn))",
    "    if (false)",
  ),
  rule(
    "no check of frees of pages the host had not got back",
    "  for (const f of ledger.misfrees)\n    flag(",
    "  for (const f of ledger.misfrees)\n    (() => {})(",
  ),
  rule(
    "'stranded but never reported' cannot fail",
    "    if (!reported.has(pfn)) flag(",
    "    if (false) flag(",
  ),
  rule(
    "no check of stranded pages reused",
    "    if (alloc.isFree(pfn))\n      flag(`stranded page",
    "    if (false)\n      flag(`stranded page",
  ),
  rule(
    "no check of the stranded tag",
    "    else if (alloc.tagOf(pfn) !== STRANDED_TAG)",
    "    else if (false)",
  ),
  rule("no check of the stranded-tag count", "  if (taggedStranded !== stranded)", "  if (false)"),
  rule(
    "no check of allocated pages against the host's ledger",
    "  if (s.allocatedPages !== held + donated + lent + stranded)",
    "  if (false)",
  ),
  rule("no check that the places add up", "  if (sum !== s.totalPages)", "  if (false)"),
  rule(
    "no end-of-teardown check of pages the host still holds",
    "  if (opts.endOfTeardown === true) {",
    "  if (false) {",
    [J, R, FLOWS],
  ),
  {
    name: "conservation's fast page walk ignores page types",
    group: "conservation",
    file: CONS,
    find: "    if (type !== wantType || !marks.allAre(first, count, o + 1)) {",
    replace: "    if (!marks.allAre(first, count, o + 1)) {",
    tests: ["test/observe/conservation.test.ts"],
  },
  {
    name: "conservation's fast page walk reuses a finished check's marks without zeroing them",
    group: "conservation",
    file: CONS,
    find: "      spareSections.push(s.fill(0));",
    replace: "      spareSections.push(s);",
    tests: ["test/observe/conservation.test.ts"],
  },
  {
    name: "the allocator's run question vouches for a whole section from a run's first block",
    group: "conservation",
    file: "src/host/page-alloc-frames.ts",
    find: "        off = h + POW[sec.order[h]!]!;",
    replace: "        off = lim;",
    tests: ["test/host/page-alloc-runs.test.ts", "test/observe/conservation.test.ts"],
  },
  {
    name: "the allocator's reserved-range question looks only at a run's first page",
    group: "conservation",
    file: "src/host/page-alloc-free.ts",
    find: "  return lo < starts.length && starts[lo]! < pfn + n;",
    replace: "  return lo < starts.length && starts[lo]! < pfn + 1;",
    tests: ["test/host/page-alloc-runs.test.ts", "test/observe/conservation.test.ts"],
  },
  {
    name: "the PAMT's runs of owned pages do not split where the owner changes",
    group: "conservation",
    file: "src/module/pamt.ts",
    find: "while (j < SECTION && type[j] === t && owner[j] === o) j++;",
    replace: "while (j < SECTION && type[j] === t) j++;",
    tests: ["test/module/pamt-sections.test.ts", "test/observe/conservation.test.ts"],
  },
  {
    name: "the host ledger's label of a run is its first page's",
    group: "conservation",
    file: "src/common/pfn-map.ts",
    find: "for (let i = i0; i < lim; i++) if (s[i] !== id) return null;",
    replace: "for (let i = i0; i < i0; i++) if (s[i] !== id) return null;",
    tests: ["test/common/pfn-map-run.test.ts"],
  },
  {
    name: "conservation's fast page walk does not count the listed pages",
    group: "conservation",
    file: CONS,
    find: " || listed !== walked ||",
    replace: " ||",
    tests: ["test/observe/conservation.test.ts"],
  },
  {
    name: "stranding is never reported (strandPages writes no report)",
    group: "conservation",
    file: KERNEL,
    find: "  if (fresh.length > 0) k.ledger.strandReports.push({ pfns: fresh, reason });",
    replace: "",
    tests: [J, R],
  },
  {
    name: "the host's ledger forgets frees",
    group: "conservation",
    file: KERNEL,
    find: "    if (this.held.delete(pfn)) return;",
    replace: "    if (this.held.has(pfn)) return;",
    tests: [J],
  },

  // ---- hazards and the end-of-run judge ---------------------------------------------------------------
  {
    name: "no hazard 1 (dirty host lines on a page becoming private)",
    group: "hazard",
    file: CACHE,
    find: "    if (this.clflushBeforeAlloc) {\n      this.hazard(",
    replace: "    if (this.clflushBeforeAlloc) {\n      (() => {})(",
    tests: [FLOWS],
    filter: "wrong hosts",
  },
  {
    name: "no hazard 2 on a host access",
    group: "hazard",
    file: CACHE,
    find: "      if (priv !== 0) {\n        this.hazard(write ? HAZARD.HOST_WROTE_PRIVATE_LINES",
    replace: "      if (false) {\n        this.hazard(write ? HAZARD.HOST_WROTE_PRIVATE_LINES",
    tests: [J],
  },
  {
    name: "no hazard 2 at a free",
    group: "hazard",
    file: CACHE,
    find: "    if (priv !== 0) {\n      this.hazard(HAZARD.FREED_WITH_PRIVATE_LINES, pfn, priv);",
    replace: "    if (false) {\n      this.hazard(HAZARD.FREED_WITH_PRIVATE_LINES, pfn, priv);",
    tests: [FLOWS, SCEN],
    filter: "wrong hosts|shipped scenario",
  },
  {
    name: "a written-back stale line stays marked stale",
    group: "hazard",
    file: CACHE,
    find: "      st[i] = st[i]! & ~(1 << slot);\n",
    replace: "",
    tests: ["test/hw/cache-reference.test.ts"],
  },
  {
    name: "every hazard recorded before a read carries the first cause",
    group: "hazard",
    file: "src/hw/cache-hazards.ts",
    find: "    if (last < 0 || this.causes[last] !== cause) {",
    replace: "    if (last < 0) {",
    tests: ["test/hw/cache-reference.test.ts"],
  },
  {
    name: "the PAMT's answer for a section with no reserved page is taken for the next section too",
    group: "module",
    file: "src/module/pamt.ts",
    find: "    if (key === this.bareKey || this.isBare(key)) return PT.NDA;",
    replace: "    if (key === this.bareKey || key === this.bareKey + 1 || this.isBare(key)) return PT.NDA;",
    tests: ["test/module/pamt-sections.test.ts"],
  },
  {
    name: "no hazard 3 (host access to a private page)",
    group: "hazard",
    file: CACHE,
    find: "    if (this.isPrivate(pfn)) {\n      this.hazard(",
    replace: "    if (this.isPrivate(pfn)) {\n      (() => {})(",
    tests: [SPDM, MODULE],
  },
  {
    name: "dense pages from the shared slab overlap their neighbours",
    group: "module",
    file: "src/hw/physmem.ts",
    find: "  const at = slabUsed++ * (PAGE_SIZE / 4);",
    replace: "  const at = (slabUsed++ >> 1) * (PAGE_SIZE / 4);",
    tests: ["test/hw/physmem-slab.test.ts"],
  },
  {
    name: "a write to a page that shares the write-back pattern writes into the shared copy",
    group: "module",
    file: "src/hw/physmem.ts",
    find: "      const w = d.shared ? this.densePage(pfn).w : d.w;",
    replace: "      const w = d.w;",
    tests: ["test/hw/physmem-lines.test.ts"],
    filter: "random operation sequences|sharing the write-back pattern",
  },
  {
    name: "zeroing a page that shares the write-back pattern zeroes the shared copy",
    group: "module",
    file: "src/hw/physmem.ts",
    find: "      if (!d.shared) d.w.fill(0);",
    replace: "      if (d.w !== null) d.w.fill(0);",
    tests: ["test/hw/physmem-lines.test.ts"],
    filter: "random operation sequences|sharing the write-back pattern",
  },
  {
    name: "register files from the shared slab overlap their neighbours",
    group: "module",
    file: "src/common/seamcall.ts",
    find: "  const at = regsUsed++ * NR_REGS * 2;",
    replace: "  const at = (regsUsed++ >> 1) * NR_REGS * 2;",
    tests: ["test/hw/physmem-slab.test.ts"],
  },
  {
    name: "the end-of-run sweep skips a run of pages the module owns only in part",
    group: "hazard",
    file: CACHE,
    find: "        if (!this.isPrivateRun(key * SECTION + i, j - i))",
    replace: "        if (!this.isPrivateRun(key * SECTION + i, 1))",
    tests: ["test/hw/cache.test.ts"],
  },
  {
    name: "the PAMT calls a run private when its first page is",
    group: "module",
    file: "src/module/pamt.ts",
    find: "      for (let i = i0; i < lim; i++) {\n        const ty = type[i]!;",
    replace: "      for (let i = i0; i < i0 + 1; i++) {\n        const ty = type[i]!;",
    tests: ["test/module/pamt-sections.test.ts", "test/hw/cache.test.ts"],
  },
  {
    name: "the end-of-run sweep finds nothing",
    group: "hazard",
    file: CACHE,
    find: "    if (this.isPrivate(pfn) || exempt(pfn)) return;",
    replace: "    if (true || this.isPrivate(pfn) || exempt(pfn)) return;",
    tests: [J, FLOWS, SCEN],
    filter: "sweep|freed first|head-page-only|unexpected hazard",
  },
  {
    name: "the sweep exempts every page",
    group: "hazard",
    file: "src/observe/judge.ts",
    find: "  const sweep = m.cache.sweep((pfn) => ledger.stranded.has(pfn));",
    replace: "  const sweep = m.cache.sweep(() => true);",
    tests: [J],
  },
  {
    name: "no failure-policy check of a failed bring-up",
    group: "hazard",
    file: "src/observe/judge.ts",
    find: '  if (flows.some((r) => r.flow === "extensions" && !r.ok)) {',
    replace: "  if (false) {",
    tests: [J],
  },

  // ---- the module's page checks and slot ----------------------------------------------------------------
  {
    name: "no alignment / KeyID check of a private page",
    group: "module",
    file: EMU,
    find: "    if (misaligned || hpa >= 2 ** 52 || this.keyIdOf(hpa) !== 0)",
    replace: "    if (hpa >= 2 ** 52)",
    tests: [J, MODULE],
  },
  {
    name: "no TDMR check of a private page",
    group: "module",
    file: EMU,
    find: "      if (!this.pamt.inTdmr(pfn + i)) return st(STATUS.TDX_OPERAND_ADDR_RANGE_ERROR, operand);",
    replace: "      if (false) return st(STATUS.TDX_OPERAND_ADDR_RANGE_ERROR, operand);",
    tests: [J, MODULE],
  },
  {
    name: "no lock check of a private page",
    group: "module",
    file: EMU,
    find: "      const busy = this.lockPage(pfn + i, \"exclusive\", operand);\n      if (busy !== null) {",
    replace: "      const busy = this.lockPage(pfn + i, \"exclusive\", operand);\n      if (false) {",
    tests: [J],
  },
  {
    name: "no PT_NDA check of a private page",
    group: "module",
    file: EMU,
    find: "      if (this.pamt.type(pfn + i) !== PT.NDA) {\n        for (let j = 0; j < pages; j++)",
    replace: "      if (false) {\n        for (let j = 0; j < pages; j++)",
    tests: [J, MODULE],
  },
  {
    name: "a shared page may carry a private KeyID",
    group: "module",
    file: EMU,
    find: "    if (this.isPrivateKeyId(keyId)) return `carries private KeyID ${keyId}`;",
    replace: "",
    tests: [J, MODULE],
  },
  {
    name: "a shared page may lie in the module's range",
    group: "module",
    file: EMU,
    find: "    if (this.inModuleRange(pfn)) return \"is inside the module's range\";",
    replace: "",
    tests: [J, MODULE],
  },
  {
    name: "a module-owned shared page is not reported",
    group: "module",
    file: EMU,
    find: '      if (mode === "report") {',
    replace: "      if (false) {",
    tests: [J, FLOWS],
    filter: "shared operand pages|root page that is itself",
  },
  {
    name: "a forced shutdown with effects does not shut the module down",
    group: "module",
    file: EMU,
    find: "          this.poisonNextWrite = false;\n          this.shutdown = true;",
    replace: "          this.poisonNextWrite = false;",
    tests: [J],
  },
  {
    name: "a cleared IOMMU page stays in the unit's list until the end",
    group: "module",
    file: "src/module/leaves-iommu.ts",
    find: "  while (pages.length > 0) {\n    mod.releasePage(pages.shift()!);\n    f.progress++;\n    c.units++;\n    if (pages.length > 0 && mod.interrupts.afterUnit())",
    replace:
      "  while (f.progress < pages.length) {\n    mod.releasePage(pages[f.progress]!);\n    f.progress++;\n    c.units++;\n    if (f.progress < pages.length && mod.interrupts.afterUnit())",
    tests: [J],
  },

  // ---- host rules added with the judge --------------------------------------------------------------
  {
    name: "stranding a page inside a block strands only that page",
    group: "rule",
    file: KERNEL,
    find: "    for (let i = 0; i < 2 ** k.alloc.compoundOrder(head); i++) all.add(head + i);",
    replace: "",
    tests: [R, J],
  },
  {
    name: "a create that failed with a status that is not a clean refusal is given back like one",
    group: "rule",
    file: "src/host/flows/iommu.ts",
    find: "  if (cleanRefusal(status)) return releaseAndFree(k, array, pages, rec);",
    replace: "  return releaseAndFree(k, array, pages, rec);",
    tests: [J],
  },
  {
    name: "calls on other logical CPUs are not recorded in the host's ledger",
    group: "rule",
    file: "src/scenario/run-state.ts",
    find: "      recordRawCall(this.m.kernel, regsIn.w.slice(), res.regs, rawOpts(this.m));",
    replace: "",
    tests: ["test/host/cpus.test.ts", "test/scenario/scenarios.test.ts"],
  },
  {
    name: "the raw-call recorder ignores what a failed EXT.MEM.ADD added before FIRST_ENTRY",
    group: "rule",
    file: "src/scenario/raw-handover.ts",
    find: "      const end = done ? a.fields.lastEntry + 1 : b.fields.firstEntry;",
    replace:
      "      const end = done ? a.fields.lastEntry + 1 : success || interrupted ? b.fields.firstEntry : a.fields.firstEntry;",
    tests: [R],
  },
  {
    name: "alloc_contig_pages does not align power-of-two runs",
    group: "rule",
    file: "src/host/page-alloc-free.ts",
    find: "    const pow2 = (n & (n - 1)) === 0 && n < 2 ** 31;",
    replace: "    const pow2 = false;",
    tests: [R, ALLOC],
    filter: "regression|aligns|contig",
  },
  {
    name: "repopulate's argument check writes the new orders over the descriptor's own",
    group: "rule",
    file: "src/host/page-array.ts",
    find: "  get _spareOrders(): Int8Array {\n    return this.#spareOrders;",
    replace: "  get _spareOrders(): Int8Array {\n    return this.#orders;",
    tests: [ARRAY],
    filter: "repopulate",
  },
  {
    name: "the page-array handle check takes any object carrying this allocator for a page",
    group: "rule",
    file: "src/host/page-array.ts",
    find: "    if (p == null || p.db !== alloc || !(p instanceof PageClass)) refusePage(fn, out, i);",
    replace: "    if (p == null || p.db !== alloc) refusePage(fn, out, i);",
    tests: [ARRAY],
    filter: "refuses",
  },
  {
    name: "the page-array check loop takes the derived head order's -1 (a non-compound page, a tail) as an order",
    group: "rule",
    file: "src/host/page-array.ts",
    find: "    if (!(o >= 0)) {\n      o = alloc.liveOrder(pfn);\n      if (o < 0) refuseFree(fn, alloc, out, i);",
    replace: "    if (!(o >= -1)) {\n      o = alloc.liveOrder(pfn);\n      if (o < 0) refuseFree(fn, alloc, out, i);",
    tests: ["test/host/non-compound.test.ts"],
  },
  {
    name: "the page-array check loop takes a free page in a live section",
    group: "rule",
    file: "src/host/page-array.ts",
    find: "      if (o < 0) refuseFree(fn, alloc, out, i);",
    replace: "      if (o < -1) refuseFree(fn, alloc, out, i);",
    tests: [ARRAY],
    filter: "refuses|repopulate",
  },
  {
    name: "the page-array check loop reports a free page before a later bad handle",
    group: "rule",
    file: "src/host/page-array.ts",
    find: "    if (p == null || p.db !== alloc || !(p instanceof Page)) refusePage(fn, pages, j);",
    replace: "    if (p === undefined && p !== undefined) refusePage(fn, pages, j);",
    tests: [ARRAY],
    filter: "refuses",
  },
  {
    name: "a run's check (forEachChunk over { first, count }) takes a free page in a live section",
    group: "rule",
    file: "src/host/page-array.ts",
    find: "      if (o < 0) refuseFree(fn, alloc, runPages(head, n), i);",
    replace: "      if (o < -1) refuseFree(fn, alloc, runPages(head, n), i);",
    tests: ["test/host/page-array-run.test.ts"],
  },
  {
    name: "a run's check takes a first page of another allocator",
    group: "rule",
    file: "src/host/page-array.ts",
    find: "  if (head.db !== alloc) refusePage(fn, runPages(head, n), 0);",
    replace: "",
    tests: ["test/host/page-array-run.test.ts"],
  },
  {
    name: "a run's descriptor loses the block orders create recorded",
    group: "rule",
    file: "src/host/page-array.ts",
    find: "    created._spareOrders.set(CREATE_ORDERS.subarray(0, n));",
    replace: "",
    tests: ["test/host/page-array-run.test.ts"],
  },
  {
    name: "the page-array check loop keeps the first section's orders after moving to another section",
    group: "rule",
    file: "src/host/page-array.ts",
    find: "ever allocated\n      base = pfn - offOf(pfn);\n      headOrder = sec.headOrder;",
    replace:
      "ever allocated\n      base = pfn - offOf(pfn);\n      headOrder = headOrder === NO_HEAD_ORDER ? sec.headOrder : headOrder;",
    tests: ["test/host/populate-root.test.ts"],
  },
  {
    name: "a freed block's head keeps its derived head order (the descriptor accepts a freed page)",
    group: "rule",
    file: "src/host/page-alloc-frames.ts",
    find: "    sec.headOrder[off] = -1;",
    replace: "",
    tests: ["test/host/page-alloc-runs.test.ts", "test/host/page-array.test.ts"],
  },
  {
    name: "a non-compound block's head gets its order as derived head order (the descriptor records it)",
    group: "rule",
    file: "src/host/page-alloc-frames.ts",
    find: "    sec.headOrder[off] = nonCompound ? -1 : order;",
    replace: "    sec.headOrder[off] = order;",
    tests: ["test/host/page-alloc-runs.test.ts", "test/host/non-compound.test.ts"],
  },
  {
    name: "the per-run populate check reports a non-compound block's order",
    group: "rule",
    file: "src/host/page-alloc-frames.ts",
    find: "        if (refs[off]! > 0) out[i] = (flags[off]! & 1) !== 0 ? 0 : order[off]!;",
    replace: "        if (refs[off]! > 0) out[i] = order[off]!;",
    tests: [ALLOC, "test/host/non-compound.test.ts"],
    filter: "liveOrders|non-compound|populate",
  },
  {
    name: "a created SPDM session's pages are given to the extension pool (the wrong object)",
    group: "rule",
    file: "src/module/spdm-common.ts",
    find: "    mod.claimPage(hpa / PAGE_SIZE, type, obj);",
    replace: "    mod.claimPage(hpa / PAGE_SIZE, type, mod.objects.get(mod.ext.poolObject) ?? obj);",
    tests: [MB, J],
    filter: "fixed sequence|clean machine",
  },
  {
    name: "the pool's run list extends its last run with a PFN that does not follow it",
    group: "module",
    file: "src/module/records.ts",
    find: "    if (last >= 0 && this.starts[last]! + this.lens[last]! === pfn) this.lens[last]!++;",
    replace: "    if (last >= 0) this.lens[last]!++;",
    tests: ["test/module/run-list.test.ts"],
  },
  {
    name: "v2's pool flush reads its window from entry 0 instead of the window's offset",
    group: "host",
    file: "src/designs/v2.ts",
    find: "      pfnAt: (i) => a.pages[offset + i]!.pfn,",
    replace: "      pfnAt: (i) => a.pages[i]!.pfn,",
    tests: ["test/designs/v2.test.ts"],
  },
  {
    name: "the pool's run list walks on from its cursor when asked an earlier index",
    group: "module",
    file: "src/module/records.ts",
    find: "    if (i < this.curBase) {",
    replace: "    if (i < 0) {",
    tests: ["test/module/run-list.test.ts"],
  },
];
