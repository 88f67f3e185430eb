#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
import { main } from '../dist/cli/main.js';

// `medsurface ... | head`: a reader that stops early is not an error.
process.stdout.on('error', (err) => {
  if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv).then(
  (code) => { process.exitCode = code ?? 0; },
  (err) => {
    process.stderr.write(`medsurface: ${err?.message ?? err}\n`);
    process.exitCode = 2;
  },
);
