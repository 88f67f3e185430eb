/**
 * The API server (`medsurface serve`), secure by default (issue 6, docs/api.md):
 * - every route declares who may call it (`config.access`); registering one without is an
 *   error at start, so nothing becomes public by omission;
 * - sessions (HttpOnly, SameSite=Strict, Secure with TLS, stored hashed in the database) or
 *   API tokens; CSRF token on cookie-authenticated writes; bodies only as JSON (no form posts);
 * - zod validates every parameter, query and body (unknown fields refused) and the same
 *   schemas produce the OpenAPI document (/api/docs);
 * - helmet's headers with a strict Content-Security-Policy, `Cache-Control: no-store` on every
 *   answer, bodies capped at 64 KiB, login rate limited;
 * - errors are `{error, message}`: 400 for anything the client got wrong, never a 500.
 *
 * buildServer returns the Fastify instance unstarted: `serve` listens, tests use `inject`.
 */
import fastifyCookie from '@fastify/cookie';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { UsageError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { SearchQueryError } from '../inventory/search/index.js';
import { defaultStopDir } from '../monitor/stop.js';
import { findSession, purgeExpiredSessions, SESSION_COOKIE, SESSION_IDLE_MS, SESSION_TTL_MS } from './auth/sessions.js';
import { findToken } from './auth/tokens.js';
import { parseOrgs, type UserRow } from './auth/users.js';
import { loadContactPage, renderContactPage } from './contact.js';
import type { ServerContext, ZApp } from './context.js';
import { ApiError, forbidden, unauthenticated } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { inventoryRoutes } from './routes/inventory.js';
import { scanRoutes } from './routes/scans.js';
import { DEFAULT_MAX_SCAN_TARGETS, DEFAULT_MAX_SCANS, defaultScanCommand, ScanLauncher } from './scans.js';
import { EventHub } from './sse.js';
import { defaultWebDir, registerStatic } from './static.js';
import { type Access, allowed, type Principal, type Role, type ServerOptions } from './types.js';

/** Largest request body (bulk triage of 1000 ids fits many times over). */
export const BODY_LIMIT_BYTES = 64 * 1024;
export const API_DOCS_PREFIX = '/api/docs';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export const CSRF_HEADER = 'x-csrf-token';

/** The dashboard's policy: nothing inline, nothing from elsewhere, never framed. */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  scriptSrcAttr: ["'none'"],
  upgradeInsecureRequests: null,
};
/** Swagger UI's page needs inline styles and its inline initialiser. */
const DOCS_CSP =
  "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/** Every route of a server as Fastify registered it (method, url, access), for the authorisation matrix test. */
const ROUTES = new WeakMap<object, { method: string; url: string; access: Access }[]>();
export function registeredRoutes(app: ZApp): readonly { method: string; url: string; access: Access }[] {
  return ROUTES.get(app) ?? [];
}

function principalOf(u: UserRow, via: Principal['via'], credentialId: string, csrfToken: string | null): Principal {
  return {
    userId: Number(u.id),
    username: u.username,
    role: u.role as Role,
    canIntrusive: Number(u.can_intrusive) === 1,
    orgs: parseOrgs(u.orgs),
    via,
    credentialId,
    csrfToken,
  };
}

function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

