// Recorded playback: a <video> fed through Media Source Extensions with the
// decrypted segments around the playhead, and nothing else.
//
// Media time is seconds since an origin (the start of the day shown), so the
// playhead maps to the wall clock: every segment's decode times start at 0
// (internal/segment writes tfdt 0 and records Segment.Start, the wall-clock
// time of its first sample), so before appending one the SourceBuffer's
// timestampOffset is set to (segment start − origin). Each segment carries its
// own init (ftyp+moov), so segments are appended whole.
//
// The player fetches the segment under the playhead and prefetches the next,
// one download at a time; a seek aborts a download that is no longer needed.
// It evicts what lies more than KEEP_BEHIND seconds behind or past the
// prefetched segment. A segment that fails to download, verify or decrypt is
// reported and skipped: playback jumps to the next one. Holes in the
// recording are jumped over.
//
// The pure helpers at the top (segmentIndexAt, bufferPlan, codecString, …)
// hold the decisions and are tested in player.test.ts.

import type { Household, Segment } from '../lib/household';

/** Seconds behind the playhead kept buffered; older media is evicted. */
export const KEEP_BEHIND = 20;

/** Gaps shorter than this (seconds) are left to the browser to play through. */
const SMALL_GAP = 0.25;

/** Within this many seconds of a segment's end the playhead counts as at its end. */
const AT_END = 0.3;

/** A segment as the player places it: media seconds since the origin. */
export interface Placed {
  seg: Segment;
  start: number; // media seconds
  end: number; // media seconds
}

/** place turns segments into media-time spans sorted by start. */
export function place(segs: readonly Segment[], origin: Date): Placed[] {
  const o = origin.getTime();
  return segs
    .map((seg) => ({ seg, start: (seg.start.getTime() - o) / 1000, end: (seg.end.getTime() - o) / 1000 }))
    .filter((p) => p.end > p.start)
    .sort((a, b) => a.start - b.start);
}

/**
 * segmentIndexAt is the index of the segment containing media time t, or
 * else of the first segment after t (t is in a hole), or -1 past the last.
 */
export function segmentIndexAt(placed: readonly Placed[], t: number): number {
  let lo = 0;
  let hi = placed.length;
  // First segment whose end is after t.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (placed[mid].end <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo < placed.length ? lo : -1;
}

/** A plan: which segments to have (in fetch order) and what time spans to evict. */
export interface Plan {
  want: number[];
  evict: [number, number][];
}

/**
 * bufferPlan decides, for playhead t, which segments must be buffered (the
 * one at or after t, then the next as prefetch, skipping failed ones) and
 * which buffered spans to remove: everything more than keepBehind seconds
 * before t and everything after the last wanted segment.
 */
export function bufferPlan(
  placed: readonly Placed[],
  t: number,
  buffered: readonly [number, number][],
  failed: ReadonlySet<number> = new Set(),
  keepBehind = KEEP_BEHIND,
  prefetch = 1,
): Plan {
  const want: number[] = [];
  let i = segmentIndexAt(placed, t);
  if (i >= 0) {
    for (; i < placed.length && want.length < 1 + prefetch; i++) {
      if (!failed.has(i)) want.push(i);
    }
  }
  const evict: [number, number][] = [];
  const behind = t - keepBehind;
  // Evict behind in chunks (only once 10 s more than keepBehind have piled
  // up), so steady playback does not remove a sliver on every timeupdate.
  const ahead = want.length > 0 ? placed[want[want.length - 1]].end : t;
  for (const [s, e] of buffered) {
    if (s < behind - 10) evict.push([s, Math.min(e, behind)]);
    // Keep a little past the last wanted segment: its frames may overrun its
    // nominal end by a frame duration.
    const after = Math.max(ahead + 0.5, behind);
    if (e > after) evict.push([Math.max(s, after), e]);
  }
  return { want, evict };
}

/**
 * gapTarget says where to jump when the playhead sits at a hole: if t is in
 * no segment, in a failed one, or within AT_END seconds of the end of one
 * (the browser stalls at the last frame, a little before the nominal end),
 * and the next good segment starts more than SMALL_GAP after t, that
 * segment's start; otherwise null.
 */
export function gapTarget(placed: readonly Placed[], t: number, failed: ReadonlySet<number> = new Set()): number | null {
  let i = segmentIndexAt(placed, t);
  if (i < 0) return null;
  if (t >= placed[i].start && !failed.has(i)) {
    if (placed[i].end - t > AT_END) return null; // inside a segment
    i++; // at its end: look at the next one
  }
  while (i < placed.length && failed.has(i)) i++;
  if (i >= placed.length) return null;
  const p = placed[i];
  if (p.start - t > SMALL_GAP) return p.start;
  return null;
}

