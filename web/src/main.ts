// Entry point: every page module registers its routes when imported; then
// the shell boots (device key, session, household) and starts the router.
// B2/B3/E: add your page's import line in the "pages" block.
import './app/signin';
import './app/pair';
import './app/grid';
import './app/live';
// pages (one import line each):
import './app/timeline'; // camera timeline, player, clip download, event detail (B2)
import './app/settings'; // settings: sessions, security, cameras, devices, members, grants, audit log (B3)
import './app/push'; // settings: notifications on this browser (Web Push) (E)
import './app/zones'; // zones drawn on a snapshot (lead)
import './app/feed'; import './app/annotate'; // neighbours feed, annotator tool (W, issue 8)

import { boot } from './app/shell';

void boot();
