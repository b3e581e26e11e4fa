/**
 * Credentials embedded in NATS URLs ("nats://user:pass@host", "nats://token@host"):
 * they still work, but whatever holds the URL (a --nats-url flag in `ps`, a log line)
 * shows them, so they are found and redacted before a URL is ever logged.
 */

const USERINFO = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^@/?#]*)@/;
const USERINFO_ANYWHERE = /([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^@/?#\s]*@/g;

/** The URLs of a comma-separated nats.url. */
export function natsServers(url: string): string[] {
  return url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** True when the URL carries a user, password or token before its host. */
export function hasUrlCredentials(url: string): boolean {
  return USERINFO.test(url.trim());
}

/** The URL with any user, password or token replaced by "***". */
export function redactNatsUrl(url: string): string {
  return url.trim().replace(USERINFO, '$1***@');
}

export type UrlCredentials = { user: string; pass: string } | { token: string };

/**
 * The URL without its credentials, and those credentials ("user:pass" or a token),
 * percent-decoded. nats.js ignores credentials in a server URL, so they are lifted
 * out and given to it as options.
 */
export function splitUrlCredentials(url: string): { url: string; credentials: UrlCredentials | null } {
  const m = USERINFO.exec(url.trim());
  if (!m) return { url: url.trim(), credentials: null };
  const stripped = url.trim().replace(USERINFO, '$1');
  const info = m[2]!;
  const colon = info.indexOf(':');
  const dec = (t: string) => {
    try {
      return decodeURIComponent(t);
    } catch {
      return t;
    }
  };
  const credentials =
    colon < 0 ? { token: dec(info) } : { user: dec(info.slice(0, colon)), pass: dec(info.slice(colon + 1)) };
  return { url: stripped, credentials };
}

/** Text (an error message) with the credentials of any URL in it replaced by "***". */
export function redactUrlsIn(text: string): string {
  return text.replace(USERINFO_ANYWHERE, '$1***@');
}

/** Every URL of a comma-separated nats.url, redacted, comma-separated again. */
export function redactNatsUrls(url: string): string {
  return natsServers(url).map(redactNatsUrl).join(',');
}
