// Settings → Notifications (#/settings/notifications): the toggle
// "Notifications on this browser". Turning it on asks the browser for
// permission, registers the service worker (/sw.js), subscribes with the
// service's VAPID key and hands porchlightd the subscription for this
// browser's roster device (PUT /v1/push/subscriptions). Pushes are sealed
// to that device; the worker opens them (sw.ts). The camera names the
// worker shows are cached here, in the device key store.
//
// porchlightd ends a subscription with its session (sign-out, revocation,
// password change…), so after every sign-in this module hands the
// browser's existing subscription over again (resync).
//
// Exports:
//   rememberCameraNames(h): Promise<void>   cache h's camera names for notifications (pages may call it after listing cameras)
import { api, ApiError } from '../lib/api';
import type { Household } from '../lib/household';
import { store } from '../lib/store';
import { b64urlDecode } from '../sw_open';
import { route, type Ctx } from './router';
import { me } from './shell';
import { act, settingsPage } from './settings_common';
import { button, el, emptyState, errorFrom, loading, mount, pageHeader, toast } from './ui';

// The same keys as sw.ts (not imported: that would pull the worker into the page).
const cameraNamesKey = 'push-camera-names';
const pushStateKey = 'push-subscription';

interface PushState { id: string; deviceId: string; endpoint: string }

function supported(): boolean {
  return typeof navigator !== 'undefined' && 'serviceWorker' in navigator && typeof PushManager !== 'undefined' && typeof Notification !== 'undefined';
}

export async function rememberCameraNames(h: Household): Promise<void> {
  const names: Record<string, string> = {};
  for (const c of await h.cameras()) names[c.id] = c.name;
  await store().put(cameraNamesKey, names);
}

async function registration(): Promise<ServiceWorkerRegistration> {
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  return navigator.serviceWorker.ready;
}

function sameKey(a: ArrayBuffer | null | undefined, b: Uint8Array): boolean {
  if (!a) return false;
  const x = new Uint8Array(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
}

/** hand gives porchlightd this browser's subscription for device. */
async function hand(sub: PushSubscription, deviceId: string, signal?: AbortSignal): Promise<PushState> {
  const j = sub.toJSON();
  if (!j.endpoint || !j.keys?.p256dh || !j.keys?.auth) throw new Error('the browser gave an incomplete push subscription: turn notifications off and on again');
  const out = await api<{ id: string }>('PUT', '/v1/push/subscriptions',
    { endpoint: j.endpoint, p256dh: j.keys.p256dh, auth: j.keys.auth, device_id: deviceId }, { signal });
  const st: PushState = { id: out.id, deviceId, endpoint: j.endpoint };
  await store().put(pushStateKey, st);
  return st;
}

async function enable(ctx: Ctx): Promise<void> {
  const perm = await Notification.requestPermission();
  if (perm !== 'granted') {
    throw new Error('Notifications are blocked for this site. Allow them in the browser\'s site settings, then turn them on here again.');
  }
  const { public_key } = await api<{ public_key: string }>('GET', '/v1/push/vapid', undefined, { signal: ctx.signal });
  const key = b64urlDecode(public_key);
  const reg = await registration();
  let sub = await reg.pushManager.getSubscription();
  if (sub && !sameKey(sub.options.applicationServerKey, key)) {
    await sub.unsubscribe(); // made for another service key: start over
    sub = null;
  }
  sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key as Uint8Array<ArrayBuffer> });
  await hand(sub, ctx.device.id, ctx.signal);
  if (ctx.household) await rememberCameraNames(ctx.household).catch(() => undefined);
}

async function disable(): Promise<void> {
  const st = (await store().get(pushStateKey)) as PushState | undefined;
  if (st) {
    try {
      await api('DELETE', '/v1/push/subscriptions/' + encodeURIComponent(st.id));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err; // already gone with an old session
    }
  }
  const reg = await navigator.serviceWorker.getRegistration('/');
  const sub = await reg?.pushManager.getSubscription();
  await sub?.unsubscribe();
  await store().del(pushStateKey);
}

/** Whether this browser is subscribed and porchlightd knows it. */
async function current(): Promise<'on' | 'off'> {
  if (Notification.permission !== 'granted') return 'off';
  const reg = await navigator.serviceWorker.getRegistration('/');
  const sub = await reg?.pushManager.getSubscription();
  const st = (await store().get(pushStateKey)) as PushState | undefined;
  return sub && st && st.endpoint === sub.endpoint ? 'on' : 'off';
}

route('/settings/notifications', 'Notifications', async (ctx: Ctx) => {
  const body = settingsPage(ctx, 'notifications', loading('Checking notifications…'));
  const draw = async () => {
    if (!supported()) {
      mount(body, pageHeader('Notifications'),
        emptyState('This browser cannot show Porchlight notifications.', 'Use a browser with Web Push (Chrome, Edge, Firefox, or Safari added to the home screen).'));
      return;
    }
    let state: 'on' | 'off';
    try {
      state = await current();
    } catch (err) {
      if (ctx.signal.aborted) return;
      mount(body, errorFrom(err, 'Checking notifications', () => { void draw(); }));
      return;
    }
    if (ctx.signal.aborted) return;
    const toggle = el('input', { type: 'checkbox', role: 'switch', checked: state === 'on', testid: 'push-toggle' });
    toggle.addEventListener('change', () => {
      const on = toggle.checked;
      toggle.disabled = true;
      void act(null, async () => {
        try {
          if (on) {
            await enable(ctx);
            toast('Notifications are on for this browser.');
          } else {
            await disable();
            toast('Notifications are off for this browser.');
          }
        } finally {
          await draw();
        }
      });
    });
    mount(body,
      pageHeader('Notifications'),
      el('label', { class: 'field toggle' }, toggle, el('span', null, 'Notifications on this browser')),
      el('p', { class: 'muted', testid: 'push-status' }, state === 'on'
        ? 'On. Camera events reach this browser sealed to its device key: the service and the push service see only ciphertext.'
        : 'Off. Turn on to hear about people, animals, vehicles and doorbell presses at your cameras.'),
      state === 'on' ? button('Refresh camera names', () => {
        if (ctx.household) void act(null, async () => { await rememberCameraNames(ctx.household!); toast('Camera names updated.'); });
      }, { class: 'secondary' }) : null);
  };
  await draw();
});

// After a sign-in, hand the browser's existing subscription over again:
// porchlightd dropped it with the old session.
let synced = '';
async function resync(): Promise<void> {
  const m = me();
  if (!m || m.session_id === synced || !supported() || Notification.permission !== 'granted') return;
  synced = m.session_id;
  try {
    const st = (await store().get(pushStateKey)) as PushState | undefined;
    const reg = st && (await navigator.serviceWorker.getRegistration('/'));
    const sub = reg && (await reg.pushManager.getSubscription());
    if (st && sub) await hand(sub, st.deviceId);
  } catch (err) {
    console.info('porchlight: notifications not resumed for this session', err);
  }
}
if (typeof window !== 'undefined') {
  window.addEventListener('hashchange', () => { void resync(); });
  window.addEventListener('load', () => { void resync(); });
}
