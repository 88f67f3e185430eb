/** Types for murmurhash3js-revisited 3.0 (the package ships none): MurmurHash3 over bytes, seed 0 by default. */
declare module 'murmurhash3js-revisited' {
  interface Variant {
    /** Unsigned 32-bit hash. */
    hash32(bytes: Uint8Array | readonly number[], seed?: number): number;
    hash128(bytes: Uint8Array | readonly number[], seed?: number): string;
  }
  const murmur: { x86: Variant; x64: Variant };
  export default murmur;
}