/** Finds a box's payload by four-character code anywhere in data (first hit). */
function findBox(data: Uint8Array, fourcc: string): number {
  const c = [...fourcc].map((ch) => ch.charCodeAt(0));
  for (let i = 4; i + 4 <= data.length; i++) {
    if (data[i] === c[0] && data[i + 1] === c[1] && data[i + 2] === c[2] && data[i + 3] === c[3]) {
      const size = ((data[i - 4] << 24) | (data[i - 3] << 16) | (data[i - 2] << 8) | data[i - 1]) >>> 0;
      if (size >= 8 && i - 4 + size <= data.length) return i + 4;
    }
  }
  return -1;
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/**
 * codecString reads the RFC 6381 codecs parameter from an fMP4 init (the
 * avcC or hvcC box of the sample entry), e.g. `video/mp4; codecs="avc1.64001f"`.
 * Falls back to a common profile when the box is not found.
 */
export function codecString(init: Uint8Array, codec: string): string {
  if (codec === 'h265' || codec === 'hevc') {
    const p = findBox(init, 'hvcC');
    if (p < 0 || p + 13 > init.length) return 'video/mp4; codecs="hvc1.1.6.L93.B0"';
    const b = init[p + 1];
    const space = ['', 'A', 'B', 'C'][b >> 6];
    const tier = (b & 0x20) !== 0 ? 'H' : 'L';
    const profile = b & 0x1f;
    // general_profile_compatibility_flags, in reverse bit order.
    let flags = (((init[p + 2] << 24) | (init[p + 3] << 16) | (init[p + 4] << 8) | init[p + 5]) >>> 0);
    let rev = 0;
    for (let k = 0; k < 32; k++) {
      rev = ((rev << 1) | (flags & 1)) >>> 0;
      flags >>>= 1;
    }
    const constraints: string[] = [];
    for (let k = 0; k < 6; k++) constraints.push(init[p + 6 + k].toString(16).toUpperCase());
    while (constraints.length > 1 && constraints[constraints.length - 1] === '0') constraints.pop();
    const level = init[p + 12];
    return `video/mp4; codecs="hvc1.${space}${profile}.${rev.toString(16).toUpperCase()}.${tier}${level}.${constraints.join('.')}"`;
  }
  const p = findBox(init, 'avcC');
  if (p < 0 || p + 4 > init.length) return 'video/mp4; codecs="avc1.64001f"';
  return `video/mp4; codecs="avc1.${hex2(init[p + 1])}${hex2(init[p + 2])}${hex2(init[p + 3])}"`;
}

const u32 = (b: Uint8Array, i: number) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

/**
 * firstCompositionOffset is how much later than its decode time the first
 * sample of a segment is shown, in seconds (the trun's first composition
 * offset over the mdhd timescale); 0 without B-frames or when the boxes are
 * not found. Segment.Start is the wall-clock time of that presentation, and
 * decode times start at 0, so the segment's media must be placed this much
 * earlier.
 */
export function firstCompositionOffset(data: Uint8Array): number {
  const m = findBox(data, 'mdhd');
  const t = findBox(data, 'trun');
  if (m < 0 || t < 0) return 0;
  const scale = data[m] === 1 ? (m + 24 <= data.length ? u32(data, m + 20) : 0) : (m + 16 <= data.length ? u32(data, m + 12) : 0);
  if (scale === 0 || t + 8 > data.length) return 0;
  const version = data[t];
  const flags = (data[t + 1] << 16) | (data[t + 2] << 8) | data[t + 3];
  if ((flags & 0x800) === 0 || u32(data, t + 4) === 0) return 0;
  let i = t + 8;
  if (flags & 0x1) i += 4; // data_offset
  if (flags & 0x4) i += 4; // first_sample_flags
  if (flags & 0x100) i += 4; // sample_duration
  if (flags & 0x200) i += 4; // sample_size
  if (flags & 0x400) i += 4; // sample_flags
  if (i + 4 > data.length) return 0;
  const raw = u32(data, i);
  const cto = version === 1 ? raw | 0 : raw;
  return cto / scale;
}

/** timeRanges converts a TimeRanges into pairs. */
export function timeRanges(r: TimeRanges): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < r.length; i++) out.push([r.start(i), r.end(i)]);
  return out;
}

/** PlaybackError means the browser cannot play these recordings at all (not one bad segment). */
export class PlaybackError extends Error {
  override name = 'PlaybackError';
}

