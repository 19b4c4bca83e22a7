// Annotation campaigns in the browser (issue 8), for annotator accounts:
// the campaign key (the age identity `porchlight campaign key` writes) kept
// in this browser's IndexedDB, the annotate API, opening a campaign copy
// (a redaction result sealed to the campaign recipient) here, and the pure
// box geometry the annotator tool uses.
//
// A campaign copy's plaintext is (seal.Redaction, docs/formats.md):
//   uint32 BE len(signed header) ‖ signed "porchlight.redaction" header ‖ MP4 bytes
// The annotator has no household roster, so the hub's signature cannot be
// checked here; the age file's authentication and the header's MP4 SHA-256
// are (a copy that does not match is refused).
//
// Exports:
//   parseKeyFile(text): Promise<CampaignKey>; importCampaignKey(text, name?); campaignKeys(); forgetCampaignKey(recipient)
//   keyForRecipient(recipient)
//   interface Campaign, Task, Box; campaigns(), tasks(campaign), taskMedia(task), getLabels(task), putLabels(task, boxes)
//   openCopy(sealed, identity, campaign?): Promise<{ header: CopyHeader; mp4: Uint8Array }>
//   normBox, clampBox, hitTest, dragBox, boxesAt, labelledTimes, checkBoxes

import { api, apiBytes } from './api';
import { decrypt, recipientOf } from './agex';
import { fromUtf8 } from './bytes';
import { parseSigned, sha256hex } from './signed';
import { store } from './store';

// ---------- the campaign key ----------

/** A campaign key held by this browser. */
export interface CampaignKey { recipient: string; identity: string; name: string; imported: string }

const keysRecord = 'campaign-keys';

/**
 * parseKeyFile reads an age identity file: "#" comment lines, blank lines
 * and exactly one AGE-SECRET-KEY-PQ-1… line. It answers the identity and
 * its recipient; anything else is an error saying what to do.
 */
export async function parseKeyFile(text: string, name = 'campaign.key'): Promise<CampaignKey> {
  const ids: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('AGE-SECRET-KEY-PQ-1')) { ids.push(line); continue; }
    if (line.startsWith('AGE-SECRET-KEY-1')) throw new Error('this is a classic (X25519) age key; campaign keys are hybrid keys: make one with "porchlight campaign key -o campaign.key"');
    throw new Error('this file is not a campaign key: choose the file "porchlight campaign key" wrote (comment lines starting with "#" and one AGE-SECRET-KEY-PQ-1… line)');
  }
  if (ids.length === 0) throw new Error('no key in this file: choose the file "porchlight campaign key" wrote');
  if (ids.length > 1) throw new Error('this file holds more than one key: import a file with exactly one campaign key');
  let recipient: string;
  try {
    recipient = await recipientOf(ids[0]);
  } catch (e) {
    throw new Error('the key in this file is damaged (' + (e as Error).message + '): copy the file again from where it was made');
  }
  return { recipient, identity: ids[0], name, imported: new Date().toISOString() };
}

async function readKeys(): Promise<CampaignKey[]> {
  const v = await store().get(keysRecord);
  return Array.isArray(v) ? (v as CampaignKey[]).filter((k) => k && typeof k.identity === 'string' && typeof k.recipient === 'string') : [];
}

/** importCampaignKey stores a key file's identity in IndexedDB (replacing one with the same recipient). */
export async function importCampaignKey(text: string, name?: string): Promise<CampaignKey> {
  const k = await parseKeyFile(text, name);
  const all = (await readKeys()).filter((x) => x.recipient !== k.recipient);
  all.push(k);
  await store().put(keysRecord, all);
  return k;
}

/** campaignKeys lists the imported keys (identities included: keep them in this module's callers). */
export async function campaignKeys(): Promise<CampaignKey[]> {
  return readKeys();
}

/** forgetCampaignKey removes one imported key from this browser. */
export async function forgetCampaignKey(recipient: string): Promise<void> {
  await store().put(keysRecord, (await readKeys()).filter((k) => k.recipient !== recipient));
}

