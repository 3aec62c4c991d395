// End-to-end test of the built app (app/dist) in headless Chromium, served under a sub-path.
// Opens the page twice: with WebGPU (--enable-unsafe-webgpu; the badge must say WebGPU) and
// without (the badge must say CPU). Each time: the sampler canvas is not blank, the playground
// trains with the L∞ hinge penalty (loss chart changes, generated points move toward the data),
// and a corrupt weights file shows the error message; on the CPU pass, a page of another site
// embeds the sampler with <margan-sampler> (embed.js) and with an <iframe>. Screenshots go to $ARTEFACTS (default
// app/e2e/artefacts).
import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, '..', 'dist');
const out = process.env.ARTEFACTS || path.join(here, 'artefacts');
const SUB = '/margan/';
fs.mkdirSync(out, { recursive: true });

const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/corrupt.margan') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    return res.end(Buffer.from('MARGANPK but not really a pack'));
  }
  if (url.pathname === '/site/embed.html') {
    // Another site embedding margan both ways the README documents.
    res.writeHead(200, { 'content-type': 'text/html' });
    return res.end(`<!DOCTYPE html><html><body><h1>A project page</h1>
<script type="module" src="${SUB}embed.js"></script>
<margan-sampler id="embedded"></margan-sampler>
<iframe id="framed" src="${SUB}?view=sampler" width="720" height="900" style="border:0"></iframe>
</body></html>`);
  }
  if (!url.pathname.startsWith(SUB)) { res.writeHead(404); return res.end('not found'); }
  let file = path.join(dist, decodeURIComponent(url.pathname.slice(SUB.length)) || 'index.html');
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
  if (!file.startsWith(dist) || !fs.existsSync(file)) { res.writeHead(404); return res.end('not found'); }
  res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}${SUB}`;

const flags = ['--no-sandbox', '--disable-quic', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu'];
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
let failures = 0;
const check = (ok, what) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures++; };

// Steps the playground must reach: SwiftShader (headless Chromium's software WebGPU) runs
// each of a step's many small dispatches on the CPU, so fewer steps there.
async function run(name, webgpu, expected, minSteps, embedded = false) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'margan-e2e-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath, headless: true,
    args: webgpu ? [...flags, '--enable-unsafe-webgpu'] : flags,
    viewport: { width: 1200, height: 1400 },
  });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.log(`  [${name} console] ${m.text()}`); });
  const t0 = Date.now();
  await page.goto(base);
  await page.waitForFunction(() => document.querySelector('#sampler')?.getAttribute('data-ready') === '1', null, { timeout: 240000 });
  const firstSamples = (Date.now() - t0) / 1000;
  const badge = await page.textContent('#backend-badge');
  check(badge === expected, `${name}: badge says ${badge} (expected ${expected})`);
  const ms = await page.getAttribute('#sampler .status', 'data-ms');
  console.log(`  ${name}: time to first samples ${firstSamples.toFixed(1)} s (page load to grid), one batch of 16 ${ms} ms`);
  const spread = await brightnessSpread(page, '#sampler canvas.sample-grid');
  check(spread > 100, `${name}: sampler canvas is not blank (brightness spread ${spread})`);
  await page.screenshot({ path: path.join(out, `sampler-${name}.png`), fullPage: false });

  // Playground: HingeGAN + L∞ hinge penalty (the defaults, set explicitly).
  const pg = '#playground';
  await page.selectOption(`${pg} select[data-role=loss]`, 'hinge');
  await page.selectOption(`${pg} select[data-role=norm]`, 'linf');
  await page.selectOption(`${pg} select[data-role=form]`, 'hinge');
  await page.waitForFunction(() => document.querySelector('#playground')?.hasAttribute('data-dist'), null, { timeout: 60000 });
  const chart0 = await page.evaluate(() => document.querySelector('#playground canvas.loss-chart').toDataURL());
  const dist0 = Number(await page.getAttribute(pg, 'data-dist'));
  await page.click(`${pg} button[data-role=play]`);
  const tPlay = Date.now();
  await page.waitForFunction((n) => Number(document.querySelector('#playground').getAttribute('data-steps') || 0) >= n, minSteps, { timeout: 300000 });
  await page.click(`${pg} button[data-role=play]`);
  await page.waitForTimeout(500);
  const dist1 = Number(await page.getAttribute(pg, 'data-dist'));
  const chart1 = await page.evaluate(() => document.querySelector('#playground canvas.loss-chart').toDataURL());
  const steps = await page.getAttribute(pg, 'data-steps');
  console.log(`  ${name}: playground ${steps} steps in ${((Date.now() - tPlay) / 1000).toFixed(1)} s (first steps include shader compilation)`);
  check(chart1 !== chart0, `${name}: loss chart changed after ${steps} steps`);
  check(dist1 < 0.7 * dist0, `${name}: generated points moved toward the data (mean distance ${dist0.toFixed(3)} → ${dist1.toFixed(3)})`);
  await page.locator(pg).screenshot({ path: path.join(out, `playground-${name}.png`) });

  // A corrupt weights file: a readable error, not a blank page.
  await page.goto(`${base}?view=sampler&weights=${encodeURIComponent('/corrupt.margan')}`);
  await page.waitForSelector('#sampler .error', { timeout: 120000 });
  const msg = await page.textContent('#sampler .error');
  check(/corrupt\.margan/.test(msg) && msg.length > 20, `${name}: corrupt file message: "${msg.slice(0, 120)}"`);
  await page.screenshot({ path: path.join(out, `corrupt-${name}.png`) });
  if (embedded) await embed(page, name);
  await ctx.close();
  fs.rmSync(dir, { recursive: true, force: true }); // the browser profile
}

// Max minus min of r+g+b over a canvas: 0 for a blank one.
function brightnessSpread(frame, selector) {
  return frame.evaluate((sel) => {
    const c = document.querySelector(sel);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let lo = 765, hi = 0;
    for (let i = 0; i < d.length; i += 4) { const v = d[i] + d[i + 1] + d[i + 2]; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    return hi - lo;
  }, selector);
}

// The README's two embeds on another page: <margan-sampler> via embed.js, and an <iframe>.
async function embed(page, name) {
  await page.goto(base.replace(SUB, '/site/embed.html'));
  await page.waitForSelector('margan-sampler[data-ready="1"]', { timeout: 120000 });
  const spread = await brightnessSpread(page, 'margan-sampler canvas.sample-grid');
  check(spread > 100, `${name}: <margan-sampler> embed draws samples (brightness spread ${spread})`);
  const frame = page.frame({ url: /view=sampler/ });
  await frame.waitForSelector('#sampler[data-ready="1"]', { timeout: 120000 });
  const framed = await brightnessSpread(frame, '#sampler canvas.sample-grid');
  check(framed > 100, `${name}: <iframe> embed draws samples (brightness spread ${framed})`);
  await page.screenshot({ path: path.join(out, `embed-${name}.png`), fullPage: true });
}

try {
  await run('webgpu', true, 'WebGPU', 40);
  await run('cpu', false, 'CPU', 300, true);
} catch (e) {
  console.log('FAIL', e.message);
  failures++;
} finally {
  server.close();
}
console.log(failures ? `e2e: ${failures} check(s) failed` : 'e2e: all checks passed');
process.exit(failures ? 1 : 0);
