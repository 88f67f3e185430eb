/**
 * The notification message from editable templates (eta 4): `subject.txt.eta`,
 * `message.txt.eta` and `message.html.eta`. The defaults ship in src/disclosure/templates/;
 * `--templates DIR` replaces any of them (a file missing in DIR falls back to the default).
 * The HTML template auto-escapes every `<%= %>` value; the text ones do not need to, and every
 * value handed to them is already printable and bounded (affected.ts). The text templates keep
 * whitespace exactly as written: end a line that holds only a control tag with `-%>` so that it
 * leaves no empty line. Templates are code (eta
 * compiles them to JavaScript): use only templates you wrote or reviewed, like a config file.
 *
 * Template data (`it`): see MessageData below.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Eta } from 'eta';
import { messageOf } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import type { AffectedService } from './affected.js';
import { DisclosureError } from './errors.js';

export const TEMPLATE_FILES = { subject: 'subject.txt.eta', text: 'message.txt.eta', html: 'message.html.eta' } as const;
/** Largest template file read. */
export const TEMPLATE_MAX_BYTES = 256 * 1024;
/** Longest subject line kept. */
const SUBJECT_MAX_CHARS = 200;

export interface MessageData {
  tlp: { level: string; label: string; meaning: string; colour: string };
  case: { id: number; party: string; partyKind: string; country: string | null };
  recipient: { name: string; email: string; isCert: boolean } | null;
  reporter: { name: string; email: string };
  generatedAt: string;
  summary: { services: number; hosts: number; findings: number; bySeverity: { severity: string; count: number }[] };
  services: AffectedService[];
  /** One entry per finding id present: what to do about it. */
  remedies: { id: string; title: string; severity: string; remediation: string; references: string[] }[];
  attachments: string[];
  /** Days until the planned re-measurement. */
  remeasureDays: number;
}

export function defaultTemplatesDir(): string {
  return path.join(packageRoot(), 'src', 'disclosure', 'templates');
}

function readTemplate(dir: string | undefined, file: string): { source: string; where: string } {
  const custom = dir === undefined ? null : path.join(dir, file);
  const where = custom !== null && existsSync(custom) ? custom : path.join(defaultTemplatesDir(), file);
  try {
    if (statSync(where).size > TEMPLATE_MAX_BYTES) throw new DisclosureError(`${where}: larger than ${TEMPLATE_MAX_BYTES} bytes`, { file: where });
    return { source: readFileSync(where, 'utf8'), where };
  } catch (err) {
    if (err instanceof DisclosureError) throw err;
    throw new DisclosureError(`cannot read the template ${where}: ${messageOf(err)}`, { cause: err, file: where });
  }
}

export class MessageTemplates {
  private constructor(
    private readonly sources: Record<keyof typeof TEMPLATE_FILES, { source: string; where: string }>,
    private readonly text: Eta,
    private readonly html: Eta,
  ) {}

  /** Reads the three templates (from `dir` where present, else the defaults). */
  static load(dir?: string): MessageTemplates {
    if (dir !== undefined && !(existsSync(dir) && statSync(dir).isDirectory())) {
      throw new DisclosureError(`--templates ${dir}: not a folder (it should hold ${Object.values(TEMPLATE_FILES).join(', ')})`);
    }
    const sources = {
      subject: readTemplate(dir, TEMPLATE_FILES.subject),
      text: readTemplate(dir, TEMPLATE_FILES.text),
      html: readTemplate(dir, TEMPLATE_FILES.html),
    };
    // Text keeps every newline as written (a tag's own line ends with `-%>` to drop it); HTML trims as eta does by default.
    return new MessageTemplates(sources, new Eta({ autoEscape: false, autoTrim: false, cache: false }), new Eta({ autoEscape: true, cache: false }));
  }

  private run(eta: Eta, which: keyof typeof TEMPLATE_FILES, data: MessageData): string {
    const { source, where } = this.sources[which];
    try {
      return eta.renderString(source, data);
    } catch (err) {
      throw new DisclosureError(`template ${where}: ${messageOf(err).split('\n')[0]}`, { cause: err, file: where });
    }
  }

  render(data: MessageData): { subject: string; text: string; html: string } {
    const subject = this.run(this.text, 'subject', data).replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, SUBJECT_MAX_CHARS);
    if (subject === '') throw new DisclosureError(`template ${this.sources.subject.where}: the subject is empty`);
    return { subject, text: this.run(this.text, 'text', data), html: this.run(this.html, 'html', data) };
  }
}
