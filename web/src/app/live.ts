// Live view (#/live/<camera>): opens an end-to-end encrypted live session
// (lib/live.ts verifies the hub's hello, unwraps the key, decrypts frames in
// order) and plays the fMP4 fragments with Media Source Extensions.
//
// Latency: each fragment carries the hub's capture time of its first access
// unit. The page keeps the media time at which each fragment starts, so for
// the frame on screen, latency = now − (capture time of its fragment + the
// media time elapsed since the fragment's start). When playback falls more
// than 0.5 s behind the newest buffered frame, it jumps to the live edge.
//
// For the end-to-end test: window.__porchlight.liveStats = { firstFrameMs,
// fragments, latencyMs[] } (first frame: ms from opening the page's live
// session to the first frame presented).
import type { Camera, Household } from '../lib/household';
import { CloseRefused, openLive } from '../lib/live';
import { href, navigate, rerender, route, type Ctx } from './router';
import { checkSession } from './shell';
import { button, el, errorBox, errorFrom, loading, mount, pageHeader } from './ui';

export interface LiveStats { firstFrameMs: number | null; fragments: number; latencyMs: number[] }

declare global {
  interface Window { __porchlight?: { liveStats?: LiveStats; [k: string]: unknown } }
}

/** How far behind the newest buffered frame playback may fall before jumping to the live edge. */
const maxBehind = 0.5;
/** How much media to keep behind the playhead. */
const keepSeconds = 20;
const maxSamples = 20000;

/** Automatic reconnects per camera after a transient close, reset by a frame shown. */
const reconnects = new Map<string, number>();
const maxReconnects = 3;
/** transient close codes: the connection dropped (1006), the server restarted (1011, 1012), the viewer fell behind (4004). */
const transient = (code: number) => code === 1006 || code === 1011 || code === 1012 || code === 4004;

const closeReasons: Record<string, string> = {
  session_ended: 'your session ended',
  hub_unreachable: 'the hub did not answer: check that it is running and online',
  camera_offline: 'the camera or its hub stopped the stream',
  too_slow: 'this connection could not keep up',
};

route('/live/:camera', 'Live', async (ctx: Ctx) => {
  const h = ctx.household!;
  const id = ctx.params.camera;
  mount(ctx.root, loading('Opening the camera…'));
  let cam: Camera | undefined;
  try {
    cam = (await h.cameras()).find((c) => c.id === id);
  } catch (err) {
    if (!ctx.signal.aborted) mount(ctx.root, errorFrom(err, 'Loading your cameras', rerender));
    return;
  }
  if (ctx.signal.aborted) return;
  if (!cam) {
    mount(ctx.root, errorBox('There is no camera with this id in your household, or it is not shared with you.',
      'Go back to your cameras and pick one there.', () => navigate('/'), 'Go to cameras'));
    return;
  }
  document.title = `${cam.name} live · Porchlight`;
  play(ctx, h, cam);
});

