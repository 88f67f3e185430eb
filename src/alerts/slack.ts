/**
 * The Slack sink: a Slack-compatible incoming webhook (also Mattermost and Rocket.Chat), one
 * message per event: `text` (the summary, shown in notifications) and Block Kit `blocks` (the
 * summary in bold, the details, a context line). Slack reads `<`, `>` and `&` as markup in both,
 * so they are escaped as its "Formatting text" guide asks; nothing else is.
 */
import type { ExposureEvent } from '../core/events.js';
import type { SlackSink } from './config.js';
import { postJson } from './http-post.js';
import { detailLines, summarize } from './message.js';
import type { DeliveryContext } from './transport.js';

/** Slack's limit for a section's text is 3000 characters. */
const SECTION_MAX_CHARS = 3000;

export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface SlackPayload {
  text: string;
  blocks: (
    | { type: 'section'; text: { type: 'mrkdwn'; text: string } }
    | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] }
  )[];
}

export function slackPayload(event: ExposureEvent): SlackPayload {
  const summary = slackEscape(summarize(event));
  const details = detailLines(event)
    .filter(([k]) => k !== 'Observed' && k !== 'Run')
    .map(([k, v]) => `*${k}:* ${slackEscape(v)}`)
    .join('\n');
  const section = `*${summary}*\n${details}`;
  return {
    text: summary,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: section.length > SECTION_MAX_CHARS ? `${section.slice(0, SECTION_MAX_CHARS - 1)}…` : section } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(`medsurface · ${event.kind} · observed ${event.at}`) }] },
    ],
  };
}

export async function deliverSlack(sink: SlackSink, event: ExposureEvent, ctx: DeliveryContext): Promise<void> {
  await postJson(sink.url, JSON.stringify(slackPayload(event)), {}, sink.timeoutMs, ctx);
}
