// Settings → Security: change the password, add or remove an authenticator
// app (TOTP), make new recovery codes, and list, add or remove passkeys. A
// new passkey whose authenticator supports the WebAuthn PRF extension can
// also protect this browser's device keys (lib/device.ts wraps them).
// Every change here needs a recent sign-in: withReauth asks for it.
import { api, ApiError } from '../lib/api';
import { deviceProtection, protectDeviceWithPasskey } from '../lib/device';
import { drawQR } from './settings_qr';
import { route, type Ctx } from './router';
import type { Me } from './shell';
import { act, settingsPage, withReauth } from './settings_common';
import { webauthnCreate } from './webauthn';
import { button, el, emptyState, errorFrom, field, fmtDateTime, loading, mount, pageHeader, toast, type Child } from './ui';

interface Passkey { id: string; name: string; created_at: string; last_used?: string }
interface TOTPSetup { secret: string; uri: string }
interface RecoveryCodes { codes: string[] }
interface PasskeyBegin { token: string; options: { publicKey: Record<string, unknown> } }

route('/settings/security', 'Security', async (ctx: Ctx) => {
  const body = settingsPage(ctx, 'security', loading('Loading your security settings…'));
  const draw = async () => {
    let m: Me;
    let keys: Passkey[];
    let protection: string;
    try {
      [m, keys, protection] = await Promise.all([
        api<Me>('GET', '/v1/me', undefined, { signal: ctx.signal }),
        api<{ passkeys: Passkey[] | null }>('GET', '/v1/me/passkeys', undefined, { signal: ctx.signal }).then((r) => r.passkeys ?? []),
        deviceProtection().catch(() => 'unknown'),
      ]);
    } catch (err) {
      if (ctx.signal.aborted) return;
      mount(body, errorFrom(err, 'Loading your security settings', () => { void draw(); }));
      return;
    }
    if (ctx.signal.aborted) return;
    mount(body, pageHeader('Security'),
      el('p', { class: 'muted' }, `Signed in as ${m.email}. Changing your password or a second factor signs out your other sessions.`),
      passwordSection(ctx),
      totpSection(ctx, m, draw),
      recoverySection(ctx, m),
      passkeySection(ctx, keys, protection, draw));
  };
  await draw();
}, { access: 'session' });

function section(title: string, testid: string, ...content: Child[]): HTMLElement {
  return el('section', { class: 'settings-section', testid }, el('h2', null, title), ...content);
}

function passwordSection(ctx: Ctx): HTMLElement {
  const pw = el('input', { name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  const again = el('input', { name: 'new_password_again', type: 'password', autocomplete: 'new-password', required: true });
  const msg = el('p', { class: 'form-error', role: 'alert', testid: 'password-error', hidden: true });
  const submit = el('button', { type: 'submit', testid: 'password-save' }, 'Change password');
  const form = el('form', { class: 'stack' }, field('New password', pw, 'A long passphrase is best: several unrelated words.'), field('New password again', again), msg, submit);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    msg.hidden = true;
    if (pw.value !== again.value) { msg.textContent = 'The two passwords differ. Type the same one twice.'; msg.hidden = false; return; }
    void act(submit, async () => {
      try {
        await withReauth(ctx.signal, () => api('POST', '/v1/me/password', { new_password: pw.value }, { signal: ctx.signal }));
      } catch (err) {
        if (err instanceof ApiError && (err.code === 'weak_password' || err.status === 400)) {
          msg.textContent = err.message; msg.hidden = false; return;
        }
        throw err;
      }
      pw.value = ''; again.value = '';
      toast('Password changed. Your other sessions were signed out.');
    });
  });
  return section('Password', 'security-password', form);
}

