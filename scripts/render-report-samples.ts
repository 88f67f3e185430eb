/**
 * Development tool (not used by the product): renders the sample reports of the lab-like
 * inventory (test-fixture.ts) for people to look at, as the proof asks ("the PDF renders
 * in Debian's Chromium and its pages are looked at").
 *
 *   node --import tsx src/report/render-samples.ts [OUTDIR]   (default /tmp/medsurface-report-samples)
 *
 * Writes OUTDIR/inventory.sqlite, report.html, report.md, report.pdf, and pages/page-N.png: one
 * image per PDF page, by poppler's pdftoppm when it is installed, else by Chromium's own PDF
 * viewer (PDFium, the same engine family) screenshotted page by page; then pages/contact-sheet.png
 * with every page side by side. Everything stays on this machine (file:// pages, no network).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { openKyselyInventory } from '../src/inventory/db.js';
import { gatherReport } from '../src/report/gather.js';
import { renderHtml } from '../src/report/html.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { launchChromium, renderPdf } from '../src/report/pdf.js';
import { Clock, seedReportLab } from '../src/report/test-fixture.js';

/** How long the PDF viewer is given to draw a page before the screenshot. */
const VIEWER_SETTLE_MS = 2500;
const PAGE_VIEWPORT = { width: 900, height: 1250 };

function which(cmd: string): string | null {
  try {
    return execFileSync('which', [cmd], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

async function viewerPages(browser: Browser, pdfFile: string, pages: number, outDir: string): Promise<void> {
  for (let i = 1; i <= pages; i++) {
    // A fresh tab per page: the viewer honours #page= only when it opens the document.
    const tab = await browser.newPage({ viewport: PAGE_VIEWPORT });
    try {
      await tab.goto(`${pathToFileURL(pdfFile).href}#page=${i}&toolbar=0&navpanes=0&view=Fit`);
      await tab.waitForTimeout(VIEWER_SETTLE_MS);
      await tab.screenshot({ path: path.join(outDir, `page-${i}.png`) });
    } finally {
      await tab.close();
    }
  }
}

async function contactSheet(browser: Browser, pagesDir: string): Promise<string> {
  const files = readdirSync(pagesDir)
    .filter((f) => /^page-\d+\.png$/.test(f))
    .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
  const sheet = path.join(pagesDir, 'contact-sheet.html');
  const cells = files.map((f) => `<figure><img src="${f}"><figcaption>${f}</figcaption></figure>`).join('');
  writeFileSync(
    sheet,
    `<!DOCTYPE html><html><head><style>body{margin:0;background:#777;display:flex;flex-wrap:wrap;gap:6px;padding:6px}figure{margin:0}img{width:290px;display:block}figcaption{font:11px sans-serif;color:#fff}</style></head><body>${cells}</body></html>`,
  );
  const tab = await browser.newPage({ viewport: { width: 1220, height: 800 } });
  const png = path.join(pagesDir, 'contact-sheet.png');
  try {
    await tab.goto(pathToFileURL(sheet).href);
    await tab.screenshot({ path: png, fullPage: true });
  } finally {
    await tab.close();
    rmSync(sheet, { force: true });
  }
  return png;
}

async function main(outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const dbFile = path.join(outDir, 'inventory.sqlite');
  for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) rmSync(f, { force: true });
  const clock = new Clock();
  const inv = await openKyselyInventory(dbFile, { now: clock.now });
  let data: Awaited<ReturnType<typeof gatherReport>>;
  try {
    await seedReportLab(inv, clock);
    data = await gatherReport(inv, { now: '2026-03-10T12:00:00.000Z', title: 'Exposure assessment of the medsurface lab' });
  } finally {
    await inv.close();
  }
  const written: string[] = [dbFile];
  const write = (name: string, content: string | Buffer) => {
    const file = path.join(outDir, name);
    writeFileSync(file, content, { mode: 0o600 });
    written.push(file);
    return file;
  };
  write('report.html', renderHtml(data));
  write('report.md', renderMarkdown(data));
  const browser = await launchChromium();
  try {
    const pdf = await renderPdf(data, { browser });
    const pdfFile = write('report.pdf', pdf.pdf);
    const pagesDir = path.join(outDir, 'pages');
    rmSync(pagesDir, { recursive: true, force: true });
    mkdirSync(pagesDir, { recursive: true });
    const pdftoppm = which('pdftoppm');
    if (pdftoppm !== null) {
      execFileSync(pdftoppm, ['-png', '-r', '80', pdfFile, path.join(pagesDir, 'page')], { timeout: 120_000 });
      // pdftoppm numbers page-01.png...; one naming for both paths.
      for (const f of readdirSync(pagesDir)) {
        const m = /^page-0*(\d+)\.png$/.exec(f);
        if (m) execFileSync('mv', [path.join(pagesDir, f), path.join(pagesDir, `page-${m[1]}.png`)]);
      }
      process.stdout.write('page images: pdftoppm\n');
    } else {
      await viewerPages(browser, pdfFile, pdf.pages, pagesDir);
      process.stdout.write('page images: Chromium PDF viewer (pdftoppm is not installed)\n');
    }
    written.push(`${pagesDir}/page-1.png ... page-${pdf.pages}.png`, await contactSheet(browser, pagesDir));
    process.stdout.write(`PDF: ${pdf.pages} pages, metadata ${pdf.metadata ? 'set' : 'not set'}, ${pdf.blockedRequests} request(s) blocked\n`);
  } finally {
    await browser.close();
  }
  process.stdout.write(`${written.join('\n')}\n`);
}

await main(process.argv[2] ?? '/tmp/medsurface-report-samples');
