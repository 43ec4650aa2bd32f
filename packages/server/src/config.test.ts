import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, VARIABLES } from './config.ts';
import { configDocs } from './configDocs.ts';
import { DEFAULT_FILES_OPTIONS } from './files/options.ts';
import { DEFAULT_JOB_OPTIONS } from './jobs/queue.ts';
import { DEFAULT_PREVIEW_OPTIONS } from './previews/options.ts';
import { DEFAULT_PUSH_OPTIONS } from './push/sender.ts';

const failure = (env: NodeJS.ProcessEnv): string => {
  try {
    loadConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
};

describe('configuration table', () => {
  it('gives every variable its default when the environment is empty (or the variable is)', () => {
    const expected = {
      port: 3000,
      host: '0.0.0.0',
      dataDir: path.resolve('data'),
      databaseUrl: undefined,
      databasePoolSize: 20,
      databasePreparedStatements: true,
      redisUrl: undefined,
      redisPrefix: 'confab:',
      secret: undefined,
      previousSecrets: [],
      origins: [],
      publicUrl: undefined,
      metricsToken: undefined,
      metricsAllow: [],
      rateLimits: true,
      trustProxy: false,
      accessTokenTtlSeconds: 900,
      refreshTokenTtlDays: 30,
      logLevel: 'info',
      webDir: undefined,
      fastPasswordHashing: false,
      instanceName: 'Confab',
      registration: 'invite',
      smtp: undefined,
      externalJwt: undefined,
      webhooksAllowPrivate: false,
      oidc: [],
      beforeSend: undefined,
      ai: {
        keys: { openai: undefined, anthropic: undefined, google: undefined },
        openaiBaseUrl: undefined,
        byokOpenaiBaseUrl: undefined,
        models: [],
        visionModels: [],
        defaultModel: undefined,
        titleModel: undefined,
        idleTimeoutMs: 60_000,
        contextChars: 24_000,
        checkpointMs: 500,
        maxOutputTokens: 4096,
        quota: { answersPerDay: 0, tokensPerDay: 0 },
        tools: { searchUrl: undefined, searchResults: 5, imageModel: undefined, mcpServers: [], maxSteps: 5, callTimeoutMs: 30_000, answerBudgetMs: 120_000 },
      },
      files: {
        ...DEFAULT_FILES_OPTIONS,
        maxFileBytes: 25 * 1024 * 1024,
        uploadUrlTtlSeconds: 600,
        uploadsPerHour: 200,
        uploadBytesPerDay: 1024 * 1024 * 1024,
        pdfMaxPages: 200,
        pdfTimeoutMs: 10_000,
        s3: undefined,
      },
      jobs: { ...DEFAULT_JOB_OPTIONS, pollIntervalMs: 1000 },
      push: { ...DEFAULT_PUSH_OPTIONS, subject: 'mailto:admin@confab.invalid', ttlSeconds: 86_400, allowInsecureEndpoints: false },
      previews: { ...DEFAULT_PREVIEW_OPTIONS, enabled: true, allowPrivate: false },
      vapidKeys: undefined,
    };
    expect(loadConfig({})).toEqual(expected);
    const empty = Object.fromEntries(Object.keys(VARIABLES).map((name) => [name, '']));
    expect(loadConfig(empty)).toEqual(expected);
  });

  it('reads each kind of value', () => {
    const vapid = { CONFAB_VAPID_PUBLIC_KEY: Buffer.alloc(65, 4).toString('base64url'), CONFAB_VAPID_PRIVATE_KEY: Buffer.alloc(32, 7).toString('base64url') };
    const config = loadConfig({
      PORT: '8080',
      DATA_DIR: '/srv/confab',
      DATABASE_URL: 'postgres://confab:pw@db:5432/confab',
      REDIS_URL: 'rediss://cache:6380',
      CONFAB_PUBLIC_URL: 'https://Chat.Example.com/',
      CONFAB_ORIGINS: 'https://a.example, http://b.example:8080,',
      CONFAB_METRICS_ALLOW: '10.0.0.0/8,fd00::1',
      CONFAB_RATE_LIMITS: 'OFF',
      CONFAB_TRUST_PROXY: 'true',
      CONFAB_ACCESS_TOKEN_TTL: '60',
      LOG_LEVEL: 'debug',
      CONFAB_MODELS: 'openai:llama3.1,anthropic:claude-sonnet-4-5',
      CONFAB_S3_BUCKET: 'b',
      CONFAB_S3_ENDPOINT: 'http://minio:9000',
      CONFAB_S3_ACCESS_KEY_ID: 'id',
      CONFAB_S3_SECRET_ACCESS_KEY: 'key',
      CONFAB_S3_PATH_STYLE: 'false',
      CONFAB_PUSH_TTL: '0',
      CONFAB_PUSH_ALLOW_INSECURE: 'true',
      CONFAB_JOBS_POLL_MS: '50',
      CONFAB_LINK_PREVIEWS: 'off',
      CONFAB_PREVIEWS_ALLOW_PRIVATE: 'true',
      CONFAB_REDIS_PREFIX: 'other:',
      ...vapid,
    });
    expect(config).toMatchObject({
      port: 8080,
      dataDir: '/srv/confab',
      databaseUrl: 'postgres://confab:pw@db:5432/confab',
      redisUrl: 'rediss://cache:6380',
      redisPrefix: 'other:',
      publicUrl: 'https://chat.example.com',
      origins: ['https://a.example', 'http://b.example:8080'],
      metricsAllow: ['10.0.0.0/8', 'fd00::1'],
      rateLimits: false,
      trustProxy: true,
      accessTokenTtlSeconds: 60,
      logLevel: 'debug',
      ai: { models: ['openai:llama3.1', 'anthropic:claude-sonnet-4-5'] },
      files: { s3: { endpoint: 'http://minio:9000', bucket: 'b', region: 'us-east-1', accessKeyId: 'id', secretAccessKey: 'key', prefix: '', pathStyle: false } },
      push: { ttlSeconds: 0, allowInsecureEndpoints: true },
      jobs: { pollIntervalMs: 50 },
      previews: { enabled: false, allowPrivate: true },
      vapidKeys: { publicKey: vapid.CONFAB_VAPID_PUBLIC_KEY, privateKey: vapid.CONFAB_VAPID_PRIVATE_KEY },
    });
  });

  it('stops on a bad value of each kind, naming the variable', () => {
    // number
    expect(failure({ CONFAB_ACCESS_TOKEN_TTL: 'abc' })).toBe('CONFAB_ACCESS_TOKEN_TTL must be a whole number of seconds, got "abc"');
    for (const bad of ['0', '-5', '12.5', 'lots', '1e3', ' 7']) {
      expect(failure({ CONFAB_AI_MAX_OUTPUT_TOKENS: bad }), bad).toMatch(/^CONFAB_AI_MAX_OUTPUT_TOKENS must be a whole number of tokens/);
    }
    expect(failure({ PORT: '70000' })).toBe('PORT must be a port number (0 to 65535), got "70000"');
    expect(failure({ CONFAB_JOBS_POLL_MS: 'fast' })).toMatch(/^CONFAB_JOBS_POLL_MS must be/);
    expect(failure({ CONFAB_PUSH_TTL: '-1' })).toMatch(/^CONFAB_PUSH_TTL must be/);
    // on/off and true/false
    expect(failure({ CONFAB_RATE_LIMITS: 'no' })).toBe('CONFAB_RATE_LIMITS must be on or off, got "no"');
    expect(failure({ CONFAB_REGISTRATION: 'anyone' })).toMatch(/^CONFAB_REGISTRATION must be/);
    expect(failure({ CONFAB_SMTP_URL: 'http://mail.example.com' })).toMatch(/^CONFAB_SMTP_URL must be .*not shown: it is secret/);
    expect(failure({ CONFAB_TRUST_PROXY: 'yes' })).toBe('CONFAB_TRUST_PROXY must be true or false, got "yes"');
    expect(failure({ CONFAB_S3_PATH_STYLE: '0' })).toMatch(/^CONFAB_S3_PATH_STYLE must be true or false/);
    // URL
    expect(failure({ OPENAI_BASE_URL: 'localhost:11434' })).toBe('OPENAI_BASE_URL must be a URL (http:, https:), got "localhost:11434"');
    expect(failure({ CONFAB_PUBLIC_URL: 'chat.example.com' })).toMatch(/^CONFAB_PUBLIC_URL must be an http\(s\) origin/);
    expect(failure({ CONFAB_VAPID_SUBJECT: 'admin@example.com' })).toMatch(/^CONFAB_VAPID_SUBJECT must be a mailto: or https: URL/);
    // list
    expect(failure({ CONFAB_ORIGINS: 'https://a.example,not a url' })).toBe(
      'CONFAB_ORIGINS must be a comma-separated list of http(s) origins such as https://chat.example.com ("not a url" is not one), got "https://a.example,not a url"',
    );
    expect(failure({ CONFAB_METRICS_ALLOW: '10.0.0.0/33' })).toMatch(/^CONFAB_METRICS_ALLOW must be a comma-separated list of IP addresses or CIDR ranges \("10.0.0.0\/33" is not one\)/);
    expect(failure({ CONFAB_MODELS: 'openai:gpt-4o,gpt-4o' })).toMatch(/^CONFAB_MODELS must be a comma-separated list of provider:model entries \("gpt-4o" is not one\)/);
    // enum
    expect(failure({ LOG_LEVEL: 'verbose' })).toBe('LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"');
    // variables that go together
    expect(failure({ CONFAB_S3_BUCKET: 'b', CONFAB_S3_ENDPOINT: 'http://minio:9000' })).toBe('CONFAB_S3_BUCKET is set, so CONFAB_S3_ACCESS_KEY_ID, CONFAB_S3_SECRET_ACCESS_KEY must be too');
    expect(failure({ CONFAB_VAPID_PUBLIC_KEY: Buffer.alloc(65, 4).toString('base64url') })).toMatch(/^CONFAB_VAPID_PUBLIC_KEY and CONFAB_VAPID_PRIVATE_KEY must both be set/);
  });

  it('never shows the value of a secret variable in its message', () => {
    const message = failure({ DATABASE_URL: 'mysql://root:hunter2@db/confab' });
    expect(message).toBe('DATABASE_URL must be a URL (postgres:, postgresql:, socket:) (the value is not shown: it is secret)');
    expect(message).not.toContain('hunter2');
    expect(failure({ CONFAB_VAPID_PRIVATE_KEY: 'hunter2' })).not.toContain('hunter2');
  });

  it('has its tables in README.md and docs/ai.md as generated (npm run docs:config)', () => {
    // Line by line, so a failure shows the rows that differ.
    for (const doc of configDocs()) expect(doc.current.split('\n'), `${doc.file} is out of date: run npm run docs:config`).toEqual(doc.expected.split('\n'));
  });
});
