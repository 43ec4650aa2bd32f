/* Confab's service worker: shows web push notifications and opens the conversation on click.
 * The push payload is the server's `notification` event: { kind, conversationId, messageId, title, body }.
 * It caches nothing: the app's own store (IndexedDB, via the SDK) is what keeps it usable offline. */
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: 'Confab', body: event.data ? event.data.text() : '' };
  }
  const title = typeof data.title === 'string' && data.title ? data.title : 'Confab';
  const options = {
    body: typeof data.body === 'string' ? data.body : '',
    icon: '/favicon.svg',
    badge: '/favicon.svg',
    // One notification per conversation: a newer message replaces the older one.
    tag: data.conversationId ? `conv-${data.conversationId}` : undefined,
    renotify: Boolean(data.conversationId),
    data: { conversationId: data.conversationId || null },
  };
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      // Someone is looking at the app right now: the in-app badge is enough.
      if (windows.some((w) => w.visibilityState === 'visible' && w.focused)) return undefined;
      return self.registration.showNotification(title, options);
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const id = event.notification.data && event.notification.data.conversationId;
  const url = id ? `/c/${encodeURIComponent(id)}` : '/';
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      for (const w of windows) {
        if ('focus' in w) {
          w.postMessage({ type: 'open', conversationId: id || null });
          return w.focus();
        }
      }
      return self.clients.openWindow(url);
    }),
  );
});
