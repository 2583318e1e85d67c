/**
 * Spans of the host's kAPI functions (the `tdh_*` SEAMCALL wrappers of docs/spec/02-kapi.md 2.3 and the
 * descriptor's destroy of 2.2), for traces: a listener attached to a kernel context hears each function
 * begin and end, so a trace can draw the function around the SEAMCALLs it issued. With no listener a
 * span costs one WeakMap lookup. Host-side only: the module never sees these.
 */
import type { HostKernel } from "./kernel.js";

/** Hears a kAPI function begin and end (kernel names, e.g. `tdh_ext_mem_add`). */
export type KapiListener = (name: string, edge: "begin" | "end") => void;

const LISTENERS = new WeakMap<HostKernel, KapiListener>();

/**
 * Attaches `l` to kernel context `k` (one listener per context; null detaches).
 * @example setKapiListener(m.kernel, (name, edge) => console.log(edge, name));
 */
export function setKapiListener(k: HostKernel, l: KapiListener | null): void {
  if (l === null) LISTENERS.delete(k);
  else LISTENERS.set(k, l);
}

/**
 * Runs `body` as kAPI function `name` of kernel context `k`: the listener hears `begin` before and `end`
 * after (also when `body` throws).
 * @example return kapiSpan(k, "tdh_ext_init", () => retryWithOriginal(k, regs));
 */
export function kapiSpan<T>(k: HostKernel, name: string, body: () => T): T {
  const l = LISTENERS.get(k);
  if (l === undefined) return body();
  l(name, "begin");
  try {
    return body();
  } finally {
    l(name, "end");
  }
}
