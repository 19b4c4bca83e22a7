// The annotator tool (issue 8), for annotator accounts:
//   #/annotate                         import the campaign key file, list this organisation's campaigns
//   #/annotate/<campaign>              the campaign's tasks (donated, redacted copies)
//   #/annotate/<campaign>/<task>       decrypt the copy here, draw and correct boxes on frames, save labels
// The campaign key lives in this browser's IndexedDB (lib/annotate.ts) and
// the copy is decrypted in the page; porchlightd only ever sees ciphertext
// and the boxes.
import { ApiError } from '../lib/api';
import {
  boxesAt, campaignKeys, campaigns, dragBox, forgetCampaignKey, getLabels, hitTest, importCampaignKey, keyForRecipient,
  labelledTimes, normBox, openCopy, putLabels, taskMedia, tasks, tooSmall, type Box, type Campaign, type CampaignKey, type Handle, type Task,
} from '../lib/annotate';
import { href, route, type Ctx } from './router';
import { me } from './shell';
import { blobURL, button, el, emptyState, errorBox, errorFrom, field, fmtDateTime, loading, mount, pageHeader, toast } from './ui';

const classColours: Record<string, string> = { person: '#f59e0b', animal: '#22c55e', vehicle: '#3b82f6' };
const colourOf = (c: string) => classColours[c] ?? '#ec4899';

function notAnnotator(): HTMLElement | null {
  const role = me()?.role;
  if (!role || role === 'annotator') return null;
  return emptyState('This tool is for annotator accounts.',
    'Annotators are staff accounts of an annotating organisation, created by the operator. Household owners donate clips with "porchlight donate" and see their consents with "porchlight consents".');
}

function short(recipient: string): string {
  return recipient.length > 24 ? `${recipient.slice(0, 14)}…${recipient.slice(-8)}` : recipient;
}

// ---------- #/annotate ----------

route('/annotate', 'Annotate', async (ctx: Ctx) => {
  const denied = notAnnotator();
  if (denied) { mount(ctx.root, pageHeader('Annotate'), denied); return; }
  const keysBox = el('section', { class: 'ann-section' });
  const campBox = el('section', { class: 'ann-section' }, loading('Loading your organisation\'s campaigns…'));
  mount(ctx.root, pageHeader('Annotate'),
    el('p', { class: 'muted' }, 'Donated clips are decrypted in this browser with your campaign\'s key. Porchlight never holds that key.'),
    keysBox, campBox);

  let list: Campaign[] | null = null;
  const drawKeys = async () => {
    const keys = await campaignKeys();
    const file = el('input', { type: 'file', name: 'campaign-key', testid: 'annotate-key-file', accept: '.key,.txt,text/plain' });
    const status = el('p', { class: 'muted small', role: 'status', testid: 'annotate-key-status' });
    file.addEventListener('change', async () => {
      const f = file.files?.[0];
      if (!f) return;
      try {
        if (f.size > 64 << 10) throw new Error('this file is too large to be a campaign key: choose the file "porchlight campaign key" wrote');
        const k = await importCampaignKey(await f.text(), f.name);
        toast(`Imported the key for ${short(k.recipient)}.`);
        await drawKeys();
        drawCampaigns();
      } catch (err) {
        status.textContent = `Importing the key failed: ${(err as Error).message}`;
        status.className = 'form-error';
        status.setAttribute('role', 'alert');
      } finally {
        file.value = '';
      }
    });
    mount(keysBox,
      el('h2', null, 'Campaign keys in this browser'),
      keys.length === 0
        ? el('p', { class: 'muted' }, 'None yet. Import the key file your organisation made with "porchlight campaign key -o campaign.key".')
        : el('ul', { class: 'settings-list' }, keys.map((k) => keyItem(k, drawKeys, drawCampaigns))),
      field('Import a campaign key file', file, 'The file stays in this browser (IndexedDB). Forget it here when you are done.'),
      status);
  };
  const drawCampaigns = () => {
    if (!list) return;
    if (list.length === 0) {
      mount(campBox, el('h2', null, 'Campaigns'), emptyState('No active campaigns for your organisation.', 'The operator creates campaigns with "porchlightd admin campaign create".'));
      return;
    }
    void (async () => {
      const keys = await campaignKeys();
      const have = new Set(keys.map((k) => k.recipient));
      mount(campBox, el('h2', null, 'Campaigns'), el('ul', { class: 'settings-list' }, list!.map((c) =>
        el('li', { class: 'settings-item', testid: 'annotate-campaign', 'data-campaign': c.id },
          el('div', { class: 'item-main' },
            el('a', { href: href(`/annotate/${encodeURIComponent(c.id)}`) }, el('strong', null, c.purpose || c.id)),
            el('div', { class: 'muted small' }, [c.org, c.country, c.classes.join(', '), c.retention ? `kept ${c.retention}` : ''].filter(Boolean).join(' · ')),
            el('div', { class: 'muted small' }, 'Key ', el('code', null, short(c.recipient)))),
          el('div', { class: 'actions' },
            have.has(c.recipient) ? el('span', { class: 'badge ok' }, 'Key imported') : el('span', { class: 'badge offline' }, 'Key missing'),
            el('a', { class: 'button secondary small', href: href(`/annotate/${encodeURIComponent(c.id)}`) }, 'Tasks'))))));
    })();
  };
  await drawKeys();
  try {
    list = await campaigns(ctx.signal);
  } catch (err) {
    if (ctx.signal.aborted) return;
    mount(campBox, errorFrom(err, 'Loading campaigns', () => location.reload()));
    return;
  }
  if (ctx.signal.aborted) return;
  drawCampaigns();
}, { access: 'session', nav: 'annotate' });

