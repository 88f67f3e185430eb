/**
 * Product identity: the same product is named `Orthanc` by our fingerprints, `Orthanc server` by
 * a CISA CSAF advisory, `DICOM Server` by a CNA, and `orthanc-server:orthanc` by NVD's CPE. The
 * vulnerability index is keyed by the NVD CPE `vendor:product` (lowercase); data/products.json
 * maps the other spellings to it. Names compare with case and punctuation ignored.
 *
 * A product that is not in the table falls back to NVD's naming habit (lowercase, spaces to
 * underscores): `Foo Corp` / `Bar Server` becomes `foo_corp:bar_server`. That guess joins only
 * what NVD happens to spell the same way; the table is what makes a join reliable.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { packageRoot } from '../core/paths.js';
import { type Cpe, hasWildcards, logicalValue } from './cpe.js';
import { VulnDataError } from './errors.js';

const ProductsFile = z.object({
  note: z.string().optional(),
  products: z
    .array(
      z.object({
        cpe: z.string().regex(/^[^:\s]+:[^:\s]+$/),
        verified: z.boolean().optional(),
        names: z.array(z.tuple([z.string().max(128), z.string().max(128)])).max(64),
        source: z.string().max(1024).optional(),
      }),
    )
    .max(10_000),
});

export interface ProductIdentity {
  /** `vendor:product` of the NVD CPE, lowercase. */
  key: string;
  verified: boolean;
}

/** Case and punctuation folded: `Orthanc server` and `orthanc-server` both become `orthancserver`. */
export function foldName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '');
}

function nvdStyle(s: string): string {
  return s.trim().toLowerCase().replace(/\s+/g, '_');
}

export class ProductTable {
  private readonly byNames = new Map<string, ProductIdentity>();
  private readonly byKey = new Map<string, ProductIdentity>();

  constructor(entries: Array<{ cpe: string; verified?: boolean | undefined; names: Array<[string, string]> }>) {
    for (const e of entries) {
      const key = e.cpe.toLowerCase();
      const id: ProductIdentity = { key, verified: e.verified !== false };
      this.byKey.set(key, id);
      const [v, p] = key.split(':') as [string, string];
      this.byNames.set(`${foldName(v)}|${foldName(p)}`, id);
      for (const [vn, pn] of e.names) this.byNames.set(`${foldName(vn)}|${foldName(pn)}`, id);
    }
  }

  /** The index key for a product name alone, when exactly one known product has that name (CLI lookups). */
  keyForProduct(product: string): string | null {
    const want = `|${foldName(product)}`;
    const keys = new Set([...this.byNames.entries()].filter(([k]) => k.endsWith(want)).map(([, id]) => id.key));
    return keys.size === 1 ? [...keys][0]! : null;
  }

  /** The index key for a vendor/product name pair (table first, then NVD-style guess). */
  keyForNames(vendor: string, product: string): string {
    const hit = this.byNames.get(`${foldName(vendor)}|${foldName(product)}`);
    if (hit) return hit.key;
    return `${nvdStyle(vendor)}:${nvdStyle(product)}`;
  }

  /** The index key of a CPE (its own vendor:product, lowercase), or null with wildcards/ANY. */
  keyForCpe(cpe: Cpe): string | null {
    const v = logicalValue(cpe.vendor);
    const p = logicalValue(cpe.product);
    if (v === null || p === null || hasWildcards(cpe.vendor) || hasWildcards(cpe.product)) return null;
    return `${v.toLowerCase()}:${p.toLowerCase()}`;
  }

  identity(key: string): ProductIdentity | undefined {
    return this.byKey.get(key);
  }
}

let builtin: ProductTable | null = null;

/** The table shipped in src/vuln/data/products.json. */
export function builtinProducts(): ProductTable {
  if (builtin) return builtin;
  const file = path.join(packageRoot(), 'src', 'vuln', 'data', 'products.json');
  let obj: unknown;
  try {
    obj = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new VulnDataError(`${file}: cannot read`, { cause: err });
  }
  const parsed = ProductsFile.safeParse(obj);
  if (!parsed.success) throw new VulnDataError(`${file}: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  builtin = new ProductTable(parsed.data.products);
  return builtin;
}
