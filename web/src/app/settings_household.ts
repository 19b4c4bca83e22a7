// Settings → Devices, Members and Support access. Devices and members come
// from the household's roster as this browser verified it. Changing the
// roster (removing a device or a member) means signing a new roster version
// with an owner device's key; the page shows the CLI command for that.
// Support requests are approved in the page: Household.approveGrant signs
// the grant and wraps the in-scope keys here, after a fresh sign-in with
// the second factor (withReauth).
import { api, ApiError } from '../lib/api';
import type { RosterEntry } from '../lib/household';
import { route, type Ctx } from './router';
import { act, cameraNames, ownerOnly, settingsPage, withReauth } from './settings_common';
import { button, el, emptyState, errorFrom, fmtDateTime, fmtDuration, loading, mount, pageHeader, toast, type Child } from './ui';

function scopeText(e: RosterEntry, names: Map<string, string>): string {
  const cams = e.cameras.map((c) => (c === '*' ? 'all cameras' : names.get(c) ?? c));
  let s = cams.length ? cams.join(', ') : 'no cameras';
  if (e.notAfter) s += ` until ${fmtDateTime(e.notAfter)}`;
  return s;
}

function cliNote(text: string, cmd: string): HTMLElement {
  return el('p', { class: 'muted small cli-note' }, text, ' ', el('code', null, cmd));
}

// --- devices ---

route('/settings/devices', 'Devices', async (ctx: Ctx) => {
  const body = settingsPage(ctx, 'devices', loading('Loading your devices…'));
  const h = ctx.household!;
  const names = await cameraNames(ctx);
  if (ctx.signal.aborted) return;
  const devices = h.roster.entries.filter((e) => e.kind === 'device');
  const hubs = h.roster.entries.filter((e) => e.kind === 'hub');
  const row = (e: RosterEntry) => el('li', { class: 'settings-item', testid: e.kind === 'hub' ? 'hub-item' : 'device-item', 'data-device': e.id },
    el('div', { class: 'item-main' },
      el('strong', null, e.name || 'Unnamed'), ' ',
      el('span', { class: 'badge' }, e.role),
      e.id === ctx.device.id ? el('span', { class: 'badge ok', testid: 'device-this' }, 'this browser') : null,
      el('div', { class: 'muted small' }, `id ${e.id}`),
      e.kind === 'device' ? el('div', { class: 'muted small' }, scopeText(e, names)) : null),
    h.role === 'owner' && e.id !== ctx.device.id && e.kind === 'device' && e.role !== 'recovery'
      ? cliNote('Remove it from an owner device with the command line:', e.role === 'member' ? `porchlight members remove ${e.name || e.id}` : `porchlight device remove ${e.id}`) : null);
  mount(body, pageHeader('Devices'),
    el('p', { class: 'muted' }, `From your household's roster, version ${h.roster.version}, verified in this browser. Only the devices listed here receive the keys to your recordings.`),
    el('h2', null, 'Devices'),
    devices.length ? el('ul', { class: 'settings-list' }, ...devices.map(row)) : emptyState('No devices.'),
    el('h2', null, 'Hubs'),
    hubs.length ? el('ul', { class: 'settings-list' }, ...hubs.map(row)) : emptyState('No hubs yet.', 'Claim a hub with `porchlight hub claim`.'),
    h.role === 'owner' ? cliNote('Add another device: open Porchlight on it and pair it, or run', 'porchlight device approve CODE') : null);
});

// --- members ---

route('/settings/members', 'Members', async (ctx: Ctx) => {
  const body = settingsPage(ctx, 'members', loading('Loading your members…'));
  const h = ctx.household!;
  const names = await cameraNames(ctx);
  if (ctx.signal.aborted) return;
  const members = h.roster.entries.filter((e) => e.kind === 'device' && e.role === 'member');
  const now = Date.now();
  mount(body, pageHeader('Members'),
    el('p', { class: 'muted' }, 'People you share some cameras with. They see only those cameras, and only until their access ends.'),
    members.length === 0 ? emptyState('No members.', 'Share cameras with someone from the command line:', el('code', null, 'porchlight members invite EMAIL --cameras NAME,…'))
      : el('ul', { class: 'settings-list' }, ...members.map((e) => el('li', { class: 'settings-item', testid: 'member-item', 'data-device': e.id },
        el('div', { class: 'item-main' },
          el('strong', null, e.name || 'Unnamed member'),
          e.notAfter && e.notAfter.getTime() <= now ? el('span', { class: 'badge' }, 'expired') : null,
          el('div', { class: 'muted small' }, `device ${e.id}`),
          el('div', { class: 'muted small' }, scopeText(e, names) + (e.notAfter ? '' : ', no end'))),
        h.role === 'owner' ? cliNote('Remove from an owner device:', `porchlight members remove ${e.name || e.id}`) : null))));
});

// --- grants ---

interface Grant {
  id: string; state: string; requester: string; org?: string; country?: string; camera: string; camera_id?: string;
  from: string; to: string; video: boolean; duration_s: number; reason: string; ticket: string;
  created_at: string; decided_at?: string; expires_at?: string;
}

