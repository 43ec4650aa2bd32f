/**
 * What the Redis fault handling (issue #16) costs per command on the connection that publishes:
 * CPU of this process per PUBLISH, plain ioredis against ioredis with the 500 ms command timeout
 * (one timer per command) and with the adapter's wrapper that handles each publish's rejection.
 * Runs against a redis-server of its own on a free port (never the shared one).
 *   node --import tsx bench/redis-client.ts [--count 200000] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { REDIS_COMMAND_TIMEOUT_MS, withHandledCalls } from '../packages/server/src/redis/redis.ts';
import { startOwnRedis } from '../packages/server/src/test/faults.ts';

const { values } = parseArgs({ options: { count: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '3' } } });
const count = Number(values.count);
const own = await startOwnRedis();
const plain = new Redis(own.url);
const timed = new Redis(own.url, { lazyConnect: true, commandTimeout: REDIS_COMMAND_TIMEOUT_MS, enableOfflineQueue: false, autoResendUnfulfilledCommands: false });
await timed.connect();
await plain.ping();
const wrapped = withHandledCalls(timed, ['publish'], () => {});
const payload = 'x'.repeat(200);

async function run(client: Redis): Promise<number> {
  const c0 = process.cpuUsage();
  // In flight in windows of 1,000, as broadcasts under load are.
  for (let done = 0; done < count; done += 1000) {
    const batch: Array<Promise<unknown>> = [];
    for (let i = 0; i < 1000; i++) batch.push(client.publish('bench', payload));
    await Promise.all(batch);
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / count;
}

const results: Record<string, number[]> = { plain: [], timeout: [], 'timeout+wrapper': [] };
for (let r = 0; r < Number(values.rounds); r++) {
  results.plain!.push(await run(plain));
  results.timeout!.push(await run(timed));
  results['timeout+wrapper']!.push(await run(wrapped));
}
for (const [name, xs] of Object.entries(results)) {
  const sorted = [...xs].sort((a, b) => a - b);
  console.log(`${name.padEnd(16)} µs CPU per PUBLISH: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} (runs: ${xs.map((x) => x.toFixed(2)).join(', ')})`);
}
plain.disconnect();
timed.disconnect();
await own.stop();
