/**
 * Alert delivery (issue 5 "Alert sinks"): exposure events (src/core/events.ts) out to webhooks,
 * Slack-compatible chat, syslog/CEF, email and JSON-lines files, through an outbox that never
 * loses an alert and alerts once per exposure state. Reference: docs/alerts.md.
 *
 * Use:
 * ```ts
 * const sinks = parseSinksConfig(config.sinks, { guard, baseDir });   // SinkConfigError on bad config
 * const outbox = await AlertOutbox.open(spoolDir, sinks, { guard });    // e.g. next to the inventory
 * await outbox.enqueue(events, { sinks: job.alerts });  // after each run: { queued, deduped, filtered }
 * await outbox.flush();           // periodically: { delivered, failed, pending, dead, movedToDead }
 * await outbox.list();            // pending, dead and unreadable deliveries, for operators
 * await outbox.requeueDead();     // after a receiver is fixed
 * await outbox.close();
 * ```
 * `guard(host, port)` throws when a destination is out of scope; it is checked when the config is
 * parsed, when the outbox opens, and with the resolved address before every connection.
 */
export {
  parseSinksConfig,
  SinkConfigError,
  SinksSectionSchema,
  RawSinkSchema,
  SinkFilterSchema,
  SINK_TYPES,
  SYSLOG_FACILITIES,
  DEFAULT_SUBJECT,
  DEFAULT_SINK_TIMEOUT_MS,
} from './config.js';
export type {
  SinkConfig,
  SinkFilter,
  SinkGuard,
  SinkType,
  ParseSinksOptions,
  WebhookSink,
  SlackSink,
  SyslogSink,
  EmailSink,
  JsonlSink,
} from './config.js';
export { AlertOutbox, AlertInputError, DEFAULT_RETRY, deliveryId } from './outbox.js';
export type { OutboxOptions, EnqueueOptions, EnqueueResult, FlushCounts, OutboxItem, RetryPolicy } from './outbox.js';
export { OutboxError, OutboxLockedError } from './spool.js';
export { DEFAULT_DEDUP_HORIZON_MS, DEFAULT_DEDUP_MAX_KEYS } from './dedup.js';
export { eventMatches } from './filter.js';
export type { HoneypotPredicate } from './filter.js';
export { summarize } from './message.js';
export { webhookSignature } from './webhook.js';
export { DeliveryError } from './transport.js';
