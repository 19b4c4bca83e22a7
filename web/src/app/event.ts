// The event page (#/event/<camera>/<event>): the decrypted thumbnail with
// the tracked object's path drawn over it, what was seen (classes, labels,
// score, zone), when, and a button that opens the recording 5 s before the
// event started.
//
// Query: at=<unix ms of the event's start>, a hint for finding the event
// (links from the timeline carry it); without it the last 30 days are
// searched.
//
// The pure helpers (trackGeometry, eventClass, playLink) are tested in
// event.test.ts.

import type { PEvent } from '../lib/household';
import { href, navigate, route } from './router';
import type { Ctx } from './router';
import { blobURL, button, el, emptyState, errorBox, errorFrom, fmtDateTime, fmtDuration, loading, mount, pageHeader } from './ui';

/** PRE_ROLL is how long before the event the play button starts (ms). */
export const PRE_ROLL = 5000;

/** A box in pixels. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * trackGeometry turns a track (boxes normalised to 0..1, x right, y down)
 * into pixel rectangles for a w×h canvas, clamped to it and in time order,
 * and the path of their centres.
 */
export function trackGeometry(track: PEvent['track'], w: number, h: number): { boxes: Rect[]; path: [number, number][] } {
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  const pts = [...track].sort((a, b) => a.t.getTime() - b.t.getTime());
  const boxes: Rect[] = [];
  const path: [number, number][] = [];
  for (const p of pts) {
    const [x0, y0, x1, y1] = p.box.map((v) => (Number.isFinite(v) ? clamp(v) : 0));
    const l = Math.min(x0, x1), r = Math.max(x0, x1), t = Math.min(y0, y1), b = Math.max(y0, y1);
    boxes.push({ x: l * w, y: t * h, w: (r - l) * w, h: (b - t) * h });
    path.push([((l + r) / 2) * w, ((t + b) / 2) * h]);
  }
  return { boxes, path };
}

/**
 * eventClass is the one class an event's marker is coloured by: the first
 * of person, vehicle, animal it has, else its kind (doorbell, motion, …).
 */
export function eventClass(ev: Pick<PEvent, 'kind' | 'classes'>): string {
  for (const c of ['person', 'vehicle', 'animal']) if (ev.classes.includes(c)) return c;
  return ev.kind === 'object' ? (ev.classes[0] ?? 'object') : ev.kind;
}

/** playLink opens the camera page at the event's start minus PRE_ROLL. */
export function playLink(ev: Pick<PEvent, 'camera' | 'start'>): string {
  return `/camera/${encodeURIComponent(ev.camera)}?t=${ev.start.getTime() - PRE_ROLL}`;
}

function drawTrack(canvas: HTMLCanvasElement, img: HTMLImageElement, ev: PEvent): void {
  const w = img.naturalWidth || 640;
  const h = img.naturalHeight || 360;
  canvas.width = w;
  canvas.height = h;
  const g = canvas.getContext('2d');
  if (!g || ev.track.length === 0) return;
  const { boxes, path } = trackGeometry(ev.track, w, h);
  const lw = Math.max(2, Math.round(w / 320));
  g.lineWidth = lw;
  boxes.forEach((b, i) => {
    const last = i === boxes.length - 1;
    g.globalAlpha = last ? 1 : 0.25 + (0.5 * i) / Math.max(1, boxes.length - 1);
    g.strokeStyle = last ? '#ffd54a' : '#ffffff';
    g.strokeRect(b.x, b.y, b.w, b.h);
  });
  if (path.length > 1) {
    g.globalAlpha = 0.9;
    g.strokeStyle = '#ffd54a';
    g.setLineDash([lw * 3, lw * 2]);
    g.beginPath();
    g.moveTo(path[0][0], path[0][1]);
    for (const [x, y] of path.slice(1)) g.lineTo(x, y);
    g.stroke();
  }
}

