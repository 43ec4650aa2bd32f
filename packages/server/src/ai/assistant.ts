/** The assistant is one bot user (created by migration 1), a member of every conversation it answers in. */
export const ASSISTANT_ID = 'assistant';
