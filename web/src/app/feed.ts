// Neighbours feed (#/feed?cell=…&radius=…): public, redacted clips posted
// near a location cell. The cell is typed, or made here from the browser's
// geolocation (lib/feed.ts geohash): the coordinates never leave the page,
// only the 6-character cell goes to porchlightd and into the address.
// Posts play the public MP4 (no key needed); anyone signed in may report a
// post, and the owner of the household that posted it may withdraw it.
import { ApiError } from '../lib/api';
import { categoryLabel, feed, geohash, myPosts, normalizeCell, reportPost, withdrawPost, type FeedPost } from '../lib/feed';
import { route, setQuery, type Ctx } from './router';
import { me } from './shell';
import { button, el, emptyState, errorFrom, field, fmtDateTime, loading, mount, pageHeader, toast } from './ui';

const lastCellKey = 'porchlight.feed.cell';

route('/feed', 'Neighbours', async (ctx: Ctx) => {
  const owner = ctx.household?.role === 'owner' || me()?.role === 'owner';
  const remembered = safeLocal(() => localStorage.getItem(lastCellKey)) ?? '';
  const startCell = normalizeCell(ctx.query.get('cell') ?? '') ?? normalizeCell(remembered) ?? '';
  const startRadius = Math.max(0, Math.min(3, Number(ctx.query.get('radius') ?? '1') || 0));

  const cellInput = el('input', {
    name: 'cell', testid: 'feed-cell', value: startCell, maxlength: 6, autocomplete: 'off', spellcheck: 'false',
    pattern: '[0-9bcdefghjkmnpqrstuvwxyzBCDEFGHJKMNPQRSTUVWXYZ]{6}', placeholder: 'u4pruy', required: true,
  });
  const radiusSelect = el('select', { name: 'radius', testid: 'feed-radius' },
    [0, 1, 2, 3].map((r) => el('option', { value: r, selected: r === startRadius }, r === 0 ? 'This cell only' : `${r} ring${r > 1 ? 's' : ''} around it`)));
  const locStatus = el('p', { class: 'muted small', testid: 'feed-locate-status', role: 'status' });
  const locate = button('Use my location', () => {
    if (!('geolocation' in navigator)) { locStatus.textContent = 'This browser cannot tell its location: type your cell instead.'; return; }
    locate.disabled = true;
    locStatus.textContent = 'Asking this browser for its location…';
    navigator.geolocation.getCurrentPosition((pos) => {
      locate.disabled = false;
      if (ctx.signal.aborted) return;
      // Only the cell survives this callback: the position is not kept or sent.
      const cell = geohash(pos.coords.latitude, pos.coords.longitude);
      cellInput.value = cell;
      locStatus.textContent = `Your cell is ${cell} (about 1.2 × 0.6 km). Your exact position stayed in this browser.`;
      void show();
    }, (err) => {
      locate.disabled = false;
      locStatus.textContent = err.code === err.PERMISSION_DENIED
        ? 'Location is blocked for this site: allow it in the browser, or type your cell instead.'
        : 'This browser could not find its location: try again outdoors, or type your cell instead.';
    }, { enableHighAccuracy: false, maximumAge: 10 * 60_000, timeout: 20_000 });
  }, { class: 'secondary', testid: 'feed-locate' });

  const results = el('section', { class: 'feed-results', 'aria-live': 'polite' });
  const mineBox = el('section', { class: 'feed-mine' });
  const form = el('form', {
    class: 'feed-form', testid: 'feed-form', onsubmit: (ev: Event) => { ev.preventDefault(); void show(); },
  },
  field('Neighbourhood cell', cellInput, '6 characters, as "porchlight feed --near" takes; a cell covers about 1.2 × 0.6 km.'),
  field('Area', radiusSelect),
  el('div', { class: 'row' }, el('button', { type: 'submit', class: 'primary' }, 'Show posts'), locate));

  mount(ctx.root,
    pageHeader('Neighbours'),
    el('p', { class: 'muted' }, 'Clips your neighbours chose to share, with bystanders blurred. Locations are only ever a neighbourhood cell, never an address.'),
    form, locStatus, results, mineBox);

  /** the household's own posts, ended ones included, with what happened to them */
  async function showMine(): Promise<void> {
    let own: FeedPost[] | null;
    try {
      own = await myPosts(ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) return;
      mount(mineBox, el('h2', null, 'Your posts'), errorFrom(err, 'Loading your posts', () => { void showMine(); }));
      return;
    }
    if (ctx.signal.aborted || own === null) return;
    mount(mineBox, el('h2', null, 'Your posts'),
      own.length === 0
        ? el('p', { class: 'muted' }, 'Your household has not posted anything. Share a clip with "porchlight publish": you preview the blurred copy before it is posted.')
        : el('ul', { class: 'settings-list' }, own.map((p) => el('li', { class: 'settings-item', testid: 'feed-mine', 'data-post': p.id },
          el('div', { class: 'item-main' }, el('strong', null, p.title || 'Untitled'),
            el('div', { class: 'muted small' }, `${categoryLabel(p.category)} · ${p.pseudonym} · ${fmtDateTime(p.created)}${p.cell ? ` · cell ${p.cell}` : ''}`)),
          el('div', { class: 'actions' }, el('span', { class: p.state === 'published' ? 'badge ok' : 'badge offline', testid: 'feed-mine-state' },
            p.state === 'published' ? 'Public' : p.state === 'withdrawn' ? 'Withdrawn' : p.state === 'removed' ? `Removed by moderators${p.reason ? `: ${p.reason}` : ''}` : p.state))))));
  }

  let gen = 0;

  async function show(): Promise<void> {
    const cell = normalizeCell(cellInput.value);
    if (!cell) {
      mount(results, el('p', { class: 'form-error', role: 'alert', testid: 'feed-cell-error' },
        'A cell is 6 characters of 0–9 and b–z without a, i, l and o (like "u4pruy"). Or use your location.'));
      cellInput.focus();
      return;
    }
    const radius = Number(radiusSelect.value) || 0;
    cellInput.value = cell;
    setQuery({ cell, radius: String(radius) });
    safeLocal(() => localStorage.setItem(lastCellKey, cell));
    const g = ++gen;
    mount(results, loading('Loading posts near ' + cell + '…'));
    let posts: FeedPost[];
    try {
      posts = await feed(cell, radius, ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted || g !== gen) return;
      mount(results, errorFrom(err, 'Loading the feed', () => { void show(); }));
      return;
    }
    if (ctx.signal.aborted || g !== gen) return;
    if (posts.length === 0) {
      mount(results, emptyState(`No posts near ${cell} yet.`, 'Try a wider area. Owners post clips with "porchlight publish".'));
      return;
    }
    mount(results, el('ul', { class: 'feed-list', role: 'list' },
      posts.map((p) => postItem(p, owner && p.mine, ctx.signal, () => { void showMine(); }))));
  }

  if (owner) void showMine();
  if (startCell) await show();
  else mount(results, emptyState('Choose a neighbourhood.', 'Type a cell, or let this browser find yours: only the cell is sent.'));
}, { access: 'session', nav: 'feed' });

