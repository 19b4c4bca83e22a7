// Pairing page (#/pair): this browser asks to join the household. It shows
// a code and the short authentication string; an owner device approves with
// `porchlight device approve CODE` after checking the string matches. The
// page waits until the verified roster lists this browser.
import { startPairing } from '../lib/pair';
import { route, type Ctx } from './router';
import { paired, signOutButton } from './shell';
import { button, el, errorFrom, fmtDuration, loading, mount } from './ui';

route('/pair', 'Add this browser', (ctx: Ctx) => {
  let cancel: (() => void) | null = null;
  ctx.signal.addEventListener('abort', () => cancel?.(), { once: true });

  const begin = async () => {
    cancel?.();
    cancel = null;
    mount(ctx.root, loading('Asking Porchlight for a pairing code…'));
    let p: Awaited<ReturnType<typeof startPairing>>;
    try {
      p = await startPairing(ctx.device);
    } catch (err) {
      if (ctx.signal.aborted) return;
      mount(ctx.root, el('div', { class: 'narrow' }, errorFrom(err, 'Starting pairing', () => { void begin(); }), signOutButton()));
      return;
    }
    if (ctx.signal.aborted) { p.cancel(); return; }
    cancel = p.cancel;

    const status = el('p', { class: 'pair-status', testid: 'pair-status', role: 'status', 'aria-live': 'polite' },
      'Waiting for an owner device to approve…');
    const left = el('span', { class: 'muted' });
    const command = `porchlight device approve ${p.code}`;
    const copy = 'clipboard' in navigator ? button('Copy command', () => {
      navigator.clipboard.writeText(command).then(() => { copy!.textContent = 'Copied'; }, () => { copy!.textContent = 'Copy failed: select the text'; });
    }, { class: 'secondary small' }) : null;

    mount(ctx.root, el('section', { class: 'narrow card pair' },
      el('h1', null, 'Add this browser to your household'),
      el('p', null, 'This browser has its own key. It can show your video only once a device that is already yours adds it.'),
      el('div', { class: 'pair-grid' },
        el('div', null, el('div', { class: 'pair-label', id: 'pair-code-label' }, 'Pairing code'),
          el('div', { class: 'pair-code', testid: 'pair-code', 'aria-labelledby': 'pair-code-label' }, p.code)),
        el('div', null, el('div', { class: 'pair-label', id: 'pair-sas-label' }, 'Check digits'),
          el('div', { class: 'pair-sas', testid: 'pair-sas', 'aria-labelledby': 'pair-sas-label' }, p.sas))),
      el('ol', { class: 'steps' },
        el('li', null, 'On a device that is already yours run:', el('pre', { class: 'cmd' }, el('code', null, command)), copy),
        el('li', null, 'Check it shows the same digits: ', el('strong', null, p.sas), '. If they differ, do not approve: someone may be trying to add their own key.'),
        el('li', null, 'Approve there. This page continues by itself.')),
      status,
      el('div', { class: 'row' }, left,
        button('Cancel', () => { cancel?.(); cancel = null; status.textContent = 'Cancelled.'; mount(actions, button('Get a new code', () => { void begin(); }, { class: 'primary' }), signOutButton()); }, { class: 'secondary' })),
      actions));

    const tick = () => {
      const ms = p.expiresAt.getTime() - Date.now();
      left.textContent = ms > 0 ? `Code expires in ${fmtDuration(ms)}` : 'Code expired';
    };
    tick();
    const timer = setInterval(tick, 1000);
    ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });

    try {
      await p.done;
      clearInterval(timer);
      if (ctx.signal.aborted) return;
      status.textContent = 'Approved. Opening your household…';
      await paired();
    } catch (err) {
      clearInterval(timer);
      if (ctx.signal.aborted || cancel === null) return;
      status.textContent = Date.now() >= p.expiresAt.getTime() ? 'The code expired before it was approved.' : 'Pairing stopped.';
      mount(actions, errorFrom(err, 'Pairing'), button('Get a new code', () => { void begin(); }, { class: 'primary' }));
    }
  };
  const actions = el('div', { class: 'row' });
  void begin();
}, { access: 'session' });
