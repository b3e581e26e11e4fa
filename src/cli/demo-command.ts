/** `gatesvr demo-upstreams`: the hello, business and zone demo services on their own. */
import { startDemoUpstreams } from '../demo/upstreams.js';
import { DEMO_COMMAND } from './commands.js';
import { parseCommand } from './options.js';

export async function runDemoUpstreams(args: string[]): Promise<number> {
  const { values } = parseCommand(DEMO_COMMAND, args);
  const port = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new Error(`--${name}: ${JSON.stringify(v)} is not a port`);
    return n;
  };
  const demo = await startDemoUpstreams({
    host: values.host,
    hello: port('hello', values.hello),
    business: port('business', values.business),
    zone: port('zone', values.zone),
  });
  process.stdout.write(
    `${JSON.stringify({ level: 'info', msg: 'demo upstreams listening', addresses: demo.addresses })}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await demo.close();
  return 0;
}
