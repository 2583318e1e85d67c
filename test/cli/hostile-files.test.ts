/**
 * The hostile catalogue of the file system and of what a scenario may ask (docs/FILES.md): outputs
 * that are devices, FIFOs, sockets, directories, dangling or looping symbolic links, the command's own
 * input, too long, unwritable, read-only or full; inputs that are devices, directories, sockets, too
 * large, UTF-16 or not UTF-8; duplicate keys and names, references out of range or of the wrong kind;
 * scenarios the machine cannot hold; traces with fields of the wrong type; control characters in
 * echoed text; signals while a trace is being written.
 *
 * Everything happens in a scratch directory with its own device nodes (mknod), FIFOs, sockets and
 * links, never the real /dev. Each refusal asserts its exit status, exactly one stderr line naming the
 * problem, no stack trace, no temporary file left and nothing in the scratch directory changed. Cases
 * that need a real process (signals, another user, a real standard input) spawn the CLI bundled from its
 * sources once (test/support/cli-process.ts); permission cases run as the unprivileged user `nobody` (uid/gid 65534), since the
 * tests themselves run as root here and in CI.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INPUT_LIMITS, readBoundedStream } from "../../src/cli/input-file.js";
import { isTempName } from "../../src/cli/output-file.js";
import { defaultPlatform } from "../../src/hw/platform.js";
import { runCli } from "../support/cli.js";
import { bundleCliFromSources, type CliBundle } from "../support/cli-process.js";

const ROOT = new URL("../..", import.meta.url).pathname;
let cliProcess: CliBundle | null = null;
const isRoot = process.getuid?.() === 0;
const canMknod = isRoot && process.platform === "linux";

/** A small scenario that runs in milliseconds. */
const TINY = "name: tiny\nsteps:\n  - alloc: p\n    pages: 2\n  - expect: { hazards: 0 }\n";

let S: string; // the shared scratch directory of the refusal cases
let sock: Server | null = null;

/** Makes the scratch directory: every kind of file an output or input might be pointed at. */
async function makeScratch(): Promise<string> {
  const d = mkdtempSync(join(tmpdir(), "tdxpa-hostile-fs-"));
  chmodSync(d, 0o755);
  writeFileSync(join(d, "s.yaml"), TINY);
  writeFileSync(join(d, "file"), "a regular file\n");
  writeFileSync(join(d, "victim.txt"), "must survive\n");
  mkdirSync(join(d, "dir"));
  mkdirSync(join(d, "ro"), { mode: 0o755 });
  if (canMknod) {
    for (const [name, args] of [
      ["dev-null", ["c", "1", "3"]],
      ["dev-zero", ["c", "1", "5"]],
      ["dev-full", ["c", "1", "7"]],
      ["dev-urandom", ["c", "1", "9"]],
      ["blk", ["b", "7", "200"]],
    ] as const)
      execFileSync("mknod", [join(d, name), ...args]);
  }
  execFileSync("mkfifo", [join(d, "fifo")]);
  symlinkSync(join(d, "nowhere"), join(d, "dangling"));
  symlinkSync(join(d, "dev-null"), join(d, "link-dev"));
  symlinkSync(join(d, "dir"), join(d, "link-dir"));
  symlinkSync(join(d, "fifo"), join(d, "link-fifo"));
  symlinkSync(join(d, "loop2"), join(d, "loop1"));
  symlinkSync(join(d, "loop1"), join(d, "loop2"));
  symlinkSync(join(d, "s.yaml"), join(d, "link-scenario"));
  linkSync(join(d, "s.yaml"), join(d, "hard-scenario"));
  // Larger than the caps without using the disk: sparse files.
  writeFileSync(join(d, "big.yaml"), "");
  truncateSync(join(d, "big.yaml"), INPUT_LIMITS.scenario + 1);
  writeFileSync(join(d, "big.jsonl"), "");
  truncateSync(join(d, "big.jsonl"), INPUT_LIMITS.trace + 1);
  await new Promise<void>((res) => {
    sock = createServer().listen(join(d, "sock"), () => res());
  });
  return d;
}

/**
 * Content hashes of regular files, remembered by path, inode, size, mtime and ctime. Any write to a file
 * sets its ctime (user space cannot set it back), so a file whose key is unchanged still has the content
 * hashed before, provided the write could not fall in the same timestamp tick as the hash: as git does
 * for "racy" index entries, a hash is remembered only when the file's ctime was over a second old when it
 * was read. This reads the scratch directory's sparse 256 KiB and 256 MiB files once, not twice per test.
 */
const hashes = new Map<string, string>();

