// End-to-end test of the browser app: Playwright (playwright-core, no
// bundled browser) drives Debian's chromium against a real porchlightd, hub
// and camsim that internal/e2e/web_test.go started on loopback. That Go test
// signed up the owner with the CLI, claimed the hub and filed a support
// request; this script does what a person would in the browser, checks each
// step, screenshots every page and records the whole network log to prove
// no plaintext media crossed it.
//
// Environment:
//   PORCHLIGHT_URL          the service, e.g. http://127.0.0.1:41234
//   PORCHLIGHT_EMAIL, PORCHLIGHT_PASSWORD   the owner's account
//   PORCHLIGHT_CLI          the porchlight binary; PORCHLIGHT_HOME etc. in the
//                           environment make it the owner's CLI device
//   PORCHLIGHT_CAMERA       the camera's name
//   PORCHLIGHT_GRANT        a pending support request id to approve (optional)
//   PORCHLIGHT_TOTP_SECRET  the owner's authenticator secret (base32), if any,
//   PORCHLIGHT_TOTP_STEP    and the last time step the service accepted
//   PORCHLIGHT_ARTIFACTS    where screenshots and the clip go
//                           (default $TMPDIR/porchlight-web-artifacts)
//   PORCHLIGHT_STEPS        "all" (default) or "live" (sign in, pair, grid,
//                           live view only)
//   PORCHLIGHT_LIVE_RUNS    how many times live view is opened and measured
//                           (default 1; bench/live/run sets more)
//   PORCHLIGHT_LIVE_SECONDS how long each live view is measured (default 8)
//   PORCHLIGHT_CLIP_FROM, PORCHLIGHT_CLIP_TO  the clip to download (RFC 3339;
//                           default the 20 s ending 10 s ago)
//   PORCHLIGHT_CHROMIUM     the browser (default /usr/bin/chromium)
//   PORCHLIGHT_ZONE         if set, draw a zone of this name on the zones
//                           page (corners at ZONE_CORNERS of the picture) and
//                           save it; the Go test reads it back with the CLI
//   PORCHLIGHT_MEMBER_INVITE  an invite code (porchlight members invite) to
//                           accept in a second browser as the member
//                           PORCHLIGHT_MEMBER_EMAIL / _PASSWORD, whose CLI
//                           lives in PORCHLIGHT_MEMBER_HOME; the owner's CLI
//                           confirms it
//   PORCHLIGHT_DOORBELL     "1": a doorbell event of the camera exists (the
//                           Go test pressed the hub's doorbell); open it from
//                           the timeline on the event page
//
// Output: "e2e: …" progress lines and, last, one line "RESULT {json}" with
// the measurements. Exit status 0 only if every step passed.
import { chromium } from 'playwright-core';
import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const env = process.env;
const BASE = need('PORCHLIGHT_URL').replace(/\/$/, '');
const EMAIL = need('PORCHLIGHT_EMAIL');
const PASSWORD = need('PORCHLIGHT_PASSWORD');
const CLI = need('PORCHLIGHT_CLI');
const CAMERA = need('PORCHLIGHT_CAMERA');
const GRANT = env.PORCHLIGHT_GRANT ?? '';
const ART = env.PORCHLIGHT_ARTIFACTS || join(tmpdir(), 'porchlight-web-artifacts');
const STEPS = env.PORCHLIGHT_STEPS || 'all';
const LIVE_RUNS = Number(env.PORCHLIGHT_LIVE_RUNS || 1);
const LIVE_SECONDS = Number(env.PORCHLIGHT_LIVE_SECONDS || 8);
const CHROMIUM = env.PORCHLIGHT_CHROMIUM || '/usr/bin/chromium';
const ZONE = env.PORCHLIGHT_ZONE ?? '';
// A member to share the camera with: its account, its CLI's home and an
// invite code the owner's CLI made (porchlight members invite).
const MEMBER = env.PORCHLIGHT_MEMBER_INVITE ? {
  email: need('PORCHLIGHT_MEMBER_EMAIL'), password: need('PORCHLIGHT_MEMBER_PASSWORD'),
  home: need('PORCHLIGHT_MEMBER_HOME'), invite: env.PORCHLIGHT_MEMBER_INVITE,
} : null;
const DOORBELL = env.PORCHLIGHT_DOORBELL === '1';
// ZONE_CORNERS are where the zone's corners are clicked, as fractions of
// the picture (internal/e2e/web_test.go expects them back).
const ZONE_CORNERS = [[0.1, 0.5], [0.6, 0.5], [0.6, 0.9], [0.1, 0.9]];

function need(k) {
  const v = env[k];
  if (!v) { console.error(`e2e: set ${k}`); process.exit(2); }
  return v;
}