function play(ctx: Ctx, h: Household, cam: Camera): void {
  const video = el('video', { class: 'live-video', testid: 'live-video', muted: true, autoplay: true, playsinline: true, 'aria-label': `${cam.name}, live` });
  video.muted = true;
  const status = el('span', { class: 'live-status', testid: 'live-status', role: 'status', 'aria-live': 'polite' }, 'connecting');
  const detail = el('span', { class: 'muted small' }, 'Setting up an encrypted stream from your hub…');
  const latency = el('span', { class: 'live-latency', testid: 'live-latency', title: 'How far behind the hub\'s capture time the picture on screen is (ms)' }, '–');
  const dot = el('span', { class: 'live-dot', 'aria-hidden': 'true' });
  const actions = el('div', { class: 'row' });
  const stage = el('div', { class: 'stage' }, video);
  mount(ctx.root,
    pageHeader(cam.name,
      el('a', { class: 'button secondary', href: href(`/camera/${encodeURIComponent(cam.id)}`) }, 'Recordings'),
      el('a', { class: 'button secondary', href: href('/') }, 'All cameras')),
    stage,
    el('div', { class: 'live-bar' },
      el('span', { class: 'live-state' }, dot, status), detail,
      el('span', { class: 'live-lat' }, 'Delay ', latency, ' ms')),
    actions);

  const stats: LiveStats = { firstFrameMs: null, fragments: 0, latencyMs: [] };
  window.__porchlight = { ...(window.__porchlight ?? {}), liveStats: stats };
  const opened = performance.now();

  const MS: typeof MediaSource | undefined = (window as unknown as { ManagedMediaSource?: typeof MediaSource }).ManagedMediaSource ?? window.MediaSource;
  let ms: MediaSource | null = null;
  let sb: SourceBuffer | null = null;
  let msURL = '';
  const queue: { data: Uint8Array; captured: number }[] = [];
  /** media start time and capture time of appended fragments, oldest first */
  const clock = new FragmentClock();
  let pendingCapture: number | null = null; // capture time of the fragment being appended
  let lastJump = 0;
  let ended = false;

  const setState = (s: 'connecting' | 'live' | string, text: string) => {
    status.textContent = s;
    detail.textContent = text;
    dot.className = 'live-dot ' + (s === 'live' ? 'on' : s === 'connecting' ? 'wait' : 'off');
  };

  const fail = (what: string, todo: string) => {
    if (ended) return;
    ended = true;
    session?.close();
    setState(`ended: ${what}`, '');
    latency.textContent = '–';
    mount(actions, errorBox(`Live view stopped: ${what}.`, todo, rerender));
    teardownMedia();
  };

  const teardownMedia = () => {
    queue.length = 0;
    try { if (ms && ms.readyState === 'open' && sb && !sb.updating) ms.endOfStream(); } catch { /* already closed */ }
    video.pause();
    video.removeAttribute('src');
    if ('srcObject' in video && video.srcObject) video.srcObject = null;
    video.load();
    if (msURL) URL.revokeObjectURL(msURL);
    msURL = '';
    sb = null;
    ms = null;
  };

  const pump = () => {
    if (!sb || sb.updating || ended) return;
    const ct = video.currentTime;
    // evict old media now and then (one remove at a time; appends wait for it)
    if (sb.buffered.length && sb.buffered.start(0) < ct - keepSeconds - 5) {
      sb.remove(0, ct - keepSeconds);
      clock.trim(ct - keepSeconds);
      return;
    }
    const next = queue.shift();
    if (!next) return;
    pendingCapture = next.captured;
    try {
      sb.appendBuffer(next.data as Uint8Array<ArrayBuffer>);
    } catch (err) {
      if (err instanceof DOMException && err.name === 'QuotaExceededError' && sb.buffered.length) {
        queue.unshift(next);
        sb.remove(0, Math.max(sb.buffered.start(0) + 1, ct - 2));
        return;
      }
      console.error('live append', err);
      fail('this browser could not play the stream', 'Reload the page; if it keeps happening, try another browser.');
    }
  };

  const appended = () => {
    if (!sb || ended) return;
    const b = sb.buffered;
    if (pendingCapture !== null && pendingCapture > 0 && b.length) clock.add(b.start(b.length - 1), b.end(b.length - 1), pendingCapture);
    pendingCapture = null;
    if (b.length) {
      const edge = b.end(b.length - 1);
      const ct = video.currentTime;
      const inBuffer = (() => { for (let i = 0; i < b.length; i++) if (ct >= b.start(i) && ct <= b.end(i)) return true; return false; })();
      const now = performance.now();
      if ((!inBuffer || edge - ct > maxBehind) && now - lastJump > 1000) {
        lastJump = now;
        video.currentTime = Math.max(b.start(b.length - 1), edge - 0.05);
      }
      if (video.paused) void video.play().catch(() => undefined);
    }
    pump();
  };

  // latency of the frame on screen
  const sample = (mediaTime: number) => {
    const lat = clock.latency(mediaTime, Date.now());
    if (lat === null) return;
    if (stats.latencyMs.length >= maxSamples) stats.latencyMs.shift();
    stats.latencyMs.push(lat);
    latency.textContent = String(Math.round(lat));
  };
  const firstFrame = () => {
    if (stats.firstFrameMs !== null || ended) return;
    stats.firstFrameMs = Math.round(performance.now() - opened);
    reconnects.delete(cam.id);
    setState('live', 'End-to-end encrypted: only this browser can decrypt it.');
  };
  type RVFC = (cb: (now: number, meta: { mediaTime: number }) => void) => number;
  const rvfc = (video as unknown as { requestVideoFrameCallback?: RVFC }).requestVideoFrameCallback?.bind(video);
  if (rvfc) {
    const onFrame = (_now: number, meta: { mediaTime: number }) => {
      if (ended) return;
      firstFrame();
      sample(meta.mediaTime);
      rvfc(onFrame);
    };
    rvfc(onFrame);
  } else {
    video.addEventListener('playing', firstFrame);
    video.addEventListener('timeupdate', () => { if (!ended) sample(video.currentTime); });
  }
  video.addEventListener('error', () => {
    const e = video.error;
    if (!ended && e) fail(`the video could not be decoded (${e.message || 'code ' + e.code})`, 'Reload the page to try again.');
  });

  let session: { close(): void } | null = null;
  try {
    session = openLive(h, cam.id, {
      onInit(mime: string, init: Uint8Array) {
        if (ended) return;
        if (!MS || !MS.isTypeSupported(mime)) {
          fail(`this browser cannot play this camera's video (${mime})`, 'Try a current Chrome, Edge, Firefox or Safari.');
          return;
        }
        ms = new MS();
        if ('disableRemotePlayback' in video) video.disableRemotePlayback = true; // ManagedMediaSource wants it
        msURL = URL.createObjectURL(ms);
        video.src = msURL;
        const src = ms;
        src.addEventListener('sourceopen', () => {
          if (ended || ms !== src) return;
          try {
            sb = src.addSourceBuffer(mime);
            sb.mode = 'segments';
          } catch (err) {
            console.error('live source buffer', err);
            fail(`this browser cannot play this camera's video (${mime})`, 'Try a current Chrome, Edge, Firefox or Safari.');
            return;
          }
          sb.addEventListener('updateend', appended);
          sb.addEventListener('error', () => fail('the stream could not be decoded', 'Reload the page to try again.'));
          queue.unshift({ data: init, captured: 0 });
          pump();
        }, { once: true });
      },
      onFragment(data: Uint8Array, capturedMs: number) {
        if (ended) return;
        stats.fragments++;
        queue.push({ data, captured: capturedMs });
        pump();
      },
      onStatus(state: string) {
        if (ended || stats.firstFrameMs !== null) return;
        if (state === 'waiting_for_hub') setState('connecting', 'Waiting for your hub to answer…');
        else if (state === 'live') setState('connecting', 'Your hub is sending video…');
      },
      onClose(code: number, reason: string) {
        if (ended || ctx.signal.aborted) return;
        const [word, ...rest] = reason.split(/:\s*/);
        const what = closeReasons[word] ?? (reason || `the connection closed (${code})`);
        const extra = rest.length ? ` (${rest.join(': ')})` : '';
        if (code === 4001 || word === 'session_ended') {
          fail(what, 'Sign in again.');
          void checkSession();
          return;
        }
        if (code === CloseRefused) {
          // lib/live uses this code for a stream that did not verify and for a session that could not be opened
          fail(`the live stream could not be opened or did not verify (${reason || 'no reason given'})`,
            'Try again; if it keeps happening, reload the page. A stream that does not verify was altered on its way: it is never shown.');
          return;
        }
        const n = reconnects.get(cam.id) ?? 0;
        if (transient(code) && n < maxReconnects) {
          // a dropped connection or a slow moment: open a new session by itself, a few times
          reconnects.set(cam.id, n + 1);
          ended = true;
          session?.close();
          teardownMedia();
          setState('connecting', `The stream stopped (${what}): reconnecting…`);
          const t = setTimeout(() => { if (!ctx.signal.aborted) rerender(); }, 500 * 2 ** n);
          ctx.signal.addEventListener('abort', () => clearTimeout(t), { once: true });
          return;
        }
        fail(what + extra, code === 4004 ? 'Reconnect; a faster connection helps.' : 'Try again in a moment.');
      },
    });
  } catch (err) {
    if (!ctx.signal.aborted) fail(errorText(err), 'Try again in a moment.');
  }

  ctx.signal.addEventListener('abort', () => {
    ended = true;
    session?.close();
    teardownMedia();
  }, { once: true });

  // keep the picture at the live edge when the tab comes back
  const onVisible = () => {
    if (document.visibilityState === 'visible' && sb && sb.buffered.length && !ended) {
      video.currentTime = Math.max(0, sb.buffered.end(sb.buffered.length - 1) - 0.05);
      void video.play().catch(() => undefined);
    }
  };
  document.addEventListener('visibilitychange', onVisible);
  ctx.signal.addEventListener('abort', () => document.removeEventListener('visibilitychange', onVisible), { once: true });
  stage.appendChild(button('Full screen', () => { void stage.requestFullscreen?.().catch(() => undefined); }, { class: 'fs secondary small', 'aria-label': 'Full screen' }));
}

