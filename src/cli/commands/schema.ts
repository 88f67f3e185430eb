import type { Command } from 'commander';
import { outputJsonSchema } from '../../output/schema.js';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of one output line (generated from the zod schema)')
    .action(() => {
      process.stdout.write(`${JSON.stringify(outputJsonSchema(), null, 2)}\n`);
    });
}
