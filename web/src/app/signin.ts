// Sign-in page (#/signin): email + password, then a second factor when the
// account has one (TOTP code, recovery code or passkey); or passwordless with
// a discoverable passkey. The session comes back as the __Host- cookie.
import { api, ApiError } from '../lib/api';
import { rerender, route, type Ctx } from './router';
import { deviceName, signedIn, takeSignedOutNotice } from './shell';
import { button, el, field, mount, toast } from './ui';
import { webauthnGet } from './webauthn';

interface SessionResponse { session_id: string; role: string; device_token?: string; recovery_codes_left?: number }
interface MFAChallenge { token: string; methods: string[]; passkey?: { publicKey: Record<string, unknown> }; expires_at: string }
interface LoginResponse { session?: SessionResponse; mfa?: MFAChallenge }
interface PasskeyBegin { token: string; options: { publicKey: Record<string, unknown> } }

const tokenKey = (email: string) => 'porchlight.device-token.' + email.trim().toLowerCase();

function deviceToken(email: string): string | undefined {
  try { return localStorage.getItem(tokenKey(email)) ?? undefined; } catch { return undefined; }
}

function keepDeviceToken(email: string, s: SessionResponse): void {
  if (!s.device_token) return;
  try { localStorage.setItem(tokenKey(email), s.device_token); } catch { /* storage refused: only the new-device alert is lost */ }
}

/** loginProblem turns a failed sign-in into words that say what to do. */
export function loginProblem(err: unknown, step: 'password' | 'factor' = 'password'): string {
  if (err instanceof ApiError) {
    if (err.status === 429 || err.code === 'rate_limited') {
      const m = /wait (\d+) seconds/.exec(err.message);
      const mins = m ? Math.max(1, Math.ceil(Number(m[1]) / 60)) : 0;
      return mins ? `Too many failed attempts. Try again in ${mins} minute${mins === 1 ? '' : 's'}.`
        : 'Too many failed attempts. Wait a few minutes, then try again.';
    }
    if (err.code === 'account_disabled') return 'This account is disabled. Contact whoever runs your Porchlight service.';
    if (err.status === 401) {
      return step === 'password' ? 'Wrong email or password. Check them and try again.'
        : 'That was not accepted. Check the code (it changes every 30 seconds) and try again.';
    }
    if (err.status === 0 || err.status >= 500) return 'Porchlight could not sign you in right now. Try again in a minute.';
    return err.message;
  }
  if (err instanceof DOMException && (err.name === 'NotAllowedError' || err.name === 'AbortError')) {
    return 'The passkey request was cancelled or timed out. Try again, or use your password.';
  }
  if (err instanceof TypeError) return 'Porchlight could not be reached. Check your connection and try again.';
  return err instanceof Error ? err.message : String(err);
}

