/** The slice of a pino logger the gRPC transport uses (pino loggers satisfy it). */
export interface GrpcLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

const noop = (): void => {};

export const silentLogger: GrpcLogger = { debug: noop, info: noop, warn: noop };
