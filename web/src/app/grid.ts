// Cameras grid (#/): one card per camera with its decrypted name and the
// newest thumbnail (an event thumbnail, else a frame decoded from the newest
// recorded segment), links to live view and the timeline.
import type { Camera, Household } from '../lib/household';
import { href, route, type Ctx } from './router';
import { blobURL, el, emptyState, errorFrom, loading, mount, pageHeader, revokeBlobURL } from './ui';

route('/', 'Cameras', async (ctx: Ctx) => {
  const h = ctx.household!;
  mount(ctx.root, pageHeader('Cameras'), loading('Loading your cameras…'));
  let cams: Camera[];
  try {
    cams = await h.cameras();
  } catch (err) {
    if (ctx.signal.aborted) return;
    mount(ctx.root, pageHeader('Cameras'), errorFrom(err, 'Loading your cameras', () => location.reload()));
    return;
  }
  if (ctx.signal.aborted) return;
  if (cams.length === 0) {
    mount(ctx.root, pageHeader('Cameras'), emptyState('No cameras yet.',
      h.role === 'owner'
        ? 'Claim your hub with "porchlight hub claim" on a device that is yours and give it a camera; the camera shows up here once it records.'
        : 'The household owner has not shared any camera with you yet.'));
    return;
  }
  cams.sort((a, b) => a.name.localeCompare(b.name));
  const cards = cams.map((c) => card(c));
  mount(ctx.root, pageHeader('Cameras'), el('ul', { class: 'grid', role: 'list' }, cards.map((c) => c.li)));
  // two thumbnails at a time: each is a fetch + decrypt (+ a decode for the fallback)
  const queue = [...cards];
  const worker = async () => {
    for (let c = queue.shift(); c && !ctx.signal.aborted; c = queue.shift()) await c.load(h, ctx.signal);
  };
  await Promise.all([worker(), worker()]);
  // newer pictures while the page stays open (visible tabs only)
  const timer = setInterval(() => {
    if (document.visibilityState !== 'visible' || ctx.signal.aborted) return;
    queue.push(...cards);
    void worker();
  }, refreshMs);
  ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
});

/** How often the grid looks for newer thumbnails. */
const refreshMs = 60_000;

function card(cam: Camera) {
  const img = el('img', { class: 'thumb', testid: 'camera-thumb', alt: `Latest picture from ${cam.name}`, hidden: true });
  const placeholder = el('div', { class: 'thumb placeholder', 'aria-hidden': 'true' }, el('span', { class: 'spinner' }));
  const note = el('span', { class: 'thumb-note muted small' }, cam.error ? 'This camera\'s details did not verify: its name is not shown.' : '');
  const state = cam.online === undefined ? null
    : el('span', { class: cam.online ? 'badge online' : 'badge offline' }, cam.online ? 'Online' : 'Offline');
  const li = el('li', { class: 'card camera-card', testid: 'camera-card', 'data-camera': cam.id },
    el('a', { class: 'thumb-link', href: href(`/live/${encodeURIComponent(cam.id)}`), 'aria-label': `Watch ${cam.name} live` }, img, placeholder),
    el('div', { class: 'card-body' },
      el('div', { class: 'card-title' }, el('h2', { testid: 'camera-name' }, cam.name), state),
      note,
      el('div', { class: 'row' },
        el('a', { class: 'button primary', href: href(`/live/${encodeURIComponent(cam.id)}`) }, 'Live'),
        el('a', { class: 'button secondary', href: href(`/camera/${encodeURIComponent(cam.id)}`) }, 'Recordings'))));

  const load = async (h: Household, signal: AbortSignal) => {
    try {
      let blob = await h.latestThumbnail(cam.id);
      if (!blob && !signal.aborted) blob = await frameOfNewestSegment(h, cam.id, signal);
      if (signal.aborted) return;
      if (!blob) {
        if (!img.hidden) return; // keep the picture already shown
        placeholder.replaceChildren(el('span', { class: 'muted small' }, 'No recordings yet'));
        return;
      }
      const old = img.src;
      img.src = blobURL(blob, signal);
      await img.decode().catch(() => undefined);
      if (old) revokeBlobURL(old);
      if (signal.aborted) return;
      img.hidden = false;
      placeholder.remove();
    } catch (err) {
      if (signal.aborted) return;
      console.warn('thumbnail', cam.id, err);
      if (!img.hidden) return; // a refresh failed: keep the picture already shown
      placeholder.replaceChildren(el('span', { class: 'muted small' }, 'No picture'));
      note.textContent = 'The latest picture could not be decrypted or checked.';
    }
  };
  return { li, load };
}

/** frameOfNewestSegment decodes a frame of the camera's newest segment into a JPEG. */
export async function frameOfNewestSegment(h: Household, camera: string, signal: AbortSignal): Promise<Blob | null> {
  const now = new Date();
  for (const hours of [1, 24, 24 * 7]) {
    const segs = await h.segments(camera, new Date(now.getTime() - hours * 3600_000), now);
    if (signal.aborted) return null;
    if (segs.length === 0) continue;
    const newest = segs.reduce((a, b) => (b.end > a.end ? b : a));
    const mp4 = await h.segmentMP4(newest, signal);
    return await grabFrame(new Blob([mp4 as Uint8Array<ArrayBuffer>], { type: 'video/mp4' }), signal);
  }
  return null;
}

/** grabFrame plays a video blob in an off-screen element and draws its first frame to a JPEG. */
export async function grabFrame(video: Blob, signal: AbortSignal): Promise<Blob | null> {
  const v = document.createElement('video');
  v.muted = true;
  v.playsInline = true;
  v.preload = 'auto';
  const url = URL.createObjectURL(video);
  try {
    v.src = url;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('decoding the recording took too long')), 10_000);
      const done = (ok: boolean) => { clearTimeout(t); if (ok) resolve(); else reject(new Error('this browser could not decode the recording')); };
      v.addEventListener('loadeddata', () => done(true), { once: true });
      v.addEventListener('error', () => done(false), { once: true });
      signal.addEventListener('abort', () => done(false), { once: true });
    });
    if (signal.aborted || !v.videoWidth) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    c.getContext('2d')!.drawImage(v, 0, 0);
    return await new Promise<Blob | null>((r) => c.toBlob(r, 'image/jpeg', 0.8));
  } finally {
    v.removeAttribute('src');
    v.load();
    URL.revokeObjectURL(url);
  }
}
