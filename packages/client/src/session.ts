import { ConfabError, type TokenPair } from '@confab/protocol';
import { decodeJwt, tokenExpiry } from './jwt.ts';
import type { Clock } from './types.ts';

/** Refresh once less than this is left of the access token. */
export const REFRESH_MARGIN_MS = 60_000;

export type TokenProvider = (opts: { forceRefresh: boolean }) => string | null | undefined | Promise<string | null | undefined>;

export interface SessionOptions {
  clock: Clock;
  /** POST /api/auth/refresh, unauthenticated; throws ConfabError. */
  refreshRequest: (refreshToken: string) => Promise<TokenPair>;
  getToken?: TokenProvider | undefined;
  /** Called after the token pair changed (refresh or setSession), e.g. to share it with other tabs. */
  onTokens: (tokens: TokenPair | null, origin: 'local' | 'remote') => void;
  /** Called with each new access token, e.g. to present it on the live socket (`auth:refresh`). */
  onAccessToken: (token: string) => void;
  /** Called when the session ended for good (the refresh token was refused). */
  onExpired: () => void;
  /**
   * In a follower tab, rotating the refresh token is the leader's job: two tabs rotating the same
   * token would revoke the session. When set, this is used instead of POSTing ourselves.
   */
  delegateRefresh?: ((stale: string) => Promise<TokenPair | null>) | undefined;
}

/**
 * Holds the tokens and keeps the access token fresh.
 *
 * Refresh tokens rotate, and presenting a spent one revokes the whole session, so a refresh is
 * single-flight: every concurrent caller (REST retries, the timer, the socket) shares one request.
 */
export class Session {
  private tokens: TokenPair | null = null;
  private inflight: Promise<string | null> | null = null;
  private timer: unknown = null;
  private providedToken: string | null = null;
  private closed = false;

  constructor(private readonly opts: SessionOptions) {}

  /** Whose a provided token that is no JWT (a bot token) is, as the server said: see identify. */
  private identified: { token: string; userId: string } | null = null;

  get userId(): string | null {
    const token = this.tokens?.accessToken ?? this.providedToken;
    if (token && this.identified?.token === token) return this.identified.userId;
    return (token && decodeJwt(token)?.sub) || null;
  }

  /** Records whose the current provided token is, when it does not say (a bot token). */
  identify(userId: string): void {
    if (this.providedToken) this.identified = { token: this.providedToken, userId };
  }

  get current(): TokenPair | null {
    return this.tokens;
  }

  get hasSession(): boolean {
    return this.tokens !== null || this.opts.getToken !== undefined;
  }

  set(tokens: TokenPair | null, origin: 'local' | 'remote' = 'local'): void {
    const same = this.tokens?.accessToken === tokens?.accessToken && this.tokens?.refreshToken === tokens?.refreshToken;
    const previous = this.tokens?.accessToken;
    this.tokens = tokens;
    this.schedule();
    if (same) return;
    this.opts.onTokens(tokens, origin);
    if (tokens && previous && tokens.accessToken !== previous) this.opts.onAccessToken(tokens.accessToken);
  }

  /** A usable access token: refreshed first when less than a minute is left. Null without a session. */
  async accessToken(): Promise<string | null> {
    if (this.opts.getToken) {
      const token = (await this.opts.getToken({ forceRefresh: false })) ?? null;
      this.noteProvided(token);
      return token;
    }
    if (!this.tokens) return null;
    const exp = tokenExpiry(this.tokens.accessToken);
    if (exp !== null && exp - this.opts.clock.now() < REFRESH_MARGIN_MS) return this.refresh();
    return this.tokens.accessToken;
  }

  /**
   * Gets a new access token. `rejected` is the token the server just refused: if the tokens
   * changed since it was used (another caller refreshed meanwhile), the current one is returned
   * without spending the refresh token again.
   */
  refresh(rejected?: string): Promise<string | null> {
    if (rejected !== undefined && this.tokens && this.tokens.accessToken !== rejected) return Promise.resolve(this.tokens.accessToken);
    this.inflight ??= this.doRefresh().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async doRefresh(): Promise<string | null> {
    if (this.opts.getToken) {
      const token = (await this.opts.getToken({ forceRefresh: true })) ?? null;
      this.noteProvided(token);
      return token;
    }
    const tokens = this.tokens;
    if (!tokens) return null;
    if (this.opts.delegateRefresh) {
      const fresh = await this.opts.delegateRefresh(tokens.accessToken);
      if (fresh) {
        if (this.tokens === tokens) this.set(fresh, 'remote');
        return this.tokens?.accessToken ?? null;
      }
      // No leader answered: fall through and rotate ourselves.
      if (this.tokens !== tokens) return this.tokens?.accessToken ?? null;
    }
    try {
      const fresh = await this.opts.refreshRequest(tokens.refreshToken);
      // A setSession/logout that happened meanwhile wins over this answer.
      if (this.tokens === tokens && !this.closed) this.set(fresh);
      return this.tokens?.accessToken ?? null;
    } catch (error) {
      if (error instanceof ConfabError && error.code === 'UNAUTHENTICATED') {
        if (this.tokens === tokens) {
          this.set(null);
          this.opts.onExpired();
        }
        return null;
      }
      throw error;
    }
  }

  private noteProvided(token: string | null): void {
    if (token === this.providedToken) return;
    const previous = this.providedToken;
    this.providedToken = token;
    this.schedule();
    if (token && previous) this.opts.onAccessToken(token);
  }

  /** Refreshes proactively a minute before expiry, so the socket can present the new token in time. */
  private schedule(): void {
    if (this.timer !== null) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.closed) return;
    const token = this.tokens?.accessToken ?? this.providedToken;
    const exp = token ? tokenExpiry(token) : null;
    if (exp === null) return;
    const delay = Math.max(1000, exp - REFRESH_MARGIN_MS - this.opts.clock.now());
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = null;
      const run = this.opts.getToken ? this.accessToken() : this.refresh();
      // Still the same token (a provider not refreshing yet) or a transient failure: look again soon.
      const again = () => {
        if (!this.closed && this.timer === null) this.timer = this.opts.clock.setTimeout(() => this.schedule(), 5000);
      };
      run.then(() => (this.opts.getToken ? again() : undefined), again);
    }, delay);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
