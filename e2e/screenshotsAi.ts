/**
 * Screenshots of files in an AI chat (issue 22), a scene of `npm run screenshots` (alone:
 * `npm run screenshots -- --only=ai-files`): a PDF attached to a question, with the answer the
 * model gave from its text; and the composer's note under an image attached in a chat whose model
 * cannot see images. It starts a server of its own, with the local OpenAI-compatible
 * provider answering a question about a document with a canned summary.
 */
import sharp from 'sharp';
import { startFakeOpenAI, testAiConfig } from '../packages/server/src/test/fakeOpenAI.ts';
import { startTestServer, type TestUser } from '../packages/server/src/test/harness.ts';
import { makePdf } from '../packages/server/src/test/pdf.ts';
import type { BrowserHandle } from './helpers.ts';
import { camera, DESKTOP, named, say, THEMES } from './screenshotKit.ts';

const SUMMARY = `Here is the report in short:

- **Revenue** rose 12% to $4.2M, led by the Teams plan.
- **Costs** stayed flat, so the operating margin went from 18% to 24%.
- **Churn** fell to 2.1% after the new onboarding shipped in August.

One risk is flagged on page 2: support hiring is two people behind plan, and response times slipped to 9 hours.`;

const ACTIONS = `Action items:

1. **Ship the beta** on Friday.
2. **Sam** writes the release notes before then.`;

export async function aiFileScreens(chrome: BrowserHandle): Promise<string[]> {
  // The question about the document gets the summary, the other one action items; title requests (not streamed) get the first.
  const reply = (body: { stream?: boolean; messages?: unknown }) => (!body.stream ? 'Q3 report summary' : JSON.stringify(body.messages).includes('[document ') ? SUMMARY : ACTIONS);
  const provider = await startFakeOpenAI({ defaultDelayMs: 5, reply });
  const server = await startTestServer({ ai: testAiConfig(provider.url, ['openai:gpt-demo', 'openai:llama-demo'], { visionModels: ['openai:gpt-demo'], checkpointMs: 300 }) });
  try {
    const maya = await named(server, 'Maya Lin', 'maya');
    const chat = (await maya.api.post('/api/conversations/assistant', { model: 'openai:gpt-demo' })).body as { id: string };
    const pdf = makePdf([
      'Acme Q3 2025 report. Revenue rose 12 percent to 4.2 million, led by the Teams plan.',
      'Costs stayed flat; operating margin 24 percent. Churn 2.1 percent. Risk: support hiring behind plan.',
    ]);
    const ticket = (await maya.api.post('/api/attachments', { conversationId: chat.id, name: 'Q3-report.pdf', type: 'application/pdf', size: pdf.byteLength })).body as { attachmentId: string; uploadUrl: string };
    const put = await fetch(server.url + ticket.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${maya.accessToken}`, 'content-type': 'application/pdf' }, body: new Uint8Array(pdf) });
    if (put.status !== 200) throw new Error(`upload failed: ${put.status}`);
    await say(maya, chat.id, 'Can you sum up this report for the team meeting?', { kind: 'file', attachmentIds: [ticket.attachmentId] });
    await answered(maya, chat.id);
    const textOnly = (await maya.api.post('/api/conversations/assistant', { model: 'openai:llama-demo', title: 'Meeting notes' })).body as { id: string };
    await say(maya, textOnly.id, 'Turn my notes into action items: ship beta Friday, Sam owns the release notes');
    await answered(maya, textOnly.id);
    const whiteboard = await sharp({ create: { width: 320, height: 200, channels: 3, background: { r: 245, g: 245, b: 240 } } })
      .composite([{ input: Buffer.from('<svg width="320" height="200"><rect x="30" y="40" width="120" height="60" fill="none" stroke="#2563eb" stroke-width="4"/><path d="M160 70h80" stroke="#dc2626" stroke-width="4"/><circle cx="270" cy="70" r="28" fill="none" stroke="#16a34a" stroke-width="4"/></svg>'), top: 0, left: 0 }])
      .png()
      .toBuffer();

    const { open, snap, saved } = camera(chrome, server, maya);
    for (const theme of THEMES) {
      const { context, page } = await open(DESKTOP, theme);
      await page.goto(`/c/${chat.id}`);
      await page.locator('.msg .att-file', { hasText: 'Q3-report.pdf' }).waitFor();
      await page.locator('.msg .att-text').waitFor();
      await page.locator('.msg.ai[data-status="complete"] .bubble', { hasText: 'support hiring' }).waitFor();
      await snap(page, `desktop-ai-files-${theme}`);
      // A model without vision: the note under the attached image, before anything is sent.
      await page.goto(`/c/${textOnly.id}`);
      await page.locator('input[type="file"]').setInputFiles({ name: 'whiteboard.png', mimeType: 'image/png', buffer: whiteboard });
      await page.locator('.pending-file.done', { hasText: 'whiteboard.png' }).waitFor();
      await page.locator('.composer-note').waitFor();
      await page.getByRole('textbox', { name: 'Message', exact: true }).fill('What did we decide on the whiteboard?');
      await snap(page, `desktop-ai-files-no-vision-${theme}`);
      await context.close();
    }
    return saved;
  } finally {
    await server.close();
    await provider.close();
  }
}

/** Waits for the answer in `conversationId`, then marks it read, as after a look at it: no "new messages" line across the picture. */
async function answered(u: TestUser, conversationId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const list = (await u.api.get(`/api/messages/${conversationId}?limit=5`)).body as { messages: { id: string; status: string; authorId: string }[] };
    const answer = list.messages.find((m) => m.authorId === 'assistant' && m.status === 'complete');
    if (answer) {
      await u.api.post(`/api/messages/${answer.id}/status`, { status: 'read' });
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('no answer came');
}
