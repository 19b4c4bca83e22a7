// Joining fragmented MP4 segments into one file, the browser's
// equivalent of internal/segment.Concat (used by `porchlight export`): the
// first segment's init, then every fragment with decode times rebased so
// the file starts at 0 and runs on without holes, and fragment sequence
// numbers renumbered from 1. Segments must be single-track fMP4 as the hub's
// Cutter writes them (tfhd default-base-is-moof, tfdt, trun with
// durations), with the same init as the first.

export interface Box { type: string; start: number; size: number; header: number }

/** The top-level boxes of b (or of b[from:to]); throws on a box that does not fit. */
export function boxes(b: Uint8Array, from = 0, to = b.length): Box[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Box[] = [];
  let pos = from;
  while (pos < to) {
    if (to - pos < 8) throw new Error('mp4: truncated box header');
    let size = dv.getUint32(pos);
    const type = String.fromCharCode(b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]);
    let header = 8;
    if (size === 0) size = to - pos;
    else if (size === 1) {
      if (to - pos < 16) throw new Error('mp4: truncated box header');
      const big = dv.getBigUint64(pos + 8);
      if (big > BigInt(to - pos)) throw new Error(`mp4: box "${type}": invalid size ${big}`);
      size = Number(big);
      header = 16;
    }
    if (size < header || pos + size > to) throw new Error(`mp4: box "${type}": invalid size ${size}`);
    out.push({ type, start: pos, size, header });
    pos += size;
  }
  return out;
}

/** The children of a container box. */
export function children(b: Uint8Array, box: Box): Box[] {
  return boxes(b, box.start + box.header, box.start + box.size);
}

function child(b: Uint8Array, box: Box, type: string): Box | undefined {
  return children(b, box).find((c) => c.type === type);
}

interface Fragment {
  moof: Uint8Array; // a copy, to be patched
  mdat: Uint8Array;
  trackId: number;
  baseTime: bigint;
  duration: bigint;
  tfdtAt: number; // offset of tfdt's full-box header inside moof
  mfhdAt: number;
}

/** Splits an fMP4 into its init (every box before the first moof, with ftyp and moov) and fragments. */
export function splitInit(b: Uint8Array): { init: Uint8Array; rest: Box[] } {
  const all = boxes(b);
  const i = all.findIndex((x) => x.type === 'moof');
  const head = i < 0 ? all : all.slice(0, i);
  if (!head.some((x) => x.type === 'ftyp') || !head.some((x) => x.type === 'moov')) {
    throw new Error('not an fMP4 segment (ftyp or moov missing before the first moof)');
  }
  const end = i < 0 ? b.length : all[i].start;
  return { init: b.subarray(0, end), rest: i < 0 ? [] : all.slice(i) };
}

/** The track id of the only track of an init (tkhd), for the single-track check. */
function initTrackId(init: Uint8Array): number {
  const moov = boxes(init).find((x) => x.type === 'moov')!;
  const traks = children(init, moov).filter((x) => x.type === 'trak');
  if (traks.length !== 1) throw new Error(`init has ${traks.length} tracks, want 1 video track`);
  const tkhd = child(init, traks[0], 'tkhd');
  if (!tkhd) throw new Error('init track has no tkhd');
  const dv = new DataView(init.buffer, init.byteOffset, init.byteLength);
  const p = tkhd.start + tkhd.header;
  const version = init[p];
  return dv.getUint32(p + 4 + (version === 1 ? 16 : 8));
}

