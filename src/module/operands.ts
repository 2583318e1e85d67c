/**
 * How a leaf reads its list operand and root page: the format decoders of src/common with the module's
 * own check of a shared operand page (rule 3, {@link TdxModule.sharedPageProblem}), and the root page's
 * words as the module reads them. Functions of the module, kept out of emulator.ts for its size.
 */
import { decodeHpaArray, decodeHpaListInfo, decodeIommuMt } from "../common/formats.js";
import type { U64 } from "../common/u64.js";
import { hpaToPfn } from "../common/u64.js";
import type { TdxModule } from "./emulator.js";

/** Decodes an HPA_LIST_INFO operand with `mod`'s shared-page check. */
export function decodeListInfoOperand(mod: TdxModule, v: U64): ReturnType<typeof decodeHpaListInfo> {
  return decodeHpaListInfo(v.lo, v.hi, mod.sharedPageProblem);
}

/** Decodes an HPA_ARRAY_T operand with `mod`'s shared-page check. */
export function decodeArrayOperand(mod: TdxModule, v: U64): ReturnType<typeof decodeHpaArray> {
  return decodeHpaArray(v.lo, v.hi, mod.sharedPageProblem);
}

/** Decodes an IOMMU_MT operand with `mod`'s shared-page check. */
export function decodeMtOperand(mod: TdxModule, v: U64): ReturnType<typeof decodeIommuMt> {
  return decodeIommuMt(v.lo, v.hi, mod.sharedPageProblem);
}

/**
 * The root page as the module reads it: 1024 u32 words, a copy. A root no memory decodes reads as all
 * ones (behaviour `unbackedReadsAllOnes`), which then fails entry validation.
 */
export function readRoot(mod: TdxModule, rootHpa: number): Uint32Array {
  return rootWords(mod, rootHpa).slice();
}

/**
 * {@link readRoot} without the copy: the root page's words as memory holds them now, for a leaf that
 * reads the entries it needs at once, with no yield point and no write in between (the same words a
 * copy would hold; a 4 KiB copy per call was about 2 % of `tdxpa compare`). Read it, never write it.
 */
export function rootWords(mod: TdxModule, rootHpa: number): Uint32Array {
  const pfn = hpaToPfn(mod.stripKeyId(rootHpa));
  if (!mod.mem.contains(pfn))
    return new Uint32Array(1024).fill(mod.behaviours.unbackedReadsAllOnes ? 0xffff_ffff : 0);
  return mod.mem.words(pfn);
}
