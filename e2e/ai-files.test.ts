import { afterAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../packages/server/src/test/fakeOpenAI.ts';
import { startTestServer } from '../packages/server/src/test/harness.ts';
import { makePdf } from '../packages/server/src/test/pdf.ts';
import { openNewChat, opensConversation, send, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * Files in an AI chat (issue 22), in Debian's Chromium against a real server and the local
 * OpenAI-compatible provider: a PDF attached in the composer reaches the model as its text (checked
 * on the request the provider got) and the answer streams in; a model that cannot see images is
 * named in a note under an attached image before it is sent.
 */
const VISION = 'openai:vision-test';
const TEXT_ONLY = 'openai:text-test';

let fake: FakeOpenAI;
const app = webApp(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 30 });
  return startTestServer({ ai: testAiConfig(fake.url, [VISION, TEXT_ONLY], { visionModels: [VISION], checkpointMs: 300 }) });
});

afterAll(async () => {
  await fake?.close();
});

/** A new AI chat with `model`, picked in the new-chat dialog. */
async function aiChat(u: WebUser, model: string): Promise<string> {
  return opensConversation(u.page, async () => {
    await openNewChat(u.page, 'New AI chat');
    await u.page.getByLabel('Model', { exact: true }).selectOption(model);
    await u.page.getByRole('button', { name: 'Start AI chat' }).click();
  });
}

async function redSquare(u: WebUser): Promise<Buffer> {
  const bytes = await u.page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 32;
    const g = canvas.getContext('2d')!;
    g.fillStyle = '#dc2626';
    g.fillRect(0, 0, 32, 32);
    const blob = await new Promise<Blob>((r) => canvas.toBlob((b) => r(b!), 'image/png'));
    return Array.from(new Uint8Array(await blob.arrayBuffer()));
  });
  return Buffer.from(bytes);
}

describe('files in an AI chat, in a real browser', () => {
  let alice: WebUser;

  it('a PDF attached in the composer reaches the model as its text, and the answer streams in', async () => {
    alice = await app.person('Alice');
    const conv = await aiChat(alice, VISION);
    const { page } = alice;
    const pdf = makePdf(['Quarterly revenue rose by twelve percent', 'Costs stayed flat']);
    await page.locator('input[type="file"]').setInputFiles({ name: 'report.pdf', mimeType: 'application/pdf', buffer: pdf });
    await page.locator('.pending-file.done', { hasText: 'report.pdf' }).waitFor();
    // A vision model: no note about images.
    expect(await page.locator('.composer-note').count()).toBe(0);
    const before = fake.requests.length;
    await send(page, 'What does the report say?');

    // The question with its file, then the answer, streaming, then complete.
    await page.locator('.msg', { hasText: 'What does the report say?' }).locator('.att-file', { hasText: 'report.pdf' }).waitFor();
    await page.locator('.msg.ai[data-status="streaming"]').waitFor();
    const answer = page.locator('.msg.ai[data-status="complete"] .bubble');
    await answer.waitFor({ timeout: 20_000 });
    // The fake provider echoes what it got: the PDF's text, so the model had it.
    expect(await answer.innerText()).toContain('Quarterly revenue rose by twelve percent');

    const request = fake.requests.slice(before).find((r) => r.body?.stream === true)!;
    const user = (request.body.messages as { role: string; content: string }[]).filter((m) => m.role === 'user').at(-1)!;
    expect(user.content).toContain('What does the report say?');
    expect(user.content).toContain('[document report.pdf]');
    expect(user.content).toContain('Quarterly revenue rose by twelve percent');
    expect(user.content).toContain('Costs stayed flat');
    expect(page.url()).toContain(conv);
    expect(alice.errors).toEqual([]);
  });

  it('says under an attached image when the chat’s model cannot see images', async () => {
    const { page } = alice;
    const png = await redSquare(alice);
    await aiChat(alice, TEXT_ONLY);
    await page.locator('input[type="file"]').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: png });
    const note = page.locator('.composer-note');
    await note.waitFor();
    expect(await note.innerText()).toMatch(/text-test cannot see images: the assistant will only be told that photo\.png is attached/);
    // Removing the image removes the note.
    await page.getByRole('button', { name: 'Remove photo.png' }).click();
    await expect.poll(() => note.count()).toBe(0);

    // The same image in a chat with a vision model: no note, and the model gets the image.
    await aiChat(alice, VISION);
    await page.locator('input[type="file"]').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: png });
    await page.locator('.pending-file.done', { hasText: 'photo.png' }).waitFor();
    expect(await note.count()).toBe(0);
    const before = fake.requests.length;
    await send(page, 'What colour is it?');
    await page.locator('.msg.ai[data-status="complete"]').waitFor({ timeout: 20_000 });
    const request = fake.requests.slice(before).find((r) => r.body?.stream === true)!;
    expect(JSON.stringify(request.body.messages)).toContain('"type":"image_url"');
    expect(alice.errors).toEqual([]);
  });
});
