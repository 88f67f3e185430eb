import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';
import {
  MARKS_CHARS,
  MAX_MARKS,
  TITLE_CHARS,
  bodyText,
  cookieNamesOf,
  extractMarks,
  extractTitle,
  faviconHashes,
  hasPasswordInput,
  iconPath,
  isSafeTitle,
  joinMarks,
  locationForRecord,
  mmh3Signed,
  parseAuthenticate,
  parseOrthancSystem,
  sameOriginPath,
  saysTlsRequired,
  shodanBase64,
} from './parse.js';

const fixture = (name: string) => readFileSync(path.join(packageRoot(), 'src/probes/http/fixtures', name));

/** Splits a raw HTTP/1.x response (as captured with curl -i --raw) into head and body. */
function splitHttp(raw: Buffer): { head: string; body: Buffer } {
  const at = raw.indexOf('\r\n\r\n');
  return { head: raw.subarray(0, at).toString('latin1'), body: raw.subarray(at + 4) };
}

describe('extractTitle', () => {
  test('the real Orthanc Explorer page', () => {
    const { body } = splitHttp(fixture('orthanc-1.10.1-explorer.http'));
    assert.equal(extractTitle(bodyText(body)), 'Orthanc Explorer');
  });

  test('entities decoded, whitespace collapsed, bounded to 128 characters, absent or empty is null', () => {
    assert.equal(extractTitle('<TITLE lang="en">\n  Caf&eacute; &amp; &#x48;ello&nbsp;World </TITLE>'), 'Caf&eacute; & Hello World');
    assert.equal(extractTitle(`<title>${'x'.repeat(500)}</title>`)?.length, TITLE_CHARS);
    assert.equal(extractTitle('<html><body>no title</body></html>'), null);
    assert.equal(extractTitle('<title>   </title>'), null);
    assert.equal(extractTitle('<title>\u0001bell\u0007</title>'), 'bell');
  });
});

describe('isSafeTitle', () => {
  test('keeps product titles', () => {
    for (const t of ['Orthanc Explorer', 'OpenEMR Login', 'Mirth Connect Administrator', 'OHIF Viewer', 'HAPI FHIR', 'Bahmni Home', 'OpenMRS 3.2']) {
      assert.ok(isSafeTitle(t), t);
    }
  });

  test('refuses titles that look like they name a person or a record', () => {
    for (const t of [
      'DOE^JOHN - Viewer',
      'Canaryweb, Alphaweb WEBCANARY000417 - Study Viewer',
      'Patient chart',
      'Report 2024-03-01',
      'MRN 123',
      'Exam 12/03/2021',
      'Smith, Anna',
      'ID 1234567',
    ]) {
      assert.equal(isSafeTitle(t), false, t);
    }
  });
});

