/**
 * Request checks of the operations HTTP servers, kept free of I/O so they can be
 * unit tested: which Host names the server answers to (DNS rebinding), whether a
 * state-changing request comes from a foreign web page (CSRF), whether a peer is
 * really local (a same-host reverse proxy makes every caller look like loopback),
 * and the security headers sent on every response.
 *
 * See docs/security-http.md for the threat model behind each rule.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { parseAddr } from '../../config/schema.js';

/** Headers sent on every response of http_addr and metrics_addr. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-frame-options': 'DENY',
  // JSON and text answers load nothing; the operator page sends its own policy (operator-page.ts).
  'content-security-policy':
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Keeps other sites from pulling these answers into their page with no-cors loads.
  'cross-origin-resource-policy': 'same-origin',
});

/** Names the HTTP server answers to; `any` turns the Host check off (admin.allowed_hosts: ["*"]). */
export interface HostPolicy {
  /** Lower-case host names and IP literals (IPv6 without brackets). */
  readonly names: ReadonlySet<string>;
  /** The operator-configured names only: a page served from one of them may post (Origin). */
  readonly extra: ReadonlySet<string>;
  readonly any: boolean;
}

const UNSPECIFIED = new Set(['', '0.0.0.0', '::']);
const LOCAL_NAMES = ['localhost', '127.0.0.1', '::1'];

/** Defaults (loopback names, the http_addr host) plus admin.allowed_hosts. */
export function hostPolicy(httpAddr: string, allowedHosts: readonly string[]): HostPolicy {
  const extra = new Set(allowedHosts.map((h) => normalizeName(h)).filter((h) => h !== '*'));
  const names = new Set([...LOCAL_NAMES, ...extra]);
  let bound = '';
  try {
    bound = normalizeName(parseAddr(httpAddr).host);
  } catch {
    // An invalid http_addr never gets this far (the config loader refuses it).
  }
  if (!UNSPECIFIED.has(bound)) names.add(bound);
  return { names, extra, any: allowedHosts.includes('*') };
}

function normalizeName(name: string): string {
  const n = name.trim().toLowerCase();
  const unbracketed = n.startsWith('[') && n.endsWith(']') ? n.slice(1, -1) : n;
  return unbracketed.endsWith('.') ? unbracketed.slice(0, -1) : unbracketed;
}

// A Host header: a name or IPv4 literal, or a bracketed IPv6 literal, then an optional port.
const HOST_HEADER = /^(?:([a-z0-9_.-]+)|\[([0-9a-f:.]+)\])(?::(\d{1,5}))?$/;

/** The host name of a Host header, lower case, IPv6 unbracketed; null when it is malformed. */
export function hostName(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = HOST_HEADER.exec(header.trim().toLowerCase());
  if (!m) return null;
  const name = m[1] ?? m[2]!;
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** True when the request names this server: a missing or unknown Host is refused. */
export function hostAllowed(header: string | undefined, policy: HostPolicy): boolean {
  if (policy.any) return true;
  const name = hostName(header);
  return name !== null && policy.names.has(name);
}

/** Headers a forwarding proxy adds; any of them means the TCP peer is not the caller. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'via'];

export function isForwarded(headers: IncomingHttpHeaders): boolean {
  return FORWARDING_HEADERS.some((h) => headers[h] !== undefined);
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.');
}

/**
 * A caller on this host: a loopback peer that was not forwarded. A reverse proxy on
 * the same host connects from loopback for every remote caller, so a forwarding
 * header makes the request remote (it then needs admin.token).
 */
export function isLocalPeer(remoteAddress: string | undefined, headers: IncomingHttpHeaders): boolean {
  return isLoopback(remoteAddress) && !isForwarded(headers);
}

/** Methods that change nothing; every other method is checked for a cross-site origin. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };

/**
 * Why a state-changing request must be refused as cross-site, or null when it may
 * proceed. Browsers send Sec-Fetch-Site and Origin on such requests; a page of
 * another origin (even another port on this host) is refused. A request with
 * neither header does not come from a browser page (curl, scripts) and passes.
 */
export function crossSiteRefusal(headers: IncomingHttpHeaders, policy: HostPolicy): string | null {
  const site = single(headers['sec-fetch-site'])?.trim().toLowerCase();
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `Sec-Fetch-Site: ${site} requests may not change state`;
  }
  const origin = single(headers.origin)?.trim();
  if (origin === undefined) return null;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return 'malformed Origin header';
  }
  const port = DEFAULT_PORT[url.protocol];
  if (port === undefined) return `Origin ${origin} may not change state`;
  const host = single(headers.host)?.trim().toLowerCase() ?? '';
  // Same origin: the page was served by this server under the Host it now calls
  // (scheme not compared: a TLS-terminating proxy serves https for this http server).
  if (host !== '' && (url.host === host || `${url.host}:${port}` === host)) return null;
  if (policy.extra.has(normalizeName(url.hostname))) return null;
  return `Origin ${origin} is not this server`;
}

/** True for "application/json" (parameters such as charset allowed). */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const type = header.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json';
}
