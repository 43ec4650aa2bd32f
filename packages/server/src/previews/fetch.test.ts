import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress } from './address.ts';
import { fetchLimited, PreviewFetchError, systemLookup, type FetchPolicy } from './fetch.ts';
import { ogPage, startSite, writeMany, type Site } from './test/sites.ts';

/**
 * The one way link previews reach the outside (fetch.ts), against real local HTTP servers. Tests
 * reach only loopback, so "a public site" is a server on 127.0.0.2 that the test's address check
 * counts as public (the server's test hook, ServerOptions.previews.isPublic), reached through a
 * test host name its resolver maps there; everything else loopback stays private.
 */
const PUBLIC_TEST_ADDRESS = '127.0.0.2';
const HTML = { 'content-type': 'text/html; charset=utf-8' };

const html = (t: string) => /^text\/html/.test(t);

/** Resolver of the tests: test names to fixed addresses, counting the questions; other names as the system says. */
function testResolver(names: Record<string, string[]>) {
  const asked: string[] = [];
  const lookup = async (hostname: string): Promise<LookupAddress[]> => {
    asked.push(hostname);
    const fixed = names[hostname];
    if (fixed) return fixed.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    return systemLookup(hostname);
  };
  return { lookup, asked };
}

function policy(over: Partial<FetchPolicy> = {}): FetchPolicy {
  return {
    allowPrivate: false,
    maxBytes: 1024 * 1024,
    timeoutMs: 5000,
    maxRedirects: 3,
    userAgent: 'test',
    lookup: systemLookup,
    isPublic: isPublicAddress,
    ...over,
  };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PreviewFetchError);
  return (error as PreviewFetchError).reason;
}

describe('isPublicAddress', () => {
  it.each([
    '127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1',
    '224.0.0.1', '239.255.255.250', '255.255.255.255', '192.0.2.1', '198.18.0.1', '240.0.0.1',
    '::1', '::', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd12:3456::1', 'ff02::1', 'ff05::2',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::ffff:0.0.0.0',
    '64:ff9b::7f00:1', '2002:7f00:1::1', '2001:db8::1',
    'localhost', '0x7f.1', '', 'not an address',
  ])('refuses %s', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '[2606:4700:4700::1111]'])('allows %s', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });
});

describe('fetchLimited', () => {
  let privateSite: Site;
  let publicSite: Site;
  let publicPolicy: FetchPolicy;
  let resolver: ReturnType<typeof testResolver>;

  beforeAll(async () => {
    privateSite = await startSite((_req, res) => res.writeHead(200, HTML).end(ogPage({ title: 'Internal admin' })));
    publicSite = await startSite((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const to = url.searchParams.get('to');
      if (url.pathname === '/redirect' && to) return res.writeHead(302, { location: to }).end();
      if (url.pathname === '/loop') return res.writeHead(301, { location: `/loop?n=${Number(url.searchParams.get('n') ?? 0) + 1}` }).end();
      if (url.pathname === '/hop') return res.writeHead(307, { location: '/page' }).end();
      if (url.pathname === '/page') return res.writeHead(200, HTML).end(ogPage({ title: 'Public page' }));
      if (url.pathname === '/binary') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        void writeMany(res, Buffer.alloc(64 * 1024, 1), 10 * 1024 * 1024);
        return;
      }
      res.writeHead(404).end();
    }, PUBLIC_TEST_ADDRESS);
    resolver = testResolver({ 'site.test': [PUBLIC_TEST_ADDRESS], 'private.test': ['127.0.0.1'], 'mixed.test': [PUBLIC_TEST_ADDRESS, '10.0.0.7'] });
    publicPolicy = policy({ lookup: resolver.lookup, isPublic: (a) => a === PUBLIC_TEST_ADDRESS || isPublicAddress(a) });
  });
  afterAll(async () => {
    await privateSite?.close();
    await publicSite?.close();
  });

  const page = (url: string, p: FetchPolicy) => fetchLimited(url, p, { accept: 'text/html', acceptType: html });

  it('refuses private addresses written in the link, before connecting', async () => {
    const port = privateSite.port;
    for (const url of [
      `http://127.0.0.1:${port}/`,
      `http://[::1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://2130706433:${port}/`,
      `http://0x7f.1:${port}/`,
      `http://0.0.0.0:${port}/`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      'http://[fe80::1]/',
      'http://224.0.0.1/',
    ]) {
      expect(await refusal(page(url, policy())), url).toBe('private_address');
    }
    expect(privateSite.hits).toBe(0);
  });

  it('refuses a host name after resolving it: localhost, and a name with any private address', async () => {
    expect(await refusal(page(`http://localhost:${privateSite.port}/`, policy()))).toBe('private_address');
    expect(await refusal(page(`http://private.test:${privateSite.port}/`, publicPolicy))).toBe('private_address');
    // One public and one private answer: refused, whichever would have been used.
    expect(await refusal(page(`http://mixed.test:${publicSite.port}/page`, publicPolicy))).toBe('private_address');
    expect(privateSite.hits).toBe(0);
  });

  it('refuses other schemes and links with credentials', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/', 'gopher://127.0.0.1:70/', `http://user:pw@site.test:${publicSite.port}/page`]) {
      expect(await refusal(page(url, publicPolicy)), url).toBe('bad_url');
    }
  });

  it('follows redirects within the site, resolving each host once and connecting to that address', async () => {
    resolver.asked.length = 0;
    const got = await page(`http://site.test:${publicSite.port}/hop`, publicPolicy);
    expect(got.url.pathname).toBe('/page');
    expect(got.body.toString()).toContain('Public page');
    // One DNS question per hop, none more: the connection used the checked answer.
    expect(resolver.asked).toEqual(['site.test', 'site.test']);
    // The site saw its own name (virtual hosting and TLS work as usual), not the address.
    expect(publicSite.hosts.at(-1)).toBe(`site.test:${publicSite.port}`);
  });

  it('refuses a public site that redirects to a private address, on every hop', async () => {
    const port = privateSite.port;
    const before = publicSite.hits;
    const targets = [
      `http://127.0.0.1:${port}/`,
      `http://[::1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://localhost:${port}/`,
      `http://private.test:${port}/`,
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'http://10.0.0.1/',
      'http://[fd00::1]/',
    ];
    for (const target of targets) {
      const first = `http://site.test:${publicSite.port}/redirect?to=${encodeURIComponent(target)}`;
      expect(await refusal(page(first, publicPolicy)), target).toBe('private_address');
      // Two hops in: public → public → private.
      const second = `http://site.test:${publicSite.port}/redirect?to=${encodeURIComponent(first)}`;
      expect(await refusal(page(second, publicPolicy)), target).toBe('private_address');
    }
    expect(publicSite.hits - before).toBe(targets.length * 3);
    expect(privateSite.hits).toBe(0);
  });

  it('follows at most maxRedirects redirects', async () => {
    const before = publicSite.hits;
    expect(await refusal(page(`http://site.test:${publicSite.port}/loop`, publicPolicy))).toBe('too_many_redirects');
    expect(publicSite.hits - before).toBe(4);
  });

  it('does not read a body that is not of an accepted type', async () => {
    const started = Date.now();
    expect(await refusal(page(`http://site.test:${publicSite.port}/binary`, publicPolicy))).toBe('type');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('fetches private addresses when allowPrivate is set (an intranet)', async () => {
    const got = await page(`http://127.0.0.1:${privateSite.port}/`, policy({ allowPrivate: true }));
    expect(got.body.toString()).toContain('Internal admin');
  });
});

