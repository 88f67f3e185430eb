/** Sends one event to one sink, whatever its type: the single entry point the outbox calls. */
import type { ExposureEvent } from '../core/events.js';
import type { SinkConfig } from './config.js';
import { deliverEmail } from './email.js';
import { deliverJsonl } from './jsonl.js';
import { deliverSlack } from './slack.js';
import { deliverSyslog } from './syslog.js';
import type { DeliveryContext } from './transport.js';
import { deliverWebhook } from './webhook.js';

/** Resolves when the sink has taken the event; throws a DeliveryError (or another Error) otherwise. */
export function deliver(sink: SinkConfig, deliveryId: string, event: ExposureEvent, ctx: DeliveryContext): Promise<void> {
  switch (sink.type) {
    case 'webhook':
      return deliverWebhook(sink, deliveryId, event, ctx);
    case 'slack':
      return deliverSlack(sink, event, ctx);
    case 'syslog':
      return deliverSyslog(sink, event, ctx);
    case 'email':
      return deliverEmail(sink, deliveryId, event, ctx);
    case 'jsonl':
      return deliverJsonl(sink, event);
  }
}
