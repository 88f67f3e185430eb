/**
 * Certificate names keep what identifies the server and nothing that may identify a person
 * (tls-info.ts redactCertName / keptSubjectAltNames), on the lab's real certificates and on
 * hand-written names.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { packageRoot } from './paths.js';
import { certificateOf, isCertHostName, keptSubjectAltNames, looksPersonal, redactCertName } from './tls-info.js';

const cert = (name: string) => new X509Certificate(readFileSync(path.join(packageRoot(), 'src/lab/certs', `${name}.cert.pem`)));

describe('redactCertName', () => {
  test('CN: a host name, wildcard or IP is kept; anything else is redacted with its length', () => {
    assert.equal(redactCertName('CN=pacs.example.org', 'subject'), 'CN=pacs.example.org');
    assert.equal(redactCertName('CN=*.example.org', 'subject'), 'CN=*.example.org');
    assert.equal(redactCertName('CN=192.0.2.7', 'subject'), 'CN=192.0.2.7');
    assert.equal(redactCertName('CN=localhost', 'subject'), 'CN=localhost');
    assert.equal(redactCertName('CN=DOE^JANE', 'subject'), 'CN=[redacted 8 chars]');
    assert.equal(redactCertName('CN=Jane Doe', 'subject'), 'CN=[redacted 8 chars]', 'free text in a subject CN is not a host name');
    assert.equal(redactCertName('CN=SMITHJOHN', 'subject'), 'CN=[redacted 9 chars]', 'a lone word may be a name');
  });

  test("organisational attributes are kept unless they look personal; a CA's CN is organisational", () => {
    assert.equal(redactCertName('C=DE\nST=Bayern\nL=Erlangen\nO=Example Clinic\nOU=Radiology', 'subject'), 'C=DE, ST=Bayern, L=Erlangen, O=Example Clinic, OU=Radiology');
    assert.equal(redactCertName('O=MRN 12345678\nOU=DOE^JANE\nOU=born 1950-03-04', 'subject'), 'O=[redacted 12 chars], OU=[redacted 8 chars], OU=[redacted 15 chars]');
    assert.equal(redactCertName('CN=Example Issuing CA 2\nO=Example Trust', 'ca'), 'CN=Example Issuing CA 2, O=Example Trust');
    assert.equal(redactCertName('CN=DOE^JANE', 'ca'), 'CN=[redacted 8 chars]');
  });

  test('every other attribute and anything malformed is redacted', () => {
    assert.equal(
      redactCertName('CN=dev.example.org\nemailAddress=jane@example.org\nserialNumber=SN42\nUID=jdoe\n2.5.4.42=Jane\ngarbage', 'subject'),
      'CN=dev.example.org, emailAddress=[redacted 16 chars], serialNumber=[redacted 4 chars], UID=[redacted 4 chars], 2.5.4.42=[redacted 4 chars], [redacted 7 chars]',
    );
  });

  test('markers of personal data', () => {
    for (const v of ['DOE^JANE', 'a@b', 'ID 12345', '1950-03-04', '04.03.1950']) assert.ok(looksPersonal(v), v);
    for (const v of ['Radiology', 'Example Clinic GmbH', 'R3', 'DigiCert Global G2 TLS RSA SHA256 2020 CA1']) assert.ok(!looksPersonal(v), v);
    assert.ok(isCertHostName('a-b.c_d.example') && !isCertHostName('x'.repeat(254)) && !isCertHostName('a..b') && !isCertHostName('*.'));
  });
});

describe('keptSubjectAltNames', () => {
  test('DNS host names and IP addresses are kept; e-mail, URI and other names are dropped', () => {
    assert.deepEqual(
      keptSubjectAltNames('DNS:pacs.example.org, email:jane@example.org, URI:https://pacs.example/patient/123456, IP Address:192.0.2.1, IP Address:2001:DB8:0:0:0:0:0:1, DNS:DOE^JANE, DirName:CN=x, othername:<unsupported>'),
      ['DNS:pacs.example.org', 'IP Address:192.0.2.1', 'IP Address:2001:DB8:0:0:0:0:0:1'],
    );
    assert.deepEqual(keptSubjectAltNames(''), []);
  });
});

describe('certificateOf on the lab certificates', () => {
  test('the certificate canary: subject and SAN canaries redacted, the CA-issued issuer kept, not self-signed', () => {
    const c = certificateOf(cert('cert-canary'));
    assert.equal(c.subject, 'CN=[redacted 15 chars], O=[redacted 18 chars], OU=[redacted 12 chars], emailAddress=[redacted 32 chars]');
    assert.equal(c.issuer, 'CN=medsurface lab test CA, O=medsurface lab');
    assert.deepEqual(c.subjectAltNames, ['DNS:cert-canary.lab.medsurface.test']);
    assert.equal(c.selfSigned, false);
    const text = JSON.stringify(c);
    for (const canary of ['CANARY', 'CERTPID4471902', '19030405', 'canary.certname', 'patients.example']) assert.ok(!text.includes(canary), canary);
  });

  test('host-name certificates are unchanged, and self-signed is still decided on the raw names', () => {
    const c = certificateOf(cert('pacs-tls'));
    assert.equal(c.subject, 'CN=pacs-tls.lab.medsurface.test, O=medsurface lab');
    assert.equal(c.issuer, c.subject);
    assert.equal(c.selfSigned, true);
    const ca = certificateOf(cert('lab-ca'));
    assert.equal(ca.selfSigned, true, 'a self-signed certificate whose CN is redacted is still self-signed');
    assert.equal(ca.subject, 'CN=[redacted 22 chars], O=medsurface lab', 'a self-issued name is judged as a subject');
  });
});
