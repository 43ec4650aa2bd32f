// Queries on push_subscriptions, the devices that get web push (issue #17, item 2: the query
// layer). The SQL moved here as it was from operations/notifications.ts, which keeps the rules
// (who may take over an endpoint, how many devices a user keeps).
import type { Queryable } from './db.ts';
import type { PushSubscriptionRow } from './rows.ts';

export async function findPushSubscription(db: Queryable, id: string): Promise<PushSubscriptionRow | undefined> {
  const [row] = await db.query<PushSubscriptionRow>('SELECT * FROM push_subscriptions WHERE id = $1', [id]);
  return row;
}

export async function findPushSubscriptionByEndpoint(db: Queryable, endpoint: string): Promise<PushSubscriptionRow | undefined> {
  const [row] = await db.query<PushSubscriptionRow>('SELECT * FROM push_subscriptions WHERE endpoint = $1', [endpoint]);
  return row;
}

/** Inserts the subscription, or gives an existing endpoint to this user with these keys. */
export async function upsertPushSubscription(
  db: Queryable,
  sub: { id: string; userId: string; endpoint: string; keysEnc: string },
): Promise<Pick<PushSubscriptionRow, 'id' | 'endpoint' | 'created_at'>> {
  const [row] = await db.query<Pick<PushSubscriptionRow, 'id' | 'endpoint' | 'created_at'>>(
    `INSERT INTO push_subscriptions (id, user_id, endpoint, keys_enc) VALUES ($1, $2, $3, $4)
     ON CONFLICT (endpoint) DO UPDATE SET user_id = EXCLUDED.user_id, keys_enc = EXCLUDED.keys_enc
     RETURNING id, endpoint, created_at`,
    [sub.id, sub.userId, sub.endpoint, sub.keysEnc],
  );
  return row!;
}

/** Deletes all but the user's `keep` newest subscriptions. */
export async function deleteOlderPushSubscriptions(db: Queryable, userId: string, keep: number): Promise<void> {
  await db.query(
    `DELETE FROM push_subscriptions WHERE id IN (
       SELECT id FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at DESC, id OFFSET $2)`,
    [userId, keep],
  );
}

/** Deletes the user's subscription at this endpoint, if there is one. */
export async function deleteUserPushSubscription(db: Queryable, userId: string, endpoint: string): Promise<void> {
  await db.query('DELETE FROM push_subscriptions WHERE endpoint = $1 AND user_id = $2', [endpoint, userId]);
}

export async function deletePushSubscription(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM push_subscriptions WHERE id = $1', [id]);
}

export async function listUserPushSubscriptions(db: Queryable, userId: string): Promise<Array<Pick<PushSubscriptionRow, 'id' | 'endpoint' | 'created_at'>>> {
  return db.query<Pick<PushSubscriptionRow, 'id' | 'endpoint' | 'created_at'>>('SELECT id, endpoint, created_at FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at', [
    userId,
  ]);
}

/** The subscriptions of these users (which device belongs to whom). */
export async function pushSubscriptionsOfUsers(db: Queryable, userIds: string[]): Promise<Array<{ id: string; user_id: string }>> {
  return db.query<{ id: string; user_id: string }>('SELECT id, user_id FROM push_subscriptions WHERE user_id = ANY($1::text[])', [userIds]);
}

export async function markPushDelivered(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE push_subscriptions SET last_success_at = now() WHERE id = $1', [id]);
}
