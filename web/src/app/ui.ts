// Small typed DOM helpers for the pages. Nothing here parses HTML: text goes
// in as textContent and attributes as attributes, so data from the network
// can never become markup (the CSP forbids inline script and style anyway).
//
// Exports (B2/B3 program against these):
//   type Child = Node | string | number | false | null | undefined | Child[]
//   type Attrs = { [name]: string | number | boolean | null | undefined | ((ev) => void) }
//   el(tag, attrs?, ...children): HTMLElementTagNameMap[tag]
//       attrs: "class" → className; "on<event>" functions → addEventListener;
//       true → empty attribute, false/null/undefined → omitted; "value" and
//       "checked" also set the live property. "testid" is short for data-testid.
//   mount(parent, ...children)        replace parent's children
//   loading(text?)                    data-testid=loading, role=status
//   errorBox(what, todo, retry?, retryLabel?)  data-testid=error, role=alert
//   errorFrom(err, doing, retry?)     errorBox from any thrown value (ApiError aware; a 401 makes the shell check the session)
//   describe(err): {what, todo}       the words errorFrom uses
//   emptyState(title, hint?, ...actions)  data-testid=empty-state
//   toast(text, kind?)                a short-lived, polite message at the bottom; clearToasts()
//   pageHeader(title, ...actions)     <header class="page-head"><h1>…
//   button(label, onClick, attrs?)    <button type=button>
//   field(label, input)               <label class="field"><span>label</span>input</label>
//   blobURL(blob, signal?)            object URL revoked when signal aborts or at sign-out
//   revokeBlobURL(url)                revoke one early; revokeAllBlobURLs(): sign-out, forget every object URL handed out
//   fmtDateTime(d), fmtTime(d), fmtDuration(ms), fmtBytes(n)
import { ApiError } from '../lib/api';

export type Child = Node | string | number | false | null | undefined | Child[];
export type Listener = (ev: any) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Listener>;

