/**
 * Sink configuration: the `sinks:` section the monitor config embeds (docs/alerts.md), as a zod 4
 * schema, and `parseSinksConfig`, which validates it, resolves `env:NAME` secrets and checks every
 * destination against the caller's guard, so that a bad sink is refused when the config is read,
 * with an error naming the sink and the field, not at 3 a.m. when the first alert is due.
 *
 * Secrets (`secret`, `auth.pass`, header values, `url`) are written literally or as `env:NAME`; the
 * parsed config holds the resolved value, so it must not be printed. Error messages never echo a
 * URL (a Slack webhook URL is itself the secret) nor a secret value.
 */
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { EVENT_KINDS } from '../core/events.js';
import { DeviceType, Severity } from '../core/types.js';

/** A sink configuration is wrong. The message names the sink (by name, or by position) and the field. */
export class SinkConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SinkConfigError';
  }
}

/**
 * The caller's scope check for delivery destinations: throws when (host, port) may not be
 * connected to. Called with the configured host (name or IP) when the config is parsed and when
 * the outbox opens, and with every resolved address right before each connection.
 */
export type SinkGuard = (host: string, port: number) => void;

export const SINK_TYPES = ['webhook', 'slack', 'syslog', 'email', 'jsonl'] as const;
export type SinkType = (typeof SINK_TYPES)[number];

/** Syslog facility names and codes (RFC 5424 §6.2.1, Table 1; names as in syslog.h). */
export const SYSLOG_FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  audit: 13,
  alert: 14,
  clock: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

/** Placeholders of an email subject template. */
export const SUBJECT_FIELDS = ['summary', 'kind', 'severity', 'ip', 'port', 'checkId', 'product', 'deviceType'] as const;
export const DEFAULT_SUBJECT = '[medsurface] {summary}';

/** Per-delivery time budget (connect, request, reply) unless a sink sets `timeoutMs`. */
export const DEFAULT_SINK_TIMEOUT_MS = 10_000;
const MAX_SINK_TIMEOUT_MS = 120_000;
const MAX_SINKS = 64;
const MAX_RECIPIENTS = 50;

const SinkName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a sink name is 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');

/** A secret: the value itself, or `env:NAME` to read it from the environment when the config is parsed. */
const Secret = z.string().min(1, 'must not be empty').max(4096);

const Port = z.number().int().min(1).max(65535);
const TimeoutMs = z.number().int().min(100).max(MAX_SINK_TIMEOUT_MS).default(DEFAULT_SINK_TIMEOUT_MS);

const HttpUrl = z
  .string()
  .max(2048)
  .superRefine((s, ctx) => {
    const why = httpUrlProblem(s);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  });

/** Why `s` is not a usable delivery URL, or null. Never quotes the URL. */
function httpUrlProblem(s: string): string | null {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'not a valid URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `scheme must be http or https, not ${u.protocol.replace(/:$/, '')}`;
  if (u.username || u.password) return 'credentials in the URL are not supported (use a header or the secret)';
  if (!u.hostname) return 'no host';
  return null;
}

export const SinkFilterSchema = z.strictObject({
  /** Events below this severity are not sent; events without a severity (a service with no open finding) neither. */
  minSeverity: Severity.optional(),
  /** Any of these device types (events without a device type do not match). */
  deviceTypes: z.array(DeviceType).min(1).optional(),
  /** Any of these tags (any-of). */
  tags: z.array(z.string().min(1).max(128)).min(1).max(100).optional(),
  kinds: z.array(z.enum(EVENT_KINDS)).min(1).optional(),
  /** Send events of hosts the honeypot predicate flags (default false: skip them). Without a predicate, ignored. */
  includeHoneypots: z.boolean().default(false),
});
export type SinkFilter = z.infer<typeof SinkFilterSchema>;

const base = {
  name: SinkName,
  filter: SinkFilterSchema.default({ includeHoneypots: false }),
};

const HeaderName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'not a valid header name');

export const WebhookSinkSchema = z.strictObject({
  ...base,
  type: z.literal('webhook'),
  url: HttpUrl,
  /** HMAC-SHA256 key of X-Medsurface-Signature; without it, no signature is sent. */
  secret: Secret.optional(),
  /** Extra request headers (e.g. Authorization); values may be `env:NAME`. */
  headers: z.record(HeaderName, Secret).optional(),
  timeoutMs: TimeoutMs,
});

export const SlackSinkSchema = z.strictObject({
  ...base,
  type: z.literal('slack'),
  url: HttpUrl,
  timeoutMs: TimeoutMs,
});