describe('forms, marks and icons', () => {
  const openemrLogin = [
    '<html><head><title>OpenEMR Login</title>',
    '<link rel="stylesheet" href="/public/assets/bootstrap/dist/css/bootstrap.min.css?v=70">',
    '<script src="/public/assets/jquery/dist/jquery.min.js?v=70"></script></head><body>',
    '<form method="POST" action="../main/main_screen.php?auth=login&amp;site=default" name="login_form">',
    '<input type="hidden" name="new_login_session_management" value="1">',
    '<input type="text" id="authUser" name="authUser" placeholder="Username">',
    '<input type=password id="clearPass" name="clearPass">',
    '</form></body></html>',
  ].join('\n');

  test('a password input is a login form', () => {
    assert.equal(hasPasswordInput(openemrLogin), true);
    assert.equal(hasPasswordInput('<input type="text" name="password">'), false);
    assert.equal(hasPasswordInput("<INPUT class=x TYPE='PASSWORD'>"), true);
  });

  test('marks: paths resolved against the page, form field names, cookie names, ordered by kind', () => {
    const marks = extractMarks(openemrLogin, '/interface/login/login.php', ['OpenEMR']);
    assert.deepEqual(marks, [
      'path:interface',
      'path:public',
      'cookie:openemr',
      'input:authuser',
      'input:clearpass',
      'input:new_login_session_management',
      'script:jquery.min',
    ]);
    // The example value of the fingerprint rule openemr-login-fields is exactly this page's marks.
    assert.equal(joinMarks(marks), 'path:interface path:public cookie:openemr input:authuser input:clearpass input:new_login_session_management script:jquery.min');
  });

  test('marks: meta generator and application-name, ng-app, other origins ignored, never input values', () => {
    const html = [
      '<meta name="generator" content="WordPress 6.4.2">',
      '<meta name="application-name" content="OHIF Viewer" />',
      '<div ng-app="bahmni.home">',
      '<script src="https://cdn.example.org/lib/react.js"></script>',
      '<script src="//cdn.example.org/x/y.js"></script>',
      '<img src="data:image/png;base64,AAAA">',
      '<input name="patientId" value="SECRET-VALUE-123">',
    ].join('');
    const marks = extractMarks(html, '/');
    assert.deepEqual(marks, ['generator:wordpress-6.4.2', 'app-name:ohif-viewer', 'ng-app:bahmni.home', 'input:patientid']);
    assert.ok(!marks.join(' ').includes('secret'));
  });

  test('marks are bounded in count and joined length', () => {
    const many = Array.from({ length: 500 }, (_, i) => `<script src="/p${i}/s${i}.js"></script>`).join('');
    const marks = extractMarks(many, '/');
    assert.equal(marks.length, MAX_MARKS);
    const joined = joinMarks(extractMarks(Array.from({ length: 60 }, (_, i) => `<script src="/${'q'.repeat(40)}${i}/a.js"></script>`).join(''), '/'));
    assert.ok(joined.length <= MARKS_CHARS);
    assert.ok(!joined.endsWith(' '));
  });

  test('sameOriginPath resolves relative references and refuses other origins and schemes', () => {
    assert.equal(sameOriginPath('images/favicon.ico', '/app/explorer.html'), '/app/images/favicon.ico');
    assert.equal(sameOriginPath('../favicon.ico', '/bahmni/home/'), '/bahmni/favicon.ico');
    assert.equal(sameOriginPath('https://other.example/x', '/'), null);
    assert.equal(sameOriginPath('javascript:alert(1)', '/'), null);
  });

  test('iconPath finds the declared icon', () => {
    assert.equal(iconPath('<link rel="shortcut icon" href="images/favicon.ico">', '/app/explorer.html'), '/app/images/favicon.ico');
    assert.equal(iconPath('<link rel="stylesheet" href="a.css">', '/'), null);
  });

  test('cookie names only, never values; attributes are not names', () => {
    assert.deepEqual(cookieNamesOf('OpenEMR=abc123; path=/; HttpOnly, JSESSIONID=xyz; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Secure'), ['JSESSIONID', 'OpenEMR']);
    assert.deepEqual(cookieNamesOf(undefined), []);
  });
});

describe('parseAuthenticate', () => {
  test('the real Orthanc 401', () => {
    const { head } = splitHttp(fixture('orthanc-1.10.1-auth-root.http'));
    const value = /^WWW-Authenticate: (.*)$/im.exec(head)?.[1];
    assert.deepEqual(parseAuthenticate(value), { scheme: 'Basic', realm: 'Orthanc Secure Area' });
  });

  test('token realms, escapes, other parameters, garbage', () => {
    assert.deepEqual(parseAuthenticate('Digest nonce="x", realm=lab, qop="auth"'), { scheme: 'Digest', realm: 'lab' });
    assert.deepEqual(parseAuthenticate('Basic realm="a \\"quoted\\" realm"'), { scheme: 'Basic', realm: 'a "quoted" realm' });
    assert.deepEqual(parseAuthenticate('Bearer'), { scheme: 'Bearer', realm: null });
    assert.equal(parseAuthenticate('"not a scheme"'), null);
    assert.equal(parseAuthenticate(undefined), null);
  });
});

describe('favicon hashes (Shodan http.favicon.hash)', () => {
  test('MurmurHash3 x86 32-bit is reported signed, like Python mmh3.hash (veegee/mmh3 tests: hash("foo") == -156908512)', () => {
    assert.equal(mmh3Signed(Buffer.from('foo')), -156908512);
  });

  test('base64 with a newline every 76 characters and one at the end, as Python base64.encodebytes', () => {
    assert.equal(shodanBase64(Buffer.alloc(0)), '');
    assert.equal(shodanBase64(Buffer.from('abc')), 'YWJj\n');
    const exactly76 = shodanBase64(Buffer.alloc(57, 0));
    assert.equal(exactly76, `${'A'.repeat(76)}\n`);
    const longer = shodanBase64(Buffer.alloc(58, 0));
    assert.equal(longer, `${'A'.repeat(76)}\nAA==\n`);
  });

  test("Jetty's demo favicon hashes to -629047854, the value public Shodan lists give for Jetty (devanshbatham/FavFreak)", () => {
    assert.equal(faviconHashes(fixture('jetty-demo-favicon.ico')).mmh3, '-629047854');
  });

  test("Orthanc 1.10.1's favicon (captured): MD5 and mmh3", () => {
    assert.deepEqual(faviconHashes(fixture('orthanc-1.10.1-favicon.ico')), { md5: '6e028d7cc65a1430c68a581f8064e8e2', mmh3: '-478834633' });
  });
});