/** keyForRecipient finds the imported key of a campaign's recipient. */
export async function keyForRecipient(recipient: string): Promise<CampaignKey | undefined> {
  return (await readKeys()).find((k) => k.recipient === recipient);
}

// ---------- the API ----------

export interface Campaign {
  id: string; purpose: string; classes: string[]; retention: string; org: string; country: string; recipient: string; created: Date;
}

/** A box on one frame, corners as fractions of the frame (0..1). */
export interface Box { t_ms: number; class: string; x0: number; y0: number; x1: number; y1: number }

export interface Task { id: string; consent: string; created: Date; labels: number }

const s = (v: unknown) => (typeof v === 'string' ? v : '');
const date = (v: unknown) => new Date(typeof v === 'string' ? v : NaN);
const listOf = (v: unknown, key: string): unknown[] => {
  if (Array.isArray(v)) return v;
  const inner = v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  if (Array.isArray(inner)) return inner;
  throw new Error(`the ${key} answer is not a list: reload the page and try again`);
};

/** parseCampaigns reads GET /v1/annotate/campaigns (a list or {campaigns}). */
export function parseCampaigns(v: unknown): Campaign[] {
  return listOf(v, 'campaigns').flatMap((x) => {
    const r = (x ?? {}) as Record<string, unknown>;
    if (!s(r.id)) return [];
    const retention = typeof r.retention === 'string' ? r.retention
      : typeof r.retention_days === 'number' ? `${r.retention_days} days` : typeof r.retention === 'number' ? `${r.retention} days` : '';
    return [{
      id: s(r.id), purpose: s(r.purpose), classes: Array.isArray(r.classes) ? r.classes.filter((c): c is string => typeof c === 'string') : [],
      retention, org: s(r.org), country: s(r.country), recipient: s(r.recipient), created: date(r.created ?? r.created_at),
    }];
  });
}

/** parseTasks reads GET /v1/annotate/campaigns/{id}/tasks (a list or {tasks}); labels is a count or the boxes. */
export function parseTasks(v: unknown): Task[] {
  return listOf(v, 'tasks').flatMap((x) => {
    const r = (x ?? {}) as Record<string, unknown>;
    if (!s(r.id)) return [];
    const l = r.labels;
    const labels = typeof l === 'number' ? l : Array.isArray(l) ? l.length
      : l && typeof l === 'object' && Array.isArray((l as { boxes?: unknown }).boxes) ? (l as { boxes: unknown[] }).boxes.length : 0;
    return [{ id: s(r.id), consent: s(r.consent), created: date(r.created ?? r.created_at), labels }];
  });
}

/** parseBoxes reads {boxes: [...]} (or a bare list), dropping malformed boxes. */
export function parseBoxes(v: unknown): Box[] {
  const list = Array.isArray(v) ? v : v && typeof v === 'object' && Array.isArray((v as { boxes?: unknown }).boxes) ? (v as { boxes: unknown[] }).boxes : [];
  const out: Box[] = [];
  for (const x of list) {
    const r = (x ?? {}) as Record<string, unknown>;
    const n = [r.t_ms, r.x0, r.y0, r.x1, r.y1];
    if (!n.every((v) => typeof v === 'number' && Number.isFinite(v)) || typeof r.class !== 'string') continue;
    out.push(normBox({ t_ms: Math.round(r.t_ms as number), class: r.class, x0: r.x0 as number, y0: r.y0 as number, x1: r.x1 as number, y1: r.y1 as number }));
  }
  return out;
}

export async function campaigns(signal?: AbortSignal): Promise<Campaign[]> {
  return parseCampaigns(await api<unknown>('GET', '/v1/annotate/campaigns', undefined, { signal }));
}

export async function tasks(campaign: string, signal?: AbortSignal): Promise<Task[]> {
  return parseTasks(await api<unknown>('GET', `/v1/annotate/campaigns/${encodeURIComponent(campaign)}/tasks`, undefined, { signal }));
}

