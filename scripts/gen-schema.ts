/** Writes schema/service-record.schema.json from the zod schema (src/output/schema.ts). */
import { writeFileSync } from 'node:fs';
import { outputJsonSchema } from '../src/output/schema.js';

const file = new URL('../schema/service-record.schema.json', import.meta.url);
writeFileSync(file, `${JSON.stringify(outputJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${file.pathname}\n`);
