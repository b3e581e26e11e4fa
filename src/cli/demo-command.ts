/** `gatesvr demo-upstreams`: the hello, business and zone demo services on their own. */
import { parseArgs } from 'node:util';
import { startDemoUpstreams } from '../demo/upstreams.js';

export async function runDemoUpstreams(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      hello: { type: 'string', default: '8081' },
      business: { type: 'string', default: '8082' },
      zone: { type: 'string', default: '8083' },
    },
    strict: true,
  });
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