function contentHash(p: string, st: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  const key = `${p} ${st.ino} ${st.size} ${st.mtimeMs} ${st.ctimeMs}`;
  const known = hashes.get(key);
  if (known !== undefined) return known;
  const settled = Date.now() - st.ctimeMs > 1000;
  const h = createHash("sha1").update(readFileSync(p)).digest("hex");
  if (settled) hashes.set(key, h);
  return h;
}

/** Every entry under `dir` (links not followed) with its type, mode, size, content hash or target. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      let sig = `${st.mode.toString(8)} ${st.size} ${st.ino}`;
      if (st.isFile()) sig += ` ${contentHash(p, st)} ${st.mtimeMs}`;
      else if (st.isSymbolicLink()) sig += ` -> ${readlinkSync(p)}`;
      else if (st.isDirectory()) walk(p);
      out.set(p.slice(dir.length + 1), sig);
    }
  };
  walk(dir);
  return out;
}

function leftovers(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (isTempName(name)) found.push(p);
      if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return found;
}

/** Asserts one clean refusal: `code`, one stderr line matching `err`, no trace, nothing changed. */
async function refused(argv: string[], code: number, err: RegExp, stdin = ""): Promise<void> {
  const before = snapshot(S);
  const r = await runCli(argv, stdin);
  expect(r.code, r.err.join("\n")).toBe(code);
  expect(r.err).toHaveLength(1);
  expect(r.err[0]).toMatch(/^tdxpa: /);
  expect(r.err[0]).not.toMatch(/\n|internal error|^\s+at |\bat .*\.(ts|js):\d+/);
  expect(r.err[0]).toMatch(err);
  expect(leftovers(S)).toEqual([]);
  expect(snapshot(S)).toEqual(before);
}

const p = (name: string) => join(S, name);

beforeAll(async () => {
  S = await makeScratch();
  cliProcess = await bundleCliFromSources();
});
afterAll(() => {
  cliProcess?.dispose();
  sock?.close();
  rmSync(S, { recursive: true, force: true });
});

