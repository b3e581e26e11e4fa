/**
 * Self-signed P-256 certificates for localhost / 127.0.0.1, made with the
 * openssl CLI into a temp dir: a shared one per process, or a fresh one.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
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

/** openssl arguments for a new unencrypted P-256 key written to `keyFile`. */
const newEcKey = (keyFile: string) => [
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:prime256v1',
  '-nodes',
  '-keyout',
  keyFile,
];

/** A self-signed certificate with a new key, valid one day, with `-addext` extensions. */
async function selfSigned(certFile: string, keyFile: string, subject: string, exts: string[]): Promise<void> {
  const addext = exts.flatMap((e) => ['-addext', e]);
  await run('openssl', [
    'req',
    '-x509',
    ...newEcKey(keyFile),
    '-days',
    '1',
    '-subj',
    subject,
    ...addext,
    '-out',
    certFile,
  ]);
}

/** A new certificate, its own CA: unknown to anyone trusting another one. */
export async function makeSelfSignedCert(): Promise<TestCert> {
  const dir = await mkdtemp(join(tmpdir(), 'gatesvr-cert-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await selfSigned(certFile, keyFile, '/CN=localhost', ['subjectAltName=DNS:localhost,IP:127.0.0.1']);
  const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { certPem, keyPem, certFile, keyFile };
}

export function makeTestCert(): Promise<TestCert> {
  cached ??= makeSelfSignedCert();
  return cached;
}

export interface TestPki {
  dir: string;
  /** The CA certificate (PEM) both leaves chain to. */
  caPem: string;
  caFile: string;
  /** Server leaf for localhost / 127.0.0.1 / ::1 (serverAuth). */
  server: TestCert;
  /** Client leaf, CN=producer (clientAuth). */
  client: TestCert;
}

async function leaf(
  dir: string,
  name: string,
  caFile: string,
  caKey: string,
  ext: string,
): Promise<TestCert> {
  const keyFile = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  const certFile = join(dir, `${name}-cert.pem`);
  await writeFile(extFile, ext);
  await run('openssl', ['req', '-new', ...newEcKey(keyFile), '-subj', `/CN=${name}`, '-out', csr]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caFile,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    '1',
    '-sha256',
    '-extfile',
    extFile,
    '-out',
    certFile,
  ]);
  const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { certPem, keyPem, certFile, keyFile };
}

/** A private CA (openssl) with a server and a client leaf, in a fresh temp dir (the caller removes it). */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'gatesvr-pki-'));
  const caFile = join(dir, 'ca-cert.pem');
  const caKey = join(dir, 'ca-key.pem');
  await selfSigned(caFile, caKey, '/CN=gatesvr test CA', [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const server = await leaf(
    dir,
    'localhost',
    caFile,
    caKey,
    'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n',
  );
  const client = await leaf(
    dir,
    'producer',
    caFile,
    caKey,
    'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n',
  );
  return { dir, caPem: await readFile(caFile, 'utf8'), caFile, server, client };
}