/** What the player tells its page. */
export interface PlayerEvents {
  /** "loading" while the segment under the playhead is fetched, "playing", "paused", "ended", "empty". */
  onState?(state: PlayerState): void;
  /** A segment failed (download, verification, decryption or the decoder refused it); it is skipped. */
  onSegmentError?(seg: Segment, err: unknown): void;
  /** The playhead moved (media seconds since the origin). */
  onTime?(t: number): void;
  /** A fatal error: the browser cannot play this at all. */
  onFatal?(err: unknown): void;
}

export type PlayerState = 'loading' | 'playing' | 'paused' | 'ended' | 'empty';

/** The subset of Household the player uses (a fake in tests). */
export type SegmentSource = Pick<Household, 'segmentMP4'>;

/** The download in progress: which segment, and how to abandon it. */
interface Fetch {
  index: number;
  ctl: AbortController;
}

/**
 * SegmentPlayer plays a list of recorded segments in a <video>. Create it,
 * then seek(t) or play; call destroy() when the page goes away (it revokes
 * the object URL and aborts downloads).
 */
export class SegmentPlayer {
  readonly video: HTMLVideoElement;
  readonly origin: Date;
  private placed: Placed[];
  private readonly src: SegmentSource;
  private readonly ev: PlayerEvents;
  private readonly ms: MediaSource;
  private readonly url: string;
  private sb: SourceBuffer | null = null;
  private mime = '';
  private opened: Promise<void>;
  private appended = new Set<number>();
  private failed = new Set<number>();
  private fetching: Fetch | null = null;
  private busy = false; // a pump is running
  private again = false; // pump requested while busy
  private destroyed = false;
  private dead = false; // a fatal error: nothing more is fetched
  private readonly off: (() => void)[] = [];
  private autoplay = true;
  private state: PlayerState | '' = '';
  // Until the element has metadata, seeks are kept here and applied on
  // loadedmetadata (currentTime cannot be set reliably before).
  private pending: number | null = null;

  constructor(video: HTMLVideoElement, src: SegmentSource, segs: readonly Segment[], origin: Date, ev: PlayerEvents = {}) {
    this.video = video;
    this.src = src;
    this.origin = origin;
    this.placed = place(segs, origin);
    this.ev = ev;
    this.ms = new MediaSource();
    this.url = URL.createObjectURL(this.ms);
    this.opened = new Promise((resolve) => this.ms.addEventListener('sourceopen', () => resolve(), { once: true }));
    video.muted = true; // recordings carry no audio; muted also lets play() start without a gesture
    video.playsInline = true;
    video.src = this.url;
    const on = (name: string, f: () => void) => {
      video.addEventListener(name, f);
      this.off.push(() => video.removeEventListener(name, f));
    };
    on('loadedmetadata', () => {
      if (this.pending !== null) {
        video.currentTime = this.pending;
        this.pending = null;
      }
      this.pump();
    });
    on('seeking', () => this.pump());
    // A stalled element fires no timeupdate: look again now and then.
    const tick = setInterval(() => {
      if (!video.paused) this.pump();
    }, 500);
    this.off.push(() => clearInterval(tick));
    on('waiting', () => this.pump());
    on('timeupdate', () => {
      this.ev.onTime?.(this.currentTime);
      this.pump();
    });
    on('playing', () => this.setState('playing'));
    on('seeked', () => {
      if (video.readyState >= 3) this.setState(video.paused ? 'paused' : 'playing');
    });
    on('canplay', () => this.setState(video.paused ? 'paused' : 'playing'));
    on('pause', () => {
      if (!video.ended) {
        this.autoplay = false; // the user paused: seeks keep it paused
        this.setState('paused');
      }
    });
    on('play', () => {
      this.autoplay = true;
    });
    if (this.placed.length === 0) this.setState('empty');
    void this.opened.then(() => this.pump());
  }

  /**
   * extend adds segments recorded since the player was made (those not
   * known yet that start at or after the last known one) and returns how
   * many it added. Playback stalled at the end continues into them.
   */
  extend(segs: readonly Segment[]): number {
    const known = new Set(this.placed.map((p) => p.seg.id));
    const last = this.placed.length > 0 ? this.placed[this.placed.length - 1].start : -Infinity;
    const add = place(segs.filter((s) => !known.has(s.id)), this.origin).filter((p) => p.start >= last);
    if (add.length === 0 || this.destroyed) return 0;
    this.placed.push(...add);
    if (this.state === 'ended' || this.state === 'empty') this.setState('loading');
    this.pump();
    return add.length;
  }

