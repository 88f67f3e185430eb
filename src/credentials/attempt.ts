/**
 * Default and weak credential attempts (intrusive profile only, DESIGN.md "Device safety"):
 * for a service identified as a product that defaults.yaml lists, its documented default
 * accounts, then the short weak list, with the product's own login method, until one is
 * accepted, the list ends, the host's attempt budget is spent, or the service shows a sign of
 * a lockout (then nothing more is tried on that host in this run).
 *
 * What the service is told: an honest User-Agent (core/http-client), one request per attempt,
 * a pause between attempts (`delayMs`, on top of the host pacing). What is kept: the entry and
 * account names, counts and the stop reason, never a password and nothing the service returned
 * beyond the status line (a successful login's page is read to match `success`, then dropped).
 * Imaging modalities and bedside devices (host.fragile) are never tried.
 */
import path from 'node:path';
import { messageOf } from '../core/errors.js';
import { type HttpResponse, httpRequest } from '../core/http-client.js';
import { packageRoot } from '../core/paths.js';
import type { ProbeContext } from '../core/probe.js';
import { readYamlFile } from '../core/yaml-file.js';
import { sleep } from '../engine/rate-limiter.js';
import { type Account, type CredentialMethod, CredentialsFile, type CredentialsObservation, type SuccessCondition } from './schema.js';

export class CredentialsDbError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CredentialsDbError';
  }
}

/** Shipped: package.json "files" has src/credentials/defaults.yaml. */
export const DEFAULT_CREDENTIALS_FILE = path.join(packageRoot(), 'src', 'credentials', 'defaults.yaml');

/** Defaults of the attempt policy (`--credential-budget`, `--credential-delay`). */
export const CREDENTIAL_DEFAULTS = { budget: 6, delayMs: 1000 } as const;

const cache = new Map<string, CredentialsFile>();

