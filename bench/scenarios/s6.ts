/**
 * S6 — concurrent AI answers: A answers streaming T tokens each (one every D ms) from the local
 * OpenAI-compatible test provider (packages/server/src/test/fakeOpenAI.ts, in this process),
 * relayed by Confab to the askers' sockets as `ai:delta`. Measured: database writes of answer text
 * per answer per 500 ms of streaming (Confab's counter confab_ai_text_writes_total), relay latency
 * (the provider wrote the chunk → the client received the ai:delta; the provider stamps each token
 * with this process's clock), completeness, and the server's CPU.
 * Confab only: the baseline has no AI relay.
 */
import type { AuthResult, Conversation } from '@confab/protocol';
import { startFakeOpenAI } from '../../packages/server/src/test/fakeOpenAI.ts';
import { Latency } from '../lib/histogram.ts';
import { AddressPool, connectMany, eventPrefix, frameIs, type LeanSocket } from '../lib/lean.ts';
import { cpuMeter, log, mapLimit, until } from '../lib/proc.ts';
import { metric, post, startConfab } from '../lib/targets.ts';
import { fmt, type Check, type ProfileSummary, type Scenario } from '../lib/types.ts';

const DELTA = eventPrefix('ai:delta');
const DONE = eventPrefix('ai:done');

interface S6Run {
  target: string;
  label: string;
  answers: number;
  tokens: number;
  tokenDelayMs: number;
  answersFinished: number;
  answersWithAllPieces: number;
  answersFailed: number;
  seconds: number;
  textWrites: number;
  writesPerAnswer: number;
  /** Mean time an answer streamed (first delta → ai:done at the client). */
  streamSeconds: number;
  /** Every text write (checkpoints and the final write) per answer per 500 ms of streaming. */
  writesPerAnswerPer500ms: number;
  /** The same without the one final write each answer needs. */
  checkpointsPerAnswerPer500ms: number;
  relay: ReturnType<Latency['summary']>;
  serverCores: number;
  profile?: ProfileSummary;
}

