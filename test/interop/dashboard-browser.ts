/**
 * Browser side of the dashboard's end-to-end test (dashboard.test.ts): Debian's Chromium through
 * playwright-core, a watch on every page for console errors, uncaught exceptions and CSP
 * violations, the API answers the page received (to search them for patient canaries), a
 * WCAG contrast check of the rendered text, and screenshots under test-artifacts/dashboard/.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { packageRoot } from '../../src/core/paths.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = path.join(packageRoot(), 'test-artifacts', 'dashboard');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60_000,
  });
}

/** A console message, page error or CSP violation the test did not expect. */
export interface Problem {
  kind: 'console' | 'pageerror' | 'csp' | 'requestfailed';
  text: string;
  url: string;
}

/** An API response the page received, with its body (the event stream excepted). */
export interface Captured {
  url: string;
  status: number;
  body: string;
}

/**
 * Expected failures: Chromium logs every 4xx answer as a console error ("Failed to load
 * resource"); a test that provokes one (the 401 of /auth/me before login, a 400 for a bad query)
 * names the path and status here.
 */
export interface Expected {
  path: string;
  status: number;
}

export class PageWatch {
  readonly problems: Problem[] = [];
  readonly responses: Captured[] = [];
  private readonly expected: Expected[] = [];
  private readonly pending = new Set<Promise<void>>();

  constructor(
    readonly page: Page,
    readonly origin: string,
  ) {
    page.on('console', (msg) => {
      const loc = msg.location();
      const text = msg.text();
      if (/Content.Security.Policy|CSP violation/i.test(text)) {
        this.problems.push({ kind: 'csp', text, url: loc.url });
        return;
      }
      if (msg.type() !== 'error') return;
      const status = /status of (\d{3})/.exec(text);
      if (status && this.isExpected(loc.url, Number(status[1]))) return;
      this.problems.push({ kind: 'console', text, url: loc.url });
    });
    page.on('pageerror', (err) => this.problems.push({ kind: 'pageerror', text: `${err.name}: ${err.message}`, url: page.url() }));
    page.on('requestfailed', (req) => {
      const failure = req.failure()?.errorText ?? '';
      // Navigations away abort pending reads (the event stream, a superseded search): not errors.
      if (/ERR_ABORTED/.test(failure)) return;
      this.problems.push({ kind: 'requestfailed', text: `${req.method()} ${failure}`, url: req.url() });
    });
    page.on('response', (res) => {
      const url = res.url();
      if (!url.startsWith(`${origin}/api/`) || url.startsWith(`${origin}/api/v1/events`)) return;
      const p = res
        .text()
        .then((body) => {
          this.responses.push({ url, status: res.status(), body });
        })
        .catch(() => {
          // The page navigated before the body was read: nothing to search.
        })
        .finally(() => this.pending.delete(p));
      this.pending.add(p);
    });
  }

  /** Marks a failing answer (path without origin, e.g. `/api/v1/auth/me`) as expected. */
  expect(pathname: string, status: number): void {
    this.expected.push({ path: pathname, status });
  }

  private isExpected(url: string, status: number): boolean {
    if (!url.startsWith(this.origin)) return false;
    const p = url.slice(this.origin.length).split('?')[0];
    return this.expected.some((e) => e.path === p && e.status === status);
  }

  /** Waits for the bodies being read. */
  async settle(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}

/**
 * Reports a CSP violation to the console from inside the page (Chromium logs most of them, this
 * catches the rest, such as a blocked inline style attribute). Runs before any page script.
 */
export async function watchCsp(context: BrowserContext): Promise<void> {
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => {
      console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' (' + e.sourceFile + ':' + e.lineNumber + ')');
    });`,
  });
}

export interface ContrastFailure {
  text: string;
  fg: string;
  bg: string;
  ratio: number;
  need: number;
  where: string;
}

/**
 * Every visible text of the page whose colour against its effective background is below WCAG
 * 2.x AA (4.5:1, or 3:1 for large text). Backgrounds are composited up the ancestors; disabled
 * controls and text inside SVG (the charts, whose numbers are repeated in tables) are left out.
 */
export function contrastFailures(page: Page): Promise<ContrastFailure[]> {
  return page.evaluate(CONTRAST_SCRIPT) as Promise<ContrastFailure[]>;
}

/**
 * The check's in-page code, as plain JavaScript text: a function passed to page.evaluate would
 * carry the helpers tsx adds to compiled functions (`__name`), which the page does not have.
 */
const CONTRAST_SCRIPT = `(() => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\\s,/]+/).filter(Boolean).map((x) => (x.endsWith('%') ? Number(x.slice(0, -1)) / 100 : Number(x)));
    return [p[0], p[1], p[2], p[3] ?? 1];
  };
  const over = (top, under) => {
    const a = top[3] + under[3] * (1 - top[3]);
    if (a === 0) return [0, 0, 0, 0];
    const ch = (i) => (top[i] * top[3] + under[i] * under[3] * (1 - top[3])) / a;
    return [ch(0), ch(1), ch(2), a];
  };
  const lum = (c) => {
    const f = (v) => {
      const s = v / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const rootBg = () => {
    let base = [255, 255, 255, 1];
    for (const e of [document.documentElement, document.body]) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) base = over(c, base);
    }
    return base;
  };
  const bgOf = (el) => {
    const layers = [];
    for (let e = el; e && e !== document.documentElement && e !== document.body; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) {
        layers.push(c);
        if (c[3] >= 1) break;
      }
    }
    let acc = rootBg();
    for (let i = layers.length - 1; i >= 0; i--) acc = over(layers[i], acc);
    return acc;
  };
  const out = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent || !n.textContent.trim()) continue;
    const el = n.parentElement;
    if (!el || seen.has(el)) continue;
    seen.add(el);
    // Chart text (its numbers are in the tables beside), disabled controls, screen-reader-only text.
    if (el.closest('svg, [disabled], option, script, style, noscript, .visually-hidden')) continue;
    if (el.getClientRects().length === 0) continue;
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden') continue;
    const fgRaw = parse(cs.color);
    if (!fgRaw) continue;
    const bg = bgOf(el);
    const fg = over(fgRaw, bg);
    const l1 = lum(fg);
    const l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = Number.parseFloat(cs.fontSize);
    const bold = Number(cs.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio + 1e-6 < need) {
      const cls = typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
      out.push({
        text: n.textContent.trim().slice(0, 60),
        fg: cs.color,
        bg: 'rgb(' + bg.slice(0, 3).map(Math.round).join(', ') + ')',
        ratio: Math.round(ratio * 100) / 100,
        need,
        where: el.tagName.toLowerCase() + cls,
      });
    }
  }
  return out;
})()`;

/** Saves a full-page screenshot as test-artifacts/dashboard/NAME.png; returns its path. */
export async function shoot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
