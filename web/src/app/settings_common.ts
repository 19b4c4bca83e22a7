// Settings (settings_common.ts): the tab bar shared by every settings page, the re-authentication
// prompt sensitive changes need, and the sessions and cameras pages. The
// other pages live beside it: settings_security.ts (password, factors,
// passkeys), settings_household.ts (devices, members, grants) and
// settings_audit.ts (the verified audit log).
//
// Exports (for the settings_*.ts pages):
//   settingsPage(ctx, tab, ...content)       mounts the tab bar and the page
//   withReauth(signal, fn)                   runs fn; on 403 reauth_required asks for password (+ second factor), POST /v1/reauth, retries once
//   ownerOnly(ctx): HTMLElement | null       a note when this device is not an owner's
//   cameraNames(ctx): Promise<Map<id, name>> decrypted camera names (empty on failure)
import { api, ApiError } from '../lib/api';
import type { Camera } from '../lib/household';
import { navigate, route, type Ctx } from './router';
import { checkSession, signOut } from './shell';
import { button, describe, el, emptyState, errorBox, errorFrom, field, fmtDateTime, loading, mount, pageHeader, toast, type Child } from './ui';
import { webauthnGet } from './webauthn';

const tabs: [string, string][] = [
  ['sessions', 'Sessions'], ['security', 'Security'], ['cameras', 'Cameras'], ['devices', 'Devices'],
  ['members', 'Members'], ['grants', 'Support access'], ['audit', 'Audit log'],
  ['notifications', 'Notifications'], // app/push.ts (E)
];

/** settingsPage mounts the settings frame with tab current and the page's content. */
export function settingsPage(ctx: Ctx, tab: string, ...content: Child[]): HTMLElement {
  const body = el('div', { class: 'settings-body' }, ...content);
  mount(ctx.root, el('div', { class: 'settings' },
    el('nav', { class: 'settings-tabs', 'aria-label': 'Settings' }, ...tabs.map(([id, label]) =>
      el('a', { href: '#/settings/' + id, class: id === tab ? 'current' : null, 'aria-current': id === tab ? 'page' : null, testid: 'settings-tab-' + id }, label))),
    body));
  return body;
}

/** ownerOnly explains a page only owner devices can use; null for an owner. */
export function ownerOnly(ctx: Ctx, what: string): HTMLElement | null {
  if (!ctx.household || ctx.household.role === 'owner') return null;
  return emptyState(`Only the household's owners can ${what}.`, 'This browser is a member\'s device: ask an owner of the household.');
}

/** cameraNames maps camera ids to their decrypted names. */
export async function cameraNames(ctx: Ctx): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!ctx.household) return out;
  try {
    for (const c of await ctx.household.cameras()) if (!c.error) out.set(c.id, c.name);
  } catch (err) {
    console.warn('camera names', err);
  }
  return out;
}

// --- re-authentication ---

interface SessionResponse { session_id: string; recovery_codes_left?: number }
interface MFAChallenge { token: string; methods: string[]; passkey?: { publicKey: Record<string, unknown> } }
interface LoginResponse { session?: SessionResponse; mfa?: MFAChallenge }

/** isReauth reports whether err asks for a recent sign-in. */
export function isReauth(err: unknown): boolean {
  return err instanceof ApiError && err.status === 403 && err.code === 'reauth_required';
}

/**
 * withReauth runs fn; when porchlightd answers 403 reauth_required it asks
 * for the password and, if the account has one, the second factor, renews
 * the sign-in (POST /v1/reauth, then /v1/login/mfa) and runs fn once more.
 * It rejects with an AbortError when the person cancels.
 */
export async function withReauth<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isReauth(err)) throw err;
    await reauthenticate(signal, (err as ApiError).message);
    return fn();
  }
}

