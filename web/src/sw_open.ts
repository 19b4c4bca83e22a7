// Opening a Web Push message in the service worker (sw.ts), kept free of
// worker globals so Node tests run it. porchlightd seals each push's
// payload (api.PushPayload: {v, kind, camera, object, minute, priority})
// to this device's recipient from the household's roster, then encrypts it
// for the push service (RFC 8291; the browser undoes that layer before the
// worker sees event.data). The payload says only what the service knows —
// an event object of a camera at a minute — and the service could lie, so
// the notification says "Activity" unless the worker fetched, decrypted and
// verified the event itself (an EventSummary).
//
// Exports:
//   openPushPayload(data, identity): Promise<PushPayload>   age-decrypt with the device identity, strict JSON, checked
//   notificationFor(p, cameraName?, ev?): {title, options}   "Person at Front door"; doorbell: high priority
//   cameraURL(camera): string                               where a click goes: /#/camera/<id>
//   b64urlDecode(s): Uint8Array                             base64url with or without padding (VAPID key, PushSubscription keys)
//   readEvent(h, p): Promise<{summary?, names}>             the verified event a push is about, and the camera names
import { decrypt } from './lib/agex';
import { b64decode } from './lib/bytes';
import { decodeStrict, int, MalformedError, obj, str, time } from './lib/json';
import { validID } from './lib/signed';
import type { Household, PEvent } from './lib/household';

/** The plaintext of a push (Go: api.PushPayload). */
export interface PushPayload {
  v: 1;
  kind: 'camera_event';
  camera: string;
  object: string; // the event object's id
  minute: Date; // the object's coarse time
  priority: 'normal' | 'high';
}

/** What the worker learnt from the verified event itself, if it could fetch it. */
export interface EventSummary { id?: string; kind: string; classes: string[]; labels: string[]; priority: string; zone?: string }

/** The largest push message a push service delivers. */
export const maxPushMessage = 4096;

const payloadDec = obj({ v: int, kind: str, camera: str, object: str, minute: time, priority: str });

/**
 * Opens a push message's data with the device's age identity
 * (AGE-SECRET-KEY-PQ-1…). Throws if it is not sealed to this device or is
 * not a well-formed version 1 payload.
 */
export async function openPushPayload(data: Uint8Array, identity: string): Promise<PushPayload> {
  if (data.length === 0 || data.length > maxPushMessage) {
    throw new MalformedError(`push message of ${data.length} bytes: want 1 to ${maxPushMessage}`);
  }
  const pt = await decrypt(data, identity);
  const p = decodeStrict(pt, payloadDec, 'push payload');
  if (p.v !== 1) throw new MalformedError(`push payload: version ${p.v}, this app reads 1: reload Porchlight to update it`);
  if (p.kind !== 'camera_event') throw new MalformedError(`push payload: kind ${JSON.stringify(p.kind)} is not camera_event`);
  if (!validID(p.camera) || !validID(p.object)) throw new MalformedError('push payload: malformed camera or object id');
  if (p.minute.isZero) throw new MalformedError('push payload: no time');
  if (p.priority !== 'normal' && p.priority !== 'high') throw new MalformedError(`push payload: priority ${JSON.stringify(p.priority)}`);
  return { v: 1, kind: 'camera_event', camera: p.camera, object: p.object, minute: p.minute.date, priority: p.priority };
}

/** Where a notification's click goes. */
export function cameraURL(camera: string): string {
  return '/#/camera/' + encodeURIComponent(camera);
}

const maxName = 60;

function cleanName(name: string | undefined): string {
  // Camera names are the owner's (decrypted from the hub-signed
  // descriptor); still, keep a notification to one short line.
  const n = (name ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (!n) return 'your camera';
  return n.length > maxName ? n.slice(0, maxName - 1) + '…' : n;
}

function capital(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

/** "person", "animal", "vehicle" → "Person, animal and vehicle". */
function classList(classes: string[]): string {
  const cs = [...new Set(classes.filter((c) => /^[a-z][a-z ]{0,30}$/.test(c)))];
  if (cs.length === 0) return '';
  if (cs.length === 1) return capital(cs[0]);
  return capital(cs.slice(0, -1).join(', ') + ' and ' + cs[cs.length - 1]);
}

export interface NotificationSpec {
  title: string;
  options: {
    body: string;
    tag: string;
    renotify: boolean;
    requireInteraction: boolean;
    timestamp: number;
    silent: boolean;
    data: { url: string; camera: string; object: string };
  };
}

/**
 * The notification for a push: "Person at Front door", "Someone rang the
 * doorbell at Front door" (high priority: it stays until dismissed),
 * "Activity at Front door" when the event itself could not be read.
 */
export function notificationFor(p: PushPayload, cameraName?: string, ev?: EventSummary): NotificationSpec {
  const cam = cleanName(cameraName);
  let title = `Activity at ${cam}`;
  let body = 'Open Porchlight to see what happened.';
  let high = p.priority === 'high';
  if (ev) {
    high = high || ev.priority === 'high' || ev.kind === 'doorbell';
    switch (ev.kind) {
      case 'doorbell':
        title = `Someone rang the doorbell at ${cam}`;
        body = 'Open Porchlight to see who is there.';
        break;
      case 'object': {
        const what = classList(ev.classes) || classList(ev.labels) || 'Movement';
        title = `${what} at ${cam}`;
        body = ev.zone ? `In ${ev.zone}. Open Porchlight to watch.` : 'Open Porchlight to watch.';
        break;
      }
      case 'motion':
        title = `Motion at ${cam}`;
        break;
      case 'offline':
        title = `${capital(cam)} went offline`;
        body = 'Porchlight stopped hearing from this camera. Check its power and network.';
        break;
      case 'online':
        title = `${capital(cam)} is back online`;
        body = 'Open Porchlight to watch.';
        break;
    }
  }
  return {
    title,
    options: {
      body,
      // A hub uploads an event again as it develops (a new object, a new
      // push): with its id known, later versions replace the notification
      // quietly instead of alerting again.
      tag: ev?.id ? 'porchlight-event-' + ev.id : 'porchlight-object-' + p.object,
      renotify: false,
      requireInteraction: high,
      timestamp: p.minute.getTime(),
      silent: false,
      data: { url: cameraURL(p.camera), camera: p.camera, object: p.object },
    },
  };
}

/** Decodes base64url, padded or not (the VAPID key comes without padding). */
export function b64urlDecode(s: string): Uint8Array {
  const std = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (/[+/]/.test(s) && /[-_]/.test(s)) throw new Error('malformed base64url: mixes alphabets');
  return b64decode(std + '='.repeat((4 - (std.length % 4)) % 4));
}

/**
 * Reads the event a push is about as the app does (h is the household
 * opened with this device: verified roster, decrypted and hub-verified
 * events): the newest event of the camera that started around the push's
 * minute. Also answers every camera's decrypted name, for the cache.
 */
export async function readEvent(h: Household, p: PushPayload): Promise<{ summary?: EventSummary; names: Record<string, string> }> {
  const names: Record<string, string> = {};
  for (const c of await h.cameras()) names[c.id] = c.name;
  const minute = p.minute.getTime();
  const evs = await h.events(p.camera, new Date(minute - 60_000));
  let best: PEvent | undefined;
  for (const e of evs) {
    const t = e.start.getTime();
    if (t >= minute - 60_000 && t < minute + 120_000 && (!best || t > best.start.getTime())) best = e;
  }
  const summary = best && { id: best.id, kind: best.kind, classes: best.classes, labels: best.labels, priority: best.priority, zone: best.zone || undefined };
  return { summary, names };
}
