/**
 * A zod schema for ExposureEvent (src/core/events.ts declares the shape as a TypeScript interface
 * only). The outbox validates events when they are enqueued and again when a spool file is read
 * back (a spool file is data on disk: it may have been edited or truncated), with bounds on every
 * string so that a spool entry stays small. `satisfies` keeps it in step with the interface: a
 * field added there and missing here fails the type check.
 */
import net from 'node:net';
import { z } from 'zod';
import { EVENT_KINDS, type ExposureEvent } from '../core/events.js';
import { Severity } from '../core/types.js';

const Text = z.string().max(1024);

export const ExposureEventSchema = z.object({
  kind: z.enum(EVENT_KINDS),
  key: z.string().min(1).max(1024),
  at: z.iso.datetime({ offset: true }),
  runId: z.string().max(256).nullable(),
  ip: z.string().refine((s) => net.isIP(s) !== 0, 'not an IP address'),
  port: z.number().int().min(0).max(65535).nullable(),
  protocol: z.string().max(64).nullable(),
  product: Text.nullable(),
  version: z.string().max(256).nullable(),
  deviceType: z.string().max(64).nullable(),
  tags: z.array(z.string().max(128)).max(100),
  country: z.string().max(64).nullable(),
  org: Text.nullable(),
  checkId: z.string().max(256).nullable(),
  severity: Severity.nullable(),
  title: Text.nullable(),
  changes: z
    .record(z.string().max(64), z.tuple([Text.nullable(), Text.nullable()]))
    .refine((r) => Object.keys(r).length <= 32, 'at most 32 changed fields')
    .nullable(),
}) satisfies z.ZodType<ExposureEvent>;
