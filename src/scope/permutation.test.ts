import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Permutation, foldSeed } from './permutation.js';

describe('Permutation', () => {
  test('is a bijection on [0, N) for random sizes and seeds (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.bigInt({ min: -(1n << 80n), max: 1n << 80n }), (n, seed) => {
        const p = new Permutation(n, seed);
        const seen = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
          const x = p.at(i);
          assert.ok(Number.isInteger(x) && x >= 0 && x < n, `at(${i}) = ${x} outside [0, ${n})`);
          assert.equal(seen[x], 0, `index ${x} produced twice`);
          seen[x] = 1;
        }
      }),
      { numRuns: 150 },
    );
  });

  test('uses the smallest even bit width that covers N', () => {
    assert.equal(new Permutation(1, 0).halfBits, 1);
    assert.equal(new Permutation(4, 0).halfBits, 1);
    assert.equal(new Permutation(5, 0).halfBits, 2);
    assert.equal(new Permutation(65536, 0).halfBits, 8);
    assert.equal(new Permutation(65537, 0).halfBits, 9);
    assert.equal(new Permutation(2 ** 24, 0).halfBits, 12);
    assert.equal(new Permutation(2 ** 32, 0).halfBits, 16);
  });

  test('is deterministic for a seed and differs between seeds', () => {
    const order = (seed: bigint | number) => Array.from({ length: 1000 }, (_, i) => new Permutation(1000, seed).at(i));
    assert.deepEqual(order(12345n), order(12345n));
    assert.deepEqual(order(12345), order(12345n));
    assert.notDeepEqual(order(12345n), order(12346n));
    assert.notDeepEqual(order(0), order(-1));
    assert.notEqual(foldSeed(1n << 64n), foldSeed(0n));
  });

  test('scatters neighbours: consecutive positions rarely land on consecutive indexes', () => {
    const n = 65536;
    const p = new Permutation(n, 0xfeedn);
    let adjacent = 0;
    let fixed = 0;
    let prev = p.at(0);
    /* Mean of the first thousand outputs should sit near the middle of the range. */
    let sum = prev;
    for (let i = 1; i < n; i++) {
      const x = p.at(i);
      if (Math.abs(x - prev) === 1) adjacent++;
      if (x === i) fixed++;
      if (i < 1000) sum += x;
      prev = x;
    }
    /* A random permutation has ~2 adjacent steps and ~1 fixed point on average. */
    assert.ok(adjacent < 50, `${adjacent} adjacent steps`);
    assert.ok(fixed < 50, `${fixed} fixed points`);
    const mean = sum / 1000;
    assert.ok(mean > n * 0.4 && mean < n * 0.6, `mean of first 1000 outputs ${mean}`);
  });

  test('handles the full 2^32 domain at random positions', () => {
    const p = new Permutation(2 ** 32, 99n);
    const seen = new Set<number>();
    for (const pos of [0, 1, 2 ** 31, 2 ** 32 - 1, 123456789, 4000000000]) {
      const x = p.at(pos);
      assert.ok(Number.isInteger(x) && x >= 0 && x < 2 ** 32, `at(${pos}) = ${x}`);
      seen.add(x);
    }
    assert.equal(seen.size, 6);
  });

  test('refuses sizes and positions out of range', () => {
    assert.throws(() => new Permutation(0, 1), RangeError);
    assert.throws(() => new Permutation(2 ** 32 + 1, 1), RangeError);
    assert.throws(() => new Permutation(1.5, 1), RangeError);
    assert.throws(() => new Permutation(10, 1.5), RangeError);
    const p = new Permutation(10, 1);
    assert.throws(() => p.at(10), RangeError);
    assert.throws(() => p.at(-1), RangeError);
  });
});