describe('parseOrthancSystem', () => {
  test('the real /system of Orthanc 1.10.1', () => {
    const { body } = splitHttp(fixture('orthanc-1.10.1-system.http'));
    assert.deepEqual(parseOrthancSystem(body), { version: '1.10.1', apiVersion: 16, name: 'medsurface-orthanc-open' });
  });

  test('mainline builds, ill-typed fields, and non-objects', () => {
    assert.deepEqual(parseOrthancSystem(Buffer.from('{"Version":"mainline","ApiVersion":"x","Name":7}')), { version: 'mainline', apiVersion: null, name: null });
    assert.deepEqual(parseOrthancSystem(Buffer.from('{"Version":"1.2.3; rm -rf"}')).version, null);
    assert.throws(() => parseOrthancSystem(Buffer.from('[1,2]')), ProtocolError);
    assert.throws(() => parseOrthancSystem(Buffer.from('<html>')), ProtocolError);
    assert.throws(() => parseOrthancSystem(Buffer.alloc(20_000, 0x20)), ProtocolError);
  });
});

describe('locations and scheme hints', () => {
  test('locations lose query and fragment (they can carry record ids)', () => {
    assert.equal(locationForRecord('interface/login/login.php?site=default'), 'interface/login/login.php');
    assert.equal(locationForRecord('/viewer/study?patientId=WEBCANARY000417#x'), '/viewer/study');
    assert.equal(locationForRecord('https://h.example:8443/a/b'), 'https://h.example:8443/a/b');
  });

  test('plain answers that ask for TLS (nginx, Apache httpd, Go)', () => {
    const nginx = Buffer.from('<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head></html>');
    assert.equal(saysTlsRequired(400, nginx), true);
    assert.equal(saysTlsRequired(400, Buffer.from('Your browser sent a request that this server could not understand.<br />Reason: You\'re speaking plain HTTP to an SSL-enabled server port.')), true);
    assert.equal(saysTlsRequired(400, Buffer.from('Client sent an HTTP request to an HTTPS server.\n')), true);
    assert.equal(saysTlsRequired(200, nginx), false);
    assert.equal(saysTlsRequired(400, Buffer.from('bad request')), false);
  });
});

describe('parsers never throw anything but ProtocolError on arbitrary input', () => {
  const anyText = fc.oneof(
    fc.string({ maxLength: 2000 }),
    fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b).toString('latin1')),
    fc
      .array(fc.constantFrom('<title>', '</title>', '<input type=password name=a>', '<script src="', '"></script>', '<meta name="generator" content="', '&#x', ';', 'a', '/', '..', '?', ' '), {
        maxLength: 200,
      })
      .map((a) => a.join('')),
  );

  test('page features', () => {
    fc.assert(
      fc.property(anyText, fc.string({ maxLength: 100 }), (html, p) => {
        const t = extractTitle(html);
        if (t !== null) {
          assert.ok(t.length <= TITLE_CHARS);
          isSafeTitle(t);
        }
        hasPasswordInput(html);
        const marks = extractMarks(html, `/${p}`, cookieNamesOf(html));
        assert.ok(marks.length <= MAX_MARKS);
        assert.ok(joinMarks(marks).length <= MARKS_CHARS);
        iconPath(html, `/${p}`);
        parseAuthenticate(html);
        locationForRecord(html);
        saysTlsRequired(400, Buffer.from(html));
      }),
      { numRuns: 300 },
    );
  });

  test('favicon hashes and /system', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
        const b = Buffer.from(bytes);
        const h = faviconHashes(b);
        assert.match(h.mmh3, /^-?\d+$/);
        assert.ok(Number(h.mmh3) >= -(2 ** 31) && Number(h.mmh3) < 2 ** 31);
        try {
          parseOrthancSystem(b);
        } catch (err) {
          assert.ok(err instanceof ProtocolError, String(err));
        }
      }),
      { numRuns: 300 },
    );
  });
});