function parseFragment(b: Uint8Array, moofBox: Box, mdatBox: Box): Fragment {
  const moof = b.slice(moofBox.start, moofBox.start + moofBox.size);
  const mb: Box = { type: 'moof', start: 0, size: moof.length, header: moofBox.header };
  const dv = new DataView(moof.buffer);
  const kids = children(moof, mb);
  const mfhd = kids.find((x) => x.type === 'mfhd');
  const trafs = kids.filter((x) => x.type === 'traf');
  if (!mfhd || trafs.length !== 1) throw new Error('fragment is not single-track video');
  const traf = trafs[0];
  const tfhd = child(moof, traf, 'tfhd');
  const tfdt = child(moof, traf, 'tfdt');
  const truns = children(moof, traf).filter((x) => x.type === 'trun');
  if (!tfhd || !tfdt || truns.length === 0) throw new Error('fragment lacks tfhd, tfdt or trun');
  let p = tfhd.start + tfhd.header;
  const tfFlags = dv.getUint32(p) & 0xffffff;
  const trackId = dv.getUint32(p + 4);
  if (tfFlags & 0x1) throw new Error('fragment uses absolute data offsets (tfhd base-data-offset): not supported');
  p += 8;
  if (tfFlags & 0x2) p += 4;
  let defaultDuration = 0;
  if (tfFlags & 0x8) defaultDuration = dv.getUint32(p);
  const tp = tfdt.start + tfdt.header;
  const baseTime = moof[tp] === 1 ? dv.getBigUint64(tp + 4) : BigInt(dv.getUint32(tp + 4));
  let duration = 0n;
  for (const trun of truns) {
    let q = trun.start + trun.header;
    const flags = dv.getUint32(q) & 0xffffff;
    const count = dv.getUint32(q + 4);
    q += 8;
    if (flags & 0x1) q += 4;
    if (flags & 0x4) q += 4;
    const per = ((flags & 0x100) ? 4 : 0) + ((flags & 0x200) ? 4 : 0) + ((flags & 0x400) ? 4 : 0) + ((flags & 0x800) ? 4 : 0);
    if (q + per * count > trun.start + trun.size) throw new Error('trun: sample table does not fit');
    for (let i = 0; i < count; i++) {
      duration += BigInt(flags & 0x100 ? dv.getUint32(q + i * per) : defaultDuration);
    }
  }
  return { moof, mdat: b.subarray(mdatBox.start, mdatBox.start + mdatBox.size), trackId, baseTime, duration, tfdtAt: tp, mfhdAt: mfhd.start + mfhd.header };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * concatMP4 joins segments (each init + fragments) into the parts of one
 * fragmented MP4, in order. A segment whose init differs from the first's
 * (the camera changed codec or resolution) is an error: download the parts
 * before and after the change separately.
 */
export function concatMP4(segs: Uint8Array[]): Uint8Array[] {
  if (segs.length === 0) throw new Error('mp4: concat: no segments');
  let firstInit: Uint8Array | undefined;
  let trackId = 0;
  const all: Fragment[][] = [];
  segs.forEach((seg, i) => {
    try {
      const { init, rest } = splitInit(seg);
      if (!firstInit) {
        firstInit = init;
        trackId = initTrackId(init);
      } else if (!equalBytes(init, firstInit)) {
        throw new Error('the camera changed codec or resolution inside the range: download the parts before and after the change separately');
      }
      const frags: Fragment[] = [];
      for (let k = 0; k < rest.length; k++) {
        if (rest[k].type !== 'moof') continue;
        const mdat = rest[k + 1];
        if (!mdat || mdat.type !== 'mdat') throw new Error('moof without its mdat');
        const f = parseFragment(seg, rest[k], mdat);
        if (f.trackId !== trackId) throw new Error('fragment is not single-track video');
        frags.push(f);
      }
      all.push(frags);
    } catch (e) {
      throw new Error(`join segment ${i}: ${(e as Error).message}`);
    }
  });
  const out: Uint8Array[] = [firstInit!];
  let offset = 0n;
  let seq = 0;
  for (const frags of all) {
    if (frags.length === 0) continue;
    let base = frags[0].baseTime;
    for (const f of frags) if (f.baseTime < base) base = f.baseTime;
    let end = offset;
    for (const f of frags) {
      const t = offset + (f.baseTime - base);
      const dv = new DataView(f.moof.buffer);
      if (f.moof[f.tfdtAt] === 1) dv.setBigUint64(f.tfdtAt + 4, t);
      else if (t <= 0xffffffffn) dv.setUint32(f.tfdtAt + 4, Number(t));
      else throw new Error('mp4: the clip is too long for this recording\'s 32-bit timestamps: download a shorter range');
      dv.setUint32(f.mfhdAt + 4, ++seq);
      if (t + f.duration > end) end = t + f.duration;
      out.push(f.moof, f.mdat);
    }
    offset = end;
  }
  return out;
}
