/** A tool's failure in words for the model and the people in the conversation (never a secret). */
export class ToolFailure extends Error {
  override readonly name = 'ToolFailure';
}

/** The time bounds of one answer's tool calls (config.ts's AiToolsConfig). */
export class ToolClock {
  /** Set by the first call: from then on, tools may run for `budgetMs`. */
  private deadline: number | undefined;

  constructor(
    private readonly callTimeoutMs: number,
    private readonly budgetMs: number,
  ) {}

  /** How long the next call may take; 0 when the answer's time for tools is used up. */
  allowance(): number {
    const now = Date.now();
    this.deadline ??= now + this.budgetMs;
    return Math.max(0, Math.min(this.callTimeoutMs, this.deadline - now));
  }
}

const seconds = (ms: number) => (ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`);

/**
 * Runs one tool call within its time: the per-call timeout, cut to what is left of the answer's
 * time for tools. `answerSignal` is the answer's own (a stop aborts the call); the signal given to
 * `run` fires on either. A call that ignores its signal is given up on all the same, so no call
 * holds an answer longer than its time. Failures come out as ToolFailure with a reason a person
 * can read (the model sees it as the tool's error); a stop comes out as the abort it is.
 */
export async function withinTime<T>(label: string, clock: ToolClock, answerSignal: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>, onUnexpected: (error: unknown) => void): Promise<T> {
  const ms = clock.allowance();
  if (ms <= 0) throw new ToolFailure('The time for tools in this answer is used up: answer with what you have.');
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new ToolFailure(`${label} took longer than ${seconds(ms)} and was stopped.`)), ms);
  const signal = answerSignal ? AbortSignal.any([answerSignal, timeout.signal]) : timeout.signal;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    return await Promise.race([run(signal), aborted]);
  } catch (error) {
    if (answerSignal?.aborted) throw answerSignal.reason ?? error;
    if (timeout.signal.aborted) throw timeout.signal.reason;
    if (error instanceof ToolFailure) throw error;
    onUnexpected(error);
    throw new ToolFailure(`${label} failed unexpectedly.`);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