route('/signin', 'Sign in', (ctx: Ctx) => {
  const banner = takeSignedOutNotice();
  const errorLine = el('p', { class: 'form-error', testid: 'signin-error', role: 'alert', hidden: true });
  const showError = (msg: string) => { errorLine.textContent = msg; errorLine.hidden = msg === ''; };

  const email = el('input', { name: 'email', type: 'email', autocomplete: 'username webauthn', required: true });
  const password = el('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = el('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = el('form', { class: 'card form', testid: 'signin-form', novalidate: true },
    el('h1', null, 'Sign in to Porchlight'),
    banner ? el('p', { class: 'banner', testid: 'signed-out', role: 'status' }, banner) : null,
    field('Email', email), field('Password', password), errorLine, submit);

  const passkeyButton = 'PublicKeyCredential' in window
    ? button('Sign in with a passkey', () => { void passwordless(); }, { class: 'secondary wide' }) : null;

  const alt = passkeyButton ? el('div', { class: 'alt' }, el('p', { class: 'muted' }, 'or'), passkeyButton) : null;
  mount(ctx.root, el('div', { class: 'narrow' }, form, alt,
    el('p', { class: 'muted small' }, 'Your video is decrypted in this browser with a key that never leaves it.')));
  email.focus();

  let busy = false;
  const setBusy = (b: boolean) => {
    busy = b;
    for (const c of form.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')) c.disabled = b;
    if (passkeyButton) passkeyButton.disabled = b;
  };

  const finish = async (s: SessionResponse) => {
    keepDeviceToken(email.value, s);
    await signedIn();
    if (s.recovery_codes_left !== undefined) {
      const n = s.recovery_codes_left;
      toast(`You used a recovery code: ${n} left.${n <= 3 ? ' Make new ones in Settings → Security.' : ''}`, n <= 3 ? 'error' : 'info');
    }
  };

  let onSubmit = passwordStep;
  form.addEventListener('submit', (ev) => { ev.preventDefault(); onSubmit(); });

  function passwordStep() {
    if (busy) return;
    if (!email.value.trim() || !password.value) { showError('Enter your email and password.'); return; }
    showError('');
    setBusy(true);
    void (async () => {
      try {
        const res = await api<LoginResponse>('POST', '/v1/login', {
          email: email.value.trim(), password: password.value, device_name: deviceName(),
          device_id: ctx.device.id, device_token: deviceToken(email.value), cookie: true,
        }, { signal: ctx.signal });
        if (res.session) { await finish(res.session); return; }
        if (res.mfa) {
          setBusy(false); // the second step has its own controls (and may start the passkey prompt at once)
          secondStep(res.mfa);
          return;
        }
        throw new Error('Porchlight answered the sign-in with neither a session nor a challenge: reload and try again.');
      } catch (err) {
        if (ctx.signal.aborted) return;
        showError(loginProblem(err));
        password.select();
      }
      if (!ctx.signal.aborted && onSubmit === passwordStep) setBusy(false);
    })();
  }

  // Second step: replace the password fields with the factor fields, keep the same form.
  function secondStep(mfa: MFAChallenge) {
    if (alt) alt.hidden = true;
    const totpOK = mfa.methods.includes('totp');
    const recoveryOK = mfa.methods.includes('recovery_code');
    const passkeyOK = mfa.methods.includes('passkey') && !!mfa.passkey && 'PublicKeyCredential' in window;
    let useRecovery = !totpOK && recoveryOK;
    const code = el('input', { name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9 ]*', maxlength: '8', required: true });
    const recovery = el('input', { name: 'recovery_code', autocomplete: 'off', spellcheck: 'false' });
    const codeField = field('6-digit code from your authenticator app', code);
    const recoveryField = field('Recovery code', recovery);
    const toggle = recoveryOK && totpOK ? button('Use a recovery code instead', () => {
      useRecovery = !useRecovery;
      codeField.hidden = useRecovery; recoveryField.hidden = !useRecovery;
      toggle!.textContent = useRecovery ? 'Use your authenticator app instead' : 'Use a recovery code instead';
      (useRecovery ? recovery : code).focus();
    }, { class: 'linklike' }) : null;
    codeField.hidden = !totpOK || useRecovery;
    recoveryField.hidden = !useRecovery;
    const passkey = passkeyOK ? button('Use your passkey', () => { void answer({ passkey: true }); }, { class: 'secondary wide' }) : null;
    const verify = el('button', { type: 'submit', class: 'primary' }, 'Verify');
    const back = button('Start over', () => rerender(), { class: 'linklike' });
    mount(form,
      el('h1', null, 'Confirm it is you'),
      el('p', { class: 'muted' }, totpOK || recoveryOK ? 'Your password was right. Now enter your second factor.' : 'Your password was right. Now use your passkey.'),
      totpOK || recoveryOK ? [codeField, recoveryField, errorLine, verify, toggle] : errorLine,
      passkey, back);
    onSubmit = () => { void answer({}); };
    (totpOK && !useRecovery ? code : useRecovery ? recovery : passkey)?.focus();
    if (!totpOK && !recoveryOK && passkeyOK) void answer({ passkey: true });

    async function answer(how: { passkey?: boolean }) {
      if (busy) return;
      const body: Record<string, unknown> = {
        token: mfa.token, device_name: deviceName(), device_id: ctx.device.id, device_token: deviceToken(email.value), cookie: true,
      };
      if (how.passkey) {
        // filled below, after the authenticator answers
      } else if (useRecovery) {
        if (!recovery.value.trim()) { showError('Enter one of your recovery codes.'); return; }
        body.recovery_code = recovery.value.trim();
      } else {
        const c = code.value.replace(/\s/g, '');
        if (!/^\d{6,8}$/.test(c)) { showError('Enter the 6-digit code your authenticator app shows now.'); return; }
        body.code = c;
      }
      showError('');
      busy = true;
      const controls = form.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button');
      controls.forEach((c) => { c.disabled = true; });
      try {
        if (how.passkey) body.passkey = await webauthnGet(mfa.passkey!.publicKey, ctx.signal);
        const s = await api<SessionResponse>('POST', '/v1/login/mfa', body, { signal: ctx.signal });
        await finish(s);
      } catch (err) {
        if (ctx.signal.aborted) return;
        showError(err instanceof ApiError && err.status === 401 && /expired|start again|sign in again/i.test(err.message)
          ? 'This sign-in took too long or had too many wrong codes. Start over.' : loginProblem(err, 'factor'));
        code.select();
      } finally {
        busy = false;
        if (!ctx.signal.aborted) controls.forEach((c) => { c.disabled = false; });
      }
    }
  }

  async function passwordless() {
    if (busy) return;
    showError('');
    setBusy(true);
    try {
      const begin = await api<PasskeyBegin>('POST', '/v1/login/passkey/begin', {}, { signal: ctx.signal });
      const credential = await webauthnGet(begin.options.publicKey, ctx.signal);
      // The session is bound to this browser's device (live views are
      // encrypted to it; it ends when the device leaves the roster).
      const s = await api<SessionResponse>('POST', '/v1/login/passkey/finish', {
        token: begin.token, credential, device_name: deviceName(), device_id: ctx.device.id, device_token: deviceToken(email.value), cookie: true,
      }, { signal: ctx.signal });
      await finish(s);
    } catch (err) {
      if (!ctx.signal.aborted) showError(loginProblem(err));
    } finally {
      if (!ctx.signal.aborted) setBusy(false);
    }
  }
}, { access: 'none' });
