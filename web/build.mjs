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
  await esbuild.build({
    entryPoints: entries, outdir: 'dist-test', bundle: true, platform: 'node', format: 'esm',
    outExtension: { '.js': '.mjs' }, target: 'node20', logLevel: 'warning', sourcemap: 'inline',
  });
  process.exit(0);
}

const sri = (b) => 'sha384-' + createHash('sha384').update(b).digest('base64');
const short = (b) => createHash('sha256').update(b).digest('hex').slice(0, 16);

rmSync('dist', { recursive: true, force: true });
mkdirSync('dist');
writeFileSync('dist/.keep', '');
const common = { bundle: true, minify: true, format: 'esm', target: 'es2022', write: false, logLevel: 'warning', legalComments: 'none' };
const app = (await esbuild.build({ ...common, entryPoints: ['src/main.ts'], outfile: 'app.js' })).outputFiles[0].contents;
const css = existsSync('src/app.css') ? readFileSync('src/app.css') : Buffer.from('');
const appName = `app.${short(app)}.js`;
const cssName = `app.${short(css)}.css`;
writeFileSync(join('dist', appName), app);
writeFileSync(join('dist', cssName), css);
if (existsSync('src/sw.ts')) {
  const sw = (await esbuild.build({ ...common, format: 'iife', entryPoints: ['src/sw.ts'], outfile: 'sw.js' })).outputFiles[0].contents;
  writeFileSync('dist/sw.js', sw);
}
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
writeFileSync('dist/index.html', html);
// bundle.json names the files and the hash of the whole client, which
// porchlightd writes to the audit log at startup.
const files = readdirSync('dist').filter((n) => n !== '.keep' && n !== 'bundle.json').sort();
const whole = createHash('sha256');
for (const f of files) { whole.update(f + '\0'); whole.update(readFileSync(join('dist', f))); whole.update('\0'); }
writeFileSync('dist/bundle.json', JSON.stringify({ v: 1, sha256: whole.digest('hex'), files }, null, 1) + '\n');
console.log(`web: built ${files.length} files`);
