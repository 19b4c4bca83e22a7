// The camera page (#/camera/<id>): one day of recordings as a timeline bar
// (holes visible, events as markers coloured by class), a scrubber, the
// player (app/player.ts), the clip download (app/download.ts) and the day's
// events, filterable by class.
//
// Query parameters: day=YYYY-MM-DD (local day) picks the day; t=<unix ms>
// opens the player at that time (and its day). Times on the page are local.
//
// The pure helpers (parseDay, dayBounds, mergeRuns, …) are
// tested in timeline.test.ts.

import type { Camera, Household, PEvent, Segment } from '../lib/household';
import { SegmentPlayer, place } from './player';
import type { PlayerState } from './player';
import { downloadPanel } from './download';
import { eventClass } from './event'; // also registers the event page
import { href, navigate, route } from './router';
import type { Ctx } from './router';
import { blobURL, button, describe, el, emptyState, errorBox, errorFrom, field, fmtTime, loading, mount, pageHeader } from './ui';

/** The classes the filter offers, in order; "" is all. */
export const FILTER_CLASSES = ['person', 'vehicle', 'animal', 'doorbell', 'motion', 'offline'] as const;

const pad = (n: number) => String(n).padStart(2, '0');

/** dayString is d's local date as YYYY-MM-DD. */
export function dayString(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** parseDay reads YYYY-MM-DD as local midnight; null if it is not a date. */
export function parseDay(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(y, mo - 1, d);
  if (date.getFullYear() !== y || date.getMonth() !== mo - 1 || date.getDate() !== d) return null;
  return date;
}

/** dayBounds is [local midnight, next local midnight) of the day containing d (23 or 25 h on DST days). */
export function dayBounds(d: Date): { start: Date; end: Date } {
  const start = new Date(d.getFullYear(), d.getMonth(), d.getDate());
  const end = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1);
  return { start, end };
}

/** A span in seconds since the day's start. */
export interface Span {
  start: number;
  end: number;
}

/**
 * mergeRuns joins spans that touch or are closer than tolerance seconds,
 * so a day of 3-second segments draws as a few bars and holes stay visible.
 */
export function mergeRuns(spans: readonly Span[], tolerance = 1): Span[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end + tolerance) last.end = Math.max(last.end, s.end);
    else out.push({ start: s.start, end: s.end });
  }
  return out;
}

/** matchesFilter says whether ev shows under class filter f ("" shows all). */
export function matchesFilter(ev: Pick<PEvent, 'kind' | 'classes'>, f: string): boolean {
  return f === '' || ev.classes.includes(f) || ev.kind === f;
}

/**
 * startPosition is where the player opens (seconds since the day start):
 * the requested time if any, else for today the last 30 s recorded (the
 * newest thing that happened), else the first recording of the day. null
 * when there is nothing to play.
 */
export function startPosition(runs: readonly Span[], want: number | null, today: boolean): number | null {
  if (want !== null) return want;
  if (runs.length === 0) return null;
  if (today) {
    const last = runs[runs.length - 1];
    return Math.max(last.start, last.end - LATEST_SECS);
  }
  return runs[0].start;
}

/** How often today's page looks for new recordings when playing near their end. */
const REFRESH_MS = 15_000;

/** How far before the newest recording today's page starts playing (seconds). */
const LATEST_SECS = 30;

/** Zoom levels of the detail bar: seconds shown, label. */
export const ZOOMS: readonly [number, string][] = [[600, '10 minutes'], [3600, '1 hour'], [6 * 3600, '6 hours'], [86400, 'Whole day']];
const DEFAULT_ZOOM = 3600;

/**
 * viewWindow is the start of the detail window of span seconds showing t:
 * the current window while t stays inside it, else one with t at its middle,
 * kept within [0, daySecs].
 */
export function viewWindow(t: number, span: number, daySecs: number, current: number | null): number {
  if (span >= daySecs) return 0;
  if (current !== null && t >= current && t <= current + span) return current;
  return Math.min(Math.max(0, t - span / 2), daySecs - span);
}

/** ticks are round times (seconds since the day start) to label in [start, start+span], at most 8. */
export function ticks(start: number, span: number): number[] {
  const steps = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600];
  const step = steps.find((s) => span / s <= 7) ?? 21600; // ≤ 8 labels, both ends included
  const out: number[] = [];
  for (let t = Math.ceil(start / step) * step; t <= start + span; t += step) out.push(t);
  return out;
}