function safeLocal<T>(f: () => T): T | null {
  try { return f(); } catch { return null; }
}

function postItem(p: FeedPost, mine: boolean, signal: AbortSignal, withdrawn: () => void): HTMLElement {
  const video = el('video', {
    class: 'feed-video', controls: true, preload: 'metadata', playsinline: true, src: p.media, testid: 'feed-video',
    'aria-label': `Video: ${p.title}`,
  });
  const note = el('p', { class: 'muted small feed-note', role: 'status' });
  video.addEventListener('error', () => { void gone(); }, { once: true });
  signal.addEventListener('abort', () => { video.pause(); video.removeAttribute('src'); video.load(); }, { once: true });

  const li = el('li', { class: 'card feed-post', testid: 'feed-post', 'data-post': p.id });
  const actions = el('div', { class: 'row feed-actions' });

  const gone = async () => {
    // 410: withdrawn by its owner or removed by the operator
    let what = 'This video could not be played in this browser.';
    try {
      const r = await fetch(`/v1/feed/posts/${encodeURIComponent(p.id)}`, { credentials: 'same-origin', signal });
      if (r.status === 410) what = 'This post was withdrawn or removed.';
    } catch { /* keep the generic words */ }
    video.replaceWith(el('div', { class: 'feed-gone' }, what));
  };

  const reportBox = el('div', { class: 'feed-report-box' });
  const report = button('Report', () => {
    if (reportBox.childElementCount) { reportBox.replaceChildren(); return; }
    const reason = el('textarea', { name: 'reason', testid: 'feed-report-reason', rows: 2, maxlength: 500, required: true });
    const err = el('p', { class: 'form-error', role: 'alert', hidden: true });
    const f = el('form', {
      class: 'stack', onsubmit: async (ev: Event) => {
        ev.preventDefault();
        err.hidden = true;
        const send = f.querySelector('button[type=submit]') as HTMLButtonElement;
        send.disabled = true;
        try {
          await reportPost(p.id, reason.value);
          reportBox.replaceChildren(el('p', { class: 'muted small', testid: 'feed-reported' }, 'Reported. An operator will look at it.'));
          report.disabled = true;
        } catch (e) {
          send.disabled = false;
          err.textContent = e instanceof ApiError ? `Reporting failed: ${e.message}` : (e as Error).message;
          err.hidden = false;
        }
      },
    },
    field('Why should an operator look at this post?', reason),
    err,
    el('div', { class: 'row' }, el('button', { type: 'submit', class: 'danger', testid: 'feed-report-send' }, 'Send report'),
      button('Cancel', () => reportBox.replaceChildren(), { class: 'secondary' })));
    reportBox.replaceChildren(f);
    reason.focus();
  }, { class: 'secondary small', testid: 'feed-report' });
  actions.append(report);

  if (mine) {
    const withdraw = button('Withdraw', async () => {
      if (!confirm(`Withdraw "${p.title}"? The public copy is deleted and the post disappears for everyone.`)) return;
      withdraw.disabled = true;
      try {
        await withdrawPost(p.id);
      } catch (err) {
        withdraw.disabled = false;
        if (!(err instanceof ApiError && err.status === 410)) { mount(note, errorFrom(err, 'Withdrawing the post')); return; }
      }
      video.pause();
      video.replaceWith(el('div', { class: 'feed-gone', testid: 'feed-withdrawn' }, 'You withdrew this post. Its public copy is deleted.'));
      actions.replaceChildren();
      reportBox.replaceChildren();
      toast('Post withdrawn.');
      withdrawn();
    }, { class: 'danger small', testid: 'feed-withdraw' });
    actions.append(withdraw);
  }

  li.append(
    el('div', { class: 'card-body' },
      el('div', { class: 'card-title' }, el('h2', { testid: 'feed-title' }, p.title || 'Untitled'),
        el('span', { class: 'feed-badges' },
          el('span', { class: `badge feed-cat feed-cat-${p.category}` }, categoryLabel(p.category)),
          mine ? el('span', { class: 'badge ok' }, 'Yours') : null)),
      el('p', { class: 'muted small' },
        `${p.pseudonym || 'A neighbour'} · ${fmtDateTime(p.created)}`, p.cell ? ` · cell ${p.cell}` : '')),
    video,
    el('div', { class: 'card-body' }, actions, reportBox, note));
  return li;
}