async function findEvent(ctx: Ctx, camera: string, id: string): Promise<PEvent | null> {
  const h = ctx.household!;
  const at = ctx.query.get('at');
  const find = (evs: PEvent[]) => evs.filter((e) => e.id === id).sort((a, b) => b.version - a.version)[0] ?? null;
  if (at && /^\d+$/.test(at)) {
    const ev = find(await h.events(camera, new Date(Number(at) - 60_000)));
    if (ev) return ev;
  }
  return find(await h.events(camera, new Date(Date.now() - 30 * 24 * 3600 * 1000)));
}

function row(label: string, value: string | null | undefined): HTMLElement | null {
  if (!value) return null;
  return el('div', { class: 'ev-row' }, el('dt', null, label), el('dd', null, value));
}

route('/event/:camera/:event', 'Event', async (ctx: Ctx) => {
  const h = ctx.household;
  if (!h) throw new Error('Your household is not open yet.');
  const { root, signal } = ctx;
  const camera = ctx.params.camera;
  mount(root, loading('Loading the event…'));
  const [ev, cams] = await Promise.all([findEvent(ctx, camera, ctx.params.event), h.cameras()]);
  if (signal.aborted) return;
  const cam = cams.find((c) => c.id === camera);
  const back = el('a', { href: href(`/camera/${encodeURIComponent(camera)}`), class: 'button secondary' }, 'Timeline');
  if (!ev) {
    mount(root, pageHeader('Event', back),
      errorBox('This event was not found among the last 30 days of this camera.', 'It may have been deleted with its recordings. Go back to the timeline.', () => navigate(`/camera/${encodeURIComponent(camera)}`)));
    return;
  }

  const cls = eventClass(ev);
  const title = ev.classes.length ? ev.classes.map((c) => c.charAt(0).toUpperCase() + c.slice(1)).join(', ') : ev.kind.charAt(0).toUpperCase() + ev.kind.slice(1);
  const play = button('Play from 5 s before', () => navigate(playLink(ev)), { testid: 'event-play' });
  const pic = el('div', { class: 'ev-picture' }, loading('Decrypting the thumbnail…'));

  mount(root,
    pageHeader(`${title} · ${cam?.name ?? 'camera'}`, back),
    el('div', { class: 'ev-detail' },
      pic,
      el('div', { class: 'ev-facts' },
        el('p', null, el('span', { class: `ev-dot ev-${cls}`, 'aria-hidden': 'true' }), ' ', title,
          ev.priority === 'high' ? el('span', { class: 'ev-badge' }, 'high priority') : null),
        el('dl', null,
          row('Kind', ev.kind),
          row('Classes', ev.classes.join(', ')),
          row('Labels', ev.labels.join(', ')),
          row('Score', ev.score > 0 ? `${Math.round(ev.score * 100)} %` : null),
          row('Zone', ev.zone),
          row('Started', fmtDateTime(ev.start)),
          row('Ended', ev.end ? fmtDateTime(ev.end) : 'still going on'),
          row('Duration', ev.end ? fmtDuration(ev.end.getTime() - ev.start.getTime()) : null),
          row('Camera', cam?.name ?? camera)),
        play)));

  let blob: Blob | null;
  try {
    blob = await h.thumbnail(ev);
  } catch (err) {
    if (signal.aborted) return;
    mount(pic, errorFrom(err, 'Decrypting the thumbnail'));
    return;
  }
  if (signal.aborted) return;
  if (!blob) {
    mount(pic, emptyState('No thumbnail', 'The hub kept no picture of this event; play the recording instead.'));
    return;
  }
  const img = el('img', { testid: 'event-thumb', class: 'ev-img', alt: `Picture of the event: ${title}` });
  const canvas = el('canvas', { class: 'ev-track', testid: 'event-track', 'aria-hidden': 'true' });
  img.addEventListener('load', () => drawTrack(canvas, img, ev), { once: true });
  img.addEventListener('error', () => mount(pic, errorBox('The thumbnail is not a picture this browser can show.', 'Play the recording instead.')), { once: true });
  img.src = blobURL(blob, signal);
  mount(pic, el('div', { class: 'ev-stack' }, img, canvas));
});