  /** The segments being played, in media time. */
  get segments(): readonly Placed[] {
    return this.placed;
  }

  /** Media seconds of the playhead. */
  get currentTime(): number {
    return this.pending ?? this.video.currentTime;
  }

  /** The wall-clock time of the playhead. */
  get wallTime(): Date {
    return new Date(this.origin.getTime() + this.currentTime * 1000);
  }

  /**
   * seek moves the playhead to media time t (seconds since the origin); into
   * a hole it lands at the next segment's start. Playback continues if it was
   * playing (or had not started yet).
   */
  seek(t: number): void {
    if (this.destroyed || this.placed.length === 0) return;
    const i = segmentIndexAt(this.placed, t);
    if (i < 0) t = this.placed[this.placed.length - 1].start;
    else if (t < this.placed[i].start) t = this.placed[i].start;
    this.moveTo(Math.max(0, t));
    this.ev.onTime?.(t);
    this.pump();
  }

  /** seekWall is seek with a wall-clock time. */
  seekWall(d: Date): void {
    this.seek((d.getTime() - this.origin.getTime()) / 1000);
  }

  /** Stops downloads, detaches the media source and revokes its URL. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.fetching?.ctl.abort();
    for (const f of this.off) f();
    try {
      if (this.ms.readyState === 'open') this.ms.endOfStream();
    } catch {
      // already ended or updating: removing the src below tears it down anyway
    }
    this.video.removeAttribute('src');
    this.video.load();
    URL.revokeObjectURL(this.url);
  }

  /** moveTo sets the playhead, or remembers it until there is metadata. */
  private moveTo(t: number): void {
    if (this.video.readyState < 1 /* HAVE_METADATA */) this.pending = t;
    else this.video.currentTime = t;
  }

  private setState(s: PlayerState): void {
    if (s === this.state) return;
    this.state = s;
    this.ev.onState?.(s);
  }

  /** pump brings the buffer in line with the plan for the current playhead. */
  private pump(): void {
    if (this.destroyed || this.dead || this.placed.length === 0) return;
    if (this.busy) {
      this.again = true;
      // A download the playhead has left is abandoned at once, so a seek
      // does not wait for it.
      if (this.fetching) {
        const plan = bufferPlan(this.placed, this.currentTime, [], this.failed);
        if (!plan.want.includes(this.fetching.index)) {
          this.fetching.ctl.abort();
          this.fetching = null;
        }
      }
      return;
    }
    this.busy = true;
    void this.step()
      .catch((err) => {
        if (!this.destroyed) this.ev.onFatal?.(err);
      })
      .finally(() => {
        this.busy = false;
        if (this.again && !this.destroyed) {
          this.again = false;
          this.pump();
        }
      });
  }

  private async step(): Promise<void> {
    await this.opened;
    if (this.destroyed) return;
    // Every SourceBuffer operation happens in step (one at a time), so the
    // duration can be raised here without an update in progress.
    const lastEnd = this.placed[this.placed.length - 1].end;
    if (this.ms.readyState === 'open' && !(this.ms.duration >= lastEnd) && !this.sb?.updating) {
      try {
        this.ms.duration = lastEnd;
      } catch {
        // duration is advisory for seeking; playback works without it
      }
    }
    const t = this.currentTime;
    const buffered = this.sb ? timeRanges(this.sb.buffered) : [];
    const plan = bufferPlan(this.placed, t, buffered, this.failed);

    // Drop a download the playhead has moved away from.
    if (this.fetching && !plan.want.includes(this.fetching.index)) {
      this.fetching.ctl.abort();
      this.fetching = null;
    }

    // Evict (forgetting which segments those spans held).
    if (this.sb) {
      for (const [s, e] of plan.evict) {
        if (e - s < 0.01) continue;
        await this.sbDo((sb) => sb.remove(s, e));
        for (const i of [...this.appended]) {
          const p = this.placed[i];
          if (p.start < e && p.end > s) this.appended.delete(i);
        }
      }
    }

    // Hole in the recording: jump to the next segment.
    const jump = gapTarget(this.placed, t, this.failed);
    // (Also while seeking: a seek into a hole or a failed segment would wait
    // for data that never comes.)
    if (jump !== null) {
      this.moveTo(jump);
      this.ev.onTime?.(jump);
      this.again = true;
      return;
    }
    // The end of the recordings: the element stalls at the last frame.
    if (t >= lastEnd - AT_END && plan.want.every((i) => this.appended.has(i)) && this.video.readyState < 3) {
      this.setState('ended');
      return;
    }
    if (plan.want.length === 0) return;

    const cur = plan.want[0];
    if (!this.appended.has(cur) && (this.video.seeking || this.video.readyState < 3)) this.setState('loading');

    for (const i of plan.want) {
      if (this.appended.has(i) || this.failed.has(i)) continue;
      await this.load(i);
      this.again = true; // the playhead may have moved while we waited
      return;
    }
  }

