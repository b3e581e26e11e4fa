/**
 * Which subjects a push producer may name in the `Gatesvr-Reply` header. The
 * gateway publishes the push's answer there with its own NATS credentials, so
 * an unchecked subject would let a producer write into another session's event
 * subject, the gateway's KV buckets or the JetStream API, or (a subject with a
 * space) break the gateway's NATS connection. Allowed: a valid literal subject
 * under `_INBOX.` or under `nats.reply_prefix`, and never under the gateway's
 * own prefix, `$KV`, `$JS` or `$SYS`.
 */

/** Longest reply subject accepted, in UTF-8 bytes. */
export const MAX_REPLY_SUBJECT_BYTES = 256;

export interface ReplySubjectPolicy {
  /** `nats.subject_prefix`: nothing under `<prefix>.` is ever a reply subject. */
  gatewayPrefix: string;
  /** `nats.reply_prefix`: allowed besides `_INBOX.` ("" = none). A trailing `.` is optional. */
  replyPrefix: string;
}

const RESERVED = ['$KV', '$JS', '$SYS'];

/** Whitespace or a control character anywhere breaks the NATS protocol line. */
const UNSAFE_CHAR = /[\s\u0000-\u001f\u007f]/u;

/** Why `subject` may not be used as a reply subject, or null when it may. */
export function replySubjectRefusal(subject: string, policy: ReplySubjectPolicy): string | null {
  if (subject.length === 0) return 'empty';
  if (Buffer.byteLength(subject, 'utf8') > MAX_REPLY_SUBJECT_BYTES) return 'too long';
  if (UNSAFE_CHAR.test(subject)) return 'whitespace or control character';
  if (subject.includes('*') || subject.includes('>')) return 'wildcard';
  if (subject.split('.').some((t) => t.length === 0)) return 'empty token';
  for (const r of RESERVED) if (subject.startsWith(r)) return `reserved (${r})`;
  if (policy.gatewayPrefix !== '' && subject.startsWith(`${policy.gatewayPrefix}.`))
    return 'under the gateway subject prefix';
  if (subject.startsWith('_INBOX.')) return null;
  const extra = policy.replyPrefix.replace(/\.+$/, '');
  if (extra !== '' && subject.startsWith(`${extra}.`)) return null;
  return extra === '' ? 'not under _INBOX.' : `not under _INBOX. or ${extra}.`;
}

export function isAllowedReplySubject(subject: string, policy: ReplySubjectPolicy): boolean {
  return replySubjectRefusal(subject, policy) === null;
}
