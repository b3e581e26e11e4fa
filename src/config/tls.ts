// TLS material for the QUIC listener: the configured PEM files, or (cert_file and
// key_file both empty) an EC P-256 leaf certificate for localhost made at start, issued
// by a one-off CA whose key is discarded (the "self-signed" certificate).

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { ConfigError } from './load.js';
import { parseAddr, type ServerConfig } from './schema.js';

export interface TlsMaterial {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  selfSigned: boolean;
}

export interface EnsureTlsOptions {
  /** Directory for self-signed files (default: a fresh mkdtemp under os.tmpdir()). */
  dir?: string;
  /** Extra DNS names or IP addresses for the self-signed SAN. */
  extraNames?: readonly string[];
  /** Validity of the self-signed certificate in days (default 365). */
  days?: number;
}

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::']);

/**
 * Returns the TLS certificate and key. Configured files are read and checked (PEM
 * parses, key matches certificate); otherwise a leaf certificate and its one-off CA (CN=localhost,
 * SAN DNS:localhost, IP:127.0.0.1, IP:::1, plus the quic_addr host when specific) is
 * written with mode 0600. Throws ConfigError.
 */
export async function ensureTls(
  cfg: { server: Pick<ServerConfig, 'certFile' | 'keyFile' | 'quicAddr'> },
  opts: EnsureTlsOptions = {},
): Promise<TlsMaterial> {
  const { certFile, keyFile } = cfg.server;
  if (certFile !== '' || keyFile !== '') {
    if (certFile === '')
      throw new ConfigError(
        'config: server.cert_file: required when server.key_file is set',
        'server.cert_file',
      );
    if (keyFile === '')
      throw new ConfigError(
        'config: server.key_file: required when server.cert_file is set',
        'server.key_file',
      );
    return readConfigured(certFile, keyFile);
  }
  return makeSelfSigned(cfg.server.quicAddr, opts);
}

/** Reads a file named by config key `key`; a failure is a one-line ConfigError naming the key. */
export async function readConfigFile(file: string, key: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : (e.code ?? e.message.split('\n')[0]);
    throw new ConfigError(`config: ${key}: cannot read ${JSON.stringify(file)}: ${why}`, key);
  }
}

/**
 * Reads a certificate (chain) and its private key named by config keys `certKey` and
 * `keyKey`, checking that both parse and belong together. Throws one-line ConfigErrors.
 */
export async function readCertAndKey(
  certFile: string,
  keyFile: string,
  certKey: string,
  keyKey: string,
): Promise<{ certPem: string; keyPem: string }> {
  const [certPem, keyPem] = await Promise.all([
    readConfigFile(certFile, certKey),
    readConfigFile(keyFile, keyKey),
  ]);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new ConfigError(
      `config: ${certKey}: ${JSON.stringify(certFile)} is not a PEM certificate`,
      certKey,
    );
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new ConfigError(
      `config: ${keyKey}: ${JSON.stringify(keyFile)} is not an unencrypted PEM private key`,
      keyKey,
    );
  }
  if (!cert.checkPrivateKey(key)) {
    throw new ConfigError(
      `config: ${keyKey}: ${JSON.stringify(keyFile)} does not match the certificate in ${JSON.stringify(certFile)}`,
      keyKey,
    );
  }
  return { certPem, keyPem };
}

async function readConfigured(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const pems = await readCertAndKey(certFile, keyFile, 'server.cert_file', 'server.key_file');
  return { certFile, keyFile, ...pems, selfSigned: false };
}

async function makeSelfSigned(quicAddr: string, opts: EnsureTlsOptions): Promise<TlsMaterial> {
  const names = new Set<string>(['localhost', '127.0.0.1', '::1']);
  try {
    const { host } = parseAddr(quicAddr);
    if (!WILDCARD_HOSTS.has(host)) names.add(host);
  } catch {
    // validated by loadConfig; a bad address simply adds no SAN here
  }
  for (const n of opts.extraNames ?? []) if (n.trim() !== '') names.add(n.trim());

  const altNames = [...names].map((n) =>
    isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n },
  );
  const notBeforeDate = new Date(Date.now() - 60 * 60_000); // tolerate clock skew
  const notAfterDate = new Date(Date.now() + (opts.days ?? 365) * 86_400_000);
  const common = { keyType: 'ec', curve: 'P-256', algorithm: 'sha256', notBeforeDate, notAfterDate } as const;
  // Clients pin what they trust; BoringSSL (QUIC) accepts no CA:FALSE certificate as a
  // trust anchor. So a one-off CA signs the leaf and its key is dropped right here: nothing
  // can sign another certificate under it, and the key on disk is a leaf's (CA:FALSE).
  const ca = await generate([{ name: 'commonName', value: 'gatesvr one-off CA' }], {
    ...common,
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, critical: true },
    ],
  });
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    ...common,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  // The leaf first, then its issuer: served as a chain, and a client given the whole
  // PEM to trust finds the one-off CA in it.
  const chainPem = `${pems.cert.trimEnd()}\n${ca.cert.trimEnd()}\n`;

  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'gatesvr-tls-')));
  const certFile = join(dir, 'selfsigned-cert.pem');
  const keyFile = join(dir, 'selfsigned-key.pem');
  await writeFile(certFile, chainPem, { mode: 0o600 });
  await writeFile(keyFile, pems.private, { mode: 0o600 });
  // mode only applies to new files; enforce it when reusing a directory
  await Promise.all([chmod(certFile, 0o600), chmod(keyFile, 0o600)]);
  return { certFile, keyFile, certPem: chainPem, keyPem: pems.private, selfSigned: true };
}
