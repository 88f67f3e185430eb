/** The summary line, its cleaning and bounds, CEF escaping, syslog severity and the backoff schedule. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cefExtensionEscape, cefHeaderEscape } from './cef.js';
import { SUMMARY_MAX_CHARS, detailLines, oneLine, summarize } from './message.js';
import { DEFAULT_RETRY, backoffDelay } from './outbox.js';
import { syslogSeverity } from './syslog.js';
import { sampleEvent } from './test-support.js';

test('summary: one line per kind', () => {
  assert.equal(summarize(sampleEvent()), 'NEW critical finding dicom-any-ae on 127.77.0.10:104 (Orthanc 1.12.3, pacs)');
  assert.equal(summarize(sampleEvent({ kind: 'finding-reopened', severity: 'high' })), 'REOPENED high finding dicom-any-ae on 127.77.0.10:104 (Orthanc 1.12.3, pacs)');
  assert.equal(summarize(sampleEvent({ kind: 'finding-resolved' })), 'RESOLVED critical finding dicom-any-ae on 127.77.0.10:104 (Orthanc 1.12.3, pacs)');
  assert.equal(
    summarize(sampleEvent({ kind: 'finding-unverified' })),
    'UNVERIFIED critical finding dicom-any-ae on 127.77.0.10:104 (Orthanc 1.12.3, pacs): host did not answer',
  );
  const svc = { checkId: null, title: null };
  assert.equal(summarize(sampleEvent({ ...svc, kind: 'service-new', severity: null })), 'NEW dicom service on 127.77.0.10:104 (Orthanc 1.12.3, pacs)');
  assert.equal(
    summarize(sampleEvent({ ...svc, kind: 'service-new', severity: 'high' })),
    'NEW dicom service on 127.77.0.10:104 (Orthanc 1.12.3, pacs), highest open severity high',
  );
  assert.equal(summarize(sampleEvent({ ...svc, kind: 'service-gone', ip: '2001:db8::7', port: 2762 })), 'GONE dicom service on [2001:db8::7]:2762 (Orthanc 1.12.3, pacs)');
  assert.equal(
    summarize(sampleEvent({ ...svc, kind: 'service-changed', version: '1.12.4', changes: { version: ['1.12.3', '1.12.4'], product: [null, 'Orthanc'] } })),
    'CHANGED dicom service on 127.77.0.10:104 (Orthanc 1.12.4, pacs): version 1.12.3 → 1.12.4, product - → Orthanc',
  );
  assert.equal(
    summarize(sampleEvent({ product: null, version: null, deviceType: null, port: null, protocol: null })),
    'NEW critical finding dicom-any-ae on 127.77.0.10',
  );
});

test('summary: control characters never pass, and the line is bounded', () => {
  const s = summarize(sampleEvent({ product: 'Evil\r\nX-Injected: yes\u0000\u001b[31m', version: 'x'.repeat(5000) }));
  assert.ok(!/[\u0000-\u001f\u007f]/.test(s), s);
  assert.ok(s.length <= SUMMARY_MAX_CHARS);
  assert.match(s, /^NEW critical finding dicom-any-ae on 127\.77\.0\.10:104 \(Evil X-Injected: yes \[31m x+…, pacs\)$/);
  assert.equal(oneLine('  a \n\n b\u2028c  '), 'a b c');
  for (const [, v] of detailLines(sampleEvent({ title: 'line1\nline2' }))) assert.ok(!/[\r\n]/.test(v));
});

test('CEF escaping: header escapes \\ and |, extensions escape \\, = and line breaks', () => {
  assert.equal(cefHeaderEscape('a|b\\c\nd'), 'a\\|b\\\\c d');
  assert.equal(cefExtensionEscape('a=b\\c|d\r\ne\rf\ng'), 'a\\=b\\\\c|d\\ne\\rf\\ng');
  assert.equal(cefExtensionEscape('x\u0000y'), 'x y');
});

test('syslog severity from the event', () => {
  assert.equal(syslogSeverity({ kind: 'finding-opened', severity: 'critical' }), 2);
  assert.equal(syslogSeverity({ kind: 'finding-opened', severity: 'high' }), 3);
  assert.equal(syslogSeverity({ kind: 'finding-opened', severity: 'medium' }), 4);
  assert.equal(syslogSeverity({ kind: 'finding-opened', severity: 'low' }), 5);
  assert.equal(syslogSeverity({ kind: 'finding-opened', severity: 'info' }), 6);
  assert.equal(syslogSeverity({ kind: 'service-new', severity: null }), 6);
  assert.equal(syslogSeverity({ kind: 'finding-resolved', severity: 'critical' }), 5);
  assert.equal(syslogSeverity({ kind: 'service-gone', severity: 'high' }), 5);
});

test('backoff: doubles from the base, capped, with jitter in [½, 1) of the step', () => {
  const p = { ...DEFAULT_RETRY, baseDelayMs: 1000, maxDelayMs: 10_000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, p, () => 0)),
    [500, 1000, 2000, 4000, 5000, 5000],
  );
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => backoffDelay(n, p, () => 0.999999)),
    [1000, 2000, 4000, 8000, 10_000],
  );
  assert.equal(backoffDelay(1000, p, () => 0.5), 7500, 'huge attempt counts stay capped');
});
