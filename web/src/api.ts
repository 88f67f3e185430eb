/**
 * The one way the dashboard talks to the API: same-origin fetch with the session cookie, JSON
 * in and out, `X-CSRF-Token` on every write (docs/api.md "Authentication"), and every error
 * turned into an ApiError carrying the server's `{error, message}` so a page can show it.
 */
import type { ApiErrorBody } from './types';

export const API = '/api/v1';

/** How long one request may take before the dashboard gives up and says so. */
const REQUEST_TIMEOUT_MS = 30_000;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when a request answers 401 (the session ended or expired). */
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  return typeof v === 'object' && v !== null && typeof (v as ApiErrorBody).message === 'string';
}

/** A query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | boolean | null | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Do not call the 401 handler (the login page itself, the first /auth/me). */
  quiet401?: boolean;
}

export async function request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(`${API}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    if (timeout.aborted) throw new ApiError(0, 'timeout', `The server did not answer within ${REQUEST_TIMEOUT_MS / 1000} seconds.`);
    throw new ApiError(0, 'network', 'The server could not be reached. Check that medsurface serve is running.');
  }
  const text = await res.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      if (res.ok) throw new ApiError(res.status, 'bad-response', `The server sent something other than JSON for ${path}.`);
    }
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.quiet401) onUnauthorized?.();
    if (isErrorBody(parsed)) throw new ApiError(res.status, parsed.error ?? `http-${res.status}`, parsed.message);
    throw new ApiError(res.status, `http-${res.status}`, `The server answered ${res.status} ${res.statusText || ''}`.trim() + '.');
  }
  return parsed as T;
}

export const get = <T>(path: string, opts?: RequestOptions): Promise<T> => request<T>('GET', path, undefined, opts);
export const post = <T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> => request<T>('POST', path, body ?? {}, opts);
export const patch = <T>(path: string, body: unknown, opts?: RequestOptions): Promise<T> => request<T>('PATCH', path, body, opts);

/** A message for anything a request may throw. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.status > 0 ? `${err.message} (${err.status} ${err.code})` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
