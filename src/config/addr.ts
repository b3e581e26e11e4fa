// Listen and target addresses: "host:port", ":port" (all interfaces) or "[v6]:port".

import { isIPv4, isIPv6 } from 'node:net';

export interface ParsedAddr {
  /** "" = all interfaces (from ":port"); IPv6 literals come without brackets. */
  host: string;
  port: number;
}

export class AddrError extends Error {
  override name = 'AddrError';
}

export const HOSTNAME =
  /^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$/;
const ADDR_HINT = 'use "host:port", ":port" or "[::1]:port"';

/**
 * Parses "host:port", ":port" (all interfaces, host "") or "[v6]:port".
 * With requireHost, ":port" is refused (upstream targets need a host).
 */
export function parseAddr(addr: string, opts: { requireHost?: boolean } = {}): ParsedAddr {
  const text = typeof addr === 'string' ? addr.trim() : '';
  const shown = JSON.stringify(addr);
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':')
      throw new AddrError(`${shown} is not an address (${ADDR_HINT})`);
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!isIPv6(host)) throw new AddrError(`${shown}: "${host}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new AddrError(`${shown} is not an address (${ADDR_HINT})`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw new AddrError(`${shown}: IPv6 hosts need brackets, e.g. "[::1]:8453"`);
    if (host !== '' && !isIPv4(host) && !HOSTNAME.test(host)) {
      throw new AddrError(`${shown}: "${host}" is not a valid host name`);
    }
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new AddrError(`${shown}: port must be a number 0..65535`);
  }
  if (opts.requireHost && host === '')
    throw new AddrError(`${shown}: a host is required (e.g. "localhost:8081")`);
  return { host, port: Number(portText) };
}

/** Joins host and port back, bracketing IPv6 ("::1", 8453 -> "[::1]:8453"). */
export function formatAddr({ host, port }: ParsedAddr): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
