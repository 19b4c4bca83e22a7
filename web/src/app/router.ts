// Hash router. Pages register with route(); the shell (app/shell.ts) starts
// the router and decides who may see what.
//
// Exports (B2/B3 program against these):
//   interface Ctx { root: HTMLElement; params: Record<string, string>; query: URLSearchParams;
//                   signal: AbortSignal;            // aborted when the user navigates away or signs out
//                   household: Household | null;    // null only on pages with access 'none' or 'session'
//                   device: Device; path: string }
//   type Render = (ctx: Ctx) => void | Promise<void>
//   type Access = 'none' | 'session' | 'device'   // 'device' (default): signed in and this browser paired
//   route(pattern, title, render, opts?: { access?: Access; nav?: string })
//       pattern: '/live/:camera', '/settings/sessions', '/' ; ':name' matches one path segment
//       (URI-decoded). title: string or (params) => string. A render that throws or rejects
//       shows an error box (errorFrom) unless the signal was aborted.
//   navigate(path, opts?: { replace?: boolean })   path like '/camera/abc?from=…' (no '#')
//   href(path): string                             '#' + path, for <a href>
//   currentPath(): string                          the path part of location.hash ('/' if none)
//   rerender(): void                               render the current route again
//   setQuery(q: URLSearchParams | Record<string,string>): void
//                                                  rewrite the query of the current URL without rendering
//                                                  again (history.replaceState; setting location.hash re-renders)
import type { Device } from '../lib/device';
import type { Household } from '../lib/household';
import { errorBox, errorFrom, mount } from './ui';

export interface Ctx {
  root: HTMLElement;
  params: Record<string, string>;
  query: URLSearchParams;
  signal: AbortSignal;
  household: Household | null;
  device: Device;
  path: string;
}

export type Render = (ctx: Ctx) => void | Promise<void>;
export type Access = 'none' | 'session' | 'device';

export interface RouteOpts {
  /** who may open the page; default 'device'. */
  access?: Access;
  /** which nav link is current: 'cameras' | 'settings'; default from the path. */
  nav?: string;
}

export interface Route {
  pattern: string;
  parts: string[];
  title: string | ((params: Record<string, string>) => string);
  render: Render;
  access: Access;
  nav: string;
}

const routes: Route[] = [];

/** route registers a page. Register before the shell starts (at module load). */
export function route(pattern: string, title: Route['title'], render: Render, opts: RouteOpts = {}): void {
  const parts = split(pattern);
  routes.push({
    pattern, parts, title, render, access: opts.access ?? 'device',
    nav: opts.nav ?? (parts[0] === 'settings' ? 'settings' : parts.length === 0 || parts[0] === 'live' || parts[0] === 'camera' || parts[0] === 'event' ? 'cameras' : ''),
  });
}

function split(path: string): string[] {
  return path.split('/').filter((p) => p !== '');
}

/** match finds the route for path; exported for the shell and tests. */
export function match(path: string): { route: Route; params: Record<string, string> } | null {
  const segs = split(path);
  for (const r of routes) {
    if (r.parts.length !== segs.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < segs.length && ok; i++) {
      const p = r.parts[i];
      if (p.startsWith(':')) {
        try { params[p.slice(1)] = decodeURIComponent(segs[i]); } catch { ok = false; }
      } else ok = p === segs[i];
    }
    if (ok) return { route: r, params };
  }
  return null;
}

/** currentPath is location.hash without '#' and query ('/' when empty). */
export function currentPath(): string {
  return parseHash().path;
}

function parseHash(): { path: string; query: URLSearchParams } {
  let h = location.hash.replace(/^#/, '');
  if (!h.startsWith('/')) h = '/' + h;
  const q = h.indexOf('?');
  return q < 0 ? { path: h, query: new URLSearchParams() } : { path: h.slice(0, q), query: new URLSearchParams(h.slice(q + 1)) };
}

export function setQuery(q: URLSearchParams | Record<string, string>): void {
  const qs = (q instanceof URLSearchParams ? q : new URLSearchParams(q)).toString();
  const { path } = parseHash();
  history.replaceState(history.state, '', '#' + path + (qs ? '?' + qs : ''));
}

export function href(path: string): string {
  return '#' + path;
}

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  const target = '#' + path;
  if (location.hash === target) { rerender(); return; }
  if (opts.replace) {
    history.replaceState(null, '', target);
    rerender();
  } else {
    location.hash = target; // hashchange renders
  }
}

/** What the shell gives the router. */
export interface Host {
  root: HTMLElement;
  /** resolves access for a route: returns the state to render with, or a path to go to instead. */
  guard(r: Route, path: string): { household: Household | null; device: Device } | { redirect: string } | { error: unknown };
  /** called after each render starts (nav highlighting, title). */
  rendered(r: Route | null, title: string): void;
}

let host: Host | null = null;
let current: AbortController | null = null;
let generation = 0;

/** start begins routing; the shell calls it once it knows the session state. */
export function start(h: Host): void {
  host = h;
  window.addEventListener('hashchange', rerender);
  rerender();
}

/** stopCurrent aborts the page being shown (live view, fetches); used at sign-out. */
export function stopCurrent(): void {
  current?.abort();
  current = null;
}

/** rerender renders the current route again (after sign-in, pairing, sign-out). */
export function rerender(): void {
  if (!host) return;
  const h = host;
  stopCurrent();
  const gen = ++generation;
  const { path, query } = parseHash();
  const m = match(path);
  if (!m) {
    h.rendered(null, 'Not found');
    mount(h.root, errorBox(`There is no page at ${path}.`, 'Check the address, or go to your cameras.', () => navigate('/'), 'Go to cameras'));
    return;
  }
  const g = h.guard(m.route, path);
  if ('redirect' in g && g.redirect !== path) { navigate(g.redirect, { replace: true }); return; }
  if ('error' in g) {
    h.rendered(m.route, 'Error');
    mount(h.root, errorFrom(g.error, 'Opening your household', () => location.reload()));
    return;
  }
  const state = 'household' in g ? g : null;
  const ac = new AbortController();
  current = ac;
  const title = typeof m.route.title === 'function' ? m.route.title(m.params) : m.route.title;
  document.title = title ? `${title} · Porchlight` : 'Porchlight';
  h.rendered(m.route, title);
  h.root.replaceChildren();
  const ctx: Ctx = {
    root: h.root, params: m.params, query, signal: ac.signal,
    household: state?.household ?? null, device: state?.device as Device, path,
  };
  const fail = (err: unknown) => {
    if (ac.signal.aborted || gen !== generation) return;
    console.error('page failed', path, err);
    mount(h.root, errorFrom(err, 'Showing this page', rerender));
  };
  try {
    const p = m.route.render(ctx);
    if (p && typeof (p as Promise<void>).catch === 'function') (p as Promise<void>).catch(fail);
  } catch (err) {
    fail(err);
  }
}
