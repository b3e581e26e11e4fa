/** Several observer sets as one GatewayObservers (each hook calls every set's hook in order). */
import type { GatewayObservers } from '../actors/observers.js';

type Hook = keyof GatewayObservers;

export function composeObservers(...sets: Array<GatewayObservers | null | undefined>): GatewayObservers {
  const present = sets.filter((s): s is GatewayObservers => s != null);
  const out: GatewayObservers = {};
  const pick = <K extends Hook>(key: K): Array<NonNullable<GatewayObservers[K]>> =>
    present.map((s) => s[key]).filter((f): f is NonNullable<GatewayObservers[K]> => typeof f === 'function');

  const onEffect = pick('onEffect');
  if (onEffect.length === 1) out.onEffect = onEffect[0];
  else if (onEffect.length > 1)
    out.onEffect = (actor, effect) => {
      for (const f of onEffect) f(actor, effect);
    };
  const onLifecycle = pick('onLifecycle');
  if (onLifecycle.length === 1) out.onLifecycle = onLifecycle[0];
  else if (onLifecycle.length > 1)
    out.onLifecycle = (event) => {
      for (const f of onLifecycle) f(event);
    };
  const onConnectionChange = pick('onConnectionChange');
  if (onConnectionChange.length === 1) out.onConnectionChange = onConnectionChange[0];
  else if (onConnectionChange.length > 1)
    out.onConnectionChange = (active) => {
      for (const f of onConnectionChange) f(active);
    };
  const onRequest = pick('onRequest');
  if (onRequest.length === 1) out.onRequest = onRequest[0];
  else if (onRequest.length > 1)
    out.onRequest = (type) => {
      for (const f of onRequest) f(type);
    };
  return out;
}