/** reauthenticate shows the "confirm it is you" dialog until it succeeds or is cancelled. */
export function reauthenticate(signal: AbortSignal, why: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const errLine = el('p', { class: 'form-error', testid: 'reauth-error', role: 'alert', hidden: true });
    const showError = (m: string) => { errLine.textContent = m; errLine.hidden = m === ''; };
    const password = el('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const code = el('input', { name: 'totp', autocomplete: 'one-time-code', required: true, spellcheck: 'false' });
    const submit = el('button', { type: 'submit', testid: 'reauth-submit' }, 'Confirm');
    const cancel = button('Cancel', () => finish(new DOMException('Cancelled', 'AbortError')), { class: 'secondary' });
    const steps = el('div', { class: 'reauth-steps' }, field('Password', password));
    const hint = el('p', { class: 'muted' }, /second factor/.test(why)
      ? 'This needs a sign-in with your second factor in the last 5 minutes: enter your password, then your code.'
      : 'This change needs a recent sign-in: enter your password (and your code, if asked).');
    const form = el('form', { class: 'reauth-form', testid: 'reauth-form' }, hint, steps, errLine, el('div', { class: 'actions' }, submit, cancel));
    const dlg = el('dialog', { class: 'reauth-dialog', testid: 'reauth-dialog', 'aria-label': 'Confirm it is you' },
      el('h2', null, 'Confirm it is you'), form);
    let mfa: MFAChallenge | null = null;
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (dlg.open) dlg.close();
      dlg.remove();
      if (err) reject(err); else resolve();
    };
    const onAbort = () => finish(new DOMException('Cancelled', 'AbortError'));
    signal.addEventListener('abort', onAbort);
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); finish(new DOMException('Cancelled', 'AbortError')); });
    const busy = (b: boolean) => { submit.disabled = b; password.disabled = b || mfa !== null; code.disabled = b; };

    const askFactor = (ch: MFAChallenge) => {
      mfa = ch;
      password.disabled = true;
      const totpOK = ch.methods.includes('totp') || ch.methods.includes('recovery_code');
      const passkeyOK = ch.methods.includes('passkey') && !!ch.passkey && 'PublicKeyCredential' in window;
      if (totpOK) steps.append(field(ch.methods.includes('totp') ? 'Code from your authenticator app (or a recovery code)' : 'A recovery code', code));
      if (passkeyOK) steps.append(button('Use your passkey', () => { void answer(true); }, { class: 'secondary', testid: 'reauth-passkey' }));
      if (totpOK) code.focus();
      else if (passkeyOK) void answer(true);
    };

    const answer = async (passkey: boolean) => {
      if (!mfa) return;
      busy(true);
      showError('');
      try {
        const body: Record<string, unknown> = { token: mfa.token, cookie: true };
        if (passkey) body.passkey = await webauthnGet(mfa.passkey!.publicKey, signal);
        else {
          const v = code.value.trim().replace(/\s+/g, '');
          if (/^\d{6}$/.test(v)) body.code = v; else body.recovery_code = v;
        }
        const s = await api<SessionResponse>('POST', '/v1/login/mfa', body, { signal });
        if (s?.recovery_codes_left !== undefined) toast(`You used a recovery code: ${s.recovery_codes_left} left. Make new ones under Security.`);
        finish();
      } catch (err) {
        busy(false);
        if (err instanceof ApiError && err.status === 401) {
          // The challenge ended (too many wrong answers or expired): start over.
          showError('That did not work and the confirmation ended. Enter your password again.');
          mfa = null;
          password.disabled = false;
          password.value = '';
          steps.replaceChildren(field('Password', password));
          password.focus();
          void checkSession();
          return;
        }
        showError(problem(err));
      }
    };

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (mfa) { void answer(false); return; }
      void (async () => {
        busy(true);
        showError('');
        try {
          const r = await api<LoginResponse>('POST', '/v1/reauth', { password: password.value }, { signal });
          if (r?.mfa) { busy(false); askFactor(r.mfa); return; }
          finish();
        } catch (err) {
          busy(false);
          if (err instanceof ApiError && err.status === 401) { finish(err); void checkSession(); return; }
          showError(problem(err));
          password.select();
        }
      })();
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    password.focus();
  });
}

