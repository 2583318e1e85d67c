import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { childCpuSeconds, NPM_TEST_WITH_CPU } from "../../bench/cli.js";

// The npm-test row's CPU figure (bench/cli.ts): the waiting shell's children's user + system time. Its
// parsing and the shell line's wiring, with a child that burns a known minimum of CPU (no test asserts
// a time; the bound below is a floor that any machine's CPU accounting must reach).
describe("bench npm test CPU of the process tree", () => {
  it("parses the ticks line and refuses anything else", () => {
    expect(childCpuSeconds("tests...\nbench-cpu-ticks 250 30 100\n")).toBeCloseTo(2.8, 12);
    expect(childCpuSeconds("bench-cpu-ticks 250 30 0")).toBeNull();
    expect(childCpuSeconds("bench-cpu-ticks  100")).toBeNull(); // no /proc: empty fields
    expect(childCpuSeconds("no line at all")).toBeNull();
  });

  it.runIf(process.platform === "linux")("counts a grandchild's CPU and keeps its exit status", () => {
    // The shell line with `npx vitest run` replaced by a node process that spins for 0.3 s of CPU time
    // (process.cpuUsage), under an extra shell, then exits 3.
    const spin = 'node -e "const t=process.cpuUsage();while((process.cpuUsage(t).user)<3e5);process.exit(3)"';
    const line = NPM_TEST_WITH_CPU.replace("npx vitest run", `sh -c '${spin.replace(/'/g, "")}'`);
    expect(line).not.toBe(NPM_TEST_WITH_CPU);
    const r = spawnSync("sh", ["-c", line], { encoding: "utf8" });
    expect(r.status).toBe(3);
    const cpu = childCpuSeconds(r.stdout);
    expect(cpu).not.toBeNull();
    expect(cpu!).toBeGreaterThanOrEqual(0.29);
  });
});