export const s6: Scenario = async (ctx) => {
  const answers = ctx.quick ? 20 : 200;
  const tokens = ctx.quick ? 100 : 500;
  const delay = 10;
  const userCount = ctx.quick ? 10 : 50;
  const runs: S6Run[] = [];
  for (const key of ctx.pick(['confab-postgres', 'confab-embedded'])) {
    log(`S6: ${key}, ${answers} answers × ${tokens} tokens every ${delay} ms`);
    const fake = await startFakeOpenAI();
    const target = await startConfab(key === 'confab-postgres' ? 'postgres' : 'embedded', {
      ...ctx.targetOptions(key, 'S6'),
      env: { ...ctx.targetOptions(key, 'S6').env, OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'bench', CONFAB_MODELS: 'openai:bench-model' },
    });
    let sockets: LeanSocket[] = [];
    try {
      const users = await target.createUsers(userCount);
      const convs = await mapLimit(Array.from({ length: answers }, (_, i) => i), 8, async (i) => {
        const user = users[i % userCount]!;
        return { id: (await post<Conversation>(target.url, '/api/conversations/assistant', { model: 'openai:bench-model' }, user.token)).id, user };
      });
      const relay = new Latency();
      const pieces = new Map<string, number>();
      let finished = 0;
      /** Answers that ended other than complete (e.g. the provider could not be reached). */
      let failed = 0;
      const MARK = Buffer.from('"text":"');
      const ID = Buffer.from('"messageId":"');
      const messageId = (f: Buffer) => {
        const m = f.indexOf(ID);
        return f.toString('latin1', m + ID.length, f.indexOf(0x22, m + ID.length));
      };
      /** Per answer: first delta received → ai:done received (the time it streamed). */
      const span = new Map<string, { first: number; done: number }>();
      const addresses = new AddressPool(250, 200);
      sockets = await connectMany(userCount, 16, (i) => ({
        url: target.url,
        token: users[i]!.token,
        localAddress: addresses.next(),
        onEvent: (f) => {
          if (frameIs(f, DELTA)) {
            const now = performance.timeOrigin + performance.now();
            const t = f.indexOf(MARK);
            const stamp = Number(f.toString('latin1', t + MARK.length, f.indexOf(0x20, t + MARK.length)));
            if (Number.isFinite(stamp)) relay.record(now - stamp);
            const id = messageId(f);
            pieces.set(id, (pieces.get(id) ?? 0) + 1);
            if (!span.has(id)) span.set(id, { first: now, done: NaN });
          } else if (frameIs(f, DONE)) {
            finished++;
            if (!f.includes('"status":"complete"')) failed++;
            const s = span.get(messageId(f));
            if (s) s.done = performance.timeOrigin + performance.now();
          }
        },
      }));
      const writes0 = await metric(target.url, 'confab_ai_text_writes_total');
      const cpu = cpuMeter(target.pid);
      const t0 = performance.now();
      await mapLimit(convs, 50, (c, i) =>
        post<AuthResult>(target.url, '/api/messages', { conversationId: c.id, content: `[tokens=${tokens}][delay=${delay}][stamp] go`, clientId: `q${i}` }, c.user.token),
      );
      await until(() => finished >= answers, 5 * 60_000, 50);
      const seconds = (performance.now() - t0) / 1000;
      const serverCores = cpu().cores;
      const writes = (await metric(target.url, 'confab_ai_text_writes_total')) - (Number.isFinite(writes0) ? writes0 : 0);
      const done = await metric(target.url, 'confab_ai_answers_total');
      const streamed = [...span.values()].map((x) => (x.done - x.first) / 1000).filter(Number.isFinite);
      const streamSeconds = streamed.reduce((a, b) => a + b, 0) / Math.max(streamed.length, 1);
      const run: S6Run = {
        target: key,
        label: target.label,
        answers,
        tokens,
        tokenDelayMs: delay,
        answersFinished: done,
        answersWithAllPieces: [...pieces.values()].filter((p) => p === tokens).length,
        answersFailed: failed,
        seconds: +seconds.toFixed(2),
        textWrites: writes,
        writesPerAnswer: +(writes / Math.max(done, 1)).toFixed(2),
        streamSeconds: +streamSeconds.toFixed(2),
        writesPerAnswerPer500ms: +(writes / Math.max(done, 1) / (streamSeconds / 0.5)).toFixed(3),
        checkpointsPerAnswerPer500ms: +((writes - done) / Math.max(done, 1) / (streamSeconds / 0.5)).toFixed(3),
        relay: relay.summary(),
        serverCores,
      };
      log(`S6 ${key}:`, JSON.stringify(run));
      runs.push(run);
    } finally {
      for (const s of sockets) s.close();
      await target.stop();
      await fake.close();
    }
    const profile = await ctx.profiled(key, 'S6');
    if (profile) runs.at(-1)!.profile = profile;
  }
  const checks: Check[] = runs.map((r) => ({
    what: `S6 DB writes per stream per 500 ms (${r.label})`,
    target: '≤ 1',
    measured: `${r.checkpointsPerAnswerPer500ms} checkpoints, ${r.writesPerAnswerPer500ms} with the final write (${r.writesPerAnswer} writes per ${r.streamSeconds} s answer)`,
    met: r.checkpointsPerAnswerPer500ms <= 1,
    note: 'judged on the checkpoints; every answer also needs one final write, which adds 1 / (stream length / 500 ms)',
  }));
  const profiles = Object.fromEntries(runs.filter((r) => r.profile).map((r) => [r.target, r.profile!]));
  return {
    params: { answers, tokensPerAnswer: tokens, tokenDelayMs: delay, streamSeconds: (tokens * delay) / 1000, users: userCount },
    tables: [
      {
        columns: ['server', 'answers finished / with every piece / ended in error', 'streamed per answer', 'DB text writes per answer', 'per 500 ms: checkpoints / all writes', 'relay p50', 'p99', 'p99.9', 'max', 'server CPU (cores)'],
        rows: runs.map((r) => [
          r.label,
          `${r.answersFinished} / ${r.answersWithAllPieces} / ${r.answersFailed}`,
          `${r.streamSeconds} s`,
          `${r.writesPerAnswer}`,
          `${r.checkpointsPerAnswerPer500ms} / ${r.writesPerAnswerPer500ms}`,
          fmt.ms(r.relay.p50),
          fmt.ms(r.relay.p99),
          fmt.ms(r.relay.p999),
          fmt.ms(r.relay.max),
          `${r.serverCores}`,
        ]),
      },
    ],
    checks,
    notes: [
      `${answers} answers stream at once: ${fmt.int((answers * 1000) / delay)} tokens/s in total through the server.`,
      'Relay latency: provider wrote the chunk → client received its ai:delta, one clock (the provider runs in the bench process).',
      'Writes: confab_ai_text_writes_total (checkpoints of the live text and the final write), per answer, over the time each answer streamed at the client.',
    ],
    ...(Object.keys(profiles).length ? { profiles } : {}),
    raw: runs.map(({ profile: _p, ...r }) => r),
  };
};
