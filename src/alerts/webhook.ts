/**
 * The webhook sink: one JSON POST per event, signed like Stripe and GitHub sign theirs, so that
 * a receiver can check the sender and refuse replays (docs/alerts.md "Verifying the signature").
 *
 * Body: {"schema":1,"id":<delivery id>,"sink":<name>,"summary":<text>,"event":<ExposureEvent>}.
 * Headers: X-Medsurface-Timestamp: <unix seconds>, X-Medsurface-Signature: sha256=<hex of
 * HMAC-SHA256(secret, timestamp + "." + raw body)> (only when the sink has a secret),
 * X-Medsurface-Delivery: <id> (the same on every retry: receivers de-duplicate on it),
 * X-Medsurface-Event: <kind>.
 */
import { createHmac } from 'node:crypto';
import type { ExposureEvent } from '../core/events.js';
import type { WebhookSink } from './config.js';
import { postJson } from './http-post.js';
import { summarize } from './message.js';
import type { DeliveryContext } from './transport.js';

/** The signature header value: "sha256=" + hex(HMAC-SHA256(secret, `${timestamp}.${body}`)). */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

export function webhookBody(sinkName: string, deliveryId: string, event: ExposureEvent): string {
  return JSON.stringify({ schema: 1, id: deliveryId, sink: sinkName, summary: summarize(event), event });
}

export async function deliverWebhook(sink: WebhookSink, deliveryId: string, event: ExposureEvent, ctx: DeliveryContext): Promise<void> {
  const body = webhookBody(sink.name, deliveryId, event);
  const timestamp = String(Math.floor(ctx.now() / 1000));
  const headers: Record<string, string> = {
    ...(sink.headers ?? {}),
    'x-medsurface-timestamp': timestamp,
    'x-medsurface-delivery': deliveryId,
    'x-medsurface-event': event.kind,
  };
  if (sink.secret !== undefined) headers['x-medsurface-signature'] = webhookSignature(sink.secret, timestamp, body);
  await postJson(sink.url, body, headers, sink.timeoutMs, ctx);
}
