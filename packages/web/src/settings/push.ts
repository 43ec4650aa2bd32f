import type { ConfabClient } from '@confab/client';

/** Web push: register public/sw.js, subscribe with the server's VAPID key, and hand the subscription to the server. */
export function pushSupported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && typeof Notification !== 'undefined';
}

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const pad = '='.repeat((4 - (base64url.length % 4)) % 4);
  const raw = atob((base64url + pad).replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

export async function currentSubscription(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.getRegistration('/');
  return (await reg?.pushManager.getSubscription()) ?? null;
}

export async function enablePush(client: ConfabClient): Promise<void> {
  if (!pushSupported()) throw new Error('This browser does not support notifications.');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error('Notifications are blocked for this site. Allow them in the browser settings.');
  const reg = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  await navigator.serviceWorker.ready;
  const { publicKey } = await client.api.vapidPublicKey();
  const sub = (await reg.pushManager.getSubscription()) ?? (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) }));
  const json = sub.toJSON();
  // A subscription always has these; when one lacks them the server refuses it as before (VALIDATION_ERROR).
  const keys = { p256dh: json.keys?.p256dh ?? '', auth: json.keys?.auth ?? '' };
  await client.api.addPushSubscription({ endpoint: json.endpoint ?? '', expirationTime: json.expirationTime ?? null, keys });
}

export async function disablePush(client: ConfabClient): Promise<void> {
  const sub = await currentSubscription();
  if (!sub) return;
  await client.api.deletePushSubscription(sub.endpoint).catch(() => {});
  await sub.unsubscribe();
}