function problem(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'wrong_password') return 'The password is wrong. Try again.';
    if (err.status === 429) return 'Too many wrong attempts. Wait a few minutes, then try again.';
    if (err.status === 403 && /code/i.test(err.message)) return 'That code is wrong or expired. Enter the current one.';
    return err.message;
  }
  if (err instanceof DOMException && (err.name === 'NotAllowedError' || err.name === 'AbortError')) return 'The passkey request was cancelled or timed out. Try again.';
  if (err instanceof TypeError) return 'Porchlight could not be reached. Check your connection and try again.';
  return err instanceof Error ? err.message : String(err);
}

// --- WebAuthn JSON <-> binary (go-webauthn speaks base64url in JSON) ---

// --- sessions ---

interface SessionInfo {
  id: string; device_name: string; client: string; address_prefix: string;
  created_at: string; last_used: string; expires_at: string; current: boolean;
}

route('/settings', 'Settings', () => navigate('/settings/sessions', { replace: true }), { access: 'session' });

route('/settings/sessions', 'Sessions', async (ctx: Ctx) => {
  const body = settingsPage(ctx, 'sessions', loading('Loading your sessions…'));
  const draw = async () => {
    let list: SessionInfo[];
    try {
      list = (await api<{ sessions: SessionInfo[] | null }>('GET', '/v1/sessions', undefined, { signal: ctx.signal })).sessions ?? [];
    } catch (err) {
      if (ctx.signal.aborted) return;
      mount(body, errorFrom(err, 'Loading your sessions', () => { void draw(); }));
      return;
    }
    if (ctx.signal.aborted) return;
    list.sort((a, b) => Number(b.current) - Number(a.current) || Date.parse(b.last_used) - Date.parse(a.last_used));
    const others = list.filter((s) => !s.current);
    const revokeOthers = button('Sign out all other sessions', () => {
      void act(revokeOthers, async () => {
        const r = await withReauth(ctx.signal, () => api<{ revoked: number }>('POST', '/v1/sessions/revoke-others', undefined, { signal: ctx.signal }));
        toast(r.revoked === 1 ? 'Signed out 1 other session.' : `Signed out ${r.revoked} other sessions.`);
        await draw();
      });
    }, { class: 'danger', testid: 'session-revoke-others', disabled: others.length === 0 });
    mount(body,
      pageHeader('Sessions', revokeOthers),
      el('p', { class: 'muted' }, 'Everywhere your account is signed in. Sign out any you do not recognise, then change your password.'),
      list.length === 0 ? emptyState('No sessions.', 'Reload the page.') :
        el('ul', { class: 'settings-list' }, ...list.map((s) => el('li', { class: 'settings-item', testid: 'session-item', 'data-session': s.id },
          el('div', { class: 'item-main' },
            el('strong', null, s.device_name || 'Unnamed device'), s.current ? el('span', { class: 'badge', testid: 'session-current' }, 'this browser') : null,
            el('div', { class: 'muted' }, [s.client, s.address_prefix].filter(Boolean).join(' · ') || 'unknown client'),
            el('div', { class: 'muted small' }, `Signed in ${fmtDateTime(new Date(s.created_at))} · last used ${fmtDateTime(new Date(s.last_used))}`)),
          s.current
            ? button('Sign out', () => { void signOut(); }, { class: 'secondary' })
            : revokeButton(s)))));
  };
  const revokeButton = (s: SessionInfo): HTMLButtonElement => {
    const b: HTMLButtonElement = button('Sign out', () => {
      void act(b, async () => {
        await withReauth(ctx.signal, () => api('DELETE', '/v1/sessions/' + encodeURIComponent(s.id), undefined, { signal: ctx.signal }));
        toast(`Signed out ${s.device_name || 'the session'}.`);
        await draw();
      });
    }, { class: 'danger', testid: 'session-revoke', 'aria-label': `Sign out ${s.device_name || 'session'}` });
    return b;
  };
  await draw();
}, { access: 'session' });

/**
 * act disables b while f runs. A failure shows as an error box (what
 * happened, what to do) at the top of the settings page, and as a toast.
 */
