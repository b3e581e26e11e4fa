/**
 * Self-signed P-256 certificates for localhost / 127.0.0.1, made with the
 * openssl CLI into a temp dir: a shared one per process, or a fresh one.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface TestCert {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
}

const run = promisify(execFile);
let cached: Promise<TestCert> | null = null;

/** A new certificate, its own CA: unknown to anyone trusting another one. */
export async function makeSelfSignedCert(): Promise<TestCert> {
  const dir = await mkdtemp(join(tmpdir(), 'gatesvr-cert-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { certPem, keyPem, certFile, keyFile };
}

export function makeTestCert(): Promise<TestCert> {
  cached ??= makeSelfSignedCert();
  return cached;
}
