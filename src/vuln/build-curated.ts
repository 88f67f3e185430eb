/**
 * Rebuilds src/vuln/data/curated.json from the copies under src/vuln/fixtures/:
 *   node --import tsx src/vuln/build-curated.ts
 */
import { writeFileSync } from 'node:fs';
import { buildCurated, curatedPath } from './curated.js';

const file = curatedPath();
const curated = await buildCurated();
writeFileSync(file, `${JSON.stringify(curated, null, 1)}\n`);
console.log(`${file}: ${curated.records.length} records, ${curated.csaf.length} CSAF advisories`);
