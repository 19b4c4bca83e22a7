// The neighbours feed (issue 8): geohash cells and the feed API.
//
// Locations are coarse on purpose: the page turns the browser's position
// into a 6-character geohash cell (about 1.2 × 0.6 km) here, and only the
// cell is ever sent or shown — the coordinates never leave this file's
// callers (internal/geocell does the same for the CLI).
//
// Exports:
//   CellPrecision, MaxRadius, geohash(lat, lon, precision?), cellBounds(cell), validCell(cell), normalizeCell(input)
//   Categories, categoryLabel(cat)
//   interface FeedPost { id, title, category, cell, pseudonym, created: Date, media: string, mine: boolean, state, reason, ended? }
//   parsePosts(json), feed(cell, radius, signal?), myPosts(signal?), reportPost(id, reason), withdrawPost(id)
//   mediaURL(id)

import { api, ApiError } from './api';

/** CellPrecision is the geohash length of a feed cell (geocell.Precision). */
export const CellPrecision = 6;

/** MaxRadius: the most rings of neighbouring cells the feed searches (geocell.MaxRadius). */
export const MaxRadius = 5;

const alphabet = '0123456789bcdefghjkmnpqrstuvwxyz';

/** geohash encodes a position as a geohash of precision characters (default: a feed cell). */
export function geohash(lat: number, lon: number, precision = CellPrecision): string {
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180) {
    throw new RangeError('geohash: latitude must be within -90..90 and longitude within -180..180');
  }
  let latLo = -90, latHi = 90, lonLo = -180, lonHi = 180;
  let out = '';
  let even = true; // bits alternate, longitude first
  let ch = 0, bit = 0;
  while (out.length < precision) {
    if (even) {
      const mid = (lonLo + lonHi) / 2;
      if (lon >= mid) { ch = (ch << 1) | 1; lonLo = mid; } else { ch <<= 1; lonHi = mid; }
    } else {
      const mid = (latLo + latHi) / 2;
      if (lat >= mid) { ch = (ch << 1) | 1; latLo = mid; } else { ch <<= 1; latHi = mid; }
    }
    even = !even;
    if (++bit === 5) {
      out += alphabet[ch];
      ch = 0;
      bit = 0;
    }
  }
  return out;
}

/** cellBounds answers the box a geohash covers. */
export function cellBounds(cell: string): { latMin: number; latMax: number; lonMin: number; lonMax: number } {
  let latLo = -90, latHi = 90, lonLo = -180, lonHi = 180;
  let even = true;
  for (const c of cell) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`geohash: "${c}" is not a geohash character`);
    for (let b = 4; b >= 0; b--) {
      const one = ((v >> b) & 1) === 1;
      if (even) {
        const mid = (lonLo + lonHi) / 2;
        if (one) lonLo = mid; else lonHi = mid;
      } else {
        const mid = (latLo + latHi) / 2;
        if (one) latLo = mid; else latHi = mid;
      }
      even = !even;
    }
  }
  return { latMin: latLo, latMax: latHi, lonMin: lonLo, lonMax: lonHi };
}

/** validCell: exactly 6 characters of the geohash alphabet (geocell.Valid). */
export function validCell(cell: string): boolean {
  return typeof cell === 'string' && cell.length === CellPrecision && [...cell].every((c) => alphabet.includes(c));
}

/** normalizeCell turns what a person typed into a cell, or null if it is not one. */
export function normalizeCell(input: string): string | null {
  const c = input.trim().toLowerCase();
  return validCell(c) ? c : null;
}

/** The post categories the service accepts, with their labels. */
export const Categories: Record<string, string> = {
  safety: 'Safety',
  suspicious: 'Suspicious activity',
  lost_pet: 'Lost pet',
  crime: 'Crime',
  other: 'Other',
};

export function categoryLabel(cat: string): string {
  return Categories[cat] ?? 'Other';
}

