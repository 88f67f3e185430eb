/**
 * The http probe's observation (the value of `data.http` in the output). Field names are the
 * paths fingerprints match on (`http.server`, `http.title`, `http.realm`, `http.marks`,
 * `http.faviconMmh3` -> favicon.mmh3, `http.orthancVersion` -> orthanc.version, `http.location`).
 *
 * No field holds page content beyond bounded, non-identifying features: the title only of login
 * pages and app shells that pass isSafeTitle (parse.ts), header values the server sends about
 * itself (Server, X-Powered-By, the authentication realm), hashes, and names (marks, header and
 * cookie names). Redirect locations lose their query strings.
 */
import { z } from 'zod';

export const HttpRedirect = z.object({
  status: z.number().int(),
  /** Location without query or fragment, at most 256 characters. */
  location: z.string(),
});

export const HttpFavicon = z.object({
  /** Path fetched (`/favicon.ico`, or the page's `<link rel="icon">`). */
  path: z.string(),
  status: z.number().int(),
  /** Bytes read; hashes are only computed over a complete, non-HTML icon. */
  bytes: z.number().int(),
  truncated: z.boolean(),
  contentType: z.string().nullable(),
  md5: z.string().nullable(),
  /** Shodan `http.favicon.hash`: mmh3 x86 32-bit, signed, of base64 with a newline every 76 characters. */
  mmh3: z.string().nullable(),
});

export const OrthancSystem = z.object({
  /** GET /system answered 401: the REST API requires credentials (AuthenticationEnabled). */
  authRequired: z.boolean(),
  /** HTTP status of GET /system (null when the request failed). */
  status: z.number().int().nullable(),
  version: z.string().nullable(),
  apiVersion: z.number().int().nullable(),
  /** The operator's name for this Orthanc (`Name` in orthanc.json), bounded. */
  name: z.string().nullable(),
});

export const HttpBody = z.object({
  /** SHA-256 of the bytes read (all of the body unless truncated). */
  sha256: z.string(),
  bytes: z.number().int(),
  truncated: z.boolean(),
});

export const HttpObservation = z.object({
  scheme: z.enum(['http', 'https']),
  /** The port's expected scheme failed and the other one answered (TLS on a plain port or the reverse). */
  schemeFallback: z.boolean(),
  status: z.number().int(),
  statusText: z.string(),
  httpVersion: z.string(),
  server: z.string().nullable(),
  poweredBy: z.string().nullable(),
  /** First WWW-Authenticate challenge: scheme and realm (RFC 9110 §11.6.1). */
  authScheme: z.string().nullable(),
  realm: z.string().nullable(),
  contentType: z.string().nullable(),
  /** First redirect's Location (query dropped): what `/` sends a browser to. */
  location: z.string().nullable(),
  redirects: z.array(HttpRedirect),
  /** Why the redirect chain stopped before a final answer (core/http-client RedirectStop). */
  redirectStop: z.enum(['limit', 'loop', 'refused-cross-host', 'refused-scheme', 'refused-scope', 'bad-location']).nullable(),
  /** Path of the final page (query dropped). */
  finalPath: z.string(),
  /** Page title, only for login pages and app shells that pass isSafeTitle, at most 128 characters. */
  title: z.string().nullable(),
  /** A title was present and withheld (possible data view). */
  titleWithheld: z.boolean(),
  /** The page has a password input. */
  loginForm: z.boolean(),
  /** Fingerprint marks (parse.ts extractMarks), space-separated, at most 1024 characters. */
  marks: z.string(),
  headerNames: z.array(z.string()),
  cookieNames: z.array(z.string()),
  body: HttpBody,
  favicon: HttpFavicon.nullable(),
  /** HTTPS only: the server selected h2 when offered h2 and http/1.1 by ALPN (RFC 7301, RFC 9113 §3.2). */
  http2: z.boolean().nullable(),
  alpn: z.string().nullable(),
  /** Orthanc's GET /system, when the service looked like Orthanc. */
  orthanc: OrthancSystem.nullable(),
  /** Optional steps that failed (favicon, /system, ALPN), as "step: status", bounded. */
  errors: z.array(z.string()),
});
export type HttpObservation = z.infer<typeof HttpObservation>;
