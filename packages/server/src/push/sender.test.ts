import { describe, expect, it } from 'vitest';
import { browserSubscription, FakePushService } from './test/fakePushService.ts';
import { createPushSender, DEFAULT_PUSH_OPTIONS, isPrivateAddress } from './sender.ts';
import webpush from 'web-push';

const vapid = webpush.generateVAPIDKeys();

describe('push endpoints (SSRF)', () => {
  it('knows private and loopback addresses', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '142.250.74.46', '2a00:1450:4007:80e::200a', '::ffff:8.8.8.8']) expect(isPrivateAddress(a), a).toBe(false);
  });

  it('by default only uses https endpoints on public addresses', () => {
    const sender = createPushSender(vapid, DEFAULT_PUSH_OPTIONS);
    const keys = browserSubscription('https://x').keys;
    expect(() => sender.validateSubscription({ endpoint: 'https://fcm.googleapis.com/fcm/send/abc', keys })).not.toThrow();
    for (const endpoint of ['http://fcm.googleapis.com/x', 'https://localhost/x', 'https://127.0.0.1/x', 'https://[::1]/x', 'https://10.0.0.5/x', 'https://169.254.169.254/latest', 'https://user:pw@push.example/x']) {
      expect(() => sender.validateSubscription({ endpoint, keys }), endpoint).toThrow(/endpoint/);
    }
    sender.close();
  });

  it('refuses at send time a name that resolves to a private address', async () => {
    // A public-looking name whose DNS answer is private (or rebinds to it) is refused after resolution.
    const service = await new FakePushService().start();
    const resolved: string[] = [];
    const sender = createPushSender(vapid, DEFAULT_PUSH_OPTIONS, {
      resolve: (hostname, _opts, callback) => {
        resolved.push(hostname);
        callback(null, [{ address: '127.0.0.1', family: 4 }]);
      },
    });
    const port = new URL(service.endpoint('/')).port;
    const sub = browserSubscription(`https://push.example.com:${port}/push/x`);
    expect(() => sender.validateSubscription(sub)).not.toThrow();
    const result = await sender.send(sub, 'hello');
    expect(result).toMatchObject({ outcome: 'rejected', message: expect.stringMatching(/private address/) });
    expect(resolved).toEqual(['push.example.com']);
    expect(service.requests).toHaveLength(0);
    expect(() => sender.validateSubscription(browserSubscription('https://localhost./x'))).toThrow(/endpoint/);
    sender.close();
    await service.close();
  });

  it('classifies push service answers', async () => {
    const service = await new FakePushService().start();
    const sender = createPushSender(vapid, { ...DEFAULT_PUSH_OPTIONS, allowInsecureEndpoints: true, timeoutMs: 2000 });
    const sub = browserSubscription(service.endpoint('/p'));
    service.script('/p', 201, 404, 410, 429, 500, 400, 413);
    const outcomes = [];
    for (let i = 0; i < 7; i++) outcomes.push((await sender.send(sub, 'x')).outcome);
    expect(outcomes).toEqual(['delivered', 'gone', 'gone', 'retry', 'retry', 'rejected', 'rejected']);
    await service.close();
    // Nobody listening: a network error, worth retrying.
    expect((await sender.send(sub, 'x')).outcome).toBe('retry');
    sender.close();
  });
});