mkdirSync(ART, { recursive: true });
// Only this run's artifacts: earlier screenshots would mislead.
for (const f of readdirSync(ART)) if (/\.(png|mp4|json)$/.test(f)) rmSync(join(ART, f));
const result = { artifacts: ART, steps: [], live: [], network: {} };
const log = (...a) => console.log('e2e:', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class StepError extends Error {}

// totpCode returns an authenticator code (RFC 6238: HMAC-SHA-1, 30 s, 6
// digits) for a step after the last one used: the service takes codes one
// step early and never a step twice, so this waits only when two codes are
// needed within one step.
let lastStep = Number(env.PORCHLIGHT_TOTP_STEP || 0);
async function totpCode() {
  const b32 = env.PORCHLIGHT_TOTP_SECRET;
  if (!b32) throw new StepError('the page asks for an authenticator code: set PORCHLIGHT_TOTP_SECRET');
  let bits = '';
  for (const c of b32.replace(/=+$/, '')) bits += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  let cur = Math.floor(Date.now() / 30_000);
  const step = Math.max(lastStep + 1, cur - 1);
  while (step > cur + 1) { await sleep(1000); cur = Math.floor(Date.now() / 30_000); }
  lastStep = step;
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', key).update(msg).digest();
  const off = h[h.length - 1] & 0x0f;
  return String((h.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
function check(cond, msg) { if (!cond) throw new StepError(msg); }

let shot = 0;
async function screenshot(page, name) {
  const file = join(ART, `${String(++shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function cli(...args) {
  return cliAs(env, ...args);
}

// cliAs runs the porchlight CLI with environment e (another account's CLI
// device: PORCHLIGHT_HOME and PORCHLIGHT_PASSWORD set).
async function cliAs(e, ...args) {
  try {
    const { stdout } = await run(CLI, args, { env: e, timeout: 120_000 });
    return stdout;
  } catch (e) {
    throw new StepError(`porchlight ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

// ---- The network log: no plaintext media may cross it. -------------------

const AGE = Buffer.from('age-encryption.org/v1');
// findPlainMedia returns what plaintext media marker b holds, or null:
// an MP4 box header (ftyp/moof/mdat after a big-endian size whose top
// bytes are zero) or an H.264 Annex-B start code before an IDR or SPS NAL
// unit. In ciphertext each has a chance of about 2^-40 per position.
function findPlainMedia(b, from = 0) {
  for (let i = from + 3; i + 1 < b.length; i++) {
    const c = b[i];
    if ((c === 0x66 || c === 0x6d) && i >= from + 4 && i + 4 <= b.length) { // f, m
      const t = b.toString('latin1', i, i + 4);
      if ((t === 'ftyp' || t === 'moof' || t === 'mdat') && b[i - 4] === 0 && (t !== 'ftyp' || b[i - 3] === 0)) return `${t} box at ${i - 4}`;
    }
    if (c === 0x01 && b[i - 1] === 0 && b[i - 2] === 0 && b[i - 3] === 0) {
      const nal = b[i + 1];
      if (nal === 0x65 || nal === 0x67 || nal === 0x45 || nal === 0x47 || nal === 0x25 || nal === 0x27) return `H.264 start code at ${i - 3}`;
    }
  }
  return null;
}

const net = { responses: 0, bytes: 0, objects: 0, objectBytes: 0, wsFrames: 0, wsBytes: 0, violations: [], pending: [] };
let indexHeaders = null;

function watchNetwork(page) {
  page.on('response', (resp) => {
    const url = resp.url();
    if (!url.startsWith(BASE)) return;
    const ct = resp.headers()['content-type'] ?? '';
    const path = new URL(url).pathname;
    if (path === '/' && resp.request().method() === 'GET') indexHeaders = resp.headers();
    if (ct.startsWith('text/event-stream') || resp.status() === 101 || resp.status() === 204 || resp.status() === 304) return;
    net.pending.push(resp.body().then((b) => {
      net.responses++;
      net.bytes += b.length;
      if (path.startsWith('/v1/objects/') && resp.status() === 200) {
        net.objects++;
        net.objectBytes += b.length;
        if (!b.subarray(0, AGE.length).equals(AGE)) net.violations.push(`${path}: body does not start with age-encryption.org/v1`);
        return;
      }
      if (b.subarray(0, AGE.length).equals(AGE)) return; // an age file: ciphertext
      const m = findPlainMedia(b);
      if (m) net.violations.push(`${resp.request().method()} ${path}: ${m}`);
    }, () => { /* body gone (navigation): nothing crossed that we can read */ }));
  });
  page.on('websocket', (ws) => {
    const path = new URL(ws.url()).pathname;
    const frame = (dir) => (f) => {
      const b = typeof f.payload === 'string' ? Buffer.from(f.payload) : Buffer.from(f.payload);
      net.wsFrames++;
      net.wsBytes += b.length;
      // A live media message is 0x01 | seq (uint64 BE) | ciphertext: the
      // clear sequence number (0x0000000000000165…) is not media.
      const binary = typeof f.payload !== 'string';
      const m = findPlainMedia(b, binary && b[0] === 0x01 && b.length > 9 ? 9 : 0);
      if (m) net.violations.push(`WebSocket ${path} frame ${dir}: ${m}`);
    };
    ws.on('framereceived', frame('received'));
    ws.on('framesent', frame('sent'));
    liveSockets.push({ ws, path, closedAt: 0 });
    ws.on('close', () => { for (const s of liveSockets) if (s.ws === ws) s.closedAt = Date.now(); });
  });
}
const liveSockets = [];
const cspErrors = [];
const pageErrors = [];

// ---- Steps. ----------------------------------------------------------------

const tid = (id) => `[data-testid="${id}"]`;

async function step(name, fn) {
  const t0 = Date.now();
  log(`${name} …`);
  try {
    const extra = await fn();
    const ms = Date.now() - t0;
    result.steps.push({ name, ok: true, ms, ...(extra ?? {}) });
    log(`${name}: ok (${ms} ms)`);
  } catch (e) {
    result.steps.push({ name, ok: false, error: String(e.message ?? e) });
    log(`${name}: FAILED: ${e.message ?? e}`);
    throw e;
  }
}

async function signIn(page, who = { email: EMAIL, password: PASSWORD, tag: '' }) {
  await page.goto(`${BASE}/#/signin`);
  const form = page.locator(tid('signin-form'));
  await form.waitFor({ timeout: 20_000 });
  check(indexHeaders?.['content-security-policy']?.includes("script-src 'self'"), `GET / has no strict Content-Security-Policy: ${indexHeaders?.['content-security-policy']}`);
  await screenshot(page, `signin${who.tag}`);
  await form.locator('input[name="email"]').fill(who.email);
  await form.locator('input[name="password"]').fill(who.password);
  await form.locator('input[name="password"]').press('Enter');
  // With an authenticator app the form asks for a code next.
  const totp = page.locator('input[name="totp"]');
  const next = await Promise.race([
    totp.waitFor({ timeout: 20_000 }).then(() => 'totp'),
    page.waitForFunction(() => !location.hash.startsWith('#/signin'), null, { timeout: 20_000 }).then(() => 'in'),
  ]).catch(() => 'stuck');
  if (next === 'totp') {
    await screenshot(page, 'signin-totp');
    await totp.fill(await totpCode());
    await totp.press('Enter');
  }
  // Signed in, the app asks to pair this browser (a new device).
  await page.waitForFunction(() => location.hash.startsWith('#/pair') || location.hash === '#/' || location.hash === '', null, { timeout: 20_000 })
    .catch(async () => {
      const err = await page.locator(tid('signin-error')).textContent().catch(() => '');
      throw new StepError(`sign-in did not leave the sign-in page: ${err}`);
    });
}

async function checkSRI(page) {
  const html = await (await page.request.get(`${BASE}/`)).text();
  const refs = [...html.matchAll(/(?:src|href)="\/([^"]+)" integrity="(sha384-[^"]+)"/g)];
  check(refs.length === 2, `index.html pins ${refs.length} files by integrity, want 2`);
  for (const [, file, want] of refs) {
    const body = await (await page.request.get(`${BASE}/${file}`)).body();
    const got = 'sha384-' + createHash('sha384').update(body).digest('base64');
    check(got === want, `/${file} hashes to ${got}, index.html says ${want}`);
  }
  const client = await (await page.request.get(`${BASE}/v1/client`)).json();
  check(/^[0-9a-f]{64}$/.test(client.sha256) && client.files.includes('index.html'), `GET /v1/client: ${JSON.stringify(client)}`);
  return { bundle: client.sha256 };
}

async function pair(page, cliEnv = env, tag = '') {
  await page.waitForFunction(() => location.hash.startsWith('#/pair'), null, { timeout: 20_000 });
  const codeEl = page.locator(tid('pair-code'));
  await codeEl.waitFor({ timeout: 30_000 });
  const code = (await codeEl.textContent()).trim();
  const sas = (await page.locator(tid('pair-sas')).textContent()).trim();
  await screenshot(page, `pair${tag}`);
  const out = await cliAs(cliEnv, 'device', 'approve', '--yes', code);
  const m = out.match(/Authentication string: (.+)/);
  check(m, `device approve printed no authentication string:\n${out}`);
  check(m[1].trim().replace(/\s+/g, ' ') === sas.replace(/\s+/g, ' '), `the page shows SAS "${sas}", the owner device "${m[1].trim()}"`);
  await page.waitForFunction(() => location.hash === '#/' || location.hash === '', null, { timeout: 60_000 });
  return { code };
}

async function grid(page) {
  const card = page.locator(tid('camera-card'), { has: page.locator(tid('camera-name'), { hasText: CAMERA }) });
  await card.waitFor({ timeout: 30_000 });
  const camera = await card.getAttribute('data-camera');
  check(camera, 'the camera card has no data-camera');
  const img = card.locator(tid('camera-thumb'));
  await page.waitForFunction((sel) => {
    const i = document.querySelector(sel);
    return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0;
  }, `[data-camera="${camera}"] ${tid('camera-thumb')}`, { timeout: 90_000 });
  const w = await img.evaluate((i) => i.naturalWidth);
  await screenshot(page, 'grid');
  return { camera, thumbWidth: w };
}

// measureLive opens the live page and measures time to first frame and,
// from the clock strip camsim burns into each frame, glass-to-glass latency.
async function measureLive(page, camera, seconds, tag) {
  await page.goto(`${BASE}/#/`);
  await page.locator(tid('camera-card')).first().waitFor({ timeout: 30_000 });
  const t0 = Date.now();
  await page.evaluate((c) => { location.hash = `#/live/${encodeURIComponent(c)}`; }, camera);
  const video = page.locator(tid('live-video'));
  await video.waitFor({ timeout: 20_000 });
  await page.waitForFunction((sel) => {
    const v = document.querySelector(sel);
    return v && v.readyState >= 2 && v.currentTime > 0;
  }, tid('live-video'), { timeout: 20_000, polling: 10 }).catch(async () => {
    const st = await page.locator(tid('live-status')).textContent().catch(() => '');
    throw new StepError(`live video did not start within 20 s (status: ${st})`);
  });
  const ttff = Date.now() - t0;
  await page.waitForFunction((sel) => /live/i.test(document.querySelector(sel)?.textContent ?? ''), tid('live-status'), { timeout: 5_000 })
    .catch(async () => { throw new StepError(`live video plays but live-status says "${await page.locator(tid('live-status')).textContent()}", want live`); });
  const ct0 = await video.evaluate((v) => v.currentTime);
  // Read the clock strip of every presented frame for `seconds`.
  const samples = await video.evaluate(async (v, secs) => {
    const W = v.videoWidth, H = v.videoHeight;
    const bw = Math.floor(W / 32), bh = Math.max(16, Math.floor(H / 24));
    const cv = document.createElement('canvas');
    cv.width = W; cv.height = bh;
    const ctx = cv.getContext('2d', { willReadFrequently: true });
    const out = [];
    const read = () => {
      ctx.drawImage(v, 0, 0, W, bh, 0, 0, W, bh);
      const d = ctx.getImageData(0, 0, W, bh).data;
      let val = 0;
      for (let i = 0; i < 32; i++) {
        let sum = 0, n = 0;
        for (let y = Math.floor(bh / 4); y < Math.floor(3 * bh / 4); y++) {
          for (let x = i * bw + Math.floor(bw / 4); x < i * bw + Math.floor(3 * bw / 4); x++) {
            const p = (y * W + x) * 4;
            sum += 0.299 * d[p] + 0.587 * d[p + 1] + 0.114 * d[p + 2];
            n++;
          }
        }
        const avg = sum / n;
        if (avg > 80 && avg < 176) return null;
        val = (val * 2 + (avg >= 128 ? 1 : 0)) >>> 0;
      }
      return val;
    };
    const end = performance.now() + secs * 1000;
    await new Promise((resolve) => {
      const tick = (now, meta) => {
        const shown = performance.timeOrigin + (meta?.expectedDisplayTime ?? now);
        const val = read();
        if (val !== null) out.push(((Math.round(shown) % 4294967296) - val + 4294967296 + 2147483648) % 4294967296 - 2147483648);
        if (performance.now() < end) v.requestVideoFrameCallback(tick); else resolve();
      };
      v.requestVideoFrameCallback(tick);
    });
    return out;
  }, seconds);
  const ct1 = await video.evaluate((v) => v.currentTime);
  check(ct1 > ct0 + seconds / 2, `live video time went from ${ct0} to ${ct1} in ${seconds} s`);
  check(samples.length >= seconds * 5, `read the clock strip from only ${samples.length} frames in ${seconds} s`);
  const file = join(ART, `${String(++shot).padStart(2, '0')}-live${tag}.png`);
  await video.screenshot({ path: file });
  const variance = await pixelVariance(file);
  check(variance > 100, `the live screenshot is blank (luma variance ${variance.toFixed(1)})`);
  await screenshot(page, `live-page${tag}`);
  const latencyText = (await page.locator(tid('live-latency')).textContent()).trim();
  const sorted = [...samples].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const r = { ttff_ms: ttff, g2g_p50_ms: q(0.5), g2g_p95_ms: q(0.95), frames: samples.length, variance: Math.round(variance), latency_text: latencyText };
  check(r.g2g_p50_ms > 0 && r.g2g_p50_ms < 10_000, `glass-to-glass latency ${r.g2g_p50_ms} ms is not plausible`);
  log(`live${tag}: first frame ${ttff} ms, glass-to-glass p50 ${r.g2g_p50_ms} ms p95 ${r.g2g_p95_ms} ms over ${samples.length} frames (page says ${latencyText})`);
  result.live.push(r);
  return r;
}

// pixelVariance decodes a PNG with ffmpeg to grey and returns the variance.
async function pixelVariance(file) {
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 64 << 20 });
  let sum = 0, sq = 0;
  for (const v of stdout) { sum += v; sq += v * v; }
  const n = stdout.length || 1;
  return sq / n - (sum / n) ** 2;
}

async function recording(page, camera) {
  await page.goto(`${BASE}/#/camera/${encodeURIComponent(camera)}`);
  const player = page.locator(tid('player'));
  await player.waitFor({ timeout: 30_000 });
  await page.locator(`${tid('timeline')} .tl-run`).first().waitFor({ timeout: 30_000 });
  // Playing starts at the newest recording; make sure it plays.
  await page.waitForFunction((sel) => { const v = document.querySelector(sel); return v && v.readyState >= 2; }, tid('player'), { timeout: 60_000 });
  await player.evaluate((v) => v.play().catch(() => {}));
  const t0 = await player.evaluate((v) => v.currentTime);
  await page.waitForFunction(([sel, t]) => document.querySelector(sel).currentTime > t + 1, [tid('player'), t0], { timeout: 20_000 })
    .catch(() => { throw new StepError(`the recording does not play: currentTime stays at ${t0}`); });
  await screenshot(page, 'recording');
  // Scrub 15 s away (forward if that is still recorded, else back): the
  // player jumps there.
  const scrub = page.locator(tid('scrubber'));
  const before = Number(await scrub.inputValue());
  const nowSecs = await page.evaluate(() => { const d = new Date(); return d.getHours() * 3600 + d.getMinutes() * 60 + d.getSeconds(); });
  const target = before + 15 < nowSecs - 10 ? before + 15 : Math.max(0, before - 15);
  const timeBefore = (await page.locator(tid('player-time')).textContent()).trim();
  await scrub.evaluate((s, v) => {
    s.value = String(v);
    s.dispatchEvent(new Event('input', { bubbles: true }));
    s.dispatchEvent(new Event('change', { bubbles: true }));
  }, target);
  await page.waitForFunction(([sel, want]) => Math.abs(Number(document.querySelector(sel).value) - want) <= 5, [tid('scrubber'), target], { timeout: 20_000 })
    .catch(() => { throw new StepError(`scrubbing to ${target} s did not move the player`); });
  const c0 = await player.evaluate((v) => v.currentTime);
  await page.waitForFunction(([sel, t]) => { const v = document.querySelector(sel); return v.readyState >= 2 && v.currentTime > t + 0.5; }, [tid('player'), c0], { timeout: 20_000 })
    .catch(() => { throw new StepError('after scrubbing the recording does not play'); });
  const timeAfter = (await page.locator(tid('player-time')).textContent()).trim();
  await screenshot(page, 'recording-scrubbed');
  return { scrubbed_from: before, scrubbed_to: target, time_before: timeBefore, time_after: timeAfter };
}

async function download(page) {
  const from = page.locator(tid('download-from'));
  await from.waitFor({ timeout: 10_000 });
  // datetime-local inputs take the browser's local time.
  const now = Date.now();
  const range = await page.evaluate(([a, b]) => {
    const pad = (n) => String(n).padStart(2, '0');
    const f = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return [f(new Date(a)), f(new Date(b))];
  }, [env.PORCHLIGHT_CLIP_FROM ? Date.parse(env.PORCHLIGHT_CLIP_FROM) : now - 30_000, env.PORCHLIGHT_CLIP_TO ? Date.parse(env.PORCHLIGHT_CLIP_TO) : now - 10_000]);
  await from.fill(range[0]);
  await page.locator(tid('download-to')).fill(range[1]);
  const dl = page.waitForEvent('download', { timeout: 90_000 });
  await page.locator(tid('download')).click();
  // The page either starts the download or offers a link to save it.
  const link = page.locator(tid('download-link'));
  const first = await Promise.race([dl.then(() => 'download'), link.waitFor({ timeout: 90_000 }).then(() => 'link')]);
  if (first === 'link') await link.click();
  const d = await dl;
  const file = join(ART, 'clip.mp4');
  await d.saveAs(file);
  await screenshot(page, 'download');
  let probe;
  try {
    probe = (await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', file])).stdout;
  } catch (e) {
    throw new StepError(`ffprobe cannot read the downloaded clip ${file}: ${e.stderr || e.message}`);
  }
  // The plaintext detector must catch real plaintext media, or its silence
  // on the network log proves nothing.
  check(findPlainMedia(readFileSync(file)), 'the plaintext-media detector does not see the decrypted clip as media');
  const s = JSON.parse(probe).streams?.[0];
  check(s && s.codec_name === 'h264' && Number(s.nb_read_frames) > 25, `the clip is not 1 s or more of H.264: ${probe}`);
  return { clip: file, frames: Number(s.nb_read_frames), size: `${s.width}x${s.height}` };
}

// reauthUnless waits for done (a promise) or the page's "confirm it is
// you" dialog, whichever comes first, and answers the dialog with the
// password (and an authenticator code if asked).
async function reauthUnless(page, done) {
  const dialog = page.locator(tid('reauth-dialog'));
  done.catch(() => {});
  const first = await Promise.race([
    dialog.waitFor({ timeout: 30_000 }).then(() => 'reauth'),
    done.then(() => 'done'),
  ]);
  if (first !== 'reauth') return;
  await screenshot(page, 'reauth');
  await dialog.locator('input[name="password"]').fill(PASSWORD);
  await dialog.locator(tid('reauth-submit')).click();
  const code = dialog.locator('input[name="totp"]');
  const then = await Promise.race([
    code.waitFor({ timeout: 20_000 }).then(() => 'totp'),
    dialog.waitFor({ state: 'hidden', timeout: 20_000 }).then(() => 'done'),
  ]);
  if (then === 'totp') {
    await code.fill(await totpCode());
    await dialog.locator(tid('reauth-submit')).click();
  }
}

async function approveGrant(page) {
  await page.goto(`${BASE}/#/settings/grants`);
  const item = page.locator(tid('grant-item')).filter({ has: page.locator(tid('grant-approve')) }).first();
  await item.waitFor({ timeout: 30_000 });
  await screenshot(page, 'grants');
  await item.locator(tid('grant-approve')).click();
  // Approving needs a recent sign-in: the page may ask for the password.
  const done = page.locator(tid('grant-item'), { hasText: /approved/i });
  await reauthUnless(page, done.first().waitFor({ timeout: 30_000 }));
  await done.first().waitFor({ timeout: 60_000 });
  await screenshot(page, 'grant-approved');
  const out = await cli('grants');
  check(new RegExp(`${GRANT}\\s+approved`).test(out) || (out.includes(GRANT) && /approved/.test(out)), `porchlight grants does not list ${GRANT} as approved:\n${out}`);
}

// zones draws a 4-corner zone named ZONE on the camera's zones page, ticks
// person, and saves it (signed and sealed in the page).
async function zones(page, camera) {
  await page.goto(`${BASE}/#/settings/zones/${encodeURIComponent(camera)}`);
  const canvas = page.locator(tid('zones-canvas'));
  await canvas.waitFor({ timeout: 30_000 });
  // The picture under the canvas: decrypted here (an event thumbnail or a
  // frame of the newest recording); drawing waits for it so the layout holds.
  const pic = await page.waitForFunction((sel) => {
    const i = document.querySelector(sel);
    return i && i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0;
  }, tid('zones-snapshot'), { timeout: 60_000 }).then((h) => h.jsonValue()).catch(() => 0);
  await page.locator(tid('zones-new')).click();
  const box = await canvas.boundingBox();
  check(box && box.width > 50 && box.height > 50, `the zones canvas is ${JSON.stringify(box)}: too small to draw on`);
  for (const [x, y] of ZONE_CORNERS) await canvas.click({ position: { x: x * box.width, y: y * box.height } });
  await page.locator(tid('zones-finish')).click();
  const item = page.locator(tid('zone-item')).last();
  await item.waitFor({ timeout: 5_000 });
  await item.locator(tid('zone-name')).fill(ZONE);
  const person = item.locator(tid('zone-class-person'));
  await person.check();
  check(await person.isChecked(), 'the zone\'s person box does not stay ticked');
  await page.locator(tid('zones-save')).click();
  const status = page.locator(tid('zones-status'));
  await reauthUnless(page, page.waitForFunction((sel) => /Saved zones version \d+/.test(document.querySelector(sel)?.textContent ?? ''), tid('zones-status'), { timeout: 30_000 }));
  await page.waitForFunction((sel) => /Saved zones version \d+/.test(document.querySelector(sel)?.textContent ?? ''), tid('zones-status'), { timeout: 60_000 })
    .catch(async () => {
      const err = await page.locator(tid('error')).allTextContents().catch(() => []);
      throw new StepError(`the zones were not saved: status "${await status.textContent()}" ${err.join(' | ')}`);
    });
  const text = (await status.textContent()).trim();
  await screenshot(page, 'zones');
  return { zone: ZONE, corners: ZONE_CORNERS, status: text, picture_width: pic };
}

// eventDetail finds the doorbell event in the camera's timeline and opens
// its page from there.
async function eventDetail(page, camera) {
  await page.goto(`${BASE}/#/camera/${encodeURIComponent(camera)}`);
  const item = page.locator(tid('event-item'), { hasText: /doorbell/i }).first();
  await item.waitFor({ timeout: 30_000 }).catch(async () => {
    const n = await page.locator(tid('event-item')).count();
    throw new StepError(`the timeline lists ${n} events, none a doorbell press`);
  });
  const id = await item.getAttribute('data-event');
  check(id, 'the event item has no data-event');
  const link = await item.locator('a').first().getAttribute('href');
  const want = `#/event/${encodeURIComponent(camera)}/${encodeURIComponent(id)}`;
  check(link && link.startsWith(want), `the event item links to ${link}, want ${want}…`);
  await screenshot(page, 'timeline-events');
  await page.goto(`${BASE}/${link}`);
  await page.locator(tid('event-play')).waitFor({ timeout: 30_000 }).catch(async () => {
    const err = await page.locator(tid('error')).allTextContents().catch(() => []);
    throw new StepError(`the event page of ${id} did not open: ${err.join(' | ')}`);
  });
  const facts = (await page.locator('.ev-facts').textContent()).replace(/\s+/g, ' ').trim();
  check(/doorbell/i.test(facts), `the event page does not show a doorbell event: "${facts}"`);
  // A doorbell press carries no picture: the page must say so; any other
  // outcome is a decrypted thumbnail.
  const pic = page.locator('.ev-picture');
  await page.waitForFunction(() => {
    const p = document.querySelector('.ev-picture');
    return p && !p.querySelector('[data-testid="loading"]');
  }, null, { timeout: 30_000 });
  let thumb = 'none';
  if (await page.locator(tid('event-thumb')).count()) {
    await page.waitForFunction((sel) => { const i = document.querySelector(sel); return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0; },
      tid('event-thumb'), { timeout: 30_000 });
    thumb = 'shown';
  } else {
    const said = (await pic.textContent()).trim();
    check(/no thumbnail/i.test(said), `the doorbell event has no thumbnail and the page does not say so: "${said}"`);
  }
  await screenshot(page, 'event-doorbell');
  return { event: id, thumbnail: thumb, facts };
}

// member: the invited account signs in in a browser of its own, pairs it
// with its own CLI device, accepts the owner's invite there, the owner's
// CLI confirms after comparing the authentication string, and the shared
// camera appears with a decrypted thumbnail and plays.
async function member(camera) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const mp = await ctx.newPage();
    watchNetwork(mp);
    mp.on('pageerror', (e) => { pageErrors.push(String(e)); log(`member page error: ${e}`); });
    const memberEnv = { ...env, PORCHLIGHT_HOME: MEMBER.home, PORCHLIGHT_PASSWORD: MEMBER.password };
    await signIn(mp, { email: MEMBER.email, password: MEMBER.password, tag: '-member' });
    await pair(mp, memberEnv, '-member');
    const panel = mp.locator(tid('invite-panel'));
    await panel.waitFor({ timeout: 30_000 });
    await panel.evaluate((d) => { d.open = true; });
    await mp.locator(tid('invite-code')).fill(MEMBER.invite);
    await mp.locator(tid('invite-accept')).click();
    const sasEl = mp.locator(tid('invite-sas'));
    await sasEl.waitFor({ timeout: 30_000 }).catch(async () => {
      const err = await mp.locator(tid('error')).allTextContents().catch(() => []);
      throw new StepError(`accepting the invite showed no authentication string: ${err.join(' | ')}`);
    });
    const sas = (await sasEl.textContent()).trim();
    await screenshot(mp, 'member-accepted');
    // Confirming needs a recent sign-in: on a slow run the owner's CLI
    // signs in again, with a code if the owner has an authenticator app.
    const ownerEnv = env.PORCHLIGHT_TOTP_SECRET ? { ...env, PORCHLIGHT_TOTP: await totpCode() } : env;
    const out = await cliAs(ownerEnv, 'members', 'confirm', '--yes', MEMBER.invite);
    const m = out.match(/Authentication string: (.+)/);
    check(m && m[1].trim().replace(/\s+/g, ' ') === sas.replace(/\s+/g, ' '), `the member's browser shows "${sas}", the owner's members confirm "${m?.[1]}"`);
    // The page finds the confirmation by itself; the hub re-seals the
    // camera's name to the new roster within its roster poll.
    const card = mp.locator(tid('camera-card'), { has: mp.locator(tid('camera-shared')) })
      .filter({ has: mp.locator(tid('camera-name'), { hasText: CAMERA }) });
    const t0 = Date.now();
    let reloaded = t0;
    for (;;) {
      if (await card.count()) break;
      check(Date.now() - t0 < 90_000, `the shared camera did not appear on the member's grid within 90 s of the confirmation: ${(await mp.locator('body').textContent().catch(() => '')).replace(/\s+/g, ' ').slice(0, 300)}`);
      await sleep(500);
      // Listed but not yet readable (its name not re-sealed to the member yet): look again.
      if (Date.now() - reloaded > 5000 && await mp.locator(tid('camera-shared')).count()) {
        reloaded = Date.now();
        await mp.reload();
      }
    }
    const shownAfter = Date.now() - t0;
    check(await card.getAttribute('data-camera') === camera, `the shared card is camera ${await card.getAttribute('data-camera')}, want ${camera}`);
    await mp.waitForFunction((sel) => {
      const i = document.querySelector(sel);
      return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0;
    }, `[data-camera="${camera}"] ${tid('camera-thumb')}`, { timeout: 90_000 })
      .catch(() => { throw new StepError('the shared camera shows no decrypted picture to the member'); });
    await screenshot(mp, 'member-grid');
    await mp.goto(`${BASE}/#/camera/${encodeURIComponent(camera)}`);
    await mp.waitForFunction((sel) => { const v = document.querySelector(sel); return v && v.readyState >= 2; }, tid('player'), { timeout: 60_000 })
      .catch(() => { throw new StepError('the shared camera\'s recording does not load for the member'); });
    await screenshot(mp, 'member-recording');
    return { sas, shown_ms: shownAfter };
  } finally {
    await ctx.close();
  }
}

async function settingsPages(page) {
  for (const tab of ['sessions', 'security', 'members', 'devices', 'cameras']) {
    await page.goto(`${BASE}/#/settings/${tab}`);
    await page.waitForFunction(() => !document.querySelector('[data-testid="loading"]'), null, { timeout: 20_000 }).catch(() => {});
    await sleep(300);
    const errors = await page.evaluate(() => [...document.querySelectorAll('[data-testid="error"]')]
      .filter((e) => e.getClientRects().length > 0).map((e) => e.textContent.trim()));
    check(errors.length === 0, `settings/${tab} shows an error: ${errors.join(' | ')}`);
    await screenshot(page, `settings-${tab}`);
  }
  await page.goto(`${BASE}/#/settings/audit`);
  const st = page.locator(tid('audit-status'));
  await page.waitForFunction((sel) => /verified|ALARM/.test(document.querySelector(sel)?.textContent ?? ''), tid('audit-status'), { timeout: 60_000 });
  const text = (await st.textContent()).trim();
  await screenshot(page, 'settings-audit');
  check(/verified/.test(text) && !/ALARM/.test(text), `the audit log does not verify: ${text}`);
  return { audit: text };
}

async function revoke(page, camera) {
  // Live view open, then the owner's CLI signs this browser out.
  await page.goto(`${BASE}/#/live/${encodeURIComponent(camera)}`);
  await page.waitForFunction((sel) => { const v = document.querySelector(sel); return v && v.currentTime > 0; }, tid('live-video'), { timeout: 20_000 });
  const sock = liveSockets.filter((s) => s.path.startsWith('/v1/live/') && !s.closedAt).at(-1);
  check(sock, 'no open live WebSocket');
  const out = await cli('sessions');
  const row = out.split('\n').find((l) => !l.trimStart().startsWith('*') && /Chrome/.test(l));
  check(row, `porchlight sessions lists no browser session:\n${out}`);
  const id = row.trim().split(/\s+/)[0];
  await cli('sessions', 'revoke', id);
  const t0 = Date.now();
  await page.locator(tid('signed-out')).waitFor({ timeout: 5_000 })
    .catch(() => { throw new StepError('the page did not show the signed-out banner within 5 s of the revocation'); });
  const banner = Date.now() - t0;
  const text = (await page.locator(tid('signed-out')).textContent()).trim();
  await screenshot(page, 'signed-out');
  const wsClosed = sock.closedAt ? sock.closedAt - t0 : -1;
  const videoGone = await page.locator(tid('live-video')).count() === 0;
  check(/session ended/i.test(text), `signed-out banner says "${text}"`);
  check(banner <= 1000, `the signed-out banner came ${banner} ms after the revocation, want within 1 s`);
  check(sock.closedAt && wsClosed <= 1000, `the live WebSocket ${sock.closedAt ? `closed ${wsClosed} ms` : 'did not close'} after the revocation, want within 1 s`);
  check(videoGone, 'the live video is still on the page after signing out');
  return { session: id, banner_ms: banner, live_closed_ms: wsClosed };
}

// ---- Main. -----------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
const page = await context.newPage();
watchNetwork(page);
page.on('console', (m) => {
  const t = m.text();
  if (/Content.Security.Policy|Refused to (load|execute|apply)|integrity/i.test(t)) cspErrors.push(t);
  if (m.type() === 'error') log(`page console error: ${t}`);
});
page.on('pageerror', (e) => { pageErrors.push(String(e)); log(`page error: ${e}`); });

let failed = null;
try {
  let camera;
  await step('sign in', () => signIn(page));
  await step('bundle integrity', () => checkSRI(page));
  await step('pair', () => pair(page));
  await step('camera grid with a thumbnail', async () => { const r = await grid(page); camera = r.camera; return r; });
  for (let i = 0; i < LIVE_RUNS; i++) {
    await step(`live view${LIVE_RUNS > 1 ? ` ${i + 1}` : ''}`, () => measureLive(page, camera, LIVE_SECONDS, LIVE_RUNS > 1 ? `-${i + 1}` : ''));
  }
  if (STEPS === 'all') {
    await step('recording plays and scrubs', () => recording(page, camera));
    await step('clip download', () => download(page));
    if (GRANT) await step('support request approved', () => approveGrant(page));
    if (ZONE) await step('zone drawn and saved', () => zones(page, camera));
    if (DOORBELL) await step('doorbell event detail', () => eventDetail(page, camera));
    if (MEMBER) await step('member sees the shared camera', () => member(camera));
    await step('settings pages', () => settingsPages(page));
    await step('revoked session signs out and stops live view', () => revoke(page, camera));
  }
} catch (e) {
  failed = e;
  await screenshot(page, 'failure').catch(() => {});
}
await Promise.allSettled(net.pending);
await browser.close();

result.network = { responses: net.responses, bytes: net.bytes, objects: net.objects, object_bytes: net.objectBytes,
  ws_frames: net.wsFrames, ws_bytes: net.wsBytes, violations: net.violations };
result.csp_errors = cspErrors;
result.page_errors = pageErrors;
if (!failed && net.violations.length) failed = new StepError(`plaintext media on the network: ${net.violations.slice(0, 5).join('; ')}`);
if (!failed && STEPS === 'all' && net.objects === 0) failed = new StepError('the page fetched no /v1/objects: nothing was checked');
if (!failed && STEPS === 'all' && net.wsFrames === 0) failed = new StepError('no live WebSocket frames were seen: nothing was checked');
if (!failed && cspErrors.length) failed = new StepError(`the page broke its Content-Security-Policy: ${cspErrors.slice(0, 3).join('; ')}`);
writeFileSync(join(ART, 'result.json'), JSON.stringify(result, null, 1));
log(`network: ${net.responses} responses (${net.bytes} bytes), ${net.objects} objects (all age files), ${net.wsFrames} WebSocket frames (${net.wsBytes} bytes), ${net.violations.length} plaintext media`);
log(`artifacts in ${ART}`);
console.log('RESULT ' + JSON.stringify(result));
if (failed) {
  console.error(`e2e: FAILED: ${failed.message ?? failed}`);
  process.exit(1);
}