/** A post as the feed lists it: no household, no coordinates. */
export interface FeedPost {
  id: string;
  title: string;
  category: string;
  cell: string;
  pseudonym: string;
  created: Date;
  /** same-origin path of the public MP4 */
  media: string;
  /** published by this account's household (may be withdrawn by its owner) */
  mine: boolean;
  /** "published", or in the owner's own list also "withdrawn" / "removed" (with the moderators' reason) */
  state: string;
  reason: string;
  ended?: Date;
}

const postID = /^[A-Za-z0-9_-]{1,64}$/;

/** mediaURL is the public MP4 of a post (served by porchlightd; 410 once withdrawn or removed). */
export function mediaURL(id: string): string {
  return `/v1/feed/posts/${encodeURIComponent(id)}/media`;
}

/**
 * parsePosts reads GET /v1/feed's answer (a list, or {posts: [...]}) into
 * posts, dropping entries that are not well-formed. The media URL is always
 * rebuilt from the id: the page never loads a URL the answer names.
 */
export function parsePosts(v: unknown): FeedPost[] {
  const list = Array.isArray(v) ? v : v && typeof v === 'object' && Array.isArray((v as { posts?: unknown }).posts) ? (v as { posts: unknown[] }).posts : null;
  if (!list) throw new Error('the feed answer is not a list of posts: reload the page and try again');
  const out: FeedPost[] = [];
  for (const p of list) {
    if (!p || typeof p !== 'object') continue;
    const r = p as Record<string, unknown>;
    const id = typeof r.id === 'string' ? r.id : '';
    const created = new Date(typeof r.created === 'string' ? r.created : typeof r.created_at === 'string' ? r.created_at : NaN);
    if (!postID.test(id) || Number.isNaN(created.getTime())) continue;
    out.push({
      id,
      title: typeof r.title === 'string' ? r.title : '',
      category: typeof r.category === 'string' && r.category in Categories ? r.category : 'other',
      cell: typeof r.cell === 'string' && validCell(r.cell) ? r.cell : '',
      pseudonym: typeof r.pseudonym === 'string' ? r.pseudonym : '',
      created,
      media: mediaURL(id),
      mine: r.mine === true,
      state: typeof r.state === 'string' && r.state ? r.state : 'published',
      reason: typeof r.reason === 'string' ? r.reason : '',
      ended: typeof r.ended === 'string' && !Number.isNaN(Date.parse(r.ended)) ? new Date(r.ended) : undefined,
    });
  }
  out.sort((a, b) => b.created.getTime() - a.created.getTime());
  return out;
}

/** feed lists the posts in cell and the rings of neighbouring cells up to radius. */
export async function feed(cell: string, radius: number, signal?: AbortSignal): Promise<FeedPost[]> {
  if (!validCell(cell)) throw new Error('a feed cell is 6 geohash characters (like "u4pruy"): check what you typed');
  const r = Math.max(0, Math.min(MaxRadius, Math.floor(radius) || 0));
  const q = new URLSearchParams({ cell, radius: String(r) });
  return parsePosts(await api<unknown>('GET', `/v1/feed?${q}`, undefined, { signal }));
}

/**
 * myPosts lists the posts this household published, withdrawn and removed
 * ones included (GET /v1/feed?mine=1, owners); null for an account without
 * a household or not allowed to ask.
 */
export async function myPosts(signal?: AbortSignal): Promise<FeedPost[] | null> {
  try {
    return parsePosts(await api<unknown>('GET', '/v1/feed?mine=1', undefined, { signal })).map((p) => ({ ...p, mine: true }));
  } catch (err) {
    if (err instanceof ApiError && (err.status === 403 || err.status === 404)) return null;
    throw err;
  }
}

/** reportPost flags a post to the operator. */
export async function reportPost(id: string, reason: string): Promise<void> {
  const why = reason.trim();
  if (!why) throw new Error('say why you report this post');
  await api('POST', `/v1/feed/posts/${encodeURIComponent(id)}/report`, { reason: why });
}

/** withdrawPost takes one of this household's posts down (owner only); the post answers 410 afterwards. */
export async function withdrawPost(id: string): Promise<void> {
  await api('DELETE', `/v1/feed/posts/${encodeURIComponent(id)}`);
}
