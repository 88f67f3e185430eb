/**
 * The research-contact page (GET /contact): who runs the scans, why, from which addresses, how
 * to reach them and how to opt out. Internet-mode scans name its address in their HTTP
 * User-Agent (`--contact`), so an owner who finds us in a log lands here.
 *
 * Read from `--contact-page FILE` (YAML) at start; every value is HTML-escaped, and the page
 * has no script, so the server's strict CSP holds here too.
 *
 *   organisation: Example University, Medical Device Security Lab
 *   purpose: We measure how many medical imaging systems are reachable from the internet ...
 *   contact:
 *     email: scan-research@example.org
 *     url: https://example.org/medsurface-scans
 *   sources: [198.51.100.7, 2001:db8::7]
 *   optOut: Send the ranges to exclude to scan-research@example.org; we exclude them within 24 hours.
 *   moreInfo: Optional further text (methods, ethics approval, publications).
 */
import { existsSync, statSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from '../core/errors.js';
import { readYamlFile } from '../core/yaml-file.js';

const CONTACT_FILE_MAX_BYTES = 64 * 1024;
const Text = (max: number) => z.string().trim().min(1).max(max);

export const ContactPageSchema = z.strictObject({
  organisation: Text(200),
  purpose: Text(4000),
  contact: z
    .strictObject({ email: Text(200).optional(), url: Text(500).optional() })
    .refine((c) => c.email !== undefined || c.url !== undefined, 'give an email or a url'),
  sources: z.array(Text(100)).max(100).default([]),
  optOut: Text(4000),
  moreInfo: Text(8000).optional(),
});
export type ContactPage = z.infer<typeof ContactPageSchema>;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Paragraphs from text: blank lines separate them, each escaped. */
function paragraphs(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) => `<p>${escapeHtml(p.trim())}</p>`)
    .join('\n');
}

/** Reads and validates the file; a problem is a UsageError naming the file and the field. */
export function loadContactPage(file: string): ContactPage {
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`--contact-page ${file}: no such file`);
  const raw = readYamlFile(file, CONTACT_FILE_MAX_BYTES, (message, cause) => new UsageError(`--contact-page ${message}`, { cause }));
  const r = ContactPageSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new UsageError(`--contact-page ${file}: ${i.path.join('.') || '(file)'}: ${i.message}`);
  }
  return r.data;
}

export function renderContactPage(c: ContactPage): string {
  const email = c.contact.email === undefined ? '' : `<li>E-mail: <a href="mailto:${escapeHtml(encodeURI(c.contact.email))}">${escapeHtml(c.contact.email)}</a></li>`;
  // Only http(s) links become links: a javascript: URL stays text.
  const url =
    c.contact.url === undefined
      ? ''
      : /^https?:\/\//i.test(c.contact.url)
        ? `<li>Web: <a href="${escapeHtml(c.contact.url)}" rel="noopener noreferrer">${escapeHtml(c.contact.url)}</a></li>`
        : `<li>Web: ${escapeHtml(c.contact.url)}</li>`;
  const sources = c.sources.length === 0 ? '<p>(not listed)</p>' : `<ul>${c.sources.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Research scans by ${escapeHtml(c.organisation)}</title>
</head>
<body>
<main>
<h1>Research scans by ${escapeHtml(c.organisation)}</h1>
<h2>Why we scan</h2>
${paragraphs(c.purpose)}
<h2>Contact</h2>
<ul>${email}${url}</ul>
<h2>Where the scans come from</h2>
${sources}
<h2>Opting out</h2>
${paragraphs(c.optOut)}
${c.moreInfo === undefined ? '' : `<h2>More</h2>\n${paragraphs(c.moreInfo)}`}
<p><small>The scans use medsurface, which observes only: it never reads, stores or changes patient data.</small></p>
</main>
</body>
</html>
`;
}