/** el creates an element; see the header for how attrs are applied. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (typeof v === 'function') {
        if (k.startsWith('on')) e.addEventListener(k.slice(2).toLowerCase(), v);
        continue;
      }
      const name = k === 'class' ? 'class' : k === 'testid' ? 'data-testid' : k;
      e.setAttribute(name, v === true ? '' : String(v));
      if (k === 'value' && 'value' in e) (e as HTMLInputElement).value = String(v);
      if (k === 'checked' && e instanceof HTMLInputElement) e.checked = v === true || v === 'true';
    }
  }
  append(e, children);
  return e;
}

function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else if (c instanceof Node) parent.appendChild(c);
    else parent.appendChild(document.createTextNode(String(c)));
  }
}

/** mount replaces parent's children with children. */
export function mount(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** loading is the placeholder shown while a page waits. */
export function loading(text = 'Loading…'): HTMLElement {
  return el('div', { class: 'loading', testid: 'loading', role: 'status', 'aria-live': 'polite' },
    el('span', { class: 'spinner', 'aria-hidden': 'true' }), el('span', null, text));
}

/** errorBox says what happened and what to do, with an optional retry. */
export function errorBox(what: string, todo: string, retry?: () => void, retryLabel = 'Try again'): HTMLElement {
  return el('div', { class: 'error', testid: 'error', role: 'alert' },
    el('p', { class: 'error-what' }, what),
    todo ? el('p', { class: 'error-todo' }, todo) : null,
    retry ? button(retryLabel, retry) : null);
}

/** describe turns a thrown value into words for a person. */
export function describe(err: unknown): { what: string; todo: string } {
  if (err instanceof ApiError) {
    switch (err.status) {
      case 0:
        return { what: 'Porchlight could not be reached.', todo: 'Check your connection, then try again.' };
      case 401:
        return { what: 'You are signed out.', todo: 'Sign in again.' };
      case 403:
        return { what: err.message || 'You are not allowed to do this.', todo: 'Ask the household owner if you think you should be.' };
      case 404:
        return { what: err.message || 'That was not found.', todo: 'It may have been removed: go back and try again.' };
      case 429:
        return { what: err.message || 'Too many attempts.', todo: retryText(err) };
      default:
        if (err.status >= 500) {
          return { what: 'Porchlight had a problem on its side' + (err.id ? ` (error ${err.id})` : '') + '.', todo: 'Try again in a minute.' };
        }
        return { what: err.message || `The request failed (${err.status}).`, todo: 'Check what you entered and try again.' };
    }
  }
  if (err instanceof DOMException && err.name === 'AbortError') {
    return { what: 'Cancelled.', todo: '' };
  }
  const msg = err instanceof Error ? err.message : String(err);
  return { what: msg || 'Something went wrong.', todo: 'Try again; if it keeps happening, reload the page.' };
}

function retryText(err: ApiError): string {
  const secs = (err as ApiError & { retryAfter?: number }).retryAfter;
  if (typeof secs === 'number' && secs > 0) {
    const mins = Math.ceil(secs / 60);
    return mins <= 1 ? 'Try again in a minute.' : `Try again in ${mins} minutes.`;
  }
  return 'Wait a few minutes, then try again.';
}

/** errorFrom renders err as an errorBox; doing is what was being tried ("Loading cameras"). */
export function errorFrom(err: unknown, doing: string, retry?: () => void): HTMLElement {
  // a 401 may mean the session ended: the shell checks and signs the page out if so
  if (err instanceof ApiError && err.status === 401) window.dispatchEvent(new Event('porchlight:unauthorized'));
  const d = describe(err);
  return errorBox(doing ? `${doing} failed: ${d.what}` : d.what, d.todo, retry);
}

/** emptyState is what a page shows when there is nothing to list. */
export function emptyState(title: string, hint?: string, ...actions: Child[]): HTMLElement {
  return el('div', { class: 'empty', testid: 'empty-state' },
    el('p', { class: 'empty-title' }, title), hint ? el('p', { class: 'empty-hint' }, hint) : null, ...actions);
}

let toastBox: HTMLElement | null = null;

/** toast shows a short message for a few seconds. */
export function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  if (!toastBox || !toastBox.isConnected) {
    toastBox = el('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(toastBox);
  }
  const t = el('div', { class: `toast toast-${kind}` }, text);
  toastBox.appendChild(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/** clearToasts removes every toast (sign-out). */
export function clearToasts(): void {
  toastBox?.replaceChildren();
}

/** pageHeader is a page's title row. */
export function pageHeader(title: string, ...actions: Child[]): HTMLElement {
  return el('header', { class: 'page-head' }, el('h1', null, title), actions.length ? el('div', { class: 'actions' }, ...actions) : null);
}

/** button is a type=button button calling onClick. */
export function button(label: string, onClick: (ev: MouseEvent) => void, attrs?: Attrs): HTMLButtonElement {
  return el('button', { type: 'button', ...attrs, onclick: onClick }, label);
}

/** field labels an input. */
export function field(label: string, input: HTMLElement, hint?: string): HTMLLabelElement {
  return el('label', { class: 'field' }, el('span', { class: 'field-label' }, label), input,
    hint ? el('span', { class: 'field-hint' }, hint) : null);
}

const blobURLs = new Set<string>();

/** blobURL makes an object URL for blob, revoked when signal aborts (navigation) or at sign-out. */
export function blobURL(blob: Blob, signal?: AbortSignal): string {
  const u = URL.createObjectURL(blob);
  blobURLs.add(u);
  const revoke = () => { URL.revokeObjectURL(u); blobURLs.delete(u); };
  if (signal) {
    if (signal.aborted) revoke();
    else signal.addEventListener('abort', revoke, { once: true });
  }
  return u;
}

/** revokeBlobURL revokes one URL from blobURL early (a picture replaced by a newer one). */
export function revokeBlobURL(u: string): void {
  if (blobURLs.delete(u)) URL.revokeObjectURL(u);
}

/** revokeAllBlobURLs forgets every object URL from blobURL (sign-out). */
export function revokeAllBlobURLs(): void {
  for (const u of blobURLs) URL.revokeObjectURL(u);
  blobURLs.clear();
}

const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const tf = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

export function fmtDateTime(d: Date): string { return dtf.format(d); }
export function fmtTime(d: Date): string { return tf.format(d); }

export function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0'), ss = String(r).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function fmtBytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return `${i ? n.toFixed(n < 10 ? 1 : 0) : n} ${u[i]}`;
}
