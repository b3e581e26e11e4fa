/** What a start opened, closed in reverse order at shutdown (or when a later step of the start fails). */
import type { Logger } from '../actors/ports.js';

export type Closer = () => Promise<void> | void;

export class Closers {
  private readonly list: Closer[] = [];

  constructor(private readonly logger: Logger) {}

  add(closer: Closer): void {
    this.list.push(closer);
  }

  /** Last opened, first closed; a failing closer is logged and the rest still run. */
  async closeAll(): Promise<void> {
    for (const c of this.list.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        this.logger.warn({ err }, 'error while closing');
      }
    }
  }
}