describe('fetchLimited limits', () => {
  let site: Site;
  let sentOfBig: Promise<number> | undefined;
  beforeAll(async () => {
    site = await startSite((req, res) => {
      if (req.url === '/big') {
        // A 10 MB page whose head comes first.
        res.writeHead(200, HTML);
        res.write('<html><head><meta property="og:title" content="Big page"></head><body>');
        sentOfBig = writeMany(res, Buffer.alloc(64 * 1024, 'x'), 10 * 1024 * 1024);
        return;
      }
      if (req.url === '/drip') {
        // Slow drip: the head, then one byte every 100 ms, forever.
        res.writeHead(200, HTML);
        res.write('<html><head><meta property="og:title" content="Drip">');
        const timer = setInterval(() => res.write(' '), 100);
        res.once('close', () => clearInterval(timer));
        return;
      }
      if (req.url === '/silent') return; // never answers
      res.writeHead(404).end();
    });
  });
  afterAll(async () => {
    await site?.close();
  });

  const page = (path: string, p: FetchPolicy) => fetchLimited(`http://127.0.0.1:${site.port}${path}`, p, { accept: 'text/html', acceptType: html });

  it('cuts a 10 MB page at 1 MB and stops reading', async () => {
    const started = Date.now();
    const got = await page('/big', policy({ allowPrivate: true }));
    expect(got.body.length).toBe(1024 * 1024);
    expect(got.cut).toBe('size');
    expect(got.body.toString()).toContain('Big page');
    expect(Date.now() - started).toBeLessThan(4000);
    // The connection was closed: the site could not hand over the rest.
    expect(await sentOfBig).toBeLessThan(10 * 1024 * 1024);
  });

  it('cuts a slow-drip page at 5 s, keeping what arrived', async () => {
    const started = Date.now();
    const got = await page('/drip', policy({ allowPrivate: true }));
    const took = Date.now() - started;
    expect(got.cut).toBe('time');
    expect(got.body.toString()).toContain('Drip');
    expect(took).toBeGreaterThanOrEqual(4900);
    expect(took).toBeLessThan(6500);
  }, 15_000);

  it('gives up on a site that never answers', async () => {
    const started = Date.now();
    expect(await refusal(page('/silent', policy({ allowPrivate: true, timeoutMs: 600 })))).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