export function loadCredentials(file: string = DEFAULT_CREDENTIALS_FILE): CredentialsFile {
  const hit = cache.get(file);
  if (hit) return hit;
  const raw = readYamlFile(file, 256 * 1024, (m, cause) => new CredentialsDbError(m, cause === undefined ? undefined : { cause }));
  const parsed = CredentialsFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CredentialsDbError(`${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  for (const p of parsed.data.products) {
    for (const c of conditions(p.method)) {
      for (const re of [c.bodyRegex, c.locationRegex]) {
        if (re === undefined) continue;
        try {
          new RegExp(re);
        } catch (err) {
          throw new CredentialsDbError(`${file}: ${p.id}: bad regex ${re}`, { cause: err });
        }
      }
    }
  }
  cache.set(file, parsed.data);
  return parsed.data;
}

export type ProductEntry = CredentialsFile['products'][number];

/** The entry for a product name as the fingerprints give it, or null. */
export function entryFor(product: string | undefined, db: CredentialsFile): ProductEntry | null {
  if (!product) return null;
  const p = product.toLowerCase();
  return db.products.find((e) => e.products.some((n) => n.toLowerCase() === p)) ?? null;
}

function conditions(m: CredentialMethod): SuccessCondition[] {
  return Array.isArray(m.success) ? m.success : [m.success];
}

/** Bytes of an answer read to decide success; the rest is never read. */
const ANSWER_BYTES = 16 * 1024;

function succeeded(m: CredentialMethod, r: HttpResponse): boolean {
  const body = r.body.toString('latin1');
  return conditions(m).some((c) => {
    const statuses = Array.isArray(c.status) ? c.status : [c.status];
    if (!statuses.includes(r.status)) return false;
    if (c.bodyRegex !== undefined && !new RegExp(c.bodyRegex).test(body)) return false;
    if (c.locationRegex !== undefined && !new RegExp(c.locationRegex).test(r.headers.location ?? '')) return false;
    return true;
  });
}

const LOCKOUT_BODY = /(account|user)[^.\n]{0,40}\b(locked|disabled|blocked|suspended)\b|too many (failed |unsuccessful )?(login |logon |sign-in )?attempts|temporarily (locked|blocked)|captcha/i;

/** A sign that the service counts failures against the account or the caller: stop at once. */
export function lockoutSignal(r: HttpResponse): string | null {
  if (r.status === 429 || r.status === 423) return `status ${r.status}`;
  if (r.headers['retry-after'] !== undefined) return 'Retry-After header';
  const m = LOCKOUT_BODY.exec(r.body.toString('latin1').slice(0, ANSWER_BYTES));
  return m ? `body: ${m[0].toLowerCase().slice(0, 60)}` : null;
}

function request(ctx: ProbeContext, m: CredentialMethod, account: Account | null): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...(m.headers ?? {}) };
  if (m.kind === 'http-basic') {
    if (account) headers.authorization = `Basic ${Buffer.from(`${account.user}:${account.password}`, 'utf8').toString('base64')}`;
    return httpRequest(ctx, { path: m.path, headers, maxBodyBytes: ANSWER_BYTES, followRedirects: 0 });
  }
  const a = account ?? { user: '', password: '' };
  const body = m.body.replace('{user}', encodeURIComponent(a.user)).replace('{password}', encodeURIComponent(a.password));
  headers['content-type'] = 'application/x-www-form-urlencoded';
  return httpRequest(ctx, { method: 'POST', path: m.path, headers, body, maxBodyBytes: ANSWER_BYTES, followRedirects: 0 });
}

export interface AttemptOptions {
  /** Pause between two attempts on the same service, ms. */
  delayMs: number;
  /** Also try the weak list after the product's defaults. */
  weak: boolean;
}

/** Remaining credential attempts of a host in this run (shared by all its services). */
export interface CredentialBudget {
  credentialBudget: number;
  fragile: boolean;
}

export async function tryCredentials(
  ctx: ProbeContext,
  entry: ProductEntry,
  db: CredentialsFile,
  budget: CredentialBudget,
  opts: AttemptOptions,
): Promise<CredentialsObservation> {
  const m = entry.method;
  const obs: CredentialsObservation = {
    entry: entry.id,
    method: m.kind,
    path: m.path.replace(/[?#].*$/s, ''),
    attempts: 0,
    accepted: null,
    stoppedBy: 'exhausted',
    lockoutSignal: null,
    errors: [],
  };
  if (budget.fragile) return { ...obs, stoppedBy: 'fragile' };
  try {
    // An HTTP Basic path that answers without credentials has nothing to guess.
    if (m.kind === 'http-basic' && succeeded(m, await request(ctx, m, null))) return { ...obs, stoppedBy: 'open' };
  } catch (err) {
    return { ...obs, stoppedBy: 'error', errors: [messageOf(err)] };
  }
  const seen = new Set<string>();
  const list: { account: Account; kind: 'default' | 'weak' }[] = [];
  for (const [accounts, kind] of [
    [entry.accounts, 'default'],
    [opts.weak ? db.weak : [], 'weak'],
  ] as const) {
    for (const account of accounts) {
      const key = `${account.user}\u0000${account.password}`;
      if (seen.has(key)) continue;
      seen.add(key);
      list.push({ account, kind });
    }
  }
  for (const { account, kind } of list) {
    if (ctx.signal.aborted) return { ...obs, stoppedBy: 'error', errors: [...obs.errors, 'scan interrupted'] };
    if (budget.credentialBudget <= 0) return { ...obs, stoppedBy: 'budget' };
    if (obs.attempts > 0 && opts.delayMs > 0) await sleep(opts.delayMs, ctx.signal);
    budget.credentialBudget -= 1;
    obs.attempts += 1;
    let r: HttpResponse;
    try {
      r = await request(ctx, m, account);
    } catch (err) {
      return { ...obs, stoppedBy: 'error', errors: [...obs.errors, messageOf(err)] };
    }
    if (succeeded(m, r)) return { ...obs, stoppedBy: 'accepted', accepted: { id: account.id, user: account.user, kind } };
    const lock = lockoutSignal(r);
    if (lock) {
      budget.credentialBudget = 0;
      return { ...obs, stoppedBy: 'lockout', lockoutSignal: lock };
    }
  }
  return obs;
}
