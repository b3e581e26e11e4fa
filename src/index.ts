/** GateSvr as a library: start a gateway in-process, or talk to one. */

export type { Authenticator, AuthResult } from './auth/authenticator.js';
export * from './client/index.js';
export { ConfigError, loadConfig } from './config/load.js';
export { defaultConfig, type GatewayConfig } from './config/schema.js';
export { startDemoUpstreams } from './demo/upstreams.js';
export { type Gateway, type GatewayOptions, startGateway } from './gateway.js';
