/**
 * `medsurface disclose import-rdap FILE.json`: RDAP answers saved earlier (or a bulk export)
 * into the abuse-contact cache, so `prepare` finds contacts offline. The file is read with a size
 * cap and parsed whole before anything is stored (rdap.ts); re-importing a network replaces it.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { messageOf } from '../core/errors.js';
import { DisclosureError } from './errors.js';
import { RDAP_LIMITS, parseRdapDocument } from './rdap.js';
import { storeNetworks } from './rdap-client.js';
import type { DisclosureDb } from './tables.js';

export async function importRdapFile(db: DisclosureDb, file: string, now: () => string = () => new Date().toISOString()): Promise<{ networks: number; withAbuse: number }> {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new DisclosureError(`${file}: not a file (RDAP JSON expected)`, { file });
    if (st.size > RDAP_LIMITS.fileBytes) throw new DisclosureError(`${file}: larger than ${RDAP_LIMITS.fileBytes} bytes`, { file });
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof DisclosureError) throw err;
    const reason = (err as { code?: string }).code === 'ENOENT' ? 'file not found' : `cannot read it: ${messageOf(err)}`;
    throw new DisclosureError(`${file}: ${reason} (RDAP JSON)`, { cause: err, file });
  }
  const networks = parseRdapDocument(text, file);
  await storeNetworks(db, networks, `import:${path.basename(file)}`, now());
  return { networks: networks.length, withAbuse: networks.filter((n) => n.abuseEmails.length > 0).length };
}
