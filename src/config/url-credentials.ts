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

/** Text (an error message) with the credentials of any URL in it replaced by "***". */
export function redactUrlsIn(text: string): string {
  return text.replace(USERINFO_ANYWHERE, '$1***@');
}

/** Every URL of a comma-separated nats.url, redacted, comma-separated again. */
export function redactNatsUrls(url: string): string {
  return natsServers(url).map(redactNatsUrl).join(',');
}
