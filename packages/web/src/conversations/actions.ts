import type { ConfabClient, Conversation } from '@confab/client';
import type { UpdateConversationBody } from '@confab/protocol';
import { humanError } from '../lib/errors.ts';
import { toast } from '../ui/toast.tsx';

/** PATCH /api/conversations/:id; the store follows through the conversation:update event. */
export async function patchConversation(client: ConfabClient, id: string, body: UpdateConversationBody): Promise<Conversation | null> {
  try {
    return await client.api.updateConversation(id, body);
  } catch (error) {
    toast(humanError(error), 'error');
    return null;
  }
}

/** Owner: deletes the conversation for everyone. Anyone else: leaves it. */
export async function deleteOrLeave(client: ConfabClient, id: string): Promise<boolean> {
  try {
    await client.api.deleteConversation(id);
    return true;
  } catch (error) {
    toast(humanError(error), 'error');
    return false;
  }
}
