// Zones (#/settings/zones/<camera>): draw where a camera alerts, on a
// snapshot decrypted in this browser. The zones are signed by this device
// and sealed to the camera's hub and the owner devices (lib/settings.ts):
// the service stores them without reading them, and the hub applies only
// zones an owner device signed.

import { checkZones, Classes, loadSettings, saveSettings, type CameraSettings, type Zone } from '../lib/settings';
import { ApiError } from '../lib/api';
import { frameOfNewestSegment } from './grid';
import { route, type Ctx } from './router';
import { ownerOnly, settingsPage, withReauth } from './settings_common';
import { blobURL, button, el, emptyState, errorBox, errorFrom, loading, mount, pageHeader, toast } from './ui';

const colours = ['#f59e0b', '#22c55e', '#3b82f6', '#ec4899', '#a855f7', '#14b8a6'];

route('/settings/zones/:camera', 'Zones', async (ctx: Ctx) => {
  const body = settingsPage(ctx, 'cameras', loading('Decrypting the camera and its zones…'));
  const denied = ownerOnly(ctx, 'set zones');
  if (denied) { mount(body, pageHeader('Zones'), denied); return; }
  const h = ctx.household!;
  const camID = ctx.params.camera;
  let current: CameraSettings | null;
  let name = camID;
  let hub = '';
  try {
    const cams = await h.cameras();
    const cam = cams.find((c) => c.id === camID);
    if (!cam) { mount(body, pageHeader('Zones'), emptyState('No such camera.', 'It may have been removed.', el('a', { href: '#/settings/cameras' }, 'Back to cameras'))); return; }
    name = cam.name;
    hub = cam.hub;
    if ((await h.cameraHub(camID)).household !== h.roster.household) {
      mount(body, pageHeader(`Zones · ${name}`), emptyState('This camera is shared with you.', 'Only its household\'s owners can set where it alerts.', el('a', { href: '#/settings/cameras' }, 'Back to cameras')));
      return;
    }
    current = await loadSettings(h.device, h.roster, camID);
  } catch (err) {
    if (ctx.signal.aborted) return;
    mount(body, pageHeader('Zones'), errorFrom(err, 'Loading the zones', () => location.reload()));
    return;
  }
  if (ctx.signal.aborted) return;

  let zones: Zone[] = (current?.zones ?? []).map((z) => ({ name: z.name, points: z.points.map((p) => [p[0], p[1]] as [number, number]), classes: [...z.classes] }));
  let drawing: [number, number][] | null = null;

  const img = el('img', { class: 'zones-snapshot', alt: `Latest picture from ${name}`, testid: 'zones-snapshot' });
  const canvas = el('canvas', { class: 'zones-canvas', testid: 'zones-canvas', width: 1280, height: 720, 'aria-label': 'Click to add points of a zone; click the first point or Finish to close it' });
  const stage = el('div', { class: 'zones-stage' }, img, canvas);
  const list = el('ul', { class: 'zones-list' });
  const status = el('p', { class: 'muted', testid: 'zones-status', role: 'status' },
    current ? `Zones version ${current.version}, signed by an owner device.` : 'No zones set yet: objects alert anywhere in the frame. The hub may also have zones in its configuration file; zones set here replace them.');
  const hint = el('p', { class: 'muted small' }, 'New zone, then click the corners on the picture. Click the first corner (or Finish) to close it.');

  const draw = () => {
    const g = canvas.getContext('2d')!;
    const W = canvas.width, H = canvas.height;
    g.clearRect(0, 0, W, H);
    const poly = (pts: [number, number][], colour: string, closed: boolean) => {
      if (pts.length === 0) return;
      g.beginPath();
      g.moveTo(pts[0][0] * W, pts[0][1] * H);
      for (const p of pts.slice(1)) g.lineTo(p[0] * W, p[1] * H);
      if (closed) g.closePath();
      g.lineWidth = 4;
      g.strokeStyle = colour;
      g.stroke();
      if (closed) { g.globalAlpha = 0.25; g.fillStyle = colour; g.fill(); g.globalAlpha = 1; }
      for (const p of pts) { g.beginPath(); g.arc(p[0] * W, p[1] * H, 7, 0, Math.PI * 2); g.fillStyle = colour; g.fill(); }
    };
    zones.forEach((z, i) => poly(z.points, colours[i % colours.length], true));
    if (drawing) poly(drawing, '#ffffff', false);
  };

  const finish = () => {
    if (!drawing) return;
    if (drawing.length < 3) { toast('A zone needs at least 3 corners.', 'error'); return; }
    let n = zones.length + 1;
    while (zones.some((z) => z.name === `zone ${n}`)) n++;
    zones.push({ name: `zone ${n}`, points: drawing, classes: ['person'] });
    drawing = null;
    render();
  };

  canvas.addEventListener('click', (ev: MouseEvent) => {
    if (!drawing) return;
    const r = canvas.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
    const y = Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height));
    const first = drawing[0];
    if (first && drawing.length >= 3 && Math.hypot((first[0] - x) * r.width, (first[1] - y) * r.height) < 12) { finish(); return; }
    if (drawing.length >= 32) { toast('A zone has at most 32 corners.', 'error'); return; }
    drawing.push([Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000]);
    draw();
  });

  const newBtn = button('New zone', () => { drawing = []; render(); }, { testid: 'zones-new' });
  const finishBtn = button('Finish', finish, { testid: 'zones-finish' });
  const cancelBtn = button('Cancel', () => { drawing = null; render(); });
  const saveBtn = button('Save zones', () => { void save(); }, { class: 'primary', testid: 'zones-save' });

  const save = async () => {
    const bad = checkZones(zones);
    if (bad) { toast(bad, 'error'); return; }
    saveBtn.disabled = true;
    status.textContent = 'Signing and sealing the zones…';
    try {
      const next = await withReauth(ctx.signal, () => saveSettings(h.device, h.roster, hub, camID, zones, current));
      current = next;
      status.textContent = `Saved zones version ${next.version}. The hub applies them within seconds.`;
      toast('Zones saved.');
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        status.textContent = 'Another device changed these zones meanwhile: reload the page to see them, then change them again.';
      } else {
        status.textContent = '';
        mount(errBox, errorFrom(err, 'Saving the zones'));
      }
    } finally {
      saveBtn.disabled = false;
    }
  };
  const errBox = el('div');

  const render = () => {
    newBtn.disabled = drawing !== null || zones.length >= 16;
    finishBtn.hidden = cancelBtn.hidden = drawing === null;
    list.replaceChildren(...(zones.length === 0
      ? [el('li', { class: 'muted' }, 'No zones: objects alert anywhere in the frame.')]
      : zones.map((z, i) => {
        const nameInput = el('input', { type: 'text', value: z.name, maxlength: 64, 'aria-label': 'Zone name', testid: 'zone-name' });
        nameInput.addEventListener('input', () => { z.name = nameInput.value.trim(); });
        const boxes = Classes.map((c) => {
          const cb = el('input', { type: 'checkbox', checked: z.classes.includes(c), testid: `zone-class-${c}` });
          cb.addEventListener('change', () => {
            z.classes = Classes.filter((k) => (k === c ? cb.checked : z.classes.includes(k)));
          });
          return el('label', { class: 'zone-class' }, cb, ' ', c);
        });
        const swatch = el('span', { class: 'zone-swatch', 'aria-hidden': 'true' });
        swatch.style.background = colours[i % colours.length];
        return el('li', { class: 'zone-item', testid: 'zone-item' }, swatch, nameInput, el('span', { class: 'zone-classes' }, ...boxes),
          button('Delete', () => { zones.splice(i, 1); render(); }, { testid: 'zone-delete' }));
      })));
    draw();
  };

  mount(body, pageHeader(`Zones · ${name}`, el('a', { href: '#/settings/cameras' }, 'All cameras')),
    el('p', { class: 'muted' }, 'A person, animal or vehicle alerts when it moves inside a zone where its class is ticked; where it stands (the bottom of its box) counts. Zones are signed by this browser and sealed to your hub and your owner devices: Porchlight cannot read or change them.'),
    stage, hint, el('div', { class: 'actions' }, newBtn, finishBtn, cancelBtn, saveBtn), errBox, status, list);
  render();

  // The snapshot: the newest event thumbnail, else a frame of the newest recording.
  try {
    const snap = (await h.latestThumbnail(camID)) ?? (await frameOfNewestSegment(h, camID, ctx.signal));
    if (ctx.signal.aborted) return;
    if (snap) {
      img.src = blobURL(snap, ctx.signal);
      img.addEventListener('load', () => {
        if (img.naturalWidth && img.naturalHeight) { canvas.width = img.naturalWidth; canvas.height = img.naturalHeight; draw(); }
      }, { once: true });
    } else {
      stage.prepend(errorBox('No picture from this camera yet.', 'Zones can still be drawn; they are positions in the frame (0 to 1).'));
    }
  } catch (err) {
    if (!ctx.signal.aborted) stage.prepend(errorFrom(err, 'Decrypting a picture'));
  }
}, { nav: 'settings' });