  /** load fetches, decrypts and appends segment i; on failure marks it failed and skips it. */
  private async load(i: number): Promise<void> {
    const p = this.placed[i];
    const ctl = new AbortController();
    this.fetching = { index: i, ctl };
    let data: Uint8Array;
    try {
      data = await this.src.segmentMP4(p.seg, ctl.signal);
    } catch (err) {
      if (ctl.signal.aborted || this.destroyed) return;
      this.fail(i, err);
      return;
    } finally {
      if (this.fetching?.ctl === ctl) this.fetching = null;
    }
    if (ctl.signal.aborted || this.destroyed) return;
    try {
      await this.append(p, data);
      this.appended.add(i);
    } catch (err) {
      if (this.destroyed) return;
      if (err instanceof DOMException && err.name === 'QuotaExceededError') {
        // Evict everything but the playhead's neighbourhood and let the next pump retry.
        const t = this.currentTime;
        if (this.sb && t > 1) await this.sbDo((sb) => sb.remove(0, Math.max(0, t - 1)));
        this.appended.clear();
        return;
      }
      if (err instanceof PlaybackError || this.ms.readyState !== 'open') {
        // Not this segment's fault: the browser cannot go on at all.
        this.fatal(err instanceof PlaybackError ? err
          : new PlaybackError('the browser stopped decoding these recordings (a segment it could not decode): reload the page to go on'));
        return;
      }
      this.fail(i, err);
      return;
    }
    if (i === segmentIndexAt(this.placed, this.currentTime) && this.autoplay && this.video.paused) {
      this.video.play().catch(() => {
        // autoplay refused: the user presses play
        this.setState('paused');
      });
    }
  }

  /** fatal stops the player for good and tells the page. */
  private fatal(err: PlaybackError): void {
    this.fetching?.ctl.abort();
    this.dead = true;
    this.ev.onFatal?.(err);
  }

  private fail(i: number, err: unknown): void {
    this.failed.add(i);
    this.ev.onSegmentError?.(this.placed[i].seg, err);
    const t = this.currentTime;
    const p = this.placed[i];
    // If the playhead is in the bad segment, move on to the next good one.
    if (t >= p.start - SMALL_GAP && t < p.end) {
      const next = this.placed.findIndex((_q, k) => k > i && !this.failed.has(k));
      if (next >= 0) this.moveTo(this.placed[next].start);
      else this.setState('ended');
    }
  }

  private async append(p: Placed, data: Uint8Array): Promise<void> {
    const mime = codecString(data, p.seg.codec);
    if (!this.sb) {
      if (!MediaSource.isTypeSupported(mime)) {
        throw new PlaybackError(`this browser cannot play this camera's video (${mime}): try another browser, or download a clip and play it with a video player`);
      }
      this.sb = this.ms.addSourceBuffer(mime);
      this.sb.mode = 'segments';
      this.mime = mime;
    } else if (mime !== this.mime && typeof this.sb.changeType === 'function') {
      await this.sbDo((sb) => sb.changeType(mime));
      this.mime = mime;
    }
    await this.sbDo((sb) => {
      sb.timestampOffset = p.start - firstCompositionOffset(data);
      sb.appendBuffer(data as Uint8Array<ArrayBuffer>);
    });
  }

  /** sbDo runs one SourceBuffer operation and waits for it to finish. */
  private sbDo(op: (sb: SourceBuffer) => void): Promise<void> {
    const sb = this.sb;
    if (!sb) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const run = () => {
        const done = () => {
          sb.removeEventListener('updateend', done);
          sb.removeEventListener('error', fail);
          resolve();
        };
        const fail = () => {
          sb.removeEventListener('updateend', done);
          sb.removeEventListener('error', fail);
          reject(new Error('the browser refused this video segment (it may be corrupt)'));
        };
        sb.addEventListener('updateend', done);
        sb.addEventListener('error', fail);
        try {
          op(sb);
        } catch (err) {
          sb.removeEventListener('updateend', done);
          sb.removeEventListener('error', fail);
          reject(err);
          return;
        }
        if (!sb.updating) done(); // a no-op (e.g. changeType) fires no updateend
      };
      if (sb.updating) sb.addEventListener('updateend', run, { once: true });
      else run();
    });
  }
}
