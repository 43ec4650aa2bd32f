import { ConfabError, ERROR_HTTP_STATUS, type ErrorCode } from '@confab/protocol';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface RestOptions {
  baseUrl: string;
  fetch: FetchLike;
  /** The access token to send (refreshed first when close to expiry); null: none. */
  token: () => Promise<string | null>;
  /** After a 401: a fresh token (shared with concurrent callers), or null when the session is over. */
  refresh: (rejected: string) => Promise<string | null>;
  /** False while the network is down (browser offline, or the test hook): fail fast. */
  online: () => boolean;
}

const CODES = new Set(Object.keys(ERROR_HTTP_STATUS));
const BY_STATUS = new Map(Object.entries(ERROR_HTTP_STATUS).map(([code, status]) => [status as number, code as ErrorCode]));

/** Turns an error body (or its absence) into the contract's error. */
export function errorFromResponse(status: number, body: unknown): ConfabError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (error && typeof error.code === 'string' && CODES.has(error.code)) {
    return new ConfabError(error.code as ErrorCode, typeof error.message === 'string' ? error.message : error.code, error.details);
  }
  const code = BY_STATUS.get(status) ?? (status >= 500 ? 'UNAVAILABLE' : 'INTERNAL');
  return new ConfabError(code, `HTTP ${status}`);
}

/** The REST half: `Authorization: Bearer`, errors as ConfabError, one refresh and retry after a 401. */
export class Rest {
  constructor(private readonly opts: RestOptions) {}

  /** The absolute URL of a path of the server (for navigations, such as single sign-on's start). */
  url(path: string): string {
    return this.opts.baseUrl + path;
  }

  /** `bearer`: send this credential instead of the session's (an API key), without refreshing. */
  async request<T>(method: string, path: string, body?: unknown, opts: { auth?: boolean; bearer?: string } = {}): Promise<T> {
    const json = body === undefined ? undefined : { data: JSON.stringify(body), type: 'application/json' };
    const res = opts.bearer !== undefined ? await this.send(method, path, json, opts.bearer) : await this.exchange(method, path, json, opts.auth ?? true);
    return (await this.parse(res)) as T;
  }

  /**
   * Bytes rather than JSON: `body` goes as is with its content type, and a 2xx response is handed
   * back unread (an attachment's bytes); an error response throws as `request` does.
   */
  async raw(method: string, path: string, body?: { data: BodyInit; type: string }): Promise<Response> {
    const res = await this.exchange(method, path, body, true);
    if (!res.ok) await this.parse(res);
    return res;
  }

  private async exchange(method: string, path: string, body: { data: BodyInit; type: string } | undefined, auth: boolean): Promise<Response> {
    let token = auth ? await this.opts.token() : null;
    if (auth && !token) throw new ConfabError('UNAUTHENTICATED', 'not signed in');
    let res = await this.send(method, path, body, token);
    if (res.status === 401 && auth && token) {
      token = await this.opts.refresh(token);
      if (!token) throw new ConfabError('UNAUTHENTICATED', 'the session has ended');
      res = await this.send(method, path, body, token);
    }
    return res;
  }

  /** The JSON body of a response, or the contract's error for a failed one. */
  private async parse(res: Response): Promise<unknown> {
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (!res.ok) throw errorFromResponse(res.status, parsed);
    return parsed;
  }

  private async send(method: string, path: string, body: { data: BodyInit; type: string } | undefined, token: string | null): Promise<Response> {
    if (!this.opts.online()) throw new ConfabError('UNAVAILABLE', 'offline');
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = body.type;
      init.body = body.data;
    }
    try {
      return await this.opts.fetch(this.opts.baseUrl + path, init);
    } catch (error) {
      throw new ConfabError('UNAVAILABLE', `network error: ${(error as Error).message}`);
    }
  }
}
