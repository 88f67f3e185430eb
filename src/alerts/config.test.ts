/** Sink configuration: the documented example parses; bad sinks get an error naming the sink and the field. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { SinkConfigError, parseSinksConfig } from './index.js';
import { AlertOutbox } from './outbox.js';
import { loopbackOnly, tempDir } from './test-support.js';

const EXAMPLE = `
sinks:
  - name: soc-webhook
    type: webhook
    url: http://127.0.0.1:9000/hook
    secret: env:MEDSURFACE_HOOK_SECRET
    filter: { minSeverity: high, deviceTypes: [mri, ct, pacs], tags: [radiology], kinds: [finding-opened, finding-reopened] }
  - name: slack
    type: slack
    url: http://127.0.0.1:9001/services/XXX
  - name: siem
    type: syslog
    host: 127.0.0.1
    port: 5514
    transport: udp
    facility: local4
  - name: mail
    type: email
    host: 127.0.0.1
    port: 2525
    from: medsurface@example.org
    to: [soc@example.org]
  - name: file
    type: jsonl
    path: ./events.jsonl
`;

function parseErr(raw: unknown, opts: Parameters<typeof parseSinksConfig>[1] = { guard: loopbackOnly }): string {
  try {
    parseSinksConfig(raw, opts);
  } catch (err) {
    assert.ok(err instanceof SinkConfigError, `a SinkConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a SinkConfigError');
}

test('config: the documented example parses, with defaults filled in and secrets resolved', () => {
  const sinks = parseSinksConfig(parseYaml(EXAMPLE), { guard: loopbackOnly, env: { MEDSURFACE_HOOK_SECRET: 's3cret' }, baseDir: '/var/lib/medsurface' });
  assert.deepEqual(
    sinks.map((s) => [s.name, s.type]),
    [
      ['soc-webhook', 'webhook'],
      ['slack', 'slack'],
      ['siem', 'syslog'],
      ['mail', 'email'],
      ['file', 'jsonl'],
    ],
  );
  const [hook, slack, siem, mail, file] = sinks;
  assert.ok(hook?.type === 'webhook' && slack?.type === 'slack' && siem?.type === 'syslog' && mail?.type === 'email' && file?.type === 'jsonl');
  assert.equal(hook.secret, 's3cret');
  assert.deepEqual(hook.filter, {
    minSeverity: 'high',
    deviceTypes: ['mri', 'ct', 'pacs'],
    tags: ['radiology'],
    kinds: ['finding-opened', 'finding-reopened'],
    includeHoneypots: false,
  });
  assert.equal(hook.timeoutMs, 10_000);
  assert.deepEqual(slack.filter, { includeHoneypots: false });
  assert.equal(siem.port, 5514);
  assert.equal(siem.facility, 'local4');
  assert.equal(siem.transport, 'udp');
  assert.equal(mail.port, 2525);
  assert.equal(mail.secure, false);
  assert.equal(mail.tlsVerify, true);
  assert.equal(mail.subject, '[medsurface] {summary}');
  assert.equal(file.path, path.resolve('/var/lib/medsurface', 'events.jsonl'));
});

test('config: unknown sink type names the sink and the field', () => {
  assert.equal(
    parseErr([{ name: 'pager', type: 'pagerduty', url: 'http://127.0.0.1/' }]),
    'sink "pager": type: unknown sink type "pagerduty" (expected one of webhook, slack, syslog, email, jsonl)',
  );
  assert.match(parseErr([{ name: 'x', url: 'http://127.0.0.1/' }]), /^sink "x": type: missing/);
});

test('config: bad URL, without echoing it', () => {
  assert.equal(parseErr([{ name: 'soc-webhook', type: 'webhook', url: 'not a url/SECRET' }]), 'sink "soc-webhook": url: not a valid URL');
  assert.equal(parseErr([{ name: 'slack', type: 'slack', url: 'ftp://127.0.0.1/SECRET' }]), 'sink "slack": url: scheme must be http or https, not ftp');
  const m = parseErr([{ name: 'slack', type: 'slack', url: 'http://user:SECRET@127.0.0.1/x' }]);
  assert.match(m, /^sink "slack": url: credentials in the URL are not supported/);
  assert.ok(!m.includes('SECRET'));
});

test('config: a destination outside the guard is refused when the config is read and when the outbox opens', async (t) => {
  const m = parseErr([{ name: 'slack', type: 'slack', url: 'https://10.20.30.40/services/T0/B0/SECRET' }]);
  assert.equal(m, 'sink "slack": url: destination 10.20.30.40:443 is out of scope: 10.20.30.40:443 is outside 127.0.0.0/8');
  assert.ok(!m.includes('SECRET'));
  assert.match(parseErr([{ name: 'siem', type: 'syslog', host: '192.0.2.7' }]), /^sink "siem": host: destination 192\.0\.2\.7:514 is out of scope/);
  assert.match(parseErr([{ name: 'mail', type: 'email', host: 'smtp.example.org', from: 'a@example.org', to: ['b@example.org'] }]), /^sink "mail": host: destination smtp\.example\.org:587 is out of scope/);
  assert.match(parseErr([{ name: 'v6', type: 'webhook', url: 'http://[2001:db8::1]:8080/h' }]), /^sink "v6": url: destination \[2001:db8::1\]:8080 is out of scope/);

  // Parsed without a guard, the outbox still checks before anything is opened.
  const sinks = parseSinksConfig([{ name: 'siem', type: 'syslog', host: '192.0.2.7' }]);
  const tmp = await tempDir();
  t.after(() => tmp.cleanup());
  await assert.rejects(AlertOutbox.open(tmp.dir, sinks, { guard: loopbackOnly }), (err: unknown) => err instanceof SinkConfigError && /^sink "siem": host: /.test(err.message));
});

test('config: secrets from the environment', () => {
  assert.equal(
    parseErr([{ name: 'soc-webhook', type: 'webhook', url: 'http://127.0.0.1/h', secret: 'env:MEDSURFACE_HOOK_SECRET' }], { env: {} }),
    'sink "soc-webhook": secret: environment variable MEDSURFACE_HOOK_SECRET is not set',
  );
  assert.match(parseErr([{ name: 'h', type: 'webhook', url: 'http://127.0.0.1/h', secret: 'env:9bad name' }], { env: {} }), /^sink "h": secret: "env:9bad name" is not a valid/);
  assert.equal(
    parseErr([{ name: 'mail', type: 'email', host: '127.0.0.1', from: 'a@example.org', to: ['b@example.org'], auth: { user: 'u', pass: 'env:SMTP_PASS' } }], { env: {} }),
    'sink "mail": auth.pass: environment variable SMTP_PASS is not set',
  );
  const [hook] = parseSinksConfig([{ name: 'h', type: 'webhook', url: 'http://127.0.0.1/h', headers: { Authorization: 'env:TOKEN' } }], { env: { TOKEN: 'Bearer abc' } });
  assert.ok(hook?.type === 'webhook');
  assert.deepEqual(hook.headers, { Authorization: 'Bearer abc' });
  assert.match(
    parseErr([{ name: 'h', type: 'webhook', url: 'http://127.0.0.1/h', headers: { 'X-A': 'env:V' } }], { env: { V: 'a\r\nX-Injected: 1' } }),
    /^sink "h": headers\.X-A: value contains a line break/,
  );
});

test('config: field errors name the sink (or its position) and the field path', () => {
  assert.match(parseErr([{ name: 'slack', type: 'slack', url: 'http://127.0.0.1/', channel: '#soc' }]), /^sink "slack": Unrecognized key: "channel"/);
  assert.match(parseErr([{ name: 'w', type: 'webhook', url: 'http://127.0.0.1/', filter: { minSeverity: 'severe' } }]), /^sink "w": filter\.minSeverity: /);
  assert.match(parseErr([{ name: 'w', type: 'webhook', url: 'http://127.0.0.1/', filter: { deviceTypes: ['toaster'] } }]), /^sink "w": filter\.deviceTypes\.0: /);
  assert.match(parseErr([{ name: 'w', type: 'webhook', url: 'http://127.0.0.1/', filter: { kinds: ['finding-new'] } }]), /^sink "w": filter\.kinds\.0: /);
  assert.match(parseErr([{ name: 'w', type: 'webhook', url: 'http://127.0.0.1/', filter: { severity: 'high' } }]), /^sink "w": filter: Unrecognized key: "severity"/);
  assert.match(parseErr([{ name: 'mail', type: 'email', host: '127.0.0.1', from: 'a@example.org', to: ['not-an-address'] }]), /^sink "mail": to\.0: /);
  assert.match(parseErr([{ name: 'mail', type: 'email', host: '127.0.0.1', from: 'a@example.org', to: [] }]), /^sink "mail": to: /);
  assert.match(
    parseErr([{ name: 'mail', type: 'email', host: '127.0.0.1', from: 'a@example.org', to: ['b@example.org'], subject: 'alert {evidence}' }]),
    /^sink "mail": subject: unknown placeholder \{evidence\}/,
  );
  assert.match(parseErr([{ name: 'siem', type: 'syslog', host: '127.0.0.1', facility: 'local9' }]), /^sink "siem": facility: /);
  assert.match(parseErr([{ name: 'siem', type: 'syslog', host: '127.0.0.1', transport: 'tls' }]), /^sink "siem": transport: /);
  assert.match(parseErr([{ name: 'siem', type: 'syslog', host: '127.0.0.1', port: 70000 }]), /^sink "siem": port: /);
  assert.match(parseErr([{ name: 'ok', type: 'jsonl', path: 'a' }, { type: 'jsonl', path: 'b' }]), /^sink #2: name: /);
  assert.match(parseErr([{ name: '../etc', type: 'jsonl', path: 'a' }]), /^sink "\.\.\/etc": name: a sink name is/);
  assert.equal(parseErr([{ name: 'a', type: 'jsonl', path: 'x' }, { name: 'A', type: 'jsonl', path: 'y' }]), 'sink "A": name: used twice (sink names are unique, case-insensitively)');
  assert.equal(parseErr({ sinks: 'none' }), 'sinks: expected a list of sinks');
  assert.equal(parseErr(['webhook']), 'sink #1: expected a mapping (name, type, ...)');
});

test('config: email `to` may be one address', () => {
  const [mail] = parseSinksConfig([{ name: 'ciso-mail', type: 'email', host: '127.0.0.1', from: 'medsurface@example.org', to: 'ciso@example.org' }]);
  assert.ok(mail?.type === 'email');
  assert.deepEqual(mail.to, ['ciso@example.org']);
  assert.match(parseErr([{ name: 'm', type: 'email', host: '127.0.0.1', from: 'a@example.org', to: 'nobody' }]), /^sink "m": to\.0: Invalid email/);
});

test('config: a webhook or Slack URL may come from the environment, and is then checked like a literal one', () => {
  const [slack] = parseSinksConfig([{ name: 'slack', type: 'slack', url: 'env:SLACK_URL' }], { guard: loopbackOnly, env: { SLACK_URL: 'http://127.0.0.1:9001/services/T/B/X' } });
  assert.ok(slack?.type === 'slack');
  assert.equal(slack.url, 'http://127.0.0.1:9001/services/T/B/X');
  assert.equal(parseErr([{ name: 'slack', type: 'slack', url: 'env:SLACK_URL' }], { env: {} }), 'sink "slack": url: environment variable SLACK_URL is not set');
  const m = parseErr([{ name: 'slack', type: 'slack', url: 'env:SLACK_URL' }], { guard: loopbackOnly, env: { SLACK_URL: 'https://10.9.8.7/services/T/B/SECRET' } });
  assert.match(m, /^sink "slack": url: destination 10\.9\.8\.7:443 is out of scope/);
  assert.ok(!m.includes('SECRET'));
});