/** Output targets that must be refused, with the reason the line must give. */
const BAD_OUTPUTS: readonly [string, () => string, RegExp, boolean][] = [
  [
    "a character device (like /dev/null)",
    () => p("dev-null"),
    /is a character device; outputs are regular files/,
    true,
  ],
  ["a character device (like /dev/full)", () => p("dev-full"), /is a character device/, true],
  ["a block device", () => p("blk"), /is a block device/, true],
  ["a FIFO", () => p("fifo"), /is a FIFO/, false],
  ["a directory", () => p("dir"), /is a directory/, false],
  ["a socket", () => p("sock"), /is a socket/, false],
  ["a dangling symbolic link", () => p("dangling"), /is a symbolic link to nothing/, false],
  ["a symbolic link to a device", () => p("link-dev"), /is a character device/, true],
  ["a symbolic link to a directory", () => p("link-dir"), /is a directory/, false],
  ["a symbolic link to a FIFO", () => p("link-fifo"), /is a FIFO/, false],
  ["a symbolic link loop", () => p("loop1"), /ELOOP/, false],
  ["a path below a regular file", () => p("file/out"), /ENOTDIR/, false],
  ["a path in a missing directory", () => p("missing/out"), /ENOENT/, false],
  ["a name of 300 characters", () => p("x".repeat(300)), /file name too long \(ENAMETOOLONG\)/, false],
  ["the scenario itself", () => p("s.yaml"), /is the command's input/, false],
  ["a symbolic link to the scenario", () => p("link-scenario"), /is the command's input/, false],
  ["a hard link to the scenario", () => p("hard-scenario"), /is the command's input/, false],
  ["the scenario by another path", () => p("dir/../s.yaml"), /is the command's input/, false],
];

describe("outputs: refused before any work, nothing written", () => {
  for (const [what, target, msg, dev] of BAD_OUTPUTS) {
    it.skipIf(dev && !canMknod)(`run --trace to ${what}`, async () => {
      await refused(["run", p("s.yaml"), "--trace", target()], 2, msg);
    });
    it.skipIf(dev && !canMknod)(`report --out to ${what}`, async () => {
      await refused(["report", p("s.yaml"), "--out", target()], 2, msg);
    });
  }
  it("run --trace with an empty name", async () => {
    await refused(["run", p("s.yaml"), "--trace", ""], 2, /--trace : needs a file name/);
  });
  it.skipIf(!canMknod)("vectors --out a device", async () => {
    await refused(["vectors", "--out", p("dev-null")], 2, /not a directory/);
  });
  it("vectors --out a regular file", async () => {
    await refused(["vectors", "--out", p("file")], 2, /not a directory/);
  });
  it("vectors --out a FIFO", async () => {
    await refused(["vectors", "--out", p("fifo")], 2, /not a directory/);
  });
  it("vectors --out where the JSON file's name is a FIFO", async () => {
    const d = p("vec-fifo");
    mkdirSync(d);
    execFileSync("mkfifo", [join(d, "tdx-page-array-vectors.json")]);
    await refused(["vectors", "--out", d], 2, /vectors\.json: is a FIFO/);
  });
  it("vectors --out where the header's name is a dangling link", async () => {
    const d = p("vec-link");
    mkdirSync(d);
    symlinkSync(join(d, "nothing"), join(d, "tdx_page_array_vectors.h"));
    await refused(["vectors", "--out", d], 2, /vectors\.h: is a symbolic link to nothing/);
  });
});

describe("inputs: refused unless a regular file, a FIFO or standard input; capped", () => {
  const BAD_INPUTS: readonly [string, string, RegExp, boolean][] = [
    [
      "a character device (like /dev/zero)",
      "dev-zero",
      /it is a character device; only regular files, FIFOs/,
      true,
    ],
    ["a character device (like /dev/urandom)", "dev-urandom", /it is a character device/, true],
    ["a block device", "blk", /it is a block device/, true],
    ["a directory", "dir", /it is a directory/, false],
    ["a socket", "sock", /it is a socket/, false],
    ["a dangling link", "dangling", /no such file or directory \(ENOENT\)/, false],
    ["a link loop", "loop1", /ELOOP/, false],
  ];
  for (const [what, name, msg, dev] of BAD_INPUTS) {
    it.skipIf(dev && !canMknod)(`run: scenario is ${what}`, async () => {
      await refused(["run", p(name)], 2, new RegExp(`${name}: cannot read scenario: .*${msg.source}`));
    });
    it.skipIf(dev && !canMknod)(`inspect --trace: trace is ${what}`, async () => {
      await refused(
        ["inspect", "--trace", p(name)],
        2,
        new RegExp(`${name}: cannot read trace: .*${msg.source}`),
      );
    });
  }
  it.skipIf(!canMknod)("compare: scenario is a character device", async () => {
    await refused(["compare", p("dev-urandom")], 2, /cannot read scenario: it is a character device/);
  });
  it.skipIf(!canMknod)("report: scenario is a character device", async () => {
    await refused(["report", p("dev-zero"), "--out", p("r.html")], 2, /cannot read scenario/);
  });
  it("a scenario one byte over the 256 KiB cap", async () => {
    await refused(
      ["run", p("big.yaml")],
      2,
      /big\.yaml: cannot read scenario: 262145 bytes is larger than the 256 KiB limit for a scenario/,
    );
  });
  it("a trace one byte over the 256 MiB cap", async () => {
    await refused(
      ["inspect", "--trace", p("big.jsonl")],
      2,
      /big\.jsonl: cannot read trace: .* larger than the 256 MiB limit/,
    );
  });
  it("standard input is read up to its cap, then refused", async () => {
    const chunks = (function* () {
      for (let i = 0; i < 17; i++) yield Buffer.alloc(2 ** 20, 0x30);
    })();
    await expect(
      readBoundedStream(Readable.from(chunks), "standard input", INPUT_LIMITS.stdin),
    ).rejects.toThrow("standard input: larger than the 16 MiB limit for standard input");
    const ok = await readBoundedStream(
      Readable.from([Buffer.from("0x1\n")]),
      "standard input",
      INPUT_LIMITS.stdin,
    );
    expect(ok.toString()).toBe("0x1\n");
  });
});

describe("strict parsing: one line naming the file", () => {
  const CASES: readonly [string, string, string | Buffer, RegExp][] = [
    [
      "duplicate top-level key in JSON",
      "dup.json",
      '{"name":"a","name":"b","steps":[{"flow":"extensions"}]}',
      /dup\.json:1:13: bad JSON: duplicate key "name"/,
    ],
    [
      "duplicate nested key in JSON",
      "dup2.json",
      '{"name":"a","steps":[{"alloc":"p","pages":1,"pages":2}]}',
      /dup2\.json:1:45: bad JSON: duplicate key "pages"/,
    ],
    [
      "duplicate key in YAML",
      "dup.yaml",
      "name: a\nname: b\nsteps: [{flow: extensions}]\n",
      /dup\.yaml:2:1: bad YAML: Map keys must be unique/,
    ],
    [
      "UTF-16LE with a byte-order mark",
      "u16le.yaml",
      Buffer.from("\ufeffname: a\n", "utf16le"),
      /u16le\.yaml: UTF-16 or UTF-32 text; save it as UTF-8/,
    ],
    [
      "UTF-16BE with a byte-order mark",
      "u16be.json",
      Buffer.from([0xfe, 0xff, 0, 0x7b, 0, 0x7d]),
      /UTF-16 or UTF-32 text/,
    ],
    ["UTF-32 without a byte-order mark", "u32.yaml", Buffer.from([0, 0, 0, 0x6e]), /UTF-16 or UTF-32 text/],
    [
      "a byte that is not UTF-8",
      "latin1.yaml",
      Buffer.from("name: caf\xe9\n", "latin1"),
      /latin1\.yaml: not UTF-8 text \(byte 0xe9 at offset 9\)/,
    ],
    [
      "an overlong UTF-8 sequence",
      "overlong.yaml",
      Buffer.from([0x6e, 0xc0, 0xaf]),
      /not UTF-8 text \(byte 0xc0 at offset 1\)/,
    ],
    [
      "a truncated UTF-8 sequence",
      "trunc.yaml",
      Buffer.from([0x6e, 0x3a, 0x20, 0xe2, 0x82]),
      /not UTF-8 text/,
    ],
    [
      "a UTF-8 surrogate",
      "surrogate.yaml",
      Buffer.from([0xed, 0xa0, 0x80]),
      /not UTF-8 text \(byte 0xed at offset 0\)/,
    ],
    ["JSON that does not parse", "bad.json", '{"name": ', /bad\.json:1:10: bad JSON: /],
    [
      "JSON with a syntax error on line 3: line and column",
      "bad3.json",
      '{\n  "name": "x",\n  }\n',
      /bad3\.json:3:3: bad JSON: Expected double-quoted property name/,
    ],
  ];
  for (const [what, name, text, msg] of CASES) {
    it(what, async () => {
      writeFileSync(p(name), text);
      await refused(["run", p(name)], 2, msg);
    });
  }
  it("a byte-order mark is dropped the same for JSON and YAML", async () => {
    const bom = "\ufeff";
    writeFileSync(p("bom.json"), `${bom}{"name":"bom","steps":[{"alloc":"p"}]}`);
    writeFileSync(p("bom.yaml"), `${bom}name: bom\nsteps: [{alloc: p}]\n`);
    for (const f of ["bom.json", "bom.yaml"]) {
      const r = await runCli(["run", p(f)]);
      expect(r.code, r.err.join()).toBe(0);
      expect(r.out[0]).toMatch(/^scenario: bom\n/);
    }
  });
});

describe("scenarios: names and references checked, nothing defaulted", () => {
  const pre =
    "name: x\nsteps:\n  - alloc: p\n    pages: 3\n  - root: r\n    of: p\n    format: hpa-list-info\n";
  const CASES: readonly [string, string, RegExp][] = [
    [
      "a reference past the end, @p[999]",
      `${pre}  - seamcall: TDH.EXT.MEM.ADD\n    regs: { RCX: "@p[999]" }\n`,
      /steps\[2\]\.regs\.RCX: expected an index in 0\.\.2 \(p has 3 pages, steps\[0\]\), got "@p\[999\]"/,
    ],
    [
      "a huge index, quoted as written",
      `${pre}  - seamcall: TDH.EXT.MEM.ADD\n    regs: { RCX: "@p[99999999999999999999999]" }\n`,
      /got "@p\[99999999999999999999999\]"/,
    ],
    [
      "an index on a root operand, @r[1]",
      `${pre}  - seamcall: TDH.EXT.MEM.ADD\n    regs: { RCX: "@r[1]" }\n`,
      /@r without an index \(r is a root step's operand, steps\[1\]\)/,
    ],
    [
      "a bare reference to a 3-page alloc",
      `${pre}  - seamcall: TDH.EXT.MEM.ADD\n    regs: { RCX: "@p" }\n`,
      /@p\[i\] with i in 0\.\.2/,
    ],
    [
      "a reference to a later name",
      `${pre}  - seamcall: TDH.EXT.MEM.ADD\n    regs: { RCX: "@q" }\n  - alloc: q\n`,
      /a name defined by an earlier alloc or root step \(p, r\)/,
    ],
    [
      "a duplicate alloc name",
      "name: x\nsteps:\n  - alloc: p\n  - alloc: p\n",
      /steps\[1\]\.alloc: expected a name not defined before \(steps\[0\] defines p\)/,
    ],
    [
      "a root with an alloc's name",
      "name: x\nsteps:\n  - alloc: p\n  - root: p\n    of: p\n    format: hpa-array\n",
      /steps\[1\]\.root: expected a name not defined before/,
    ],
    [
      "a root of a root",
      `${pre}  - root: rr\n    of: r\n    format: hpa-list-info\n`,
      /steps\[2\]\.of: .*r is a root \(steps\[1\]\)/,
    ],
    [
      "a root of 600 pages (no silent cut to 512)",
      "name: x\nsteps:\n  - alloc: p\n    pages: 600\n  - root: r\n    of: p\n    format: hpa-list-info\n",
      /at most 512 pages, the entries of one root page \(01-formats\.md 1\.2\); p has 600/,
    ],
    [
      "a u64 of 2^64, quoted as written",
      "name: x\nsteps:\n  - seamcall: TDH.SYS.RD\n    regs: { RDX: 18446744073709551616 }\n",
      /regs\.RDX: expected a u64 as "0x…" or decimal, got 18446744073709551616$/,
    ],
    [
      "a count of 2^64, quoted as written",
      "name: x\nsteps:\n  - alloc: p\n    pages: 18446744073709551616\n",
      /got 18446744073709551616$/,
    ],
  ];
  for (const [what, text, msg] of CASES) {
    it(what, async () => {
      writeFileSync(p("ref.yaml"), text);
      await refused(["run", p("ref.yaml")], 2, msg);
    });
  }
});

describe("scenarios the machine cannot hold: refused before any work", () => {
  const many = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i));
  const CASES: readonly [string, () => unknown, RegExp][] = [
    [
      "an alloc of 2^30 pages",
      () => ({ name: "x", steps: [{ alloc: "p", pages: 2 ** 30 }] }),
      /steps\[0\]\.pages: expected an integer in 1\.\.4194304, got 1073741824/,
    ],
    [
      "a pool of 2^32-1 pages on a 60,000 GiB platform",
      () => ({
        name: "x",
        platform: { base: "uniform", totalGiB: 60000, metadata: { MEMORY_POOL_REQUIRED_PAGES: 4294967295 } },
        steps: [{ flow: "extensions" }],
      }),
      /MEMORY_POOL_REQUIRED_PAGES: 4294967295 is over the limit 4194304 \(pages the model runs at once\)/,
    ],
    [
      "a pool larger than a 1 GiB platform",
      () => ({
        name: "x",
        platform: { base: "uniform", totalGiB: 1, metadata: { MEMORY_POOL_REQUIRED_PAGES: 1_000_000 } },
        steps: [{ flow: "extensions" }],
      }),
      /over the limit \d+ \(pages the platform uniform-1g leaves to the host\)/,
    ],
    [
      "10^5 IOMMU units (a 5.7 MB file: refused by the size cap)",
      () => ({
        name: "x",
        platform: {
          iommus: many(100_000, (i) => ({ name: `u${i}`, regBase: 2 ** 32 + i * 4096, tdxCapable: true })),
        },
        steps: [{ flow: "iommu-setup" }],
      }),
      /huge\.json: cannot read scenario: \d+ bytes is larger than the 256 KiB limit for a scenario/,
    ],
    [
      "257 IOMMU units",
      () => ({
        name: "x",
        platform: {
          iommus: many(257, (i) => ({ name: `u${i}`, regBase: 2 ** 32 + i * 4096, tdxCapable: true })),
        },
        steps: [{ flow: "iommu-setup" }],
      }),
      /platform\.iommus: 257 is over the limit 256 \(the model's IOMMU unit limit\)/,
    ],
    [
      "257 devices",
      () => ({
        name: "x",
        platform: {
          devices: many(257, (i) => ({
            ...defaultPlatform().devices![0]!,
            name: `d${i}`,
            requesterId: i,
          })),
        },
        steps: [{ flow: "extensions" }],
      }),
      /platform\.devices: 257 is over the limit 256 \(the model's device limit\)/,
    ],
    [
      "iqOrder 11 (the machine takes 0..10)",
      () => ({ name: "x", host: { policy: { iqOrder: 11 } }, steps: [{ flow: "extensions" }] }),
      /host\.policy\.iqOrder: expected an integer in 0\.\.10, got 11/,
    ],
    [
      "iqOrder 64",
      () => ({ name: "x", host: { policy: { iqOrder: 64 } }, steps: [{ flow: "extensions" }] }),
      /in 0\.\.10, got 64/,
    ],
    [
      "4,097 steps",
      () => ({ name: "x", steps: many(4097, () => ({ evict: true })) }),
      /steps: expected at most 4096 steps \(the model's limit\), got an array of 4097/,
    ],
    [
      "allocs adding up past the budget",
      () => ({ name: "x", steps: many(3, (i) => ({ alloc: `a${i}`, pages: 2_000_000 })) }),
      /steps\[2\]: \d+ pages with the steps before it and the flows is over the limit 4194304/,
    ],
    [
      "a key-refresh count beyond 32 bits",
      () => ({
        name: "x",
        module: { behaviours: { spdmKeyRefreshAfter: 2 ** 32 } },
        steps: [{ flow: "extensions" }],
      }),
      /spdmKeyRefreshAfter: expected an integer in 0\.\.4294967295/,
    ],
    [
      "overlapping memory ranges, named in the platform",
      () => ({
        name: "x",
        platform: {
          memory: [
            { base: 0, size: 2 ** 31 },
            { base: 2 ** 30, size: 2 ** 31 },
          ],
        },
        steps: [{ flow: "extensions" }],
      }),
      /platform\.memory\[1\]: "0x40000000" is out of range; allowed a range not overlapping memory\[0\]/,
    ],
  ];
  for (const [what, doc, msg] of CASES) {
    it(what, async () => {
      writeFileSync(p("huge.json"), JSON.stringify(doc()));
      await refused(["run", p("huge.json")], 2, msg);
    });
  }
});

describe("traces read back: fields of the wrong type are one line", () => {
  const call = (over: Record<string, unknown>, root: Record<string, unknown> = {}) =>
    JSON.stringify({
      type: "seamcall",
      seq: 1,
      leaf: "TDH.EXT.MEM.ADD",
      status: "TDX_SUCCESS",
      root: {
        register: "RCX",
        format: "hpa-list-info",
        rootHpa: "0x1000",
        count: 1,
        entries: [{ index: 0, raw: "0x2000", hpa: "0x2000", numPages: 0, error: null }],
        ...root,
      },
      ...over,
    });
  const CASES: readonly [string, string, RegExp][] = [
    [
      "seq an object",
      call({ seq: { toString: 1 } }),
      /:1: not a trace event \(seamcall seq: expected a count\)/,
    ],
    ["leaf an object", call({ leaf: {} }), /seamcall leaf: expected a string/],
    ["status an array", call({ status: [] }), /seamcall status: expected a string/],
    ["root a string", call({ root: "x" }), /seamcall root: expected an object/],
    ["root.register a number", call({}, { register: 5 }), /root\.register: expected a string/],
    ["root.rootHpa an object", call({}, { rootHpa: {} }), /root\.rootHpa: expected a string or null/],
    ["root.count negative", call({}, { count: -1 }), /root\.count: expected a count/],
    [
      "an entry's raw an object",
      call({}, { entries: [{ index: 0, raw: {}, hpa: "0x0", numPages: 0, error: null }] }),
      /root\.entries\[0\]\.raw: expected a string/,
    ],
    [
      "an entry's error a number",
      call({}, { entries: [{ index: 0, raw: "0x0", hpa: "0x0", numPages: 0, error: 7 }] }),
      /root\.entries\[0\]\.error: expected a string or null/,
    ],
    ["a trace in UTF-16", "", /UTF-16 or UTF-32 text/],
  ];
  for (const [what, line, msg] of CASES) {
    it(what, async () => {
      writeFileSync(p("t.jsonl"), line === "" ? Buffer.from("\ufeff{}", "utf16le") : `${line}\n`);
      await refused(["inspect", "--trace", p("t.jsonl")], 2, msg);
    });
  }
});

describe("traces from standard input (inspect --trace -)", () => {
  it("a line that is not JSON names standard input's line", async () => {
    await refused(
      ["inspect", "--trace", "-"],
      2,
      /^tdxpa: inspect: -:2: not a JSON Lines trace/,
      '{"type":"phase"}\nnot json\n',
    );
  });
  it("a field of the wrong type", async () => {
    const line = JSON.stringify({ type: "seamcall", seq: 1, leaf: [], status: "x", root: {} });
    await refused(["inspect", "--trace", "-"], 2, /seamcall leaf: expected a string/, `${line}\n`);
  });
  it("a trace written to standard output reads back from standard input", async () => {
    const { main } = await import("../../src/cli/main.js");
    const parts: string[] = [];
    const io = {
      out: () => {},
      err: () => {},
      write: (t: string) => parts.push(t),
      readStdin: async () => "",
      isTTY: false,
    };
    const steps =
      'name: t\nsteps:\n  - alloc: p\n    pages: 3\n  - root: r\n    of: p\n    format: hpa-list-info\n  - seamcall: TDH.EXT.MEM.ADD\n    regs: { RCX: "@r" }\n    expect: { status: TDX_SUCCESS }\n';
    writeFileSync(p("roundtrip.yaml"), steps);
    expect(await main(["run", p("roundtrip.yaml"), "--trace", "-"], io)).toBe(0);
    const r = await runCli(["inspect", "--trace", "-", "--json"], parts.join(""));
    expect(r.code, r.err.join()).toBe(0);
    const calls = JSON.parse(r.out[0]!).calls as { leaf: string; root: { count: number } }[];
    expect(calls.map((c) => [c.leaf, c.root.count])).toEqual([["TDH.EXT.MEM.ADD", 3]]);
  });
});

describe("printing: echoed text cannot forge lines or drive the terminal", () => {
  it("a scenario name with an escape sequence and a forged result line", async () => {
    writeFileSync(p("forge.yaml"), 'name: "a\\e[2Jb\\nresult: clean (exit 0)"\nsteps: [{alloc: p}]\n');
    const r = await runCli(["run", p("forge.yaml")]);
    expect(r.code).toBe(0);
    const text = r.out.join("\n");
    expect(text).toContain("scenario: a\\x1b[2Jb\\x0aresult: clean (exit 0)");
    expect(text).not.toContain("\x1b");
    expect(text.split("\n").filter((l) => l.startsWith("result:"))).toHaveLength(1);
  });
  it("a file name with control characters in an error", async () => {
    await refused(["run", p("no\x1b[31m\nsuch.yaml")], 2, /no\\x1b\[31m such\.yaml: cannot read scenario/);
  });
  it("decode - echoes a value with escapes escaped", async () => {
    const r = await runCli(["decode", "status", "-"], "0x\x1b[31m1\n");
    expect(r.code).toBe(1);
    expect(r.out.join("\n")).not.toContain("\x1b");
    expect(r.out.join("\n")).toContain("0x\\x1b[31m1");
  });
  it("an unknown option with a bidirectional override is escaped", async () => {
    await refused(["run", "--x\u202ey"], 2, /unknown option '--x\\u202ey'/);
  });
});

describe("outputs written: symbolic links resolved, mode kept, '-' is standard output", () => {
  it("run --trace through a symbolic link writes its target and keeps the link", async () => {
    const d = mkdtempSync(join(tmpdir(), "tdxpa-out-"));
    writeFileSync(join(d, "s.yaml"), TINY);
    writeFileSync(join(d, "target.jsonl"), "old\n");
    chmodSync(join(d, "target.jsonl"), 0o640);
    symlinkSync("target.jsonl", join(d, "link.jsonl"));
    const r = await runCli(["run", join(d, "s.yaml"), "--trace", join(d, "link.jsonl")]);
    expect(r.code).toBe(0);
    expect(lstatSync(join(d, "link.jsonl")).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(d, "target.jsonl"), "utf8")).toMatch(/^\{"type":"phase"/);
    expect(lstatSync(join(d, "target.jsonl")).mode & 0o777).toBe(0o640);
    expect(leftovers(d)).toEqual([]);
    rmSync(d, { recursive: true });
  });
  it("a new output gets 0666 less the umask, not the temporary file's 0600", async () => {
    const d = mkdtempSync(join(tmpdir(), "tdxpa-out-"));
    writeFileSync(join(d, "s.yaml"), TINY);
    const r = await runCli(["run", join(d, "s.yaml"), "--trace", join(d, "new.jsonl")]);
    expect(r.code).toBe(0);
    expect(lstatSync(join(d, "new.jsonl")).mode & 0o777).toBe(0o666 & ~process.umask());
    rmSync(d, { recursive: true });
  });
  it("run --trace - writes the trace to standard output and the report to standard error", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const { main } = await import("../../src/cli/main.js");
    const code = await main(["run", p("s.yaml"), "--trace", "-"], {
      out: (s) => out.push(`${s}\n`),
      err: (s) => err.push(s),
      write: (s) => out.push(s),
      readStdin: async () => "",
      isTTY: false,
    });
    expect(code).toBe(0);
    const lines = out.join("").trimEnd().split("\n");
    expect(lines.every((l) => JSON.parse(l).type !== undefined)).toBe(true);
    expect(err.join("\n")).toMatch(/^scenario: tiny/);
  });
});

/** Runs the CLI bundled from its sources in a real process; resolves with status, signal and stderr. */
function spawnCli(
  args: string[],
  opts: { cwd?: string; uid?: number; gid?: number; stdin?: "ignore" | "pipe" } = {},
): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; err: string }> } {
  const child = spawn(process.execPath, [cliProcess!.entry, ...args], {
    cwd: opts.cwd ?? ROOT,
    stdio: [opts.stdin ?? "ignore", "ignore", "pipe"],
    ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid }),
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  let err = "";
  child.stderr!.on("data", (b: Buffer) => {
    err += b.toString();
  });
  const done = new Promise<{ code: number | null; signal: string | null; err: string }>((res) =>
    child.on("close", (code, signal) => res({ code, signal, err })),
  );
  return { child, done };
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

describe("signals: the temporary trace is removed when the process dies", () => {
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    it(`${sig} during run --trace of a 1,048,576-page pool`, async () => {
      const d = mkdtempSync(join(tmpdir(), "tdxpa-sig-"));
      const { child, done } = spawnCli([
        "run",
        join(ROOT, "scenarios/pool-1m.yaml"),
        "--trace",
        join(d, "t.jsonl"),
      ]);
      const started = await waitFor(() => readdirSync(d).some(isTempName), 60_000);
      expect(started).toBe(true);
      child.kill(sig);
      const r = await done;
      expect(r.signal).toBe(sig);
      expect(r.err).not.toMatch(/\bat .*:\d+:\d+/);
      // The watcher removes the file once the process is gone.
      expect(await waitFor(() => readdirSync(d).length === 0, 5000)).toBe(true);
      rmSync(d, { recursive: true });
    }, 90_000);
  }
});

describe.skipIf(!isRoot)("as an unprivileged user", () => {
  const NOBODY = 65534;
  it("run --trace into a directory it cannot write: EACCES, exit 2, one line", async () => {
    const r = await spawnCli(["run", p("s.yaml"), "--trace", p("ro/t.jsonl")], { uid: NOBODY, gid: NOBODY })
      .done;
    expect(r.code).toBe(2);
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/^tdxpa: run: --trace .*ro\/t\.jsonl: cannot write: permission denied \(EACCES\)/);
    expect(readdirSync(p("ro"))).toEqual([]);
  }, 60_000);
  it("report --out over a file in a directory it cannot write: EACCES", async () => {
    writeFileSync(p("ro/r.html"), "keep");
    const r = await spawnCli(["report", p("s.yaml"), "--out", p("ro/r.html")], { uid: NOBODY, gid: NOBODY })
      .done;
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^tdxpa: report: --out .*: cannot write: permission denied \(EACCES\)\n$/);
    expect(readFileSync(p("ro/r.html"), "utf8")).toBe("keep");
    rmSync(p("ro/r.html"));
  }, 60_000);
  it("a scenario it cannot read: EACCES", async () => {
    writeFileSync(p("secret.yaml"), TINY, { mode: 0o600 });
    const r = await spawnCli(["run", p("secret.yaml")], { uid: NOBODY, gid: NOBODY }).done;
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^tdxpa: .*secret\.yaml: cannot read scenario: permission denied \(EACCES\)\n$/);
  }, 60_000);
});

describe.skipIf(!canMknod)("real standard input", () => {
  it("decode status - </dev/zero stops at the cap with one line", async () => {
    const { child, done } = spawnCli(["decode", "status", "-"], { stdin: "pipe" });
    const zero = Buffer.alloc(1 << 20);
    child.stdin!.on("error", () => {});
    const pump = () => {
      while (child.stdin!.writable && child.stdin!.write(zero)) {}
    };
    child.stdin!.on("drain", pump);
    pump();
    const r = await done;
    expect(r.code).toBe(2);
    expect(r.err).toBe("tdxpa: standard input: larger than the 16 MiB limit for standard input\n");
  }, 60_000);
});

/** Mounts a tmpfs at `dir` with `opts`; false when this machine does not allow it. */
function mountTmpfs(dir: string, opts: string): boolean {
  if (!isRoot) return false;
  return spawnSync("mount", ["-t", "tmpfs", "-o", opts, "tmpfs", dir]).status === 0;
}

/** Whether this machine lets the tests mount a tmpfs (root with CAP_SYS_ADMIN); probed once. */
const canMount = (() => {
  if (!isRoot || process.platform !== "linux") return false;
  const d = mkdtempSync(join(tmpdir(), "tdxpa-mount-probe-"));
  const ok = mountTmpfs(d, "size=4k");
  if (ok) spawnSync("umount", [d]);
  rmSync(d, { recursive: true });
  return ok;
})();

describe.skipIf(!canMount)("file systems that refuse the write", () => {
  it("ENOSPC: a trace into a full file system is exit 2, one line, no file", async () => {
    const mnt = p("full");
    mkdirSync(mnt);
    expect(mountTmpfs(mnt, "size=16k")).toBe(true);
    try {
      const before = snapshot(mnt);
      // The default scenario's trace is megabytes: the first 1 MiB flush fills the 16 KiB file system.
      const r = await runCli(["run", "--trace", join(mnt, "t.jsonl")]);
      expect(r.code).toBe(2);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/run: --trace .*t\.jsonl: cannot write: no space left on device \(ENOSPC\)/);
      expect(snapshot(mnt)).toEqual(before);
    } finally {
      spawnSync("umount", [mnt]);
      rmSync(mnt, { recursive: true });
    }
  });
  it("EROFS: a trace onto a read-only file system is exit 2, one line", async () => {
    const mnt = p("rofs");
    mkdirSync(mnt);
    expect(mountTmpfs(mnt, "ro,size=64k")).toBe(true);
    try {
      const r = await runCli(["run", p("s.yaml"), "--trace", join(mnt, "t.jsonl")]);
      expect(r.code).toBe(2);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/cannot write: read-only file system \(EROFS\)/);
      expect(readdirSync(mnt)).toEqual([]);
    } finally {
      spawnSync("umount", [mnt]);
      rmSync(mnt, { recursive: true });
    }
  });
});