function keyItem(k: CampaignKey, redraw: () => Promise<void>, after: () => void): HTMLElement {
  return el('li', { class: 'settings-item', testid: 'annotate-key' },
    el('div', { class: 'item-main' }, el('strong', null, k.name), el('div', { class: 'muted small' }, el('code', null, short(k.recipient)), ` · imported ${fmtDateTime(new Date(k.imported))}`)),
    el('div', { class: 'actions' }, button('Forget', async () => {
      if (!confirm('Forget this campaign key in this browser? You need the key file again to annotate its campaign here.')) return;
      await forgetCampaignKey(k.recipient);
      await redraw();
      after();
    }, { class: 'secondary small' })));
}

async function findCampaign(id: string, signal: AbortSignal): Promise<Campaign | null> {
  return (await campaigns(signal)).find((c) => c.id === id) ?? null;
}

// ---------- #/annotate/<campaign> ----------

route('/annotate/:campaign', 'Campaign tasks', async (ctx: Ctx) => {
  const denied = notAnnotator();
  if (denied) { mount(ctx.root, pageHeader('Campaign tasks'), denied); return; }
  const id = ctx.params.campaign;
  mount(ctx.root, pageHeader('Campaign tasks'), loading('Loading tasks…'));
  let c: Campaign | null;
  let list: Task[];
  try {
    c = await findCampaign(id, ctx.signal);
    list = c ? await tasks(id, ctx.signal) : [];
  } catch (err) {
    if (ctx.signal.aborted) return;
    mount(ctx.root, pageHeader('Campaign tasks'), errorFrom(err, 'Loading tasks', () => location.reload()));
    return;
  }
  if (ctx.signal.aborted) return;
  const back = el('a', { class: 'button secondary', href: href('/annotate') }, 'All campaigns');
  if (!c) { mount(ctx.root, pageHeader('Campaign tasks', back), emptyState('No such campaign for your organisation.', 'It may have ended.')); return; }
  const key = await keyForRecipient(c.recipient);
  mount(ctx.root, pageHeader(c.purpose || 'Campaign tasks', back),
    el('p', { class: 'muted' }, [c.org, c.country, `classes: ${c.classes.join(', ')}`, c.retention ? `kept ${c.retention}` : ''].filter(Boolean).join(' · ')),
    key ? null : errorBox('This browser does not hold this campaign\'s key.', 'Import the key file on the Annotate page first.', () => { location.hash = href('/annotate'); }, 'Import the key'),
    list.length === 0
      ? emptyState('No clips to annotate yet.', 'Owners donate clips with "porchlight donate"; withdrawn or expired clips disappear from this list.')
      : el('ul', { class: 'settings-list' }, list.map((t) =>
        el('li', { class: 'settings-item', testid: 'annotate-task', 'data-task': t.id },
          el('div', { class: 'item-main' },
            el('a', { href: href(`/annotate/${encodeURIComponent(c!.id)}/${encodeURIComponent(t.id)}`) }, el('strong', null, `Clip ${t.id.slice(0, 8)}`)),
            el('div', { class: 'muted small' }, `donated ${fmtDateTime(t.created)} · consent ${t.consent} · ${t.labels} box${t.labels === 1 ? '' : 'es'}`)),
          el('div', { class: 'actions' },
            el('a', { class: 'button primary small', href: href(`/annotate/${encodeURIComponent(c!.id)}/${encodeURIComponent(t.id)}`) }, t.labels ? 'Correct' : 'Annotate'))))));
}, { access: 'session', nav: 'annotate' });

