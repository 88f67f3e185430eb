/**
 * The dashboard: the built single-page application (dist/web, `--web-dir`) served as static
 * files, with index.html for every other GET outside /api (client-side routes such as
 * /assets/127.0.0.1 or /setup), and a short page saying how to build it when it is missing.
 * Unknown /api paths answer a JSON 404.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { packageRoot } from '../core/paths.js';
import type { ZApp } from './context.js';

export const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>medsurface</title></head>
<body>
<main>
<h1>medsurface</h1>
<p>The dashboard is not built. Build it with <code>npm run build</code> (or give its folder with <code>--web-dir</code>) and restart <code>medsurface serve</code>.</p>
<p>The REST API answers under <a href="/api/v1/health">/api/v1</a>; its documentation is at <a href="/api/docs">/api/docs</a>.</p>
<p>To create the first admin without the dashboard, use the token <code>medsurface serve</code> printed:
<code>curl -X POST -H 'content-type: application/json' -d '{"token":"TOKEN","username":"admin","password":"..."}' http://HOST:PORT/api/v1/auth/setup</code>,
or stop the server and run <code>medsurface users add NAME --role admin</code>.</p>
</main>
</body>
</html>
`;

/** `<package>/dist/web` when it holds an index.html, else null. */
export function defaultWebDir(): string | null {
  const dir = path.join(packageRoot(), 'dist', 'web');
  return existsSync(path.join(dir, 'index.html')) ? dir : null;
}

export async function registerStatic(app: ZApp, webDir: string | null): Promise<void> {
  if (webDir !== null) {
    await app.register(fastifyStatic, {
      root: path.resolve(webDir),
      prefix: '/',
      wildcard: true,
      index: ['index.html'],
      dotfiles: 'deny',
      // Every response is no-store (app.ts); no caching headers of its own.
      cacheControl: false,
      etag: false,
      lastModified: false,
    });
  }
  app.setNotFoundHandler(async (req: FastifyRequest, reply: FastifyReply) => {
    const p = req.url.split('?')[0] ?? '';
    const api = p === '/api' || p.startsWith('/api/');
    if (!api && (req.method === 'GET' || req.method === 'HEAD')) {
      if (webDir !== null && existsSync(path.join(webDir, 'index.html'))) return reply.type('text/html; charset=utf-8').sendFile('index.html');
      return reply.type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
    }
    return reply.code(404).send({ error: 'not-found', message: `no route ${req.method} ${p.slice(0, 200)}` });
  });
}
