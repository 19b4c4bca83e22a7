// Clip download: a from/to form under the player, Household.exportClip with
// a progress bar and a cancel button, then a link that saves the MP4 made in
// this browser (the service only ever sent ciphertext).
//
// Until the user edits from/to they follow the playhead: one minute around
// it. The pure helpers (defaultClipRange, localInputValue, parseLocalInput,
// clipFileName) are tested in download.test.ts.

import type { Household } from '../lib/household';
import { blobURL, button, describe, el, field, fmtBytes } from './ui';

/** The longest clip the page will make in memory. */
export const MAX_CLIP_MS = 60 * 60 * 1000;

/** defaultClipRange is the minute around t: [t − 30 s, t + 30 s]. */
export function defaultClipRange(t: Date): { from: Date; to: Date } {
  return { from: new Date(t.getTime() - 30_000), to: new Date(t.getTime() + 30_000) };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** localInputValue formats d for an <input type=datetime-local step=1> (local time, seconds). */
export function localInputValue(d: Date): string {
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** parseLocalInput reads a datetime-local value (local time); null if it is not one. */
export function parseLocalInput(v: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(v.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  const date = new Date(y, mo - 1, d, h, mi, s, ms);
  // Refuse values the Date constructor rolled over (2024-02-31 → March).
  if (date.getFullYear() !== y || date.getMonth() !== mo - 1 || date.getDate() !== d) return null;
  return date;
}

/**
 * clipFileName is porchlight-<camera>-<UTC time>.mp4 with only characters
 * that are safe in file names everywhere.
 */
export function clipFileName(camera: string, from: Date): string {
  const safe = camera.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'camera';
  const t = from.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '');
  return `porchlight-${safe}-${t}.mp4`;
}

/** checkClipRange says what is wrong with a range, or null if it can be exported. */
export function checkClipRange(from: Date | null, to: Date | null): string | null {
  if (!from || !to) return 'Enter a start and an end time.';
  if (to.getTime() <= from.getTime()) return 'The end must be after the start.';
  if (to.getTime() - from.getTime() > MAX_CLIP_MS) return 'Clips are at most one hour: choose a shorter range.';
  return null;
}

/** The page's side of the download panel. */
export interface DownloadPanel {
  element: HTMLElement;
  /** follow moves the default range to the playhead, unless the user edited it. */
  follow(t: Date): void;
}

/**
 * downloadPanel builds the form. cameraName names the file; signal (the
 * page's) cancels a running export and revokes the clip's URL on navigation.
 */
export function downloadPanel(h: Pick<Household, 'exportClip'>, camera: string, cameraName: string, signal: AbortSignal): DownloadPanel {
  let edited = false;
  let running: AbortController | null = null;
  const fromIn = el('input', { type: 'datetime-local', step: 1, name: 'from', testid: 'download-from', required: true, oninput: () => { edited = true; } });
  const toIn = el('input', { type: 'datetime-local', step: 1, name: 'to', testid: 'download-to', required: true, oninput: () => { edited = true; } });
  const bar = el('progress', { testid: 'download-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Clip download progress' });
  const status = el('p', { class: 'dl-status', role: 'status', 'aria-live': 'polite', testid: 'download-status' });
  const result = el('div', { class: 'dl-result' });
  const cancel = button('Cancel', () => running?.abort(), { class: 'secondary', hidden: true, testid: 'download-cancel' });
  const go = button('Download clip', () => void run(), { testid: 'download' });

  const setRange = (from: Date, to: Date) => {
    fromIn.value = localInputValue(from);
    toIn.value = localInputValue(to);
  };

  async function run(): Promise<void> {
    if (running) return;
    const from = parseLocalInput(fromIn.value);
    const to = parseLocalInput(toIn.value);
    const bad = checkClipRange(from, to);
    if (bad || !from || !to) {
      status.textContent = bad ?? '';
      status.className = 'dl-status dl-error';
      return;
    }
    const ac = new AbortController();
    running = ac;
    const onPage = () => ac.abort();
    signal.addEventListener('abort', onPage, { once: true });
    result.replaceChildren();
    status.className = 'dl-status';
    status.setAttribute('role', 'status');
    status.textContent = 'Fetching and decrypting…';
    bar.hidden = false;
    bar.removeAttribute('value'); // indeterminate until the first progress report
    go.disabled = true;
    cancel.hidden = false;
    try {
      const blob = await h.exportClip(camera, from, to, (done, total) => {
        if (total > 0) {
          bar.max = total;
          bar.value = done;
          status.textContent = `Decrypting segment ${Math.min(done + 1, total)} of ${total}…`;
        }
      }, ac.signal);
      if (ac.signal.aborted) throw new DOMException('cancelled', 'AbortError');
      const name = clipFileName(cameraName || camera, from);
      const url = blobURL(blob, signal);
      const a = el('a', { href: url, download: name, testid: 'download-link', class: 'button' }, `Save ${name}`);
      result.replaceChildren(a, el('span', { class: 'dl-size' }, ` ${fmtBytes(blob.size)}`));
      bar.max = 1;
      bar.value = 1;
      status.textContent = 'Clip ready.';
      a.click(); // start saving at once; the link stays for another copy
    } catch (err) {
      bar.hidden = true;
      if (ac.signal.aborted) {
        status.textContent = 'Download cancelled.';
      } else {
        const d = describe(err);
        status.className = 'dl-status dl-error';
        status.textContent = `The clip could not be made: ${d.what} ${d.todo}`.trim();
        status.setAttribute('role', 'alert');
      }
    } finally {
      signal.removeEventListener('abort', onPage);
      running = null;
      go.disabled = false;
      cancel.hidden = true;
    }
  }

  const element = el('section', { class: 'download', 'aria-label': 'Download a clip' },
    el('h2', null, 'Download a clip'),
    el('form', { class: 'dl-form', onsubmit: (e: Event) => { e.preventDefault(); void run(); } },
      field('From', fromIn), field('To', toIn), go, cancel),
    bar, status, result,
    el('p', { class: 'hint' }, 'The clip is decrypted in this browser. It starts and ends on whole recording segments (2–6 s).'));

  return {
    element,
    follow(t: Date) {
      if (edited || running) return;
      const r = defaultClipRange(t);
      setRange(r.from, r.to);
    },
  };
}
