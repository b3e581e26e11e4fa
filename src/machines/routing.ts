/**
 * Action -> upstream service routing (docs/protocol.md section 5, seed 3.2.2 / 5.2).
 * Pure: no I/O. Actions are matched lower-cased.
 */

export const HELLO_SERVICE = 'hello';
export const ZONE_SERVICE = 'zone';
export const BUSINESS_SERVICE = 'business';

/** Key of an override that replaces the fallback service (default `business`). */
export const DEFAULT_ROUTE_KEY = '*';

/** The contract's default table; every other action goes to `business`. */
export const DEFAULT_ROUTES: Readonly<Record<string, string>> = Object.freeze({
  hello: HELLO_SERVICE,
  logout: HELLO_SERVICE,
  status: HELLO_SERVICE,
  heartbeat: HELLO_SERVICE,
  data_sync: HELLO_SERVICE,
  zone: ZONE_SERVICE,
  echo: ZONE_SERVICE,
  calculate: ZONE_SERVICE,
  time: ZONE_SERVICE,
});

export interface RoutingTable {
  /** The service name for an action (case-insensitive). */
  serviceFor(action: string): string;
}

/**
 * Builds a routing table: the defaults, then `overrides` (action -> service; keys are
 * lower-cased; the key `*` replaces the fallback service).
 */
export function createRoutingTable(overrides?: Record<string, string>): RoutingTable {
  const routes = new Map<string, string>(Object.entries(DEFAULT_ROUTES));
  let fallback = BUSINESS_SERVICE;
  if (overrides) {
    for (const [action, service] of Object.entries(overrides)) {
      if (typeof service !== 'string' || service === '') {
        throw new TypeError(`routing override for "${action}" must be a non-empty service name`);
      }
      if (action === DEFAULT_ROUTE_KEY) fallback = service;
      else routes.set(action.toLowerCase(), service);
    }
  }
  return {
    serviceFor(action: string): string {
      // Exact match first: skips the lower-casing allocation for the common case.
      return routes.get(action) ?? routes.get(action.toLowerCase()) ?? fallback;
    },
  };
}

/** True for the hello service: the only one allowed before login (docs/protocol.md 4.3). */
export function isHelloService(service: string): boolean {
  return service === HELLO_SERVICE;
}