// ---------- #/annotate/<campaign>/<task> ----------

route('/annotate/:campaign/:task', 'Annotate clip', async (ctx: Ctx) => {
  const denied = notAnnotator();
  if (denied) { mount(ctx.root, pageHeader('Annotate clip'), denied); return; }
  const { campaign: campID, task: taskID } = ctx.params;
  const back = el('a', { class: 'button secondary', href: href(`/annotate/${encodeURIComponent(campID)}`) }, 'All tasks');
  mount(ctx.root, pageHeader('Annotate clip', back), loading('Fetching and decrypting the clip in this browser…'));
  let c: Campaign | null;
  let mp4: Uint8Array;
  let boxes: Box[];
  let frames = 0;
  try {
    c = await findCampaign(campID, ctx.signal);
    if (!c) throw new Error('this campaign is not one of your organisation\'s active campaigns');
    const key = await keyForRecipient(c.recipient);
    if (!key) {
      mount(ctx.root, pageHeader('Annotate clip', back), errorBox('This browser does not hold this campaign\'s key.',
        'Import the key file on the Annotate page, then open the clip again.', () => { location.hash = href('/annotate'); }, 'Import the key'));
      return;
    }
    const [sealed, labels] = await Promise.all([taskMedia(taskID, ctx.signal), getLabels(taskID, ctx.signal)]);
    const copy = await openCopy(sealed, key.identity, c.id);
    mp4 = copy.mp4;
    frames = copy.header.frames;
    boxes = labels;
  } catch (err) {
    if (ctx.signal.aborted) return;
    mount(ctx.root, pageHeader('Annotate clip', back), gone(err) ?? errorFrom(err, 'Opening the clip', () => location.reload()));
    return;
  }
  if (ctx.signal.aborted) return;
  tool(ctx, c, taskID, mp4, boxes, frames, back);
}, { access: 'session', nav: 'annotate' });

function gone(err: unknown): HTMLElement | null {
  if (err instanceof ApiError && (err.status === 404 || err.status === 410)) {
    return errorBox('This clip is no longer in the campaign: its owner withdrew consent or its retention ended.',
      'Its labels are excluded from every export. Go back to the task list.', () => history.back(), 'Back');
  }
  return null;
}

interface Drag { index: number; handle: Handle; x: number; y: number; orig: Box }

