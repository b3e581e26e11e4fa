/**
 * Every NATS name the gateway uses, derived from `nats.subject_prefix` (P) and
 * `nats.stream` (S). docs/protocol.md ("NATS") documents them for upstreams.
 */

export interface NatsNames {
  /** JetStream stream of session events: subjects P.events.> */
  eventsStream: string;
  /** JetStream stream of producer pushes: subjects P.push.> */
  pushStream: string;
  /** JetStream stream keeping lifecycle events for a while: P.lifecycle.> */
  lifecycleStream: string;
  /** KV bucket openid -> node holding the session. */
  directoryBucket: string;
  /** KV bucket of the serving lease (primary/backup). */
  leaseBucket: string;
  events(sessionId: string): string;
  eventsAll: string;
  /** Subject the backup uses to know it has read everything stored before it. */
  barrier: string;
  pushAll: string;
  pushOpenid(openid: string): string;
  pushSession(sessionId: string): string;
  pushBroadcast: string;
  pushZone(zone: number): string;
  lifecycle(type: string): string;
  /** Core NATS request subjects of one node (forwarded pushes, session hand-off). */
  nodePush(node: string): string;
  nodeRelease(node: string): string;
}

export function natsNames(prefix: string, stream: string): NatsNames {
  const p = prefix;
  return {
    eventsStream: stream,
    pushStream: `${stream}_PUSH`,
    lifecycleStream: `${stream}_LIFECYCLE`,
    directoryBucket: `${stream}_DIR`,
    leaseBucket: `${stream}_LEASE`,
    events: (sessionId) => `${p}.events.${sessionId}`,
    eventsAll: `${p}.events.>`,
    barrier: `${p}.events._barrier`,
    pushAll: `${p}.push.>`,
    pushOpenid: (openid) => `${p}.push.openid.${openid}`,
    pushSession: (sessionId) => `${p}.push.session.${sessionId}`,
    pushBroadcast: `${p}.push.broadcast`,
    pushZone: (zone) => `${p}.push.zone.${zone}`,
    lifecycle: (type) => `${p}.lifecycle.${type}`,
    nodePush: (node) => `${p}.node.${node}.push`,
    nodeRelease: (node) => `${p}.node.${node}.release`,
  };
}

/** A subject token that is safe as-is (no dots, wildcards or spaces). */
export function isSubjectToken(s: string): boolean {
  return /^[A-Za-z0-9_\-=]+$/.test(s) && s.length <= 256;
}

/** KV key for an openid (KV keys allow fewer characters than openids). */
export function directoryKey(openid: string): string {
  return Buffer.from(openid, 'utf8').toString('base64url') || '_';
}