export const SyslogSinkSchema = z.strictObject({
  ...base,
  type: z.literal('syslog'),
  host: z.string().min(1).max(253),
  port: Port.default(514),
  transport: z.enum(['udp', 'tcp']).default('udp'),
  facility: z.enum(Object.keys(SYSLOG_FACILITIES) as [SyslogFacility, ...SyslogFacility[]]).default('user'),
  /** HOSTNAME field of the RFC 5424 header (default: this machine's host name). */
  hostname: z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'printable ASCII without spaces, at most 255 characters')
    .optional(),
  timeoutMs: TimeoutMs,
});

export const EmailSinkSchema = z.strictObject({
  ...base,
  type: z.literal('email'),
  host: z.string().min(1).max(253),
  /** Default 465 when `secure`, else 587. */
  port: Port.optional(),
  /** Implicit TLS from the first byte (SMTPS, port 465). */
  secure: z.boolean().default(false),
  /** Refuse to send unless the server upgrades with STARTTLS. */
  requireTLS: z.boolean().default(false),
  /** Verify the server certificate (default true). */
  tlsVerify: z.boolean().default(true),
  auth: z.strictObject({ user: z.string().min(1).max(256), pass: Secret }).optional(),
  from: z.email(),
  /** One address or a list. */
  to: z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(z.email()).min(1).max(MAX_RECIPIENTS)),
  /** Placeholders: {summary} {kind} {severity} {ip} {port} {checkId} {product} {deviceType}. */
  subject: z
    .string()
    .min(1)
    .max(256)
    .default(DEFAULT_SUBJECT)
    .superRefine((s, ctx) => {
      for (const m of s.matchAll(/\{([^{}]*)\}/g)) {
        if (!(SUBJECT_FIELDS as readonly string[]).includes(m[1]!)) {
          ctx.addIssue({ code: 'custom', message: `unknown placeholder {${m[1]}} (known: ${SUBJECT_FIELDS.map((f) => `{${f}}`).join(' ')})` });
        }
      }
    }),
  timeoutMs: TimeoutMs,
});

export const JsonlSinkSchema = z.strictObject({
  ...base,
  type: z.literal('jsonl'),
  /** Relative paths are resolved against `baseDir` (the config file's folder). */
  path: z.string().min(1).max(4096),
});

/** One sink as written in the config (before secrets are resolved). */
export const RawSinkSchema = z.discriminatedUnion('type', [WebhookSinkSchema, SlackSinkSchema, SyslogSinkSchema, EmailSinkSchema, JsonlSinkSchema]);
/** The `sinks:` section, for embedding in the monitor's config schema. */
export const SinksSectionSchema = z.array(RawSinkSchema).max(MAX_SINKS);

export type WebhookSink = z.infer<typeof WebhookSinkSchema>;
export type SlackSink = z.infer<typeof SlackSinkSchema>;
export type SyslogSink = z.infer<typeof SyslogSinkSchema>;
export type EmailSink = z.infer<typeof EmailSinkSchema>;
export type JsonlSink = z.infer<typeof JsonlSinkSchema>;
/** A parsed sink: secrets resolved, jsonl paths absolute. */
export type SinkConfig = z.infer<typeof RawSinkSchema>;

export interface ParseSinksOptions {
  /** Checked against every configured destination (see SinkGuard). */
  guard?: SinkGuard;
  /** Where `env:NAME` secrets are read (default process.env). */
  env?: Record<string, string | undefined>;
  /** Folder that relative jsonl paths are resolved against (default the working directory). */
  baseDir?: string;
}

/** Where a sink connects to: [host, port] as configured (host a name or an IP literal, without brackets). */
export function destinationOf(sink: SinkConfig): { host: string; port: number } | null {
  switch (sink.type) {
    case 'webhook':
    case 'slack': {
      const u = new URL(sink.url);
      const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
      return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
    }
    case 'syslog':
      return { host: sink.host, port: sink.port };
    case 'email':
      return { host: sink.host, port: emailPort(sink) };
    case 'jsonl':
      return null;
  }
}

export function emailPort(sink: EmailSink): number {
  return sink.port ?? (sink.secure ? 465 : 587);
}

