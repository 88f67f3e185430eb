import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread on a module that sits beside `from` (an `import.meta.url`): the
 * compiled `.js` as is, or the `.ts` source through tsx when running from source (tests).
 */
export function moduleWorker(from: string, name: string, workerData: unknown): Worker {
  if (from.endsWith('.ts')) {
    const entry = new URL(`./${name}.ts`, from).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(boot, { eval: true, workerData });
  }
  return new Worker(new URL(`./${name}.js`, from), { workerData });
}
