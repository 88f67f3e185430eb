/**
 * The jsonl sink: appends each event as one JSON line to a file (mode 0600 when created) and
 * fsyncs it before the delivery counts as done, so an event the outbox has let go of is on disk.
 * After a crash between the append and the outbox's bookkeeping, the line may appear twice
 * (at-least-once, like every sink): readers de-duplicate on the event's `key`.
 */
import { open } from 'node:fs/promises';
import type { ExposureEvent } from '../core/events.js';
import type { JsonlSink } from './config.js';
import { DeliveryError, errorText } from './transport.js';

export async function deliverJsonl(sink: JsonlSink, event: ExposureEvent): Promise<void> {
  const line = `${JSON.stringify(event)}\n`;
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(sink.path, 'a', 0o600);
    await fh.write(line);
    await fh.sync();
  } catch (err) {
    throw new DeliveryError(`cannot append to ${sink.path}: ${errorText(err)}`, 'sink', { cause: err });
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
