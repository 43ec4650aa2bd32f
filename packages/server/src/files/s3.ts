import { createHash, createHmac } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { S3Options } from './options.ts';
import { assertKey, FileNotFoundError, sweepTmpDir, type FileStore } from './store.ts';

/**
 * S3-compatible object storage (AWS S3, MinIO, Garage, R2, …) for several nodes, with AWS
 * Signature Version 4 done here (three requests do not justify an SDK). Uploads stream from the
 * scratch file with UNSIGNED-PAYLOAD (the body is covered by TLS, as the AWS SDKs do for streams);
 * downloads pass Range through, so range requests cost the bytes asked for.
 */

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');

/** RFC 3986 encoding as SigV4 wants it ('/' kept in paths). */
export function uriEncode(value: string, keepSlash: boolean): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => {
      const c = String.fromCharCode(byte);
      if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) return c;
      return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

export interface SignInput {
  method: string;
  /** Already-encoded absolute path, e.g. /bucket/key. */
  path: string;
  query?: Record<string, string>;
  /** Every header to sign (lower-case names); must include host, x-amz-content-sha256, x-amz-date. */
  headers: Record<string, string>;
  payloadHash: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** YYYYMMDD'T'HHMMSS'Z' */
  amzDate: string;
}

/** The Authorization header value for a request (AWS SigV4, service s3). */
export function signV4(input: SignInput): string {
  const names = Object.keys(input.headers).map((h) => h.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonicalHeaders = names.map((n) => `${n}:${String(lower[n]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const query = Object.entries(input.query ?? {})
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [input.method, input.path, query, canonicalHeaders, signedHeaders, input.payloadHash].join('\n');
  const date = input.amzDate.slice(0, 8);
  const scope = `${date}/${input.region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', input.amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${input.secretAccessKey}`, date), input.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

const amzDateOf = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

async function drain(response: http.IncomingMessage): Promise<string> {
  let body = '';
  response.setEncoding('utf8');
  for await (const chunk of response) if (body.length < 2000) body += chunk as string;
  return body;
}

export function createS3FileStore(opts: S3Options, tmpDir: string): FileStore {
  const base = new URL(opts.endpoint);
  const secure = base.protocol === 'https:';
  const agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  const host = opts.pathStyle ? base.host : `${opts.bucket}.${base.host}`;
  const basePath = base.pathname.replace(/\/$/, '');
  const pathOf = (key: string) => {
    assertKey(key);
    const objectKey = uriEncode(`${opts.prefix}${key}`, true);
    return opts.pathStyle ? `${basePath}/${uriEncode(opts.bucket, false)}/${objectKey}` : `${basePath}/${objectKey}`;
  };

  function request(method: string, key: string, extra: Record<string, string>, body?: Readable, signedExtra: Record<string, string> = {}): Promise<http.IncomingMessage> {
    const path = pathOf(key);
    const payloadHash = body ? 'UNSIGNED-PAYLOAD' : EMPTY_SHA256;
    const signed: Record<string, string> = { host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDateOf(new Date()), ...signedExtra };
    const authorization = signV4({ method, path, headers: signed, payloadHash, region: opts.region, accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey, amzDate: signed['x-amz-date']! });
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        { method, protocol: base.protocol, hostname: opts.pathStyle ? base.hostname : `${opts.bucket}.${base.hostname}`, port: base.port || (secure ? 443 : 80), path, agent, timeout: 60_000, headers: { ...signed, ...extra, authorization } },
        resolve,
      );
      req.on('timeout', () => req.destroy(new Error(`object storage did not answer ${method} in time`)));
      req.on('error', reject);
      if (body) {
        body.on('error', (error) => req.destroy(error));
        body.pipe(req);
      } else req.end();
    });
  }

  async function expectOk(response: http.IncomingMessage, what: string, okStatuses: number[]): Promise<void> {
    const status = response.statusCode ?? 0;
    const text = await drain(response);
    if (!okStatuses.includes(status)) throw new Error(`object storage refused ${what}: ${status} ${text.slice(0, 300)}`);
  }

  return {
    kind: 's3',
    tmpDir,
    async put(key, sourcePath, contentType) {
      const { size } = await stat(sourcePath);
      const response = await request('PUT', key, { 'content-length': String(size), 'content-type': contentType }, createReadStream(sourcePath));
      await expectOk(response, `storing ${key}`, [200, 201, 204]);
      await unlink(sourcePath).catch(() => {});
    },
    async get(key, range) {
      const response = await request('GET', key, range ? { range: `bytes=${range.start}-${range.end}` } : {});
      const status = response.statusCode ?? 0;
      if (status === 404) {
        await drain(response);
        throw new FileNotFoundError(key);
      }
      // A store that ignored the Range header would make the 206 we send a lie.
      if ((range ? status !== 206 : status !== 200)) await expectOk(response, `reading ${key}`, []);
      return response;
    },
    async delete(keys) {
      for (const key of keys) await expectOk(await request('DELETE', key, {}), `deleting ${key}`, [200, 204, 404]);
    },
    sweepTmp: () => sweepTmpDir(tmpDir),
  };
}