function tool(ctx: Ctx, c: Campaign, taskID: string, mp4: Uint8Array, boxes: Box[], frames: number, back: HTMLElement): void {
  const classes = c.classes.length ? c.classes : ['person', 'animal', 'vehicle'];
  const video = el('video', { class: 'ann-video', muted: true, playsinline: true, preload: 'auto', testid: 'annotate-video' });
  video.muted = true;
  video.src = blobURL(new Blob([mp4 as Uint8Array<ArrayBuffer>], { type: 'video/mp4' }), ctx.signal);
  const canvas = el('canvas', {
    class: 'ann-canvas', testid: 'annotate-canvas', tabindex: 0, width: 1280, height: 720,
    'aria-label': 'Drag on the picture to draw a box; drag a box to move it, a corner to resize it; Delete removes the selected box; arrow keys step frames',
  });
  const stage = el('div', { class: 'ann-stage' }, video, canvas);
  const classSel = el('select', { name: 'class', testid: 'annotate-class' }, classes.map((k) => el('option', { value: k }, k)));
  const time = el('input', { type: 'range', min: 0, max: 0, step: 1, value: 0, testid: 'annotate-time', 'aria-label': 'Position in the clip (ms)' });
  const clock = el('span', { class: 'ann-clock', testid: 'annotate-clock' }, '0.000 s');
  const play = button('Play', () => { if (video.paused) void video.play(); else video.pause(); }, { class: 'secondary small', testid: 'annotate-play' });
  const frameList = el('div', { class: 'ann-frames', testid: 'annotate-frames' });
  const boxList = el('ul', { class: 'ann-boxes', testid: 'annotate-boxes' });
  const status = el('p', { class: 'muted small', role: 'status', testid: 'annotate-status' }, boxes.length ? `${boxes.length} saved box${boxes.length === 1 ? '' : 'es'}.` : 'No boxes yet.');
  const save = button('Save labels', () => { void doSave(); }, { class: 'primary', testid: 'annotate-save' });

  let selected: number | null = null;
  let drag: Drag | null = null;
  let drawing: Box | null = null;
  let dirty = false;
  let frameMs = 1000 / 15;

  const nowMs = () => Math.round(video.currentTime * 1000);
  /** the frame time boxes drawn now get: that of boxes already on this frame, else the playhead */
  /** boxes within half a frame (at most 20 ms) of the playhead are on this frame: seeking lands near, not on, a frame's time */
  const here = () => boxesAt(boxes, nowMs(), Math.min(20, frameMs / 2));
  const frameT = () => { const on = here(); return on.length ? boxes[on[0]].t_ms : nowMs(); };

  const setDirty = (d: boolean) => {
    dirty = d;
    if (d) status.textContent = 'Unsaved changes.';
    save.disabled = !d;
  };
  save.disabled = true;
  const onUnload = (ev: BeforeUnloadEvent) => { if (dirty) { ev.preventDefault(); } };
  window.addEventListener('beforeunload', onUnload);
  ctx.signal.addEventListener('abort', () => { window.removeEventListener('beforeunload', onUnload); video.pause(); }, { once: true });

  const draw = () => {
    const g = canvas.getContext('2d');
    if (!g) return;
    const W = canvas.width, H = canvas.height;
    g.clearRect(0, 0, W, H);
    const lw = Math.max(2, Math.round(W / 400));
    const one = (b: Box, sel: boolean) => {
      const col = colourOf(b.class);
      g.lineWidth = sel ? lw * 2 : lw;
      g.strokeStyle = col;
      g.strokeRect(b.x0 * W, b.y0 * H, (b.x1 - b.x0) * W, (b.y1 - b.y0) * H);
      g.font = `${Math.max(12, Math.round(H / 30))}px system-ui, sans-serif`;
      const tw = g.measureText(b.class).width + 8, th = Math.max(14, Math.round(H / 26));
      g.fillStyle = col;
      g.fillRect(b.x0 * W, Math.max(0, b.y0 * H - th), tw, th);
      g.fillStyle = '#000';
      g.fillText(b.class, b.x0 * W + 4, Math.max(th, b.y0 * H) - 4);
      if (sel) {
        const s = lw * 4;
        for (const [x, y] of [[b.x0, b.y0], [b.x1, b.y0], [b.x0, b.y1], [b.x1, b.y1]]) {
          g.fillStyle = '#fff';
          g.fillRect(x * W - s / 2, y * H - s / 2, s, s);
        }
      }
    };
    if (video.paused) for (const i of here()) one(boxes[i], i === selected);
    if (drawing) one(normBox(drawing), true);
  };

  const drawLists = () => {
    const ts = labelledTimes(boxes);
    mount(frameList, ts.length === 0 ? el('span', { class: 'muted small' }, 'No labelled frames yet.')
      : ts.map((t) => button(`${(t.t_ms / 1000).toFixed(3)} s (${t.count})`, () => seek(t.t_ms), { class: 'secondary small' })));
    const on = here();
    mount(boxList, on.length === 0 ? el('li', { class: 'muted small' }, video.paused ? 'No boxes on this frame: drag on the picture to draw one.' : 'Pause to label a frame.')
      : on.map((i) => {
        const b = boxes[i];
        const sel = el('select', { 'aria-label': 'Class of this box' }, classes.map((k) => el('option', { value: k, selected: k === b.class }, k)));
        sel.value = b.class;
        sel.addEventListener('change', () => { boxes[i] = { ...boxes[i], class: sel.value }; setDirty(true); draw(); });
        return el('li', { class: i === selected ? 'ann-box selected' : 'ann-box', testid: 'annotate-box' },
          el('span', { class: 'zone-swatch', 'data-class': b.class }), sel,
          button('Select', () => { selected = i; draw(); drawLists(); }, { class: 'secondary small' }),
          button('Delete', () => remove(i), { class: 'danger small', testid: 'annotate-box-delete' }));
      }));
    for (const sw of boxList.querySelectorAll<HTMLElement>('.zone-swatch')) sw.style.background = colourOf(sw.dataset.class ?? '');
  };

  const remove = (i: number) => {
    boxes.splice(i, 1);
    selected = null;
    setDirty(true);
    draw();
    drawLists();
  };

  const seek = (ms: number) => {
    video.pause();
    const max = (video.duration || 0) * 1000;
    video.currentTime = Math.max(0, Math.min(max || ms, ms)) / 1000;
  };

  const copyPrevious = button('Copy boxes of the previous labelled frame', () => {
    const t = nowMs();
    const prev = labelledTimes(boxes).filter((x) => x.t_ms < t - 20).pop();
    if (!prev) { toast('No earlier labelled frame.'); return; }
    const src = boxes.filter((b) => b.t_ms === prev.t_ms);
    const ft = frameT();
    boxes.push(...src.map((b) => ({ ...b, t_ms: ft })));
    setDirty(true);
    draw();
    drawLists();
  }, { class: 'secondary small', testid: 'annotate-copy-prev' });

  const point = (ev: PointerEvent) => {
    const r = canvas.getBoundingClientRect();
    return { x: Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width)), y: Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height)) };
  };
  canvas.addEventListener('pointerdown', (ev: PointerEvent) => {
    if (ev.button !== 0) return;
    if (!video.paused) video.pause();
    canvas.focus();
    canvas.setPointerCapture(ev.pointerId);
    const p = point(ev);
    const on = here();
    const hit = hitTest(on.map((i) => boxes[i]), p.x, p.y);
    if (hit) {
      const index = on[hit.index];
      selected = index;
      drag = { index, handle: hit.handle, x: p.x, y: p.y, orig: { ...boxes[index] } };
    } else {
      selected = null;
      drawing = { t_ms: frameT(), class: classSel.value, x0: p.x, y0: p.y, x1: p.x, y1: p.y };
    }
    draw();
    drawLists();
  });
  canvas.addEventListener('pointermove', (ev: PointerEvent) => {
    if (!drag && !drawing) {
      const p = point(ev);
      const hit = hitTest(here().map((i) => boxes[i]), p.x, p.y);
      canvas.style.cursor = !hit ? 'crosshair' : hit.handle === 'move' ? 'move' : hit.handle === 'nw' || hit.handle === 'se' ? 'nwse-resize' : 'nesw-resize';
      return;
    }
    const p = point(ev);
    if (drag) {
      boxes[drag.index] = dragBox(drag.orig, drag.handle, p.x - drag.x, p.y - drag.y);
    } else if (drawing) {
      drawing.x1 = p.x;
      drawing.y1 = p.y;
    }
    draw();
  });
  const end = () => {
    if (drag) {
      const b = boxes[drag.index];
      if (tooSmall(b)) boxes[drag.index] = drag.orig;
      else if (JSON.stringify(b) !== JSON.stringify(drag.orig)) setDirty(true);
      drag = null;
    } else if (drawing) {
      const b = normBox(drawing);
      drawing = null;
      if (!tooSmall(b)) {
        boxes.push(b);
        selected = boxes.length - 1;
        setDirty(true);
      }
    }
    draw();
    drawLists();
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  canvas.addEventListener('keydown', (ev: KeyboardEvent) => {
    if ((ev.key === 'Delete' || ev.key === 'Backspace') && selected !== null) { ev.preventDefault(); remove(selected); return; }
    if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
      ev.preventDefault();
      const step = ev.shiftKey ? 1000 : frameMs;
      seek(video.currentTime * 1000 + (ev.key === 'ArrowRight' ? step : -step));
      return;
    }
    const n = Number(ev.key);
    if (n >= 1 && n <= classes.length) {
      classSel.value = classes[n - 1];
      if (selected !== null) { boxes[selected] = { ...boxes[selected], class: classes[n - 1] }; setDirty(true); draw(); drawLists(); }
    }
  });
  classSel.addEventListener('change', () => {
    if (selected !== null && here().includes(selected)) { boxes[selected] = { ...boxes[selected], class: classSel.value }; setDirty(true); draw(); drawLists(); }
  });

  const tick = () => {
    time.value = String(nowMs());
    clock.textContent = `${(video.currentTime).toFixed(3)} s`;
  };
  video.addEventListener('loadedmetadata', () => {
    canvas.width = video.videoWidth || 1280;
    canvas.height = video.videoHeight || 720;
    time.max = String(Math.round((video.duration || 0) * 1000));
    if (frames > 0 && video.duration > 0) frameMs = (video.duration * 1000) / frames;
    time.step = String(Math.max(1, Math.round(frameMs)));
    tick();
    draw();
    drawLists();
  });
  video.addEventListener('error', () => {
    mount(stage, errorBox('This browser cannot play the decrypted clip.', 'Try a current Chrome, Edge or Firefox; or export the dataset with "porchlight dataset export".'));
  });
  video.addEventListener('seeked', () => { tick(); if (selected !== null && !here().includes(selected)) selected = null; draw(); drawLists(); });
  video.addEventListener('play', () => { play.textContent = 'Pause'; selected = null; draw(); drawLists(); });
  video.addEventListener('pause', () => { play.textContent = 'Play'; tick(); draw(); drawLists(); });
  video.addEventListener('timeupdate', tick);
  time.addEventListener('input', () => seek(Number(time.value)));

  const doSave = async () => {
    save.disabled = true;
    status.textContent = 'Saving…';
    try {
      await putLabels(taskID, boxes, classes);
      setDirty(false);
      status.textContent = `Saved ${boxes.length} box${boxes.length === 1 ? '' : 'es'} at ${new Date().toLocaleTimeString()}.`;
      toast('Labels saved.');
    } catch (err) {
      save.disabled = false;
      const g = gone(err);
      if (g) { mount(ctx.root, pageHeader('Annotate clip', back), g); return; }
      status.textContent = err instanceof ApiError ? `Saving failed: ${err.message}. Your boxes are still here: try again.` : `Saving failed: ${(err as Error).message}`;
    }
  };

  mount(ctx.root,
    pageHeader(c.purpose || 'Annotate clip', back),
    el('p', { class: 'muted small' }, `Clip ${taskID} · label only: ${classes.join(', ')}. Pause on a frame, then drag to draw a box. Keys: 1–${classes.length} class, Delete removes, ←/→ one frame (Shift: one second).`),
    el('div', { class: 'ann-layout' },
      el('div', { class: 'ann-main' },
        stage,
        el('div', { class: 'row ann-controls' },
          play,
          button('◀ frame', () => seek(video.currentTime * 1000 - frameMs), { class: 'secondary small', testid: 'annotate-prev-frame' }),
          button('frame ▶', () => seek(video.currentTime * 1000 + frameMs), { class: 'secondary small', testid: 'annotate-next-frame' }),
          time, clock)),
      el('aside', { class: 'ann-side' },
        field('Class for new boxes', classSel),
        el('h2', null, 'Boxes on this frame'), boxList, copyPrevious,
        el('h2', null, 'Labelled frames'), frameList,
        el('div', { class: 'ann-save' }, save, status))));
  drawLists();
}
