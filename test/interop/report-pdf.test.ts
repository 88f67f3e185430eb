/**
 * The PDF report, printed by Debian's Chromium (/usr/bin/chromium, installed by scripts/install-peers.sh,
 * hence an interop test; one launch for the file)
 * from the lab-like inventory: a real PDF of several pages, the TLP label in the running header
 * and footer of every page and in the document information, the report's text on its pages
 * (read back with pdf-text.ts), no request made, no patient canary in the text Chromium printed
 * nor in the HTML it was given. With poppler's pdftoppm installed, the pages are also written
 * as PNG files (paths in the test diagnostics) for a person to look at.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { Command } from 'commander';
import { registerReport } from '../../src/cli/commands/report.js';
import { openKyselyInventory } from '../../src/inventory/db.js';
import { PdfRenderError } from '../../src/report/errors.js';
import { gatherReport } from '../../src/report/gather.js';
import { launchChromium, type PdfResult, renderPdf } from '../../src/report/pdf.js';
import { pdfPageCount, readPdfInfo } from '../../src/report/pdf-info.js';
import { pdfPageTexts } from '../../src/report/pdf-text.js';
import { CANARY_VALUES, Clock, HOSTILE, seedReportLab } from '../../src/report/test-fixture.js';
import type { ReportData } from '../../src/report/types.js';

const NOW = '2026-03-10T12:00:00.000Z';
let dir: string;
let browser: Browser;
let data: ReportData;
let result: PdfResult;
let texts: string[];

const squash = (s: string): string => s.replace(/\s+/g, '');

function which(cmd: string): string | null {
  try {
    return execFileSync('which', [cmd], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-report-pdf-'));
  const clock = new Clock();
  const inv = await openKyselyInventory(path.join(dir, 'inv.sqlite'), { now: clock.now });
  try {
    await seedReportLab(inv, clock);
    data = await gatherReport(inv, { now: NOW });
  } finally {
    await inv.close();
  }
  browser = await launchChromium();
  result = await renderPdf(data, { browser });
  texts = pdfPageTexts(result.pdf);
});

after(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('chromium: Chromium prints a PDF of several A4 pages, with no request made', () => {
  assert.equal(result.pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  assert.match(result.pdf.subarray(-8).toString('latin1'), /%%EOF\n?$/);
  assert.ok(result.pages >= 2, `${result.pages} pages`);
  assert.equal(pdfPageCount(result.pdf), result.pages);
  assert.equal(texts.length, result.pages, 'every page of the page tree was read');
  assert.match(result.pdf.toString('latin1'), /\/MediaBox \[0 0 595\.9\d* 842\.8\d*\]/, 'A4');
  assert.equal(result.blockedRequests, 0);
});

test('chromium: TLP: in the document information and twice on every page (running header and footer), with page numbers', () => {
  assert.equal(result.metadata, true);
  const info = readPdfInfo(result.pdf);
  assert.equal(info.Title, 'TLP:AMBER | Exposure assessment of healthcare systems');
  assert.match(info.Subject ?? '', /^TLP:AMBER: exposure assessment report\. Limited disclosure/);
  assert.match(info.Keywords ?? '', /^TLP:AMBER, /);
  assert.equal(info.CreationDate, 'D:20260310120000Z');
  for (const [i, page] of texts.entries()) {
    assert.ok((page.match(/TLP:AMBER/g) ?? []).length >= 2, `page ${i + 1}`);
    assert.ok(squash(page).includes(`Page${i + 1}of${texts.length}`), `page ${i + 1} number`);
  }
});

test('chromium: the pages hold the report: title and summary first, every section, the hostile product as plain text', () => {
  const first = squash(texts[0]!);
  assert.ok(first.includes(squash('Exposure assessment of healthcare systems')));
  assert.ok(first.includes(squash('1. Executive summary')));
  assert.ok(first.includes(squash(`${data.summary.assets}exposed systems`)));
  const all = squash(texts.join('\n'));
  for (const h of ['2. Charts', '3. Statistics', '4. Systems in detail', '5. Methodology and scope', 'Appendix: checks', 'Exposed systems by device type']) {
    assert.ok(all.includes(squash(h)), h);
  }
  assert.ok(all.includes(squash(`OHIF ${HOSTILE.product}`)), 'the markup was printed as text');
  for (const a of data.assets) assert.ok(all.includes(a.ip), a.ip);
});

test('chromium: no patient canary in the printed text, nor in the HTML Chromium was given', () => {
  const all = squash(texts.join('\n')).toLowerCase();
  for (const c of CANARY_VALUES) {
    assert.ok(!all.includes(squash(c).toLowerCase()), `canary ${c} in the PDF text`);
    assert.ok(!result.html.toLowerCase().includes(c.toLowerCase()), `canary ${c} in the HTML`);
  }
  assert.ok(!result.pdf.toString('latin1').includes(CANARY_VALUES[0]!), 'nor in the raw bytes');
});

test('chromium: page images: pdftoppm writes one PNG per page when it is installed', (t) => {
  const pdftoppm = which('pdftoppm');
  const file = path.join(dir, 'report.pdf');
  writeFileSync(file, result.pdf);
  if (pdftoppm === null) {
    t.diagnostic('pdftoppm (poppler-utils) is not installed: no page images written');
    return;
  }
  const out = mkdtempSync(path.join(tmpdir(), 'medsurface-report-pages-'));
  execFileSync(pdftoppm, ['-png', '-r', '60', file, path.join(out, 'page')], { timeout: 60_000 });
  const pngs = readdirSync(out).filter((f) => f.endsWith('.png')).sort();
  assert.equal(pngs.length, result.pages);
  for (const p of pngs) t.diagnostic(path.join(out, p));
});

test('chromium: a print that overruns its deadline is a PdfRenderError and leaves the shared browser usable', async () => {
  await assert.rejects(renderPdf(data, { browser, timeoutMs: 1 }), (err: unknown) => err instanceof PdfRenderError && /did not print the report/.test(err.message));
  assert.equal(browser.isConnected(), true);
  const again = await renderPdf({ ...data, meta: { ...data.meta, tlp: 'red' } }, { browser });
  assert.equal(readPdfInfo(again.pdf).Title, 'TLP:RED | Exposure assessment of healthcare systems');
  assert.ok(pdfPageTexts(again.pdf).every((p) => (p.match(/TLP:RED/g) ?? []).length >= 2));
});

test('chromium: a missing Chromium is a PdfRenderError that says what to do', async () => {
  await assert.rejects(
    renderPdf(data, { executablePath: path.join(dir, 'no-such-chromium') }),
    (err: unknown) => err instanceof PdfRenderError && /MEDSURFACE_CHROMIUM/.test(err.message) && /--format html/.test(err.message),
  );
});

test('chromium: medsurface report --format pdf writes a 0600 file printed by Chromium', async () => {
  const db = path.join(dir, 'inv.sqlite');
  const file = path.join(dir, 'lab.pdf');
  const program = new Command().exitOverride();
  let err = '';
  registerReport(program, { out: () => {}, err: (t) => void (err += t), isTTY: false });
  await program.parseAsync(['report', '--format', 'pdf', '--out', file, '--max-assets', '2', '--db', db], { from: 'user' });
  assert.match(err, /^medsurface: wrote .* \(PDF, \d+ page\(s\), TLP:AMBER\)\n$/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(readFileSync(file).subarray(0, 5).toString('latin1'), '%PDF-');
  assert.ok(Number(/(\d+) page\(s\)/.exec(err)![1]) >= 2);
});