/** pct is x as a percentage of total, clamped to [0, 100]. */
export function pct(x: number, total: number): string {
  return `${Math.min(100, Math.max(0, (x / total) * 100)).toFixed(4)}%`;
}

/** clock formats seconds since the day start as H:MM:SS (local day). */
export function clock(s: number): string {
  const v = Math.max(0, Math.floor(s));
  return `${Math.floor(v / 3600)}:${pad(Math.floor((v % 3600) / 60))}:${pad(v % 60)}`;
}

function classLabel(c: string): string {
  return c === '' ? 'All events' : c.charAt(0).toUpperCase() + c.slice(1);
}

function cameraLink(camera: string, q: Record<string, string>): string {
  const qs = new URLSearchParams(q).toString();
  return `/camera/${encodeURIComponent(camera)}${qs ? '?' + qs : ''}`;
}

/** eventLink is the event detail page of ev (with its start as a hint for finding it). */
export function eventLink(ev: Pick<PEvent, 'camera' | 'id' | 'start'>): string {
  return `/event/${encodeURIComponent(ev.camera)}/${encodeURIComponent(ev.id)}?at=${ev.start.getTime()}`;
}

async function findCamera(h: Household, id: string): Promise<Camera | null> {
  const cams = await h.cameras();
  return cams.find((c) => c.id === id) ?? null;
}

route('/camera/:camera', 'Recordings', render);

