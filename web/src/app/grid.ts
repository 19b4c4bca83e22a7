// Cameras grid (#/): one card per camera with its decrypted name and the
// newest thumbnail (an event thumbnail, else a frame decoded from the newest
// recorded segment), links to live view and the timeline. Cameras other
// households share with this account are listed too, marked as shared.
import { acceptInvite, type Camera, type Household } from '../lib/household';
import { href, navigate, route, type Ctx } from './router';
import { blobURL, button, el, emptyState, errorFrom, field, loading, mount, pageHeader, revokeBlobURL } from './ui';

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
        : 'The household owner has not shared any camera with you yet.'), invitePanel(ctx, true));
    return;
  }
  cams.sort((a, b) => a.name.localeCompare(b.name));
  const cards = cams.map((c) => card(c));
  mount(ctx.root, pageHeader('Cameras'), el('ul', { class: 'grid', role: 'list' }, cards.map((c) => c.li)), invitePanel(ctx, false));
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

/** How often, after accepting an invite, the grid looks whether the owner confirmed it. */
const confirmPollMs = 3_000;

/**
 * invitePanel: accept an owner's invite to see some of their cameras with
 * this browser's keys (as `porchlight members accept CODE`). It shows the
 * authentication string the owner compares before confirming, then waits
 * for the shared cameras to become readable and shows them.
 */
function invitePanel(ctx: Ctx, open: boolean): HTMLElement {
  const h = ctx.household!;
  const input = el('input', { type: 'text', name: 'invite', autocomplete: 'off', placeholder: 'ABCD-EFGH-JKLM', testid: 'invite-code', maxlength: 36 });
  const out = el('div', { role: 'status' });
  const go = button('Accept', () => { void accept(); }, { class: 'primary', testid: 'invite-accept' });
  const accept = async () => {
    go.disabled = true;
    out.replaceChildren(loading('Offering this browser\'s keys…'));
    try {
      const acc = await acceptInvite(h.device, input.value);
      if (ctx.signal.aborted) return;
      out.replaceChildren(
        el('p', null, 'Authentication string: ', el('strong', { testid: 'invite-sas' }, acc.sas)),
        el('p', { class: 'muted small' }, 'Tell the owner this string. They confirm only if their device shows the same one (porchlight members confirm CODE); the cameras then appear here.'));
      // Wait for the owner's confirmation: the shared cameras turn readable.
      while (!ctx.signal.aborted) {
        await new Promise((r) => setTimeout(r, confirmPollMs));
        if (ctx.signal.aborted) return;
        const cams = await h.cameras().catch(() => []);
        if (cams.some((c) => c.shared?.household === acc.household && !c.error)) {
          navigate('/', { replace: true });
          return;
        }
      }
    } catch (err) {
      if (!ctx.signal.aborted) out.replaceChildren(errorFrom(err, 'Accepting the invite'));
    } finally {
      go.disabled = false;
    }
  };
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); void accept(); } });
  const details = el('details', { class: 'card invite-panel', testid: 'invite-panel' },
    el('summary', null, 'Someone shared cameras with you? Enter their invite code'),
    el('p', { class: 'muted small' }, 'This browser offers its own keys: the owner confirms it, and only this browser (and devices you accepted invites with) can decrypt the shared cameras.'),
    field('Invite code', input), el('div', { class: 'actions' }, go), out);
  details.open = open;
  details.style.marginTop = '1.5rem';
  details.style.padding = '0.75rem 1rem';
  return details;
}

function card(cam: Camera) {
  const img = el('img', { class: 'thumb', testid: 'camera-thumb', alt: `Latest picture from ${cam.name}`, hidden: true });
  const placeholder = el('div', { class: 'thumb placeholder', 'aria-hidden': 'true' }, el('span', { class: 'spinner' }));
  const note = el('span', { class: 'thumb-note muted small' }, !cam.error ? ''
    : cam.shared ? `Shared with you, but not readable in this browser: ${cam.error}`
      : 'This camera\'s details did not verify: its name is not shown.');
  const state = cam.online === undefined ? null
    : el('span', { class: cam.online ? 'badge online' : 'badge offline' }, cam.online ? 'Online' : 'Offline');
  // Members: another household's camera shared with this account.
  const shared = cam.shared
    ? el('span', { class: 'badge', testid: 'camera-shared', title: `Shared with you by household ${cam.shared.household}` },
      cam.shared.expires ? `Shared until ${cam.shared.expires.toLocaleDateString()}` : 'Shared with you')
    : null;
  const li = el('li', { class: 'card camera-card', testid: 'camera-card', 'data-camera': cam.id },
    el('a', { class: 'thumb-link', href: href(`/live/${encodeURIComponent(cam.id)}`), 'aria-label': `Watch ${cam.name} live` }, img, placeholder),
    el('div', { class: 'card-body' },
      el('div', { class: 'card-title' }, el('h2', { testid: 'camera-name' }, cam.name), state, shared),
      note,
      el('div', { class: 'row' },
        el('a', { class: 'button primary', href: href(`/live/${encodeURIComponent(cam.id)}`) }, 'Live'),
        el('a', { class: 'button secondary', href: href(`/camera/${encodeURIComponent(cam.id)}`) }, 'Recordings'))));

  const load = async (h: Household, signal: AbortSignal) => {
    if (cam.shared && cam.error) { // nothing of it may be read here: the note says why
      placeholder.replaceChildren(el('span', { class: 'muted small' }, 'No picture'));
      return;
    }
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