export async function act(b: HTMLButtonElement | null, f: () => Promise<void>): Promise<void> {
  const host = b?.closest('.settings-body');
  host?.querySelector(':scope > .action-error')?.remove();
  if (b) b.disabled = true;
  try {
    await f();
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') return;
    if (err instanceof ApiError && err.status === 401) { void checkSession(); return; }
    const d = describe(err);
    toast(`${d.what} ${d.todo}`.trim(), 'error');
    if (host?.isConnected) {
      const box: HTMLElement = el('div', { class: 'action-error' }, errorBox(d.what, d.todo), button('Dismiss', () => box.remove(), { class: 'secondary small' }));
      host.prepend(box);
    }
  } finally {
    if (b && b.isConnected) b.disabled = false;
  }
}

// --- cameras ---

interface APICamera { id: string; hub_id: string; retention_days: number; created_at: string; last_upload?: string }

route('/settings/cameras', 'Cameras', async (ctx: Ctx) => {
  const body = settingsPage(ctx, 'cameras', loading('Loading your cameras…'));
  const denied = ownerOnly(ctx, 'change camera settings');
  if (denied) { mount(body, pageHeader('Cameras'), denied); return; }
  const h = ctx.household!;
  const draw = async () => {
    let cams: APICamera[];
    let info: Map<string, Camera>;
    try {
      // Retention comes fresh from porchlightd; names are decrypted by the household.
      [cams, info] = await Promise.all([
        api<{ cameras: APICamera[] | null }>('GET', '/v1/cameras', undefined, { signal: ctx.signal }).then((r) => r.cameras ?? []),
        h.cameras().then((cs) => new Map(cs.map((c) => [c.id, c]))),
      ]);
    } catch (err) {
      if (ctx.signal.aborted) return;
      mount(body, pageHeader('Cameras'), errorFrom(err, 'Loading your cameras', () => { void draw(); }));
      return;
    }
    if (ctx.signal.aborted) return;
    const hubName = (id: string) => h.roster.entries.find((e) => e.id === id)?.name || id;
    mount(body, pageHeader('Cameras'),
      el('p', { class: 'muted' }, 'Names are decrypted in this browser; porchlightd only knows the ids. Retention is how long recordings are kept (0 keeps them forever).'),
      cams.length === 0 ? emptyState('No cameras yet.', 'Claim a hub with `porchlight hub claim` and start it with --camera NAME=rtsp://…') :
        el('ul', { class: 'settings-list' }, ...cams.map((c) => {
          const days = el('input', { type: 'number', min: 0, max: 3650, step: 1, value: c.retention_days, testid: 'camera-retention', 'aria-label': 'Retention in days' });
          const save: HTMLButtonElement = button('Save', () => {
            const n = Number(days.value);
            if (!Number.isInteger(n) || n < 0) { toast('Retention is a whole number of days, 0 or more.', 'error'); return; }
            void act(save, async () => {
              await api('PATCH', '/v1/cameras/' + encodeURIComponent(c.id), { retention_days: n }, { signal: ctx.signal });
              toast(n === 0 ? 'Recordings of this camera are now kept forever.' : `Recordings of this camera are now kept ${n} day${n === 1 ? '' : 's'}.`);
              await draw();
            });
          }, { testid: 'camera-retention-save' });
          const ci = info.get(c.id);
          const on = ci?.online;
          return el('li', { class: 'settings-item', testid: 'camera-row', 'data-camera': c.id },
            el('div', { class: 'item-main' },
              el('strong', null, !ci ? '(name not readable on this device)' : ci.error ? '(could not be verified)' : ci.name),
              ci?.error ? el('div', { class: 'form-error small' }, ci.error) : null,
              on === undefined ? null : el('span', { class: on ? 'badge ok' : 'badge' }, on ? 'online' : 'offline'),
              el('div', { class: 'muted small' }, `Hub ${hubName(c.hub_id)} · id ${c.id}`),
              el('div', { class: 'muted small' }, c.last_upload ? `Last upload ${fmtDateTime(new Date(c.last_upload))}` : 'No upload yet'),
              el('a', { href: '#/settings/zones/' + encodeURIComponent(c.id), testid: 'camera-zones' }, 'Zones: where it alerts')),
            el('form', { class: 'inline-form', onsubmit: (ev: Event) => { ev.preventDefault(); save.click(); } },
              field('Keep recordings (days)', days), save));
        })));
  };
  await draw();
});
