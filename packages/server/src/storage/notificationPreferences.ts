// Queries on notification_preferences, and on the members of conversations as notifications see
// them (issue #17, item 2: the query layer). The SQL moved here as it was from
// operations/notifications.ts, which keeps who is told what.
import type { Queryable } from './db.ts';
import type { NotificationPreferencesRow, NotificationRecipientRow } from './rows.ts';

export async function findNotificationPreferences(db: Queryable, userId: string): Promise<NotificationPreferencesRow | undefined> {
  const [row] = await db.query<NotificationPreferencesRow>('SELECT level, preview FROM notification_preferences WHERE user_id = $1', [userId]);
  return row;
}

/** Sets the given fields (null leaves one as it is; a new row starts from the defaults); returns the result. */
export async function upsertNotificationPreferences(
  db: Queryable,
  userId: string,
  patch: { level: NotificationPreferencesRow['level'] | null; preview: boolean | null },
): Promise<NotificationPreferencesRow> {
  const [row] = await db.query<NotificationPreferencesRow>(
    `INSERT INTO notification_preferences (user_id, level, preview) VALUES ($1, COALESCE($2, 'all'), COALESCE($3, true))
     ON CONFLICT (user_id) DO UPDATE SET level = COALESCE($2, notification_preferences.level),
       preview = COALESCE($3, notification_preferences.preview), updated_at = now()
     RETURNING level, preview`,
    [userId, patch.level, patch.preview],
  );
  return row!;
}

/** Members of conversations with their notification preferences; callers add the WHERE. */
const RECIPIENTS = `SELECT cm.conversation_id, cm.user_id, u.handle, u.display_name, u.is_bot, cm.muted, cm.last_read_seq,
    COALESCE(np.level, 'all') AS level, COALESCE(np.preview, true) AS preview, c.type, c.title
  FROM conversation_members cm
  JOIN conversations c ON c.id = cm.conversation_id
  JOIN users u ON u.id = cm.user_id
  LEFT JOIN notification_preferences np ON np.user_id = cm.user_id`;

/** Every member of these conversations (bots included), in one statement however many there are. */
export async function recipientsOfConversations(db: Queryable, conversationIds: string[]): Promise<NotificationRecipientRow[]> {
  return db.query<NotificationRecipientRow>(`${RECIPIENTS} WHERE cm.conversation_id = ANY($1::text[])`, [conversationIds], { prepare: true });
}

/** The people (not bots) of one conversation; only those in `userIds` unless it is null. */
export async function peopleOfConversation(db: Queryable, conversationId: string, userIds: string[] | null): Promise<NotificationRecipientRow[]> {
  return db.query<NotificationRecipientRow>(
    `${RECIPIENTS} WHERE cm.conversation_id = $1 AND NOT u.is_bot AND ($2::text[] IS NULL OR cm.user_id = ANY($2::text[]))`,
    [conversationId, userIds],
  );
}