/** taskMedia fetches a task's sealed copy (age ciphertext). */
export async function taskMedia(task: string, signal?: AbortSignal): Promise<Uint8Array> {
  return apiBytes(`/v1/annotate/tasks/${encodeURIComponent(task)}/media`, { signal });
}

export async function getLabels(task: string, signal?: AbortSignal): Promise<Box[]> {
  return parseBoxes(await api<unknown>('GET', `/v1/annotate/tasks/${encodeURIComponent(task)}/labels`, undefined, { signal }));
}

export async function putLabels(task: string, boxes: Box[], classes: string[]): Promise<void> {
  checkBoxes(boxes, classes);
  const r = (n: number) => Math.round(n * 1e6) / 1e6;
  await api('PUT', `/v1/annotate/tasks/${encodeURIComponent(task)}/labels`, {
    boxes: boxes.map((b) => ({ t_ms: b.t_ms, class: b.class, x0: r(b.x0), y0: r(b.y0), x1: r(b.x1), y1: r(b.y1) })),
  });
}

// ---------- opening a copy ----------

/** The fields of the hub-signed header this page uses (seal.Redaction). */
export interface CopyHeader {
  job: string; camera: string; purpose: string; campaign: string; from: Date; to: Date;
  mp4SHA256: string; size: number; frames: number; blurred: number; signer: string;
}

/** The largest sealed copy this page opens (a redaction result is ≤ 512 MiB; a browser tab holds less). */
export const MaxCopy = 256 << 20;

/** openCopy decrypts a campaign copy with the campaign identity and checks its header against the MP4. */
export async function openCopy(sealed: Uint8Array, identity: string, campaign?: string): Promise<{ header: CopyHeader; mp4: Uint8Array }> {
  if (sealed.length > MaxCopy) throw new Error(`this copy is larger than ${MaxCopy >> 20} MiB: open it with "porchlight dataset export" instead`);
  let plain: Uint8Array;
  try {
    plain = await decrypt(sealed, identity);
  } catch (e) {
    throw new Error('this copy does not open with the imported campaign key (' + (e as Error).message + '): import the key of this campaign');
  }
  if (plain.length < 4) throw new Error('the decrypted copy is truncated: it cannot be annotated');
  const n = new DataView(plain.buffer, plain.byteOffset, plain.byteLength).getUint32(0);
  if (n === 0 || 4 + n > plain.length) throw new Error('the decrypted copy has a damaged header: it cannot be annotated');
  const env = parseSigned(plain.subarray(4, 4 + n), 'porchlight.redaction');
  let b: Record<string, unknown>;
  try {
    b = JSON.parse(fromUtf8(env.body)) as Record<string, unknown>;
  } catch {
    throw new Error('the copy\'s header is not JSON: it cannot be annotated');
  }
  const mp4 = plain.subarray(4 + n);
  const header: CopyHeader = {
    job: s(b.job), camera: s(b.camera), purpose: s(b.purpose), campaign: s(b.campaign), from: date(b.from), to: date(b.to),
    mp4SHA256: s(b.mp4_sha256), size: typeof b.size === 'number' ? b.size : -1,
    frames: typeof b.frames === 'number' ? b.frames : 0, blurred: typeof b.blurred === 'number' ? b.blurred : 0, signer: env.signer,
  };
  if (header.purpose !== 'donate') throw new Error(`this copy was made for "${header.purpose}", not for a campaign: it cannot be annotated`);
  if (campaign && header.campaign !== campaign) throw new Error('this copy belongs to another campaign: it cannot be annotated here');
  if (header.size !== mp4.length || sha256hex(mp4) !== header.mp4SHA256) throw new Error('the video does not match its signed header (size or SHA-256): it was altered, do not annotate it');
  return { header, mp4 };
}

// ---------- box geometry (pure; the tool's canvas calls these) ----------

/** The smallest box side, as a fraction of the frame. */
export const MinSide = 0.005;

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/** normBox orders the corners and clamps them to the frame. */
export function normBox(b: Box): Box {
  return {
    t_ms: b.t_ms, class: b.class,
    x0: clamp01(Math.min(b.x0, b.x1)), y0: clamp01(Math.min(b.y0, b.y1)),
    x1: clamp01(Math.max(b.x0, b.x1)), y1: clamp01(Math.max(b.y0, b.y1)),
  };
}