route('/settings/grants', 'Support access', async (ctx: Ctx) => {
  const body = settingsPage(ctx, 'grants', loading('Loading support requests…'));
  const denied = ownerOnly(ctx, 'decide on support access');
  if (denied) { mount(body, pageHeader('Support access'), denied); return; }
  const h = ctx.household!;
  const names = await cameraNames(ctx);
  const draw = async () => {
    let list: Grant[];
    try {
      list = (await api<{ grants: Grant[] | null }>('GET', '/v1/grants', undefined, { signal: ctx.signal })).grants ?? [];
    } catch (err) {
      if (ctx.signal.aborted) return;
      mount(body, pageHeader('Support access'), errorFrom(err, 'Loading support requests', () => { void draw(); }));
      return;
    }
    if (ctx.signal.aborted) return;
    const now = Date.now();
    const pending = list.filter((g) => g.state === 'pending');
    const active = list.filter((g) => g.state === 'approved' && (!g.expires_at || Date.parse(g.expires_at) > now));
    const past = list.filter((g) => !pending.includes(g) && !active.includes(g));
    mount(body, pageHeader('Support access'),
      el('p', { class: 'muted' }, 'Support staff can see your recordings only if you approve a request here, only for the camera and times asked, and only until the grant ends. Every request, decision and use is in your audit log.'),
      el('h2', null, 'Waiting for you'),
      pending.length ? el('ul', { class: 'settings-list' }, ...pending.map((g) => item(g, pendingActions(g)))) : emptyState('No pending requests.'),
      el('h2', null, 'Active grants'),
      active.length ? el('ul', { class: 'settings-list' }, ...active.map((g) => item(g, revokeAction(g)))) : emptyState('No active grants.'),
      el('h2', null, 'History'),
      past.length ? el('ul', { class: 'settings-list' }, ...past.map((g) => item(g))) : emptyState('No earlier requests.'));
  };

  const item = (g: Grant, ...actions: Child[]): HTMLElement => {
    const camName = (g.camera_id && names.get(g.camera_id)) || g.camera;
    const who = g.requester + ([g.org, g.country].filter(Boolean).length ? ` (${[g.org, g.country].filter(Boolean).join(', ')})` : '');
    const lasts = fmtDuration((g.duration_s > 0 ? g.duration_s : 3600) * 1000);
    let ends = '';
    if (g.state === 'pending' && g.expires_at) ends = `request lapses ${fmtDateTime(new Date(g.expires_at))}`;
    else if (g.state === 'approved' && g.expires_at) ends = `access ends ${fmtDateTime(new Date(g.expires_at))}`;
    else if (g.decided_at) ends = `${g.state} ${fmtDateTime(new Date(g.decided_at))}`;
    return el('li', { class: 'settings-item grant', testid: 'grant-item', 'data-grant': g.id, 'data-state': g.state },
      el('div', { class: 'item-main' },
        el('strong', null, who), ' ', el('span', { class: 'badge' }, g.state),
        el('dl', { class: 'kv' },
          el('dt', null, 'Office country'), el('dd', null, g.country || 'not given'),
          el('dt', null, 'Camera'), el('dd', null, camName),
          el('dt', null, 'Recorded'), el('dd', null, `${fmtDateTime(new Date(g.from))} – ${fmtDateTime(new Date(g.to))}`),
          el('dt', null, 'Video'), el('dd', null, g.video ? 'yes: the keys to these recordings are released' : 'no: times and sizes only'),
          el('dt', null, 'Reason'), el('dd', null, g.reason),
          el('dt', null, 'Ticket'), el('dd', null, g.ticket || '—'),
          el('dt', null, 'Lasts'), el('dd', null, (g.state === 'pending' ? `${lasts} from the moment you say yes` : lasts) + (ends ? `; ${ends}` : '')))),
      actions.length ? el('div', { class: 'actions' }, ...actions) : null);
  };

  const pendingActions = (g: Grant): HTMLElement[] => {
    const approve: HTMLButtonElement = button('Approve access', () => {
      void act(approve, async () => {
        await withReauth(ctx.signal, () => h.approveGrant(g.id));
        toast(`Approved: ${g.requester} may see "${g.camera}" until the grant ends. You can revoke it any time.`);
        await draw();
      });
    }, { testid: 'grant-approve' });
    const deny: HTMLButtonElement = button('Deny', () => {
      void act(deny, async () => {
        await decide(g, 'deny');
        toast('Denied: nothing was released.');
        await draw();
      });
    }, { class: 'danger', testid: 'grant-deny' });
    return [approve, deny];
  };

  const revokeAction = (g: Grant): HTMLElement => {
    const revoke: HTMLButtonElement = button('Revoke', () => {
      void act(revoke, async () => {
        await decide(g, 'revoke');
        toast('Revoked: the keys released to it were deleted from the service.');
        await draw();
      });
    }, { class: 'danger', testid: 'grant-revoke' });
    return revoke;
  };

  const decide = async (g: Grant, verb: 'deny' | 'revoke') => {
    try {
      await withReauth(ctx.signal, () => api('POST', `/v1/grants/${encodeURIComponent(g.id)}/${verb}`, undefined, { signal: ctx.signal }));
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        await draw();
        throw new Error(`That request changed meanwhile: it is no longer ${g.state}. The list is up to date now.`);
      }
      throw err;
    }
  };
  await draw();
});
