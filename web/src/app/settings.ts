// Settings pages (#/settings/…): importing this module registers them all.
//   settings_common.ts     tab bar, re-authentication prompt, WebAuthn helpers; sessions and cameras pages
//   settings_security.ts   password, authenticator app (with settings_qr.ts), recovery codes, passkeys
//   settings_household.ts  devices, members, support access (grants)
//   settings_audit.ts      the verified audit log (lib/auditlog.ts)
import './settings_common';
import './settings_security';
import './settings_household';
import './settings_audit';