async function render(ctx: Ctx): Promise<void> {
  const h = ctx.household;
  if (!h) throw new Error('Your household is not open yet.');
  const cameraID = ctx.params.camera;
  const { root, signal, query } = ctx;

  const tParam = query.get('t');
  const wantAt = tParam && /^\d+$/.test(tParam) ? new Date(Number(tParam)) : null;
  const dayParam = query.get('day');
  const day = (dayParam ? parseDay(dayParam) : null) ?? wantAt ?? new Date();
  const { start: dayStart, end: dayEnd } = dayBounds(day);
  const daySecs = (dayEnd.getTime() - dayStart.getTime()) / 1000;
  const isToday = dayString(dayStart) === dayString(new Date());

  mount(root, loading('Loading recordings…'));
  const [cam, segs, events] = await Promise.all([
    findCamera(h, cameraID),
    h.segments(cameraID, dayStart, dayEnd),
    h.events(cameraID, dayStart).then((evs) => evs.filter((e) => e.start < dayEnd)).catch((err: unknown) => err),
  ]);
  if (signal.aborted) return;
  if (!cam) {
    mount(root, errorBox('This camera is not in your household (or not shared with this device).', 'Go back to your cameras and pick one there.', () => navigate('/')));
    return;
  }

  // Header: name, live link, day picker, class filter.
  const dateIn = el('input', {
    type: 'date', name: 'day', value: dayString(dayStart), max: dayString(new Date()), testid: 'timeline-date',
    onchange: () => {
      if (parseDay(dateIn.value)) navigate(cameraLink(cameraID, { day: dateIn.value }));
    },
  });
  const shift = (days: number) => {
    const d = new Date(dayStart.getFullYear(), dayStart.getMonth(), dayStart.getDate() + days);
    navigate(cameraLink(cameraID, { day: dayString(d) }));
  };
  const filter = el('select', { name: 'class', testid: 'class-filter', 'aria-label': 'Show events of class' },
    ...['', ...FILTER_CLASSES].map((c) => el('option', { value: c }, classLabel(c))));
  filter.value = query.get('class') ?? '';

  // Player, timeline and scrubber.
  const video = el('video', { testid: 'player', class: 'player-video', controls: true, muted: true, playsinline: true, preload: 'auto' });
  const status = el('p', { class: 'player-status', testid: 'player-status', role: 'status', 'aria-live': 'polite' });
  const timeLabel = el('span', { class: 'player-time', testid: 'player-time' }, '–');
  const notices = el('div', { class: 'player-notices' });
  const scrubber = el('input', {
    type: 'range', min: 0, max: Math.round(daySecs), step: 1, value: 0, testid: 'scrubber', class: 'scrubber',
    'aria-label': 'Position in the day (seconds since midnight)',
  });
  const dl = downloadPanel(h, cameraID, cam.name, signal);

  let runs = mergeRuns(place(segs, dayStart).map((p) => ({ start: p.start, end: p.end })));
  const bad: Span[] = []; // segments that failed, drawn in red

  // The day overview: every recording and event of the day, and the window
  // the detail bar shows. Both seek on click.
  const overview = el('div', { class: 'tl-overview', 'aria-hidden': 'true' });
  const overHead = el('div', { class: 'tl-head', 'aria-hidden': 'true' });
  for (let hr = 0; hr <= 24; hr += 3) overHead.appendChild(el('span', null, `${pad(hr % 24)}:00`));
  const windowBox = el('div', { class: 'tl-window' });
  const overPlayhead = el('div', { class: 'tl-playhead' });
  const overMarkers = el('div', { class: 'tl-markers' });
  const overRuns = el('div', { class: 'tl-runs' });
  const drawOverview = () => {
    overRuns.replaceChildren();
    for (const [spans, cls] of [[runs, 'tl-run'], [bad, 'tl-run tl-bad']] as const) {
      for (const r of spans) {
        const d = el('div', { class: cls });
        d.style.left = pct(r.start, daySecs);
        d.style.width = pct(r.end - r.start, daySecs);
        overRuns.appendChild(d);
      }
    }
  };
  drawOverview();
  overview.append(overRuns, overMarkers, windowBox, overPlayhead);

  // The detail bar: a zoomable window of the day around the playhead.
  const zoom = el('select', { name: 'zoom', testid: 'timeline-zoom', 'aria-label': 'Timeline zoom' },
    ...ZOOMS.map(([secs, label]) => el('option', { value: secs }, label)));
  zoom.value = String(DEFAULT_ZOOM);
  const ticksRow = el('div', { class: 'tl-ticks', 'aria-hidden': 'true' });
  const bar = el('div', { class: 'tl-bar', role: 'group', 'aria-label': 'Recordings; click to play from there' });
  const barRuns = el('div', { class: 'tl-runs' });
  const markers = el('div', { class: 'tl-markers' });
  const playhead = el('div', { class: 'tl-playhead', 'aria-hidden': 'true' });
  bar.append(barRuns, markers, playhead);
  let span = Math.min(DEFAULT_ZOOM, daySecs);
  let view: number | null = null; // start of the detail window, seconds since the day start
  let lastT = 0;

  const drawDetail = () => {
    if (view === null) return;
    const v = view;
    barRuns.replaceChildren();
    for (const [spans, cls] of [[runs, 'tl-run'], [bad, 'tl-run tl-bad']] as const) {
      for (const r of spans) {
        if (r.end <= v || r.start >= v + span) continue;
        const d = el('div', { class: cls, title: `${clock(r.start)} – ${clock(r.end)}${cls === 'tl-run' ? '' : ': could not be played'}` });
        const s0 = Math.max(r.start, v);
        d.style.left = pct(s0 - v, span);
        d.style.width = pct(Math.min(r.end, v + span) - s0, span);
        barRuns.appendChild(d);
      }
    }
    ticksRow.replaceChildren();
    for (const t of ticks(v, span)) {
      const lab = el('span', null, clock(t).replace(/:00$/, ''));
      lab.style.left = pct(t - v, span);
      ticksRow.appendChild(lab);
    }
    windowBox.style.left = pct(v, daySecs);
    windowBox.style.width = pct(span, daySecs);
    drawMarkers();
  };
  const follow = (t: number, force = false) => {
    const nv = viewWindow(t, span, daySecs, force ? null : view);
    if (nv !== view) {
      view = nv;
      drawDetail();
    }
    playhead.style.left = pct(t - (view ?? 0), span);
    playhead.hidden = t < (view ?? 0) || t > (view ?? 0) + span;
    overPlayhead.style.left = pct(t, daySecs);
  };
  zoom.addEventListener('change', () => {
    span = Math.min(Number(zoom.value), daySecs);
    follow(lastT, true);
  });

  const list = el('ul', { class: 'event-list', 'aria-label': 'Events of the day' });
  const listBox = el('section', { class: 'events', 'aria-label': 'Events' }, el('h2', null, 'Events'), list);

  let player: SegmentPlayer | null = null;
  let scrubbing = false;
  const seek = (s: number) => {
    if (!player) return;
    player.seek(Math.min(Math.max(0, s), daySecs));
  };
  const showTime = (s: number) => {
    lastT = s;
    timeLabel.textContent = fmtTime(new Date(dayStart.getTime() + s * 1000));
    follow(s);
    if (!scrubbing) scrubber.value = String(Math.round(s));
    dl.follow(new Date(dayStart.getTime() + s * 1000));
  };
  const clickSeek = (box: HTMLElement, from: () => number, width: () => number) => (e: MouseEvent) => {
    const r = box.getBoundingClientRect();
    if (r.width <= 0) return;
    seek(from() + ((e.clientX - r.left) / r.width) * width());
  };
  bar.addEventListener('click', clickSeek(bar, () => view ?? 0, () => span));
  overview.addEventListener('click', clickSeek(overview, () => 0, () => daySecs));
  scrubber.addEventListener('input', () => {
    scrubbing = true;
    const s = Number(scrubber.value);
    timeLabel.textContent = fmtTime(new Date(dayStart.getTime() + s * 1000));
    follow(s);
  });
  scrubber.addEventListener('change', () => {
    scrubbing = false;
    seek(Number(scrubber.value));
  });

  // Events: markers and list, thumbnails decrypted as they scroll into view.
  const evError = events instanceof Error || !Array.isArray(events) ? events : null;
  const dayEvents: PEvent[] = Array.isArray(events) ? [...events].sort((a, b) => b.start.getTime() - a.start.getTime()) : [];
  const thumbs = new Map<string, Promise<string | null>>();
  const thumbFor = (ev: PEvent): Promise<string | null> => {
    let p = thumbs.get(ev.id);
    if (!p) {
      p = ev.thumb ? h.thumbnail(ev).then((b) => (b && !signal.aborted ? blobURL(b, signal) : null)) : Promise.resolve(null);
      thumbs.set(ev.id, p);
    }
    return p;
  };
  const io = typeof IntersectionObserver === 'function'
    ? new IntersectionObserver((entries) => {
      for (const en of entries) {
        if (!en.isIntersecting) continue;
        io?.unobserve(en.target);
        const load = (en.target as HTMLElement & { loadThumb?: () => void }).loadThumb;
        load?.();
      }
    }, { rootMargin: '200px' })
    : null;
  signal.addEventListener('abort', () => io?.disconnect(), { once: true });

  function drawMarkers(): void {
    const f = filter.value;
    markers.replaceChildren();
    overMarkers.replaceChildren();
    for (const ev of dayEvents) {
      if (!matchesFilter(ev, f)) continue;
      const s = (ev.start.getTime() - dayStart.getTime()) / 1000;
      const cls = eventClass(ev);
      const o = el('div', { class: `tl-tick ev-${cls}` });
      o.style.left = pct(s, daySecs);
      overMarkers.appendChild(o);
      if (view === null || s < view || s > view + span) continue;
      const m = el('button', {
        type: 'button', class: `tl-marker ev-${cls}`, title: `${classLabel(cls)} at ${fmtTime(ev.start)}`,
        'aria-label': `${classLabel(cls)} at ${fmtTime(ev.start)}: play`,
      });
      m.style.left = pct(s - view, span);
      m.addEventListener('click', (e) => {
        e.stopPropagation();
        seek(s - 5);
      });
      markers.appendChild(m);
    }
  }

  const drawEvents = () => {
    const f = filter.value;
    drawMarkers();
    list.replaceChildren();
    const shown = dayEvents.filter((ev) => matchesFilter(ev, f));
    for (const ev of shown) {
      const s = (ev.start.getTime() - dayStart.getTime()) / 1000;
      const cls = eventClass(ev);

      const img = el('img', { class: 'ev-thumb', alt: '', width: 96, height: 54 });
      const li = el('li', { class: 'event-item', testid: 'event-item', 'data-event': ev.id },
        el('span', { class: `ev-dot ev-${cls}`, 'aria-hidden': 'true' }),
        img,
        el('div', { class: 'ev-text' },
          el('a', { href: href(eventLink(ev)), class: 'ev-title' }, ev.classes.length ? ev.classes.map(classLabel).join(', ') : classLabel(ev.kind)),
          el('span', { class: 'ev-time' }, fmtTime(ev.start)),
          ev.labels.length ? el('span', { class: 'ev-labels' }, ev.labels.join(', ')) : null),
        button('Play', () => seek(s - 5), { class: 'secondary', 'aria-label': `Play from ${fmtTime(ev.start)}` }));
      (li as HTMLElement & { loadThumb?: () => void }).loadThumb = () => {
        thumbFor(ev).then((u) => {
          if (u) img.src = u;
          else img.classList.add('ev-thumb-none');
        }).catch(() => img.classList.add('ev-thumb-none'));
      };
      if (io) io.observe(li);
      else (li as HTMLElement & { loadThumb?: () => void }).loadThumb?.();
      list.appendChild(li);
    }
    if (evError) {
      const d = describe(evError);
      list.appendChild(el('li', { class: 'event-empty' }, errorBox(`Events could not be loaded: ${d.what}`, d.todo)));
    } else if (shown.length === 0) {
      list.appendChild(el('li', { class: 'event-empty' },
        emptyState(f ? `No ${classLabel(f).toLowerCase()} events on this day.` : 'No events on this day.', f ? 'Choose "All events" to see the others.' : undefined)));
    }
  };
  filter.addEventListener('change', () => {
    drawEvents();
    const q: Record<string, string> = { day: dayString(dayStart) };
    if (filter.value) q.class = filter.value;
    history.replaceState(null, '', href(cameraLink(cameraID, q)));
  });
  drawEvents();

  const playerBox = el('section', { class: 'player', 'aria-label': 'Recorded video' },
    el('div', { class: 'player-frame' }, video),
    el('div', { class: 'player-bar' }, timeLabel, status),
    notices);

  mount(root,
    pageHeader(cam.name,
      el('a', { href: href(`/live/${encodeURIComponent(cameraID)}`), class: 'button' }, 'Live')),
    el('div', { class: 'tl-controls' },
      button('‹', () => shift(-1), { class: 'secondary', 'aria-label': 'Previous day' }),
      field('Day', dateIn),
      button('›', () => shift(1), { class: 'secondary', 'aria-label': 'Next day', disabled: isToday }),
      field('Events', filter)),
    segs.length === 0
      ? emptyState('No recordings', isToday ? 'This camera has recorded nothing today yet. Check that its hub is online.' : 'This camera recorded nothing on this day. Pick another day.')
      : playerBox,
    el('section', { class: 'timeline', testid: 'timeline', 'aria-label': 'Timeline' },
      el('div', { class: 'tl-top' }, el('h2', null, 'Timeline'), field('Zoom', zoom)),
      overHead, overview, ticksRow, bar, scrubber),
    segs.length === 0 ? null : dl.element,
    listBox);

  follow(startPosition(runs, wantAt ? (wantAt.getTime() - dayStart.getTime()) / 1000 : null, isToday) ?? 0);
  if (segs.length === 0) return;

  const say = (s: PlayerState) => {
    status.textContent = {
      loading: 'Loading…', playing: 'Playing', paused: 'Paused', ended: 'End of recordings', empty: 'No recordings',
    }[s];
    status.dataset.state = s;
  };
  say('loading');
  player = new SegmentPlayer(video, h, segs, dayStart, {
    onState: say,
    onTime: showTime,
    onSegmentError: (seg: Segment, err: unknown) => {
      const o = dayStart.getTime();
      bad.push({ start: (seg.start.getTime() - o) / 1000, end: (seg.end.getTime() - o) / 1000 });
      drawOverview();
      drawDetail();
      const d = describe(err);
      const box = errorBox(
        `The recording at ${fmtTime(seg.start)} could not be played: ${d.what}`,
        'It was skipped; playback continues with the next recording. If this repeats, the stored copy may be damaged or tampered with.');
      notices.replaceChildren(box);
    },
    onFatal: (err: unknown) => {
      notices.replaceChildren(errorFrom(err, 'Playing recordings', () => navigate(cameraLink(cameraID, { day: dayString(dayStart) }))));
    },
  });
  signal.addEventListener('abort', () => player?.destroy(), { once: true });

  // Today: near the end of what is recorded, look for newer segments.
  if (isToday) {
    let asking = false;
    const more = async () => {
      const p = player;
      if (!p || asking || signal.aborted) return;
      const all = p.segments;
      const lastEnd = all[all.length - 1].end;
      if (p.currentTime < lastEnd - 60) return;
      asking = true;
      try {
        const newer = await h.segments(cameraID, new Date(dayStart.getTime() + lastEnd * 1000 - 1000), dayEnd);
        if (signal.aborted) return;
        if (p.extend(newer) > 0) {
          runs = mergeRuns(p.segments.map((x) => ({ start: x.start, end: x.end })));
          drawOverview();
          drawDetail();
        }
      } catch (err) {
        console.warn('looking for newer recordings', err);
      } finally {
        asking = false;
      }
    };
    const timer = setInterval(() => void more(), REFRESH_MS);
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }
  const want = wantAt ? (wantAt.getTime() - dayStart.getTime()) / 1000 : null;
  const at = startPosition(runs, want, isToday);
  if (at !== null) {
    showTime(at);
    player.seek(at);
  }
}
