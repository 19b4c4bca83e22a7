// The service worker: Web Push notifications of camera events, opened with
// this browser's device key. Nothing else (no caching: porchlightd serves
// the app with SRI and the page is online-only).
//
// A push carries an age file sealed to this device (sw_open.ts). The worker
// opens it with the device identity from IndexedDB (lib/device.ts; a
// passkey-protected key cannot be unlocked without the person, so then the
// notification stays generic), names the camera from the cache the app
// keeps (app/push.ts), and, if it can within a few seconds, fetches,
// decrypts and verifies the event itself (lib/household.ts, with the
// session cookie) to say "Person at Front door" rather than "Activity".
// A click opens #/camera/<id>.
import { deviceProtection, deviceSecrets, loadOrCreateDevice, type Device } from './lib/device';
import { Household } from './lib/household';
import { store } from './lib/store';
import { api } from './lib/api';
import { b64urlDecode, notificationFor, openPushPayload, readEvent, type EventSummary, type PushPayload } from './sw_open';

declare const self: ServiceWorkerGlobalScope;

/** IndexedDB keys (A's "porchlight"/"keys" store) shared with app/push.ts. */
export const cameraNamesKey = 'push-camera-names';
export const pushStateKey = 'push-subscription';

/** How long the worker tries to read the event itself before it shows what it has. */
const enrichTimeout = 8000;

self.addEventListener('install', () => { void self.skipWaiting(); });
self.addEventListener('activate', (e) => { e.waitUntil(self.clients.claim()); });

self.addEventListener('push', (e) => {
  const data = e.data ? new Uint8Array(e.data.arrayBuffer()) : null;
  e.waitUntil(onPush(data));
});

self.addEventListener('notificationclick', (e) => {
  e.notification.close();
  const want = (e.notification.data as { url?: unknown } | null)?.url;
  // Only our own pages: never a URL from elsewhere.
  const path = typeof want === 'string' && want.startsWith('/#/') ? want : '/#/';
  e.waitUntil(openPage(new URL(path, self.location.origin).href));
});

self.addEventListener('pushsubscriptionchange', (e) => {
  e.waitUntil(resubscribe(e as Event & { newSubscription?: PushSubscription | null }));
});

/** The stored device, or null when there is none or it is passkey-protected. */
async function storedDevice(): Promise<Device | null> {
  if ((await deviceProtection()) !== 'none') return null;
  return loadOrCreateDevice('');
}

async function cameraNames(): Promise<Record<string, string>> {
  const v = await store().get(cameraNamesKey);
  return v && typeof v === 'object' ? (v as Record<string, string>) : {};
}

async function onPush(data: Uint8Array | null): Promise<void> {
  // Browsers require a notification for every push (userVisibleOnly).
  let dev: Device | null = null;
  let p: PushPayload | undefined;
  try {
    dev = await storedDevice();
    if (dev && data) p = await openPushPayload(data, deviceSecrets(dev).kem);
  } catch (err) {
    console.warn('porchlight: push message did not open', err);
  }
  if (!dev || !p) {
    await self.registration.showNotification('Porchlight', {
      body: 'Something happened at one of your cameras. Open Porchlight to see it.',
      tag: 'porchlight', data: { url: '/#/' },
    });
    return;
  }
  const names = await cameraNames().catch(() => ({} as Record<string, string>));
  let ev: EventSummary | undefined;
  try {
    ev = await withTimeout(verifiedEvent(dev, p, names), enrichTimeout);
  } catch (err) {
    console.info('porchlight: event not read, showing the push as it came', err);
  }
  const n = notificationFor(p, names[p.camera], ev);
  await self.registration.showNotification(n.title, n.options);
}

function withTimeout<T>(pr: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    pr.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

/** The verified event a push is about (sw_open.readEvent); refreshes the camera name cache. */
async function verifiedEvent(dev: Device, p: PushPayload, names: Record<string, string>): Promise<EventSummary | undefined> {
  const h = await Household.open(dev);
  if (!h.isDevice) return undefined;
  const r = await readEvent(h, p);
  Object.assign(names, r.names);
  await store().put(cameraNamesKey, r.names).catch(() => undefined);
  return r.summary;
}

async function openPage(url: string): Promise<void> {
  const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const w of wins) {
    if (new URL(w.url).origin !== self.location.origin) continue;
    try {
      const nav = await w.navigate(url);
      await (nav ?? w).focus();
      return;
    } catch {
      // not controlled by this worker: open a new window instead
    }
  }
  await self.clients.openWindow(url);
}

/** The push service replaced the subscription: tell porchlightd about the new one. */
async function resubscribe(e: { newSubscription?: PushSubscription | null }): Promise<void> {
  const st = (await store().get(pushStateKey)) as { id: string; deviceId: string } | undefined;
  if (!st) return;
  let sub = e.newSubscription ?? null;
  if (!sub) {
    const { public_key } = await api<{ public_key: string }>('GET', '/v1/push/vapid');
    const key = b64urlDecode(public_key);
    sub = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key as Uint8Array<ArrayBuffer> });
  }
  const j = sub.toJSON();
  const out = await api<{ id: string }>('PUT', '/v1/push/subscriptions', { endpoint: j.endpoint, p256dh: j.keys?.p256dh, auth: j.keys?.auth, device_id: st.deviceId });
  await store().put(pushStateKey, { ...st, id: out.id, endpoint: j.endpoint });
}
