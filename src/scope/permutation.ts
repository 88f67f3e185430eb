/**
 * A keyed pseudo-random permutation of [0, N), N <= 2^32, in constant memory.
 *
 * Why: scanning a block in address order hammers one network at a time (and one hospital's
 * firewall); ZMap walks a cyclic group instead, masscan a keyed "blackrock" Feistel cipher.
 * We follow the latter: a balanced Feistel network over the smallest even bit width w with
 * 2^w >= N (so both halves have w/2 bits), and "cycle walking" (Black & Rogaway, "Ciphers
 * with Arbitrary Finite Domains", CT-RSA 2002, §3) to stay inside [0, N): re-encrypt while
 * the result is >= N. A Feistel network is a bijection whatever its round function, and
 * cycle walking a bijection on a superset yields a bijection on the subset, so every index
 * comes out exactly once. Since 2^w < 4N, a walk takes fewer than four encryptions on average.
 *
 * Position i maps to index at(i); nothing is stored per address, so sharding (positions with
 * i % n === k) and resuming (start at position p) cost nothing.
 */

/** Feistel rounds. Four already give a pseudo-random permutation (Luby-Rackoff); six leave a margin for a cheap round function. */
const ROUNDS = 6;

export const MAX_PERMUTATION_SIZE = 2 ** 32;

const MASK64 = (1n << 64n) - 1n;

/** SplitMix64 step (Steele, Lea, Flood, OOPSLA 2014): expands a seed into round keys. */
function splitmix64(state: bigint): { state: bigint; value: bigint } {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return { state: next, value: z ^ (z >> 31n) };
}

/** Folds a seed of any size and sign into 64 bits (zig-zag, then XOR of 64-bit chunks). */
export function foldSeed(seed: bigint | number): bigint {
  if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
    throw new RangeError(`seed must be an integer, got ${seed}`);
  }
  let v = BigInt(seed);
  v = v < 0n ? -v * 2n - 1n : v * 2n;
  let folded = 0n;
  do {
    folded = splitmix64(folded ^ (v & MASK64)).value;
    v >>= 64n;
  } while (v > 0n);
  return folded;
}

/** MurmurHash3 fmix32 finaliser on a keyed input: the Feistel round function. */
function roundFn(r: number, key: number): number {
  let h = Math.imul(r, 0x9e3779b1) ^ key;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

export class Permutation {
  readonly size: number;
  /** Bits per Feistel half (w / 2). */
  readonly halfBits: number;
  private readonly halfSpan: number;
  private readonly mask: number;
  private readonly keys: Int32Array;

  constructor(size: number, seed: bigint | number) {
    if (!Number.isInteger(size) || size < 1 || size > MAX_PERMUTATION_SIZE) {
      throw new RangeError(`permutation size must be an integer in [1, 2^32], got ${size}`);
    }
    this.size = size;
    let half = 1;
    while (2 ** (2 * half) < size) half++;
    this.halfBits = half;
    this.halfSpan = 2 ** half;
    this.mask = this.halfSpan - 1;
    this.keys = new Int32Array(ROUNDS);
    let state = foldSeed(seed) ^ BigInt(half);
    for (let i = 0; i < ROUNDS; i++) {
      const step = splitmix64(state);
      state = step.state;
      this.keys[i] = Number(step.value & 0xffffffffn) | 0;
    }
  }

  /** One pass of the Feistel network over [0, 2^w). */
  private encrypt(x: number): number {
    const mask = this.mask;
    const keys = this.keys;
    let l = Math.floor(x / this.halfSpan);
    let r = x & mask; /* x < 2^32, so its low 16 bits survive ToInt32 */
    for (let i = 0; i < ROUNDS; i++) {
      const t = l ^ (roundFn(r, keys[i]!) & mask);
      l = r;
      r = t;
    }
    return l * this.halfSpan + r;
  }

  /** The index at `position` in the permuted order: a bijection on [0, size). */
  at(position: number): number {
    if (!Number.isInteger(position) || position < 0 || position >= this.size) {
      throw new RangeError(`position ${position} outside [0, ${this.size})`);
    }
    let x = position;
    do x = this.encrypt(x);
    while (x >= this.size);
    return x;
  }
}