function totpSection(ctx: Ctx, m: Me, redraw: () => Promise<void>): HTMLElement {
  const box = el('div');
  if (m.totp) {
    const remove: HTMLButtonElement = button('Remove authenticator app', () => {
      void act(remove, async () => {
        await withReauth(ctx.signal, () => api('DELETE', '/v1/me/totp', undefined, { signal: ctx.signal }));
        toast('Authenticator app removed. Your other sessions were signed out.');
        await redraw();
      });
    }, { class: 'danger', testid: 'totp-remove' });
    mount(box, el('p', null, 'An authenticator app is set up: sign-ins ask for its 6-digit code.'), remove);
  } else {
    const add: HTMLButtonElement = button('Add an authenticator app', () => {
      void act(add, async () => {
        const s = await withReauth(ctx.signal, () => api<TOTPSetup>('POST', '/v1/me/totp', undefined, { signal: ctx.signal }));
        mount(box, totpConfirm(ctx, s, box, redraw));
      });
    }, { testid: 'totp-add' });
    mount(box, el('p', null, 'No authenticator app. Add one so that a stolen password is not enough to sign in.'), add);
  }
  return section('Authenticator app', 'security-totp', box);
}

function totpConfirm(ctx: Ctx, s: TOTPSetup, box: HTMLElement, redraw: () => Promise<void>): HTMLElement {
  const canvas = el('canvas', { class: 'qr', testid: 'totp-qr', 'aria-label': 'QR code of the authenticator link' });
  let qrOK = true;
  try { drawQR(canvas, s.uri); } catch { qrOK = false; }
  const code = el('input', { name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', required: true, maxlength: 6 });
  const submit = el('button', { type: 'submit', testid: 'totp-confirm' }, 'Confirm');
  const form = el('form', { class: 'stack' },
    el('ol', null,
      el('li', null, qrOK ? 'Scan this code with your authenticator app, or type the secret below into it.' : 'Type the secret below into your authenticator app.'),
      el('li', null, 'Enter the 6-digit code it shows.')),
    qrOK ? canvas : null,
    el('dl', { class: 'kv' },
      el('dt', null, 'Secret'), el('dd', null, el('code', { testid: 'totp-secret' }, s.secret.replace(/(.{4})/g, '$1 ').trim())),
      el('dt', null, 'Link'), el('dd', null, el('code', { class: 'wrap', testid: 'totp-uri' }, s.uri))),
    field('Code', code),
    el('div', { class: 'row' }, submit, button('Cancel', () => { void redraw(); }, { class: 'secondary' })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void act(submit, async () => {
      const r = await withReauth(ctx.signal, () => api<RecoveryCodes>('POST', '/v1/me/totp/confirm', { code: code.value.trim() }, { signal: ctx.signal }));
      toast('Authenticator app added. Your other sessions were signed out.');
      mount(box, showCodes(r.codes, 'Your authenticator app is set up. Keep these recovery codes somewhere safe: each works once in place of a code if you lose the app. They are shown only now.'),
        button('Done', () => { void redraw(); }));
    });
  });
  return form;
}

function showCodes(codes: string[], text: string): HTMLElement {
  return el('div', { class: 'recovery-codes', testid: 'recovery-codes' },
    el('p', null, text),
    el('ul', { class: 'codes' }, ...codes.map((c) => el('li', null, el('code', null, c)))),
    button('Copy', () => {
      navigator.clipboard?.writeText(codes.join('\n')).then(() => toast('Copied.'), () => toast('Copying failed: select the codes and copy them.', 'error'));
    }, { class: 'secondary' }));
}

function recoverySection(ctx: Ctx, m: Me): HTMLElement {
  const box = el('div');
  const renew: HTMLButtonElement = button('Make new recovery codes', () => {
    void act(renew, async () => {
      const r = await withReauth(ctx.signal, () => api<RecoveryCodes>('POST', '/v1/me/recovery-codes', undefined, { signal: ctx.signal }));
      mount(box, showCodes(r.codes, 'Your new recovery codes. The old ones no longer work. Keep these somewhere safe: they are shown only now.'));
    });
  }, { testid: 'recovery-renew', disabled: !m.totp && m.passkeys === 0 });
  mount(box,
    el('p', null, m.totp || m.passkeys > 0
      ? `${m.recovery_codes_left} recovery code${m.recovery_codes_left === 1 ? '' : 's'} left. Each works once in place of your second factor.`
      : 'Recovery codes come with a second factor: add an authenticator app or a passkey first.'),
    renew);
  return section('Recovery codes', 'security-recovery', box);
}

function passkeySection(ctx: Ctx, keys: Passkey[], protection: string, redraw: () => Promise<void>): HTMLElement {
  const supported = 'PublicKeyCredential' in window && !!navigator.credentials;
  const name = el('input', { name: 'passkey_name', required: true, maxlength: 64, value: defaultPasskeyName() });
  const submit = el('button', { type: 'submit', testid: 'passkey-add', disabled: !supported }, 'Add a passkey');
  const form = el('form', { class: 'inline-form' }, field('Name', name), submit);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void act(submit, async () => {
      const begin = await withReauth(ctx.signal, () => api<PasskeyBegin>('POST', '/v1/me/passkeys/begin', {}, { signal: ctx.signal }));
      const made = await webauthnCreate(begin.options.publicKey, ctx.signal);
      await api('POST', '/v1/me/passkeys/finish', { token: begin.token, name: name.value.trim(), credential: made.json }, { signal: ctx.signal });
      toast('Passkey added. Your other sessions were signed out.');
      await redraw();
      if (made.prf && protection === 'none' && ctx.device) {
        offerProtection(ctx, made.rawId, rpIdOf(begin.options.publicKey));
      } else if (!made.prf) {
        toast('This passkey cannot protect this browser\'s keys (its authenticator lacks the PRF extension); it still signs you in.');
      }
    });
  });
  const list = keys.length === 0 ? emptyState('No passkeys.', 'A passkey signs you in with your fingerprint, face or security key instead of a password and code.')
    : el('ul', { class: 'settings-list' }, ...keys.map((k) => {
      const remove: HTMLButtonElement = button('Remove', () => {
        void act(remove, async () => {
          await withReauth(ctx.signal, () => api('DELETE', '/v1/me/passkeys/' + encodeURIComponent(k.id), undefined, { signal: ctx.signal }));
          toast(`Passkey ${k.name} removed.`);
          await redraw();
        });
      }, { class: 'danger', testid: 'passkey-remove', 'aria-label': `Remove passkey ${k.name}` });
      return el('li', { class: 'settings-item', testid: 'passkey-item' },
        el('div', { class: 'item-main' }, el('strong', null, k.name || 'Passkey'),
          el('div', { class: 'muted small' }, `Added ${fmtDateTime(new Date(k.created_at))}` + (k.last_used ? ` · last used ${fmtDateTime(new Date(k.last_used))}` : ' · never used'))),
        remove);
    }));
  return section('Passkeys', 'security-passkeys',
    list,
    supported ? form : el('p', { class: 'muted' }, 'This browser cannot make passkeys.'),
    el('p', { class: 'muted small', testid: 'device-protection' }, protection === 'passkey'
      ? 'This browser\'s device keys are protected by a passkey: opening Porchlight asks for it.'
      : 'This browser\'s device keys are stored unprotected in this site\'s storage. Adding a passkey whose authenticator supports PRF lets you protect them.'));
}

/** offerProtection asks whether to wrap this browser's keys under the new passkey. */
function offerProtection(ctx: Ctx, rawId: Uint8Array, rpId?: string): void {
  const yes: HTMLButtonElement = button('Protect this browser\'s keys with it', () => {
    void act(yes, async () => {
      const ok = await protectDeviceWithPasskey(ctx.device, rawId, rpId);
      note.remove();
      toast(ok ? 'This browser\'s keys are now protected by your passkey.' : 'The passkey did not give a PRF output: the keys stay as they were.', ok ? 'info' : 'error');
    });
  }, { testid: 'passkey-protect' });
  const note = el('div', { class: 'notice', role: 'status' },
    el('p', null, 'Your new passkey can also protect the keys that decrypt your video in this browser: opening Porchlight will then ask for the passkey.'),
    yes, button('Not now', () => note.remove(), { class: 'secondary' }));
  ctx.root.querySelector('[data-testid="security-passkeys"]')?.append(note);
}

function rpIdOf(pk: Record<string, unknown>): string | undefined {
  const rp = pk.rp as { id?: string } | undefined;
  return rp?.id || undefined;
}

function defaultPasskeyName(): string {
  return `Passkey ${new Date().toISOString().slice(0, 10)}`;
}
