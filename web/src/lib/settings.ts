// Camera settings (porchlight.camera-settings, docs/formats.md): alerting
// zones an owner device signs and seals to the camera's hub and the owner
// devices. The service keeps the newest version without reading it; the
// hub applies only what an owner of its verified roster signed.

import { ApiError, api } from './api';
import { b64decode, b64encode, utf8 } from './bytes';
import { decrypt, encrypt } from './agex';
import { deviceSecrets, type Device } from './device';
import { arr, float, int, obj, str, time, uint, MalformedError, type Dec } from './json';
import { decodeBody, FormatVersion, parseSigned, signEnvelope, verifyFrom, VersionError, type Signers } from './signed';
import { entry, KindHub, owners, RoleOwner, type Roster } from './roster';

export const TypeCameraSettings = 'porchlight.camera-settings';
export const Classes = ['person', 'animal', 'vehicle'] as const;
export const MaxZones = 16;
export const MaxZonePoints = 32;

export interface Zone { name: string; points: [number, number][]; classes: string[] }
export interface CameraSettings { household: string; camera: string; version: number; zones: Zone[]; created: Date }

const pointDec: Dec<[number, number]> = (v, p) => {
  const a = arr(float)(v, p);
  if (a.length !== 2) throw new MalformedError(`${p}: a point is [x, y]`);
  return [a[0], a[1]];
};
const settingsDec = obj({
  v: int, household: str, camera: str, version: uint,
  zones: arr(obj({ name: str, points: arr(pointDec), classes: arr(str) })), created: time,
});

/** checkZones says what is wrong with zones, as the Go side does (seal.CameraSettings.Check). */
export function checkZones(zones: Zone[]): string | null {
  if (zones.length > MaxZones) return `at most ${MaxZones} zones`;
  const seen = new Set<string>();
  for (const z of zones) {
    if (!z.name || utf8(z.name).length > 64) return 'every zone needs a name (at most 64 bytes)';
    if (seen.has(z.name)) return `two zones are named "${z.name}"`;
    seen.add(z.name);
    if (z.points.length < 3 || z.points.length > MaxZonePoints) return `zone "${z.name}": a polygon needs 3 to ${MaxZonePoints} points`;
    if (z.points.some(([x, y]) => !(x >= 0 && x <= 1 && y >= 0 && y <= 1))) return `zone "${z.name}": coordinates go from 0 to 1`;
    if (z.classes.length === 0) return `zone "${z.name}": pick at least one class that alerts in it`;
    if (z.classes.some((c) => !(Classes as readonly string[]).includes(c))) return `zone "${z.name}": classes are person, animal and vehicle`;
  }
  return null;
}

function ownerSigners(r: Roster): Signers {
  const m = new Map(owners(r).map((o) => [o.id, o.sign] as const));
  return (id) => m.get(id);
}

/** openSettings decrypts and verifies sealed settings for this household and camera. */
export async function openSettings(sealed: Uint8Array, dev: Device, roster: Roster, camera: string): Promise<CameraSettings> {
  const pt = await decrypt(sealed, deviceSecrets(dev).kem);
  const env = parseSigned(pt, TypeCameraSettings);
  verifyFrom(env, ownerSigners(roster));
  const s = decodeBody(env, settingsDec);
  if (s.v !== FormatVersion) throw new VersionError(`camera settings v${s.v}`);
  if (s.household !== roster.household || s.camera !== camera) throw new MalformedError('camera settings are for another household or camera');
  const out: CameraSettings = { household: s.household, camera: s.camera, version: s.version, zones: s.zones, created: s.created.date };
  const bad = checkZones(out.zones);
  if (bad) throw new MalformedError(bad);
  return out;
}

/** loadSettings fetches a camera's settings; null when none were set from a device. */
export async function loadSettings(dev: Device, roster: Roster, camera: string): Promise<CameraSettings | null> {
  let res: { version: number; sealed: string };
  try {
    res = await api('GET', `/v1/cameras/${encodeURIComponent(camera)}/settings`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
  const s = await openSettings(b64decode(res.sealed), dev, roster, camera);
  if (s.version !== res.version) throw new MalformedError(`the service labels the zones version ${res.version}, but they say ${s.version}`);
  return s;
}

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** sealSettings signs settings with this device and seals them to the camera's hub and every owner device. */
export async function sealSettings(dev: Device, roster: Roster, hubId: string, s: CameraSettings): Promise<Uint8Array> {
  const bad = checkZones(s.zones);
  if (bad) throw new Error(bad);
  const me = entry(roster, dev.id);
  if (!me || me.role !== RoleOwner) throw new Error('only an owner device can set zones');
  const hub = entry(roster, hubId);
  if (!hub || hub.kind !== KindHub) throw new Error(`the camera's hub ${hubId} is not in your roster`);
  // Field order as Go marshals seal.CameraSettings.
  const body = JSON.stringify({
    v: FormatVersion, household: s.household, camera: s.camera, version: s.version,
    zones: s.zones.map((z) => ({ name: z.name, points: z.points, classes: z.classes })), created: rfc3339(s.created),
  });
  const signed = signEnvelope(deviceSecrets(dev).seed, TypeCameraSettings, body);
  return encrypt(signed, hub.kem, ...owners(roster).map((o) => o.kem));
}

/** saveSettings stores zones as the next version; a 409 means another device changed them meanwhile. */
export async function saveSettings(dev: Device, roster: Roster, hubId: string, camera: string, zones: Zone[], current: CameraSettings | null): Promise<CameraSettings> {
  const next: CameraSettings = { household: roster.household, camera, version: (current?.version ?? 0) + 1, zones, created: new Date() };
  const sealed = await sealSettings(dev, roster, hubId, next);
  await api('PUT', `/v1/cameras/${encodeURIComponent(camera)}/settings`, { version: next.version, sealed: b64encode(sealed) });
  return next;
}
