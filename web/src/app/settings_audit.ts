// Settings → Audit log: the household's entries, each proven included in
// the service's transparency log under a checkpoint signed by the log key
// this browser pinned, the checkpoint proven consistent with the last one
// this browser verified, and the bodies decrypted here (lib/auditlog.ts).
// audit-status says "verified: …", "ALARM: …" or "not verified, try again".
import {
  actorText, AuditClasses, auditStatusText, deviceOpener, httpAuditSource, idbAuditStore, memoryAuditStore,
  verifyAudit, type AuditResult, type AuditRow, type AuditStateStore,
} from '../lib/auditlog';
import { route, type Ctx } from './router';
import { ownerOnly, settingsPage } from './settings_common';
import { button, el, emptyState, errorFrom, field, fmtDateTime, loading, mount, pageHeader } from './ui';

const classLabels: Record<string, string> = {
  auth: 'Sign-ins and account', device: 'Devices', hub: 'Hubs', member: 'Members', grant: 'Support requests',
  key_release: 'Keys released', access: 'Access by others', denial: 'Refusals', deletion: 'Deletions', staff: 'Operator actions', client: 'Web app served',
};

function stateStore(): AuditStateStore {
  return typeof indexedDB === 'undefined' ? memoryAuditStore() : idbAuditStore();
}

route('/settings/audit', 'Audit log', async (ctx: Ctx) => {
  const body = settingsPage(ctx, 'audit');
  const denied = ownerOnly(ctx, 'read the audit log');
  if (denied) { mount(body, pageHeader('Audit log'), denied); return; }
  const h = ctx.household!;
  const status = el('p', { class: 'audit-status', testid: 'audit-status', role: 'status', 'aria-live': 'polite' }, 'Verifying…');
  const classSel = el('select', { testid: 'audit-class', 'aria-label': 'Show class' },
    el('option', { value: '' }, 'All classes'), ...AuditClasses.map((c) => el('option', { value: c }, classLabels[c] ?? c)));
  const actorSel = el('select', { testid: 'audit-actor', 'aria-label': 'Show actor' },
    el('option', { value: '' }, 'Anyone'), ...['owner', 'member', 'support', 'annotator', 'operator', 'hub', 'anonymous', 'service', 'customer'].map((k) => el('option', { value: k }, k)));
  const list = el('div', { class: 'audit-list' });
  const again = button('Verify again', () => { void run(); }, { class: 'secondary', testid: 'audit-verify' });
  mount(body, pageHeader('Audit log', again),
    el('p', { class: 'muted' }, 'Every sign-in, device, member and hub change, support request and decision, key released and access by anyone but your own devices. The service cannot leave entries out or rewrite them without this page noticing.'),
    status,
    el('div', { class: 'filters' }, field('Class', classSel), field('Actor', actorSel)),
    list);

  let res: AuditResult | null = null;
  const draw = () => {
    if (!res) return;
    const c = classSel.value;
    const a = actorSel.value;
    const rows = res.rows.filter((r) => (!c || r.entry?.class === c) && (!a || r.body?.actor.kind === a)).reverse(); // newest first
    mount(list, rows.length === 0
      ? emptyState(res.rows.length === 0 ? 'Your audit log is empty.' : 'No entries match these filters.')
      : el('table', { class: 'audit-table' },
        el('thead', null, el('tr', null, ...['Time', 'Class', 'Actor', 'Action', 'Resource', 'Reason', 'Decision', ''].map((t) => el('th', { scope: 'col' }, t)))),
        el('tbody', null, ...rows.map(rowOf))));
  };
  classSel.addEventListener('change', draw);
  actorSel.addEventListener('change', draw);

  const run = async () => {
    again.disabled = true;
    status.className = 'audit-status';
    status.textContent = 'Verifying…';
    mount(list, loading('Fetching and verifying your audit log…'));
    try {
      res = await verifyAudit({ household: h.roster.household, source: httpAuditSource(ctx.signal), store: stateStore(), open: deviceOpener(ctx.device) });
    } catch (err) {
      if (ctx.signal.aborted) return;
      status.className = 'audit-status unverified';
      status.textContent = 'not verified, try again: ' + (err instanceof Error ? err.message : String(err));
      mount(list, errorFrom(err, 'Verifying your audit log', () => { void run(); }));
      return;
    } finally {
      if (again.isConnected) again.disabled = false;
    }
    if (ctx.signal.aborted) return;
    status.className = 'audit-status ' + res.status;
    status.textContent = auditStatusText(res);
    if (res.status === 'verified') {
      if (res.firstUse) status.append(el('span', { class: 'muted small' }, ' This browser pinned the log key on first use and will refuse a log signed with another.'));
      if (res.pending > 0) status.append(el('span', { class: 'muted small' }, ` ${res.pending} newer ${res.pending === 1 ? 'entry is' : 'entries are'} not yet in a published checkpoint: verify again in a moment.`));
    }
    draw();
  };
  await run();
});

function rowOf(r: AuditRow): HTMLElement {
  const b = r.body;
  let decision = b?.decision ?? '';
  if (b?.status) decision = `${decision} ${b.status}`.trim();
  return el('tr', { testid: 'audit-entry', 'data-index': r.index, 'data-verified': r.verified ? 'true' : 'false', class: r.verified ? null : 'unverified' },
    el('td', null, r.entry ? fmtDateTime(r.entry.time) : '—'),
    el('td', null, r.entry?.class ?? '—'),
    el('td', null, b ? actorText(b.actor) : el('span', { class: 'muted' }, r.sealed ?? '—')),
    el('td', null, b?.action ?? '—'),
    el('td', null, b?.resource ?? '—'),
    el('td', null, [b?.reason, b?.ticket ? `ticket ${b.ticket}` : ''].filter(Boolean).join(' · ') || '—'),
    el('td', null, decision || '—'),
    el('td', { title: r.verified ? 'included in the log' : 'NOT proven included in the log' }, r.verified ? '✓' : '✗'));
}
