/**
 * The PDF report: the HTML report printed by Chromium (Debian's /usr/bin/chromium through
 * playwright-core; browsers are never downloaded). A4, backgrounds printed, a running header
 * and footer with the TLP label on every page and page numbers, and the TLP marking in the
 * file's document information (pdf-info.ts).
 *
 * The page is loaded from a string with JavaScript off, the network emulated offline and every
 * request aborted (the report needs none: its CSS and SVG are inline). One deadline covers the
 * whole print; when it passes, the browser is closed. A browser launched here is always closed.
 */
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { messageOf } from '../core/errors.js';
import { PdfRenderError } from './errors.js';
import { pdfHeaderFooter, renderHtml } from './html.js';
import { PdfMetadataError, pdfPageCount, setPdfInfo } from './pdf-info.js';
import { tlpMarking } from './tlp.js';
import type { ReportData } from './types.js';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Launch, load and print together, by default. */
export const PDF_TIMEOUT_MS = 90_000;

export interface PdfOptions {
  /** Chromium binary (default $MEDSURFACE_CHROMIUM, else /usr/bin/chromium). */
  executablePath?: string;
  timeoutMs?: number;
  /** A browser to print with (tests reuse one); the caller closes it. Default: one launched and closed here. */
  browser?: Browser;
}

export interface PdfResult {
  pdf: Buffer;
  /** The HTML that Chromium printed. */
  html: string;
  pages: number;
  /** Requests the page tried to make (all aborted; the report makes none). */
  blockedRequests: number;
  /** The document information was set (false: the file is as Chromium wrote it, Title only). */
  metadata: boolean;
}

export function chromiumPath(explicit?: string): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  const env = process.env.MEDSURFACE_CHROMIUM;
  return env !== undefined && env !== '' ? env : DEFAULT_CHROMIUM;
}

/** Starts Chromium headless; a missing binary or a failed start is a PdfRenderError saying what to do. */
export async function launchChromium(opts: Pick<PdfOptions, 'executablePath' | 'timeoutMs'> = {}): Promise<Browser> {
  const executablePath = chromiumPath(opts.executablePath);
  if (!existsSync(executablePath)) {
    throw new PdfRenderError(
      `Chromium is needed for --format pdf and was not found at ${executablePath}: install Debian's chromium package or set MEDSURFACE_CHROMIUM (or use --format html)`,
    );
  }
  try {
    return await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS], timeout: opts.timeoutMs ?? PDF_TIMEOUT_MS });
  } catch (err) {
    throw new PdfRenderError(`Chromium at ${executablePath} did not start: ${messageOf(err).split('\n')[0]}`, { cause: err });
  }
}

async function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Promise<void>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout().catch(() => {});
      reject(new PdfRenderError(`Chromium did not print the report within ${Math.round(ms / 1000)} s`));
    }, ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Prints `data` as a PDF. */
export async function renderPdf(data: ReportData, opts: PdfOptions = {}): Promise<PdfResult> {
  const timeoutMs = opts.timeoutMs ?? PDF_TIMEOUT_MS;
  const html = renderHtml(data);
  const { header, footer } = pdfHeaderFooter(data);
  const own = opts.browser === undefined;
  const browser = opts.browser ?? (await launchChromium({ ...opts, timeoutMs }));
  let context: BrowserContext | undefined;
  let late = false;
  try {
    return await withDeadline(
      (async (): Promise<PdfResult> => {
        const ctx = await browser.newContext({ javaScriptEnabled: false, offline: true });
        context = ctx;
        // The deadline passed while the context was being made: nothing may go on printing.
        if (late) {
          await ctx.close().catch(() => {});
          throw new PdfRenderError('Chromium did not print the report in time');
        }
        let blockedRequests = 0;
        await ctx.route('**/*', (route) => {
          blockedRequests++;
          return route.abort();
        });
        const page = await ctx.newPage();
        await page.setContent(html, { waitUntil: 'load', timeout: timeoutMs });
        const raw = await page.pdf({
          format: 'A4',
          printBackground: true,
          displayHeaderFooter: true,
          headerTemplate: header,
          footerTemplate: footer,
          margin: { top: '18mm', bottom: '16mm', left: '12mm', right: '12mm' },
        });
        const tlp = tlpMarking(data.meta.tlp);
        let pdf = raw;
        let metadata = true;
        try {
          pdf = setPdfInfo(
            raw,
            {
              Title: `${tlp.label} | ${data.meta.title}`,
              Subject: `${tlp.label}: exposure assessment report. ${tlp.meaning}`,
              Keywords: `${tlp.label}, medsurface, exposure assessment`,
              Creator: `medsurface ${data.meta.toolVersion}`,
              Producer: 'medsurface (Chromium, Skia/PDF)',
            },
            data.meta.generatedAt,
          );
        } catch (err) {
          if (!(err instanceof PdfMetadataError)) throw err;
          metadata = false;
        }
        return { pdf, html, pages: pdfPageCount(pdf), blockedRequests, metadata };
      })(),
      timeoutMs,
      async () => {
        late = true;
        if (own) await browser.close();
        else await context?.close();
      },
    );
  } finally {
    await context?.close().catch(() => {});
    if (own) await browser.close().catch(() => {});
  }
}
