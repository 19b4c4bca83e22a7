// Builds the browser app into dist/: the bundle (content-hashed file name),
// the service worker, the stylesheet and index.html with subresource
// integrity. `--tests` instead bundles src/**/*.test.ts into dist-test/ for
// `node --test`. Output is deterministic: the same sources give the same bytes.
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, rmSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const tests = process.argv.includes('--tests');

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

if (tests) {
  rmSync('dist-test', { recursive: true, force: true });
  const entries = walk('src').filter((p) => p.endsWith('.test.ts'));
  mkdirSync('dist-test');
  if (entries.length === 0) {
    console.error('web: no src/**/*.test.ts files');
    process.exit(1);
  }
  await esbuild.build({
    entryPoints: entries, outdir: 'dist-test', bundle: true, platform: 'node', format: 'esm',
    outExtension: { '.js': '.mjs' }, target: 'node20', logLevel: 'warning', sourcemap: 'inline',
  });
  process.exit(0);
}

const sri = (b) => 'sha384-' + createHash('sha384').update(b).digest('base64');
const short = (b) => createHash('sha256').update(b).digest('hex').slice(0, 16);

const common = { bundle: true, minify: true, format: 'esm', target: 'es2022', write: false, logLevel: 'silent', legalComments: 'none' };
// Everything is built in memory first: a failed build leaves the previous
// dist/ as it was instead of an empty one.
async function bundle(opts) {
  try {
    return (await esbuild.build({ ...common, ...opts })).outputFiles[0].contents;
  } catch (e) {
    for (const m of e.errors ?? []) {
      const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : '';
      console.error(`web: ${at}${m.text}`);
    }
    if (!e.errors) console.error(`web: ${e.message}`);
    console.error(`web: building ${opts.entryPoints[0]} failed: fix the errors above and run make build again`);
    process.exit(1);
  }
}
const app = await bundle({ entryPoints: ['src/main.ts'], outfile: 'app.js' });
const css = existsSync('src/app.css') ? readFileSync('src/app.css') : Buffer.from('');
const sw = existsSync('src/sw.ts') ? await bundle({ format: 'iife', entryPoints: ['src/sw.ts'], outfile: 'sw.js' }) : null;
const appName = `app.${short(app)}.js`;
const cssName = `app.${short(css)}.css`;
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Porchlight</title>
<link rel="stylesheet" href="/${cssName}" integrity="${sri(css)}">
<script type="module" src="/${appName}" integrity="${sri(app)}"></script>
</head>
<body><div id="app"><noscript>Porchlight needs JavaScript: it decrypts your video in this browser.</noscript></div></body>
</html>
`;
rmSync('dist', { recursive: true, force: true });
mkdirSync('dist');
writeFileSync('dist/.keep', '');
writeFileSync(join('dist', appName), app);
writeFileSync(join('dist', cssName), css);
if (sw) writeFileSync('dist/sw.js', sw);
writeFileSync('dist/index.html', html);
// bundle.json names the files and the hash of the whole client, which
// porchlightd writes to the audit log at startup.
const files = readdirSync('dist').filter((n) => n !== '.keep' && n !== 'bundle.json').sort();
const whole = createHash('sha256');
for (const f of files) { whole.update(f + '\0'); whole.update(readFileSync(join('dist', f))); whole.update('\0'); }
writeFileSync('dist/bundle.json', JSON.stringify({ v: 1, sha256: whole.digest('hex'), files }, null, 1) + '\n');
console.log(`web: built ${files.length} files`);
