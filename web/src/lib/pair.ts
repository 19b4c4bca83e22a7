// Pairing: this browser asks to join the household exactly as
// `porchlight device pair` does (internal/cli/pair.go). It offers its public
// keys, shows the code and the short authentication string (SAS) over the
// code, its keys and the household's pinned root key, and waits until an
// owner device (`porchlight device approve CODE`) has signed a roster
// version listing it.

import { sha256 } from '@noble/hashes/sha2.js';
import { api } from './api';
import { b64decode, b64encode, concat, u32be, utf8 } from './bytes';
import { loadPin, savePin, type Device } from './device';
import { checkChain, entry, KindDevice, rosterSigner, RosterAlarm, type Roster } from './roster';

/**
 * pairSAS is internal/cli/pair.go's pairSAS: SHA-256 over the
 * length-prefixed fields after the label "porchlight-pair-v1"; the first 8
 * bytes as a big-endian integer mod 10^10, printed "ddd ddd dddd".
 */
export function pairSAS(code: string, sign: Uint8Array, kem: string, root: Uint8Array): string {
  const parts = [utf8('porchlight-pair-v1'), utf8(code), sign, utf8(kem), root];
  const sum = sha256(concat(...parts.flatMap((p) => [u32be(p.length), p])));
  const v = new DataView(sum.buffer, sum.byteOffset, 8).getBigUint64(0) % 10_000_000_000n;
  const s = v.toString().padStart(10, '0');
  return `${s.slice(0, 3)} ${s.slice(3, 6)} ${s.slice(6, 10)}`;
}

interface MeBody { household_id?: string; role: string }

/**
 * verifiedRoster fetches the roster and verifies it against the pinned
 * root, pinning it on first use (trust on first use, as the CLI does), and
 * records newly verified versions. A mismatch is a RosterAlarm.
 */
export async function verifiedRoster(household: string, signal?: AbortSignal): Promise<{ roster: Roster; root: Uint8Array; chain: Uint8Array[] }> {
  const r = await api<{ versions: string[] | null }>('GET', '/v1/roster', undefined, { signal });
  const served = (r.versions ?? []).map(b64decode);
  const pin = await loadPin();
  if (pin && pin.household !== household) {
    throw new Error(`this browser's keys belong to household ${pin.household}, but you are signed in to household ${household}: sign in to that account, or forget this device (Settings → Devices) to use this one`);
  }
  if (!pin) {
    if (served.length === 0) throw new Error('your household has no roster yet: finish signing up with the porchlight command first (porchlight signup)');
    let root: Uint8Array, latest: Roster;
    try {
      ({ root, latest } = rosterSigner(served));
    } catch (e) {
      throw new RosterAlarm(`the household roster does not verify (${(e as Error).message}); refusing it`);
    }
    if (latest.household !== household) throw new RosterAlarm(`the roster is of household ${latest.household}, not yours (${household}); refusing it`);
    await savePin({ household, root, versions: served });
    return { roster: latest, root, chain: served };
  }
  const latest = checkChain(pin, served);
  if (served.length > pin.versions.length) await savePin({ ...pin, versions: served });
  return { roster: latest, root: pin.root, chain: served };
}

/** The account's household id (GET /v1/me); staff accounts have none. */
export async function myHousehold(signal?: AbortSignal): Promise<{ household: string; role: string }> {
  const me = await api<MeBody>('GET', '/v1/me', undefined, { signal });
  if (!me.household_id) throw new Error('this is a staff account: it has no household, cameras or recordings');
  return { household: me.household_id, role: me.role };
}

/** How often the roster is polled while waiting for the owner device. */
const pollMs = 1000;

/**
 * startPairing offers dev's keys (POST /v1/devices/pair) and answers the
 * code and SAS to show. done resolves once the verified roster lists dev
 * (then the browser is a device), and rejects when the code expires, the
 * roster raises an alarm, or cancel() is called.
 */
export async function startPairing(dev: Device): Promise<{ code: string; sas: string; expiresAt: Date; done: Promise<void>; cancel(): void }> {
  const { household } = await myHousehold();
  const first = await verifiedRoster(household);
  const listed = (r: Roster) => {
    const e = entry(r, dev.id);
    return e !== undefined && e.kind === KindDevice;
  };
  const ctl = new AbortController();
  if (listed(first.roster)) {
    return { code: '', sas: '', expiresAt: new Date(), done: Promise.resolve(), cancel() {} };
  }
  const resp = await api<{ code: string; expires_at: string }>('POST', '/v1/devices/pair', { name: dev.name, sign: b64encode(dev.signPub), kem: dev.recipient });
  const expiresAt = new Date(resp.expires_at);
  const sas = pairSAS(resp.code, dev.signPub, dev.recipient, first.root);
  const done = (async () => {
    for (;;) {
      if (ctl.signal.aborted) throw new Error('pairing cancelled');
      if (Date.now() > expiresAt.getTime()) throw new Error('no owner device approved this browser before the code expired: start pairing again');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        ctl.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
      });
      if (ctl.signal.aborted) throw new Error('pairing cancelled');
      const { roster } = await verifiedRoster(household, ctl.signal);
      if (listed(roster)) return;
    }
  })();
  done.catch(() => {}); // the caller may not await it; avoid an unhandled rejection
  return { code: resp.code, sas, expiresAt, done, cancel: () => ctl.abort() };
}