/** tooSmall: a click, not a drawn box. */
export function tooSmall(b: Box): boolean {
  return b.x1 - b.x0 < MinSide || b.y1 - b.y0 < MinSide;
}

export type Handle = 'move' | 'nw' | 'ne' | 'sw' | 'se';

/**
 * hitTest finds the box under (x, y) among boxes (frame fractions): a corner
 * handle within tol wins, then the smallest box containing the point. It
 * answers the index into boxes, or null.
 */
export function hitTest(boxes: Box[], x: number, y: number, tol = 0.015): { index: number; handle: Handle } | null {
  for (let i = boxes.length - 1; i >= 0; i--) {
    const b = boxes[i];
    const near = (px: number, py: number) => Math.abs(x - px) <= tol && Math.abs(y - py) <= tol;
    if (near(b.x0, b.y0)) return { index: i, handle: 'nw' };
    if (near(b.x1, b.y0)) return { index: i, handle: 'ne' };
    if (near(b.x0, b.y1)) return { index: i, handle: 'sw' };
    if (near(b.x1, b.y1)) return { index: i, handle: 'se' };
  }
  let best: number | null = null;
  let area = Infinity;
  boxes.forEach((b, i) => {
    if (x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1) {
      const a = (b.x1 - b.x0) * (b.y1 - b.y0);
      if (a < area) { area = a; best = i; }
    }
  });
  return best === null ? null : { index: best, handle: 'move' };
}

/** dragBox answers b after dragging handle by (dx, dy), kept inside the frame. */
export function dragBox(b: Box, handle: Handle, dx: number, dy: number): Box {
  if (handle === 'move') {
    const w = b.x1 - b.x0, h = b.y1 - b.y0;
    const x0 = Math.min(1 - w, Math.max(0, b.x0 + dx)), y0 = Math.min(1 - h, Math.max(0, b.y0 + dy));
    return { ...b, x0, y0, x1: x0 + w, y1: y0 + h };
  }
  const n = { ...b };
  if (handle === 'nw' || handle === 'sw') n.x0 += dx; else n.x1 += dx;
  if (handle === 'nw' || handle === 'ne') n.y0 += dy; else n.y1 += dy;
  return normBox(n);
}

/** boxesAt: the indexes of boxes on the frame at tMs (within tol ms: seeking lands near, not on, a frame). */
export function boxesAt(boxes: Box[], tMs: number, tol = 20): number[] {
  const out: number[] = [];
  boxes.forEach((b, i) => { if (Math.abs(b.t_ms - tMs) <= tol) out.push(i); });
  return out;
}

/** labelledTimes: the distinct frame times that carry boxes, in order, with their counts. */
export function labelledTimes(boxes: Box[]): { t_ms: number; count: number }[] {
  const m = new Map<number, number>();
  for (const b of boxes) m.set(b.t_ms, (m.get(b.t_ms) ?? 0) + 1);
  return [...m].sort((a, b) => a[0] - b[0]).map(([t_ms, count]) => ({ t_ms, count }));
}

/** checkBoxes throws, saying what to fix, unless every box is well-formed and of a campaign class. */
export function checkBoxes(boxes: Box[], classes: string[]): void {
  boxes.forEach((b, i) => {
    if (!classes.includes(b.class)) throw new Error(`box ${i + 1} is a "${b.class}": this campaign labels only ${classes.join(', ')}`);
    if (!Number.isInteger(b.t_ms) || b.t_ms < 0) throw new Error(`box ${i + 1} has no valid frame time`);
    for (const v of [b.x0, b.y0, b.x1, b.y1]) if (!(v >= 0 && v <= 1)) throw new Error(`box ${i + 1} reaches outside the frame`);
    if (tooSmall(b) || b.x0 > b.x1 || b.y0 > b.y1) throw new Error(`box ${i + 1} is empty: draw it again`);
  });
}