/**
 * FragmentClock maps media time to the hub's capture time: each appended
 * fragment starts where the previous one ended (or at the start of the
 * buffered range for the first) and carries the capture time of its first
 * access unit.
 */
export class FragmentClock {
  private marks: { t: number; end: number; captured: number }[] = [];

  /** add records a fragment just appended: the buffered range it extended is [rangeStart, rangeEnd]. */
  add(rangeStart: number, rangeEnd: number, capturedMs: number): void {
    const last = this.marks[this.marks.length - 1];
    const t = last && last.end >= rangeStart && last.end <= rangeEnd ? last.end : rangeStart;
    this.marks.push({ t, end: rangeEnd, captured: capturedMs });
  }

  /** latency is how far behind capture (ms) the frame at mediaTime is when shown at wall-clock nowMs; null before any fragment. */
  latency(mediaTime: number, nowMs: number): number | null {
    for (let i = this.marks.length - 1; i >= 0; i--) {
      const m = this.marks[i];
      if (m.t <= mediaTime + 0.001) return Math.round(nowMs - (m.captured + Math.max(0, mediaTime - m.t) * 1000));
    }
    return null;
  }

  /** trim forgets fragments that ended before mediaTime, keeping the one playing. */
  trim(mediaTime: number): void {
    while (this.marks.length > 1 && this.marks[1].t <= mediaTime) this.marks.shift();
  }

  get size(): number { return this.marks.length; }
}

function errorText(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/\.$/, '') || 'the live session could not be opened';
}