function labelOf(item: unknown, index: number): string {
  const name = (item as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name.length > 0 && name.length <= 64 ? `sink "${name.replace(/[^\x20-\x7e]/g, '?')}"` : `sink #${index + 1}`;
}

function fieldOf(p: readonly PropertyKey[]): string {
  return p.length === 0 ? '' : `${p.map(String).join('.')}: `;
}

/** Resolves `env:NAME` against `env`; a literal is returned as is. */
function resolveSecret(value: string, env: Record<string, string | undefined>, fail: (why: string) => never): string {
  if (!value.startsWith('env:')) return value;
  const name = value.slice(4);
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name)) fail(`"env:${name.slice(0, 64)}" is not a valid environment variable reference`);
  const v = env[name];
  if (v === undefined || v === '') fail(`environment variable ${name} is not set`);
  return v;
}

function checkGuard(sink: SinkConfig, guard: SinkGuard, label: string): void {
  const dest = destinationOf(sink);
  if (!dest) return;
  const field = sink.type === 'webhook' || sink.type === 'slack' ? 'url' : 'host';
  try {
    guard(dest.host, dest.port);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new SinkConfigError(`${label}: ${field}: destination ${formatHostPort(dest.host, dest.port)} is out of scope: ${why}`, { cause: err });
  }
}

export function formatHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Checks every sink's destination against the guard (also done by parseSinksConfig when given a guard). */
export function assertSinksInScope(sinks: readonly SinkConfig[], guard: SinkGuard): void {
  for (const s of sinks) checkGuard(s, guard, `sink "${s.name}"`);
}

/**
 * Validates the `sinks:` section (an array, or an object with a `sinks` array), resolves secrets,
 * makes jsonl paths absolute and checks destinations against `opts.guard`. Throws SinkConfigError.
 */
export function parseSinksConfig(raw: unknown, opts: ParseSinksOptions = {}): SinkConfig[] {
  const list = Array.isArray(raw) ? raw : (raw as { sinks?: unknown } | null)?.sinks;
  if (!Array.isArray(list)) throw new SinkConfigError('sinks: expected a list of sinks');
  if (list.length > MAX_SINKS) throw new SinkConfigError(`sinks: at most ${MAX_SINKS} sinks`);
  const env = opts.env ?? process.env;
  const baseDir = opts.baseDir ?? process.cwd();
  const names = new Map<string, string>();
  const out: SinkConfig[] = [];
  list.forEach((item, i) => {
    const label = labelOf(item, i);
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new SinkConfigError(`${label}: expected a mapping (name, type, ...)`);
    const type = (item as { type?: unknown }).type;
    if (typeof type !== 'string' || !(SINK_TYPES as readonly string[]).includes(type)) {
      const got = typeof type === 'string' ? `unknown sink type "${type.slice(0, 32).replace(/[^\x20-\x7e]/g, '?')}"` : 'missing';
      throw new SinkConfigError(`${label}: type: ${got} (expected one of ${SINK_TYPES.join(', ')})`);
    }
    // A webhook URL can be the credential itself (Slack's is): it may come from the environment too.
    const rawUrl = (item as { url?: unknown }).url;
    const input =
      typeof rawUrl === 'string' && rawUrl.startsWith('env:')
        ? {
            ...item,
            url: resolveSecret(rawUrl, env, (why) => {
              throw new SinkConfigError(`${label}: url: ${why}`);
            }),
          }
        : item;
    const parsed = RawSinkSchema.safeParse(input);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((iss) => `${label}: ${fieldOf(iss.path)}${iss.message}`);
      throw new SinkConfigError(issues.join('\n'), { cause: parsed.error });
    }
    const sink = parsed.data;
    const key = sink.name.toLowerCase();
    if (names.has(key)) throw new SinkConfigError(`${label}: name: used twice (sink names are unique, case-insensitively)`);
    names.set(key, sink.name);
    const fail =
      (field: string) =>
      (why: string): never => {
        throw new SinkConfigError(`${label}: ${field}: ${why}`);
      };
    switch (sink.type) {
      case 'webhook':
        if (sink.secret !== undefined) sink.secret = resolveSecret(sink.secret, env, fail('secret'));
        if (sink.headers) {
          for (const [h, v] of Object.entries(sink.headers)) {
            const value = resolveSecret(v, env, fail(`headers.${h}`));
            if (/[\r\n\0]/.test(value)) fail(`headers.${h}`)('value contains a line break or NUL');
            sink.headers[h] = value;
          }
        }
        break;
      case 'email':
        if (sink.auth) sink.auth.pass = resolveSecret(sink.auth.pass, env, fail('auth.pass'));
        break;
      case 'jsonl':
        sink.path = path.resolve(baseDir, sink.path);
        break;
      default:
        break;
    }
    if (opts.guard) checkGuard(sink, opts.guard, label);
    out.push(sink);
  });
  return out;
}
