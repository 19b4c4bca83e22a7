// The app shell: the frame around every page (nav, main area), the boot
// sequence (device key → session → household), the session watch that signs
// the page out within a second of its session ending, and sign-out.
//
// Exports:
//   boot(): Promise<void>                    main.ts calls it once, after every page module registered its routes
//   signedIn(): Promise<void>                the sign-in page calls it after a session was made (cookie set)
//   paired(): Promise<void>                  the pairing page calls it once the roster lists this browser
//   signOut(): Promise<void>                 the Sign out link (POST /v1/logout, then tear down)
//   sessionEnded(): void                     tear down and show sign-in with "Your session ended"
//   onSignOut(fn): () => void                run fn at every teardown (close sockets, forget state); returns unsubscribe
//   takeSignedOutNotice(): string | null     the banner text the sign-in page shows once
//   me(): Me | null                          GET /v1/me of the current session
//   checkSession(): Promise<void>           GET /v1/me; 401 → sessionEnded() (pages call it on a 401 or a live close 4001)
//   deviceName(): string                     what this browser calls itself ("Chrome on Linux")
import { api, ApiError } from '../lib/api';
import { deviceProtection, loadOrCreateDevice, type Device } from '../lib/device';
import { Household } from '../lib/household';
import { href, navigate, rerender, start, stopCurrent, type Route } from './router';
import { button, clearToasts, el, errorBox, errorFrom, loading, mount, revokeAllBlobURLs, toast } from './ui';

/** Me is GET /v1/me (the fields the app uses). */
export interface Me {
  account_id: string;
  email: string;
  household_id?: string;
  role: string;
  session_id: string;
  auth_at: string;
  totp: boolean;
  passkeys: number;
  recovery_codes_left: number;
}

interface State {
  device: Device | null;
  me: Me | null;
  household: Household | null;
  /** set when the household could not be opened for a reason other than "not paired yet" */
  householdError: unknown;
}

const state: State = { device: null, me: null, household: null, householdError: null };
let notice: string | null = null;
const teardowns = new Set<() => void>();
let nav: HTMLElement;
let main: HTMLElement;

export function me(): Me | null { return state.me; }

export function takeSignedOutNotice(): string | null {
  const n = notice;
  notice = null;
  return n;
}

export function onSignOut(fn: () => void): () => void {
  teardowns.add(fn);
  return () => teardowns.delete(fn);
}

/** deviceName names this browser for the sessions list and the roster. */
export function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS'
    : /Windows/.test(ua) ? 'Windows' : /Linux|X11/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