/** A 400's message from zod issues: `body.userState: Invalid option ...` for the first few. */
function validationMessage(err: FastifyError & { validation: { instancePath?: string; message?: string; keyword?: string; params?: Record<string, unknown> }[] }): string {
  const where = (err as { validationContext?: string }).validationContext ?? 'request';
  return err.validation
    .slice(0, 3)
    .map((v) => {
      const p = (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
      const keys = v.keyword === 'unrecognized_keys' && Array.isArray(v.params?.keys) ? ` (unknown field${(v.params.keys as unknown[]).length > 1 ? 's' : ''} ${(v.params.keys as unknown[]).map((k) => JSON.stringify(String(k).slice(0, 40))).join(', ')})` : '';
      return `${where}${p ? `.${p}` : ''}: ${v.message ?? 'invalid'}${keys}`;
    })
    .join('; ');
}

export async function buildServer(options: ServerOptions): Promise<ZApp> {
  const now = options.now ?? (() => new Date());
  const inv = options.inventory;
  const db = inv.db;
  const tls = options.tls === true || options.https !== undefined;
  const webDir = options.webDir === undefined ? defaultWebDir() : options.webDir;
  const contactHtml = options.contactPage ? renderContactPage(loadContactPage(options.contactPage)) : null;

  const app = Fastify({
    logger: options.logger ?? false,
    ...(options.https !== undefined ? { https: { cert: options.https.cert, key: options.https.key, minVersion: 'TLSv1.2' as const } } : {}),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: options.trustProxy === true,
    // Parameters are short (addresses, ids); a longer one is a 404, not work.
    routerOptions: { maxParamLength: 128 },
    // Streams (SSE) end in preClose; idle keep-alive sockets must not hold shutdown either.
    forceCloseConnections: 'idle',
    requestTimeout: 120_000,
  }) as unknown as ZApp;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: a cross-site HTML form (urlencoded, multipart, text/plain) cannot reach a handler.
  app.removeContentTypeParser('text/plain');

  const launcher = new ScanLauncher({
    inv,
    dbLocation: options.dbLocation,
    command: options.scanCommand ?? defaultScanCommand(),
    stateDir: options.stateDir ?? defaultStopDir(),
    maxScans: options.maxScans ?? DEFAULT_MAX_SCANS,
    maxTargets: options.maxScanTargets ?? DEFAULT_MAX_SCAN_TARGETS,
    ...(options.scanScope ? { scope: options.scanScope } : {}),
    exclude: options.scanExclude ?? [],
    excludeFile: options.scanExcludeFile ?? [],
    extraArgs: options.scanExtraArgs ?? [],
    now,
    onError: (err) => app.log.error({ err }, 'scan bookkeeping failed'),
  });
  const hub = new EventHub({
    db,
    launcher,
    pollMs: options.ssePollMs ?? 1000,
    heartbeatMs: options.sseHeartbeatMs ?? 15_000,
    maxClients: options.sseMaxClients ?? 50,
    onError: (err) => app.log.error({ err }, 'event poll failed'),
  });
  const ctx: ServerContext = {
    inv,
    db,
    now,
    launcher,
    hub,
    setup: { token: options.setupToken ?? null },
    opts: {
      stateDir: options.stateDir ?? defaultStopDir(),
      webDir,
      tls,
      sessionTtlMs: options.sessionTtlMs ?? SESSION_TTL_MS,
      sessionIdleMs: options.sessionIdleMs ?? SESSION_IDLE_MS,
      loginRateMax: options.loginRateMax ?? 10,
      argon2MemoryKiB: options.argon2MemoryKiB,
      monitorConfig: options.monitorConfig ?? null,
    },
  };

  // Every route says who may call it; plugin routes (Swagger UI, static files) are public.
  const routes: { method: string; url: string; access: Access }[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (route) => {
    const cfg = (route.config ?? {}) as { access?: Access };
    if (cfg.access === undefined) {
      if (!(route.url.startsWith(API_DOCS_PREFIX) || route.url === '/*' || route.url === '/')) {
        throw new Error(`route ${String(route.method)} ${route.url} declares no access (config.access)`);
      }
      route.config = { ...(route.config ?? {}), access: 'public' } as typeof route.config;
    }
    const access = (route.config as { access: Access }).access;
    for (const m of [route.method].flat()) routes.push({ method: String(m), url: route.url, access });
  });

  app.decorateRequest('principal', null);

  await app.register(fastifyCookie);
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    hsts: tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  });
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_req, c) => new ApiError(429, 'rate-limited', `too many attempts: wait ${c.after} and try again`),
  });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'medsurface API', description: 'Inventory, findings and scans of exposed healthcare systems (docs/api.md)', version: VERSION },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API token mst_...' },
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        },
      },
      security: [{ session: [] }, { bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: API_DOCS_PREFIX, staticCSP: false });

  // Authentication, role and CSRF, before the body is even read.
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const access: Access = req.is404 ? 'public' : (req.routeOptions.config.access ?? 'admin');
    const at = now();
    let p: Principal | null = null;
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer +(\S{1,200})$/i.exec(auth);
      const found = m ? await findToken(db, m[1]!, at) : null;
      if (found !== null) p = principalOf(found.user, 'token', String(found.id), null);
      else if (access !== 'public') throw unauthenticated('invalid, expired or revoked API token');
    } else {
      const cookie = req.cookies[SESSION_COOKIE];
      if (cookie !== undefined && cookie !== '') {
        const s = await findSession(db, cookie, at, ctx.opts.sessionIdleMs);
        if (s !== null) p = principalOf(s.user, 'session', s.idHash, s.csrfToken);
      }
    }
    req.principal = p;
    if (!allowed(p, access)) throw p === null ? unauthenticated() : forbidden(`this needs the ${access} role (you are ${p.role})`);
    if (access !== 'public' && p !== null && p.via === 'session' && !SAFE_METHODS.has(req.method)) {
      const sent = req.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || p.csrfToken === null || !sameToken(sent, p.csrfToken)) {
        throw forbidden(`missing or wrong ${CSRF_HEADER} header (the csrfToken of /api/v1/auth/me)`, 'csrf');
      }
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('cache-control', 'no-store');
    if (req.url === API_DOCS_PREFIX || req.url.startsWith(`${API_DOCS_PREFIX}/`)) reply.header('content-security-policy', DOCS_CSP);
    return payload;
  });

  app.setErrorHandler(async (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) return reply.code(err.statusCode).send({ error: err.code, message: err.message, ...err.extra });
    if (hasZodFastifySchemaValidationErrors(err)) return reply.code(400).send({ error: 'bad-request', message: validationMessage(err as never) });
    if (err instanceof SearchQueryError) {
      return reply.code(400).send({ error: 'bad-query', message: err.message, reason: err.reason, position: err.position, length: err.length });
    }
    if (err instanceof UsageError) return reply.code(400).send({ error: 'bad-request', message: err.message });
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status === 413) return reply.code(413).send({ error: 'too-large', message: `request body larger than ${BODY_LIMIT_BYTES} bytes` });
    if (status === 415) return reply.code(415).send({ error: 'unsupported-media-type', message: 'send the body as application/json' });
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ error: status === 404 ? 'not-found' : 'bad-request', message: err.message.slice(0, 300) });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'the server failed to answer this request (see its log)' });
  });

  app.get('/contact', { schema: { hide: true }, config: { access: 'public' } }, async (_req, reply) => {
    if (contactHtml === null) return reply.code(404).type('text/html; charset=utf-8').send('<!doctype html><title>Not found</title><p>No contact page is configured on this server.</p>');
    return reply.type('text/html; charset=utf-8').send(contactHtml);
  });

  authRoutes(app, ctx);
  inventoryRoutes(app, ctx);
  scanRoutes(app, ctx);
  adminRoutes(app, ctx);
  await registerStatic(app, webDir);

  // The poller also serves cancels written by other instances; it runs while the server does.
  app.addHook('onReady', async () => {
    hub.start();
    await purgeExpiredSessions(db, now());
  });
  app.addHook('preClose', async () => {
    hub.close();
  });
  app.addHook('onClose', async () => {
    await launcher.close();
  });
  return app;
}
