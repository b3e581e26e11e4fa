import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/schema.js';
import { ensureTls } from '../../src/config/tls.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('ensureTls', () => {
  it('makes a self-signed EC P-256 certificate for localhost when no files are configured', async () => {
    const tls = await ensureTls(defaultConfig());
    dirs.push(dirname(tls.certFile));
    assert.equal(tls.selfSigned, true);
    const cert = new X509Certificate(tls.certPem);
    assert.match(cert.subject, /CN=localhost/);
    assert.match(cert.subjectAltName ?? '', /DNS:localhost/);
    assert.match(cert.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.match(cert.subjectAltName ?? '', /IP Address:(0:0:0:0:0:0:0:1|::1)/);
    assert.ok(cert.checkHost('localhost'));
    assert.ok(cert.checkIP('127.0.0.1'));
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const issuer = new X509Certificate(
      tls.certPem.slice(tls.certPem.indexOf('-----END CERTIFICATE-----') + 25),
    );
    assert.ok(cert.checkIssued(issuer) && cert.verify(issuer.publicKey), 'issued by the CA that follows it');
    assert.equal(issuer.ca, true);
    assert.ok(new Date(cert.validFrom).getTime() <= Date.now());
    assert.ok(new Date(cert.validTo).getTime() > Date.now() + 30 * 86_400_000);
    const key = createPrivateKey(tls.keyPem);
    assert.ok(cert.checkPrivateKey(key));
    assert.equal(
      createPublicKey(key).export({ format: 'pem', type: 'spki' }),
      cert.publicKey.export({ format: 'pem', type: 'spki' }),
    );
    for (const f of [tls.certFile, tls.keyFile]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
  });

  it('makes the self-signed certificate a leaf for server authentication, not a CA', async () => {
    const tls = await ensureTls(defaultConfig());
    dirs.push(dirname(tls.certFile));
    const cert = new X509Certificate(tls.certPem);
    // A CA certificate here would let its key (a temp file) sign certificates for any name
    // that every client pinning it would then trust.
    assert.equal(cert.ca, false);
    assert.ok(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.1'), `serverAuth in ${cert.keyUsage}`);
    assert.match(cert.subjectAltName ?? '', /DNS:localhost/);
  });

  it('adds a specific quic_addr host and extra names to the SAN', async () => {
    const cfg = defaultConfig();
    cfg.server.quicAddr = '10.1.2.3:8453';
    const tls = await ensureTls(cfg, { extraNames: ['gate.example.com'] });
    dirs.push(dirname(tls.certFile));
    const san = new X509Certificate(tls.certPem).subjectAltName ?? '';
    assert.match(san, /IP Address:10\.1\.2\.3/);
    assert.match(san, /DNS:gate\.example\.com/);
  });

  it('reads configured files and checks them', async () => {
    const made = await ensureTls(defaultConfig());
    const dir = dirname(made.certFile);
    dirs.push(dir);
    const cfg = defaultConfig();
    cfg.server.certFile = made.certFile;
    cfg.server.keyFile = made.keyFile;
    const tls = await ensureTls(cfg);
    assert.equal(tls.selfSigned, false);
    assert.equal(tls.certPem, made.certPem);
    assert.equal(tls.keyFile, made.keyFile);

    const other = await ensureTls(defaultConfig());
    dirs.push(dirname(other.certFile));
    cfg.server.keyFile = other.keyFile;
    await assert.rejects(
      ensureTls(cfg),
      (e: unknown) => e instanceof ConfigError && /does not match/.test(e.message),
    );

    cfg.server.keyFile = join(dir, 'missing.pem');
    await assert.rejects(ensureTls(cfg), {
      name: 'ConfigError',
      message: /^config: server\.key_file: cannot read/,
    });

    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a cert');
    cfg.server.certFile = junk;
    cfg.server.keyFile = made.keyFile;
    await assert.rejects(ensureTls(cfg), {
      name: 'ConfigError',
      message: /server\.cert_file: .* is not a PEM certificate/,
    });

    cfg.server.keyFile = '';
    await assert.rejects(ensureTls(cfg), { name: 'ConfigError', message: /server\.key_file: required/ });
  });

  it('writes into a given directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatesvr-tls-test-'));
    dirs.push(dir);
    const tls = await ensureTls(defaultConfig(), { dir });
    assert.equal(dirname(tls.certFile), dir);
  });
});