function layout(): void {
  const app = document.getElementById('app') ?? document.body.appendChild(el('div', { id: 'app' }));
  nav = el('nav', { class: 'topnav', 'aria-label': 'Main' });
  main = el('main', { id: 'main', tabindex: '-1' });
  mount(app,
    el('a', { class: 'skip', href: '#main', onclick: (ev: Event) => { ev.preventDefault(); main.focus(); } }, 'Skip to content'),
    el('header', { class: 'topbar' }, el('a', { class: 'brand', href: href('/') }, el('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Porchlight'), nav),
    main);
  drawNav('');
}

function drawNav(current: string): void {
  if (!nav) return;
  if (!state.me) { nav.replaceChildren(); return; }
  const link = (name: string, label: string, path: string) =>
    el('a', { href: href(path), class: current === name ? 'current' : null, 'aria-current': current === name ? 'page' : null }, label);
  mount(nav,
    state.household ? link('cameras', 'Cameras', '/') : null,
    state.household ? link('settings', 'Settings', '/settings/sessions') : null,
    state.me.role === 'annotator' ? link('annotate', 'Annotate', '/annotate') : link('feed', 'Neighbours', '/feed'),
    el('button', { type: 'button', class: 'linklike', testid: 'sign-out', onclick: () => { void signOut(); } }, 'Sign out'));
}

let listening = false;

/** boot starts the app. */
export async function boot(): Promise<void> {
  // An API call that came back 401 may mean the session ended (errorFrom
  // sends this event); GET /v1/me decides.
  if (!listening) {
    listening = true;
    window.addEventListener('porchlight:unauthorized', () => { void checkSession(); });
  }
  layout();
  mount(main, loading('Starting Porchlight…'));
  try {
    state.device = await loadOrCreateDevice(deviceName());
  } catch (err) {
    console.error('device key', err);
    if (await deviceProtection().catch(() => 'absent') === 'passkey') {
      mount(main, errorBox('This browser\'s Porchlight key is locked with your passkey, and it was not unlocked.',
        'Unlock it with the same passkey (or security key) you protected it with.', () => { void boot(); }, 'Unlock with passkey'));
      return;
    }
    mount(main, errorBox('This browser could not create or open its Porchlight device key.',
      'Porchlight keeps its key in this site\'s storage (IndexedDB): leave private browsing or allow site data, then reload the page.',
      () => location.reload()));
    return;
  }
  try {
    await loadSession();
  } catch (err) {
    mount(main, errorFrom(err, 'Checking your session', () => { void boot(); }));
    return;
  }
  start({
    root: main,
    guard,
    rendered: (r: Route | null) => {
      drawNav(r?.nav ?? '');
      if (document.activeElement && document.activeElement !== document.body && !main.contains(document.activeElement) && !nav.contains(document.activeElement)) return;
      // move focus to the new page for screen readers, without scrolling jumps
      if (r) main.focus({ preventScroll: true });
    },
  });
}

/** loadSession reads /v1/me and, when signed in, opens the household and watches the session. */
async function loadSession(): Promise<void> {
  try {
    state.me = await api<Me>('GET', '/v1/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { state.me = null; return; }
    throw err;
  }
  await openHousehold();
  watch();
}

async function openHousehold(): Promise<void> {
  state.household = null;
  state.householdError = null;
  if (!state.device || !state.me) return;
  if (!state.me.household_id) {
    state.householdError = new Error('This account has no household: the web app is for household owners and members.');
    return;
  }
  try {
    const h = await Household.open(state.device);
    if (h.isDevice) state.household = h;
  } catch (err) {
    if (!notPaired(err)) {
      console.error('open household', err);
      state.householdError = err;
    }
  }
  drawNav('');
}

/** notPaired reports whether Household.open failed only because this browser is not in the roster yet. */
function notPaired(err: unknown): boolean {
  return err instanceof Error && (err.name === 'NotPairedError' || /not (yet )?(in|listed in) the (household'?s? )?roster/i.test(err.message));
}

/** where the user was going when sent to sign in or pair; they land there afterwards */
let wanted: string | null = null;

function remember(path: string): void {
  if (path === '/signin' || path === '/pair' || path === '/') return;
  wanted = location.hash.replace(/^#/, '') || path;
}

function takeWanted(): string {
  const w = wanted ?? '/';
  wanted = null;
  return w;
}

function guard(r: Route, path: string): ReturnType<Parameters<typeof start>[0]['guard']> {
  const device = state.device as Device;
  if (r.access === 'none') {
    if (state.me && path === '/signin') return { redirect: state.household ? '/' : isStaff() ? '/annotate' : '/pair' };
    return { household: state.household, device };
  }
  if (!state.me) { remember(path); return { redirect: '/signin' }; }
  if (r.access === 'session') {
    if (path === '/pair' && (state.household || isStaff())) return { redirect: isStaff() ? '/annotate' : '/' };
    return { household: state.household, device };
  }
  if (state.householdError) return { error: state.householdError };
  if (!state.household) { remember(path); return { redirect: '/pair' }; }
  return { household: state.household, device };
}

/** signedIn is called by the sign-in page once the session cookie is set. */
export async function signedIn(): Promise<void> {
  await loadSession();
  navigate(state.household ? takeWanted() : isStaff() ? '/annotate' : '/pair', { replace: true });
}

/** isStaff: staff accounts (annotators) own no household and never pair. */
function isStaff(): boolean {
  const role = (state.me as { role?: string } | null)?.role;
  return role !== undefined && role !== 'customer' && role !== 'owner' && role !== 'member';
}

/** paired is called by the pairing page once the roster lists this browser. */
export async function paired(): Promise<void> {
  await openHousehold();
  if (state.householdError) throw state.householdError;
  if (!state.household) throw new Error('The roster does not list this browser yet: wait a moment, then reload.');
  toast('This browser is now one of your household\'s devices.');
  navigate(takeWanted(), { replace: true });
}

/** signOut ends this session on the server and tears the page down. */
export async function signOut(): Promise<void> {
  try {
    await api('POST', '/v1/logout');
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) {
      toast('Signing out on the server failed; this page forgot your session anyway.', 'error');
    }
  }
  teardown('You signed out.');
}

/** sessionEnded tears down and shows the sign-in page with "Your session ended". */
export function sessionEnded(): void {
  teardown('Your session ended. Sign in again to continue.');
}

function teardown(message: string): void {
  stopWatch();
  stopCurrent(); // aborts the page: live view and downloads stop
  for (const fn of [...teardowns]) {
    try { fn(); } catch (err) { console.error('sign-out hook', err); }
  }
  revokeAllBlobURLs();
  clearToasts();
  state.me = null;
  state.household = null;
  state.householdError = null;
  notice = message;
  wanted = null;
  drawNav('');
  if (location.hash === '#/signin') rerender();
  else navigate('/signin', { replace: true });
}

// --- session watch ---
//
// GET /v1/events stays open while the session lives; porchlightd ends it at
// once when the session is revoked or expires. When it ends or fails, ask
// GET /v1/me: 401 means signed out. Anything else (network trouble, a
// restart) reconnects with a growing delay.

let es: EventSource | null = null;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let backoff = 250;
let watchGen = 0;

function watch(): void {
  stopWatch();
  const gen = ++watchGen;
  const src = new EventSource('/v1/events');
  es = src;
  src.onopen = () => { backoff = 250; };
  src.onerror = () => {
    src.close();
    if (es === src) es = null;
    void check(gen);
  };
}

function stopWatch(): void {
  watchGen++;
  clearTimeout(retryTimer);
  es?.close();
  es = null;
}

async function check(gen: number): Promise<void> {
  try {
    await api<Me>('GET', '/v1/me');
  } catch (err) {
    if (gen !== watchGen) return;
    if (err instanceof ApiError && err.status === 401) { sessionEnded(); return; }
  }
  if (gen !== watchGen) return;
  retryTimer = setTimeout(() => { if (gen === watchGen) watch(); }, backoff);
  backoff = Math.min(backoff * 2, 15000);
}

/** checkSession asks GET /v1/me and tears down on 401 (a page saw a sign of a session ending). */
export async function checkSession(): Promise<void> {
  if (!state.me) return;
  try {
    await api<Me>('GET', '/v1/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && state.me) sessionEnded();
  }
}


/** For the sign-out button on pages other than the nav (e.g. errors). */
export function signOutButton(): HTMLButtonElement {
  return button('Sign out', () => { void signOut(); }, { class: 'secondary' });
}
