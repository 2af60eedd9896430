// Browser test of the operators' page: Debian's chromium driven by playwright-core against
// api_test_server (the API on its in-memory backend, live fMP4 from a real H.264 encoder).
//   node browser.test.mjs --server <api_test_server> --out <dir for screenshots>
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, v, i, a) => (v.startsWith('--') ? [...acc, [v.slice(2), a[i + 1]]] : acc), []));
const out = args.out || 'test-output';
mkdirSync(out, { recursive: true });
let failures = 0;
function check(cond, what) {
  if (cond) console.log(`  ok   ${what}`);
  else { failures++; console.log(`  FAIL ${what}`); }
}
async function step(name, fn) {
  console.log(`[ ${name} ]`);
  try { await fn(); } catch (e) { failures++; console.log(`  FAIL ${name}: ${e.stack || e}`); }
}

const server = spawn(args.server, ['--threads', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  let buf = '';
  const timer = setTimeout(() => reject(new Error('server did not start in 60 s')), 60000);
  server.stdout.on('data', (d) => {
    buf += d;
    const m = buf.match(/LISTENING (\d+)/);
    if (m) { clearTimeout(timer); resolve(+m[1]); }
  });
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
const base = `http://127.0.0.1:${port}`;
console.log(`server on ${base}`);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
});

async function login(user, password, lang = 'zh') {
  const context = await browser.newContext({ viewport: { width: 1600, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.on('pageerror', (e) => { failures++; console.log(`  FAIL page error: ${e.message}`); });
  await page.addInitScript((l) => localStorage.setItem('lang', l), lang);
  await page.goto(base + '/');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#whoami', { timeout: 15000 });
  return { context, page };
}

// Frames decoded by a <video>: must grow over time when the live view plays.
async function framesOf(page, selector) {
  return page.$eval(selector, (v) => (v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0));
}

try {
  await step('login page rejects a wrong password', async () => {
    const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
    const page = await context.newPage();
    await page.goto(base + '/');
    await page.fill('#login-user', 'op');
    await page.fill('#login-password', 'wrong-password');
    await page.click('#login-submit');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
    await page.screenshot({ path: path.join(out, '01-login.png') });
    check(await page.$('#whoami') === null, 'still on the login page');
    await context.close();
  });

  const op = await login('op', 'operator-pass');
  await step('video wall: drag four cameras onto tiles, frames advance', async () => {
    const { page } = op;
    await page.click('#layout-4');
    const cams = ['cam-01', 'cam-02', 'cam-03', 'cam-05'];
    for (let i = 0; i < cams.length; i++) {
      await page.dragAndDrop(`.tree [data-camera="${cams[i]}"]`, `.tile[data-tile="${i}"]`);
    }
    for (const c of cams) {
      await page.waitForFunction((id) => {
        const v = document.querySelector(`video[data-camera="${id}"]`);
        return v && v.getVideoPlaybackQuality().totalVideoFrames > 5;
      }, c, { timeout: 30000 });
    }
    const before = await Promise.all(cams.map((c) => framesOf(page, `video[data-camera="${c}"]`)));
    await page.waitForFunction((b) => {
      const vs = [...document.querySelectorAll('video[data-camera]')];
      return vs.length === 4 && vs.every((v, i) => v.getVideoPlaybackQuality().totalVideoFrames > b[i] + 10);
    }, before, { timeout: 20000 });
    const after = await Promise.all(cams.map((c) => framesOf(page, `video[data-camera="${c}"]`)));
    check(after.every((f, i) => f > before[i]), `frames advanced on all 4 tiles: ${before} -> ${after}`);
    const lag = await page.$eval('video[data-camera="cam-01"]', (v) => v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : 99);
    check(lag < 2, `playing near the live edge (buffer ahead ${lag.toFixed(2)} s)`);
    await page.screenshot({ path: path.join(out, '02-wall-4.png') });
    await page.click('#layout-16');
    await page.dragAndDrop('.tree [data-camera="cam-07"]', '.tile[data-tile="5"]');
    await page.waitForFunction(() => {
      const v = document.querySelector('video[data-camera="cam-07"]');
      return v && v.getVideoPlaybackQuality().totalVideoFrames > 5;
    }, null, { timeout: 30000 });
    check((await page.$$('video[data-camera]')).length >= 5, 'cameras kept when switching to 16 tiles');
    check(await page.$('.tile[data-tile="5"] .ptz') !== null, 'PTZ pad on the PTZ camera');
    await page.screenshot({ path: path.join(out, '03-wall-16.png') });
    await page.dblclick('.tile[data-tile="5"] video');
    await page.waitForFunction(() => document.querySelectorAll('.tile:not([style*="display: none"])').length === 1);
    await page.waitForFunction(() => {
      const v = document.querySelector('video[data-camera="cam-07"]');
      return v && v.getVideoPlaybackQuality().totalVideoFrames > 5;
    }, null, { timeout: 30000 });
    await page.screenshot({ path: path.join(out, '04-wall-enlarged.png') });
    await page.dblclick('.tile[data-tile="5"] video');
  });

  let alertId = '';
  await step('alert desk: a pushed red alert arrives without reload', async () => {
    const { page } = op;
    await page.click('#nav-alerts');
    await page.waitForSelector('#alert-list li');
    const before = await page.$$eval('#alert-list li', (l) => l.length);
    const res = await fetch(`${base}/test/alert?camera=cam-02`, { method: 'POST' });
    alertId = (await res.json()).id;
    await page.waitForSelector(`#alert-list li[data-alert="${alertId}"]`, { timeout: 10000 });
    check((await page.$$eval('#alert-list li', (l) => l.length)) === before + 1, 'one more alert in the list');
    check(await page.$(`#alert-list li[data-alert="${alertId}"].sev-4`) !== null, 'shown in red (severity 4)');
    check(await page.$('#toast') !== null, 'toast shown');
    check(await page.evaluate(() => !!window.sharpeyes.lastBeep), 'alarm sound played');
    await page.screenshot({ path: path.join(out, '05-alert-desk.png') });
  });

  await step('alert desk: five-step workflow 受理 分流 办理 反馈 结单', async () => {
    const { page } = op;
    await page.click('#filter-open'); // show closed ones too
    await page.click(`#alert-list li[data-alert="${alertId}"]`);
    const steps = [['accepted', '', '已到岗'], ['dispatched', '网格员 张三', '派网格员核实'], ['handling', '', '现场处置中'],
      ['feedback', '', '经核实为村民夜归'], ['closed', '', '误报, 结单']];
    for (const [want, assignee, note] of steps) {
      if (assignee) await page.fill('#step-assignee', assignee);
      await page.fill('#step-note', note);
      await page.click('#step-submit');
      await page.waitForSelector(`#alert-list li[data-alert="${alertId}"][data-step="${want}"]`, { timeout: 10000 });
    }
    const rows = await page.$$eval('#alert-detail table tr', (r) => r.length - 1);
    check(rows === 6, `history shows raised + 5 steps (${rows})`);
    const done = await page.$$eval('#alert-steps .step.done', (s) => s.length);
    check(done === 5, 'all five steps marked done');
    await page.screenshot({ path: path.join(out, '06-alert-closed.png') });
  });

  await step('camera health board', async () => {
    const { page } = op;
    await page.click('#nav-health');
    await page.waitForSelector('#problem-cameras tr td');
    const problems = await page.$$eval('#problem-cameras tr', (r) => r.length - 1);
    check(problems === 2, `offline + stalled/tampered cameras listed (${problems})`);
    const rates = await page.$$eval('#division-rates tr', (r) => r.length - 1);
    check(rates >= 4, `online rate per division (${rates} rows)`);
    check((await page.$$eval('#never-watched tr', (r) => r.length - 1)) >= 1, 'never-watched cameras listed');
    await page.screenshot({ path: path.join(out, '07-health.png') });
  });
  await op.context.close();

  await step('investigation: search, play, mark in/out, export evidence, verify package', async () => {
    const { page, context } = await login('inv', 'investigator');
    await page.click('#nav-investigate');
    await page.selectOption('#inv-camera', 'cam-05');
    await page.click('#inv-search');
    await page.waitForSelector('#inv-table tr');
    check((await page.$$('#inv-timeline .rec')).length === 2, 'timeline shows two recorded spans (a gap between)');
    await page.click('#inv-table tr');
    await page.waitForFunction(() => {
      const v = document.querySelector('#inv-player');
      return v && v.currentTime > 1.0;
    }, null, { timeout: 20000 });
    await page.click('#mark-in');
    await page.waitForFunction(() => document.querySelector('#inv-player').currentTime > 2.5, null, { timeout: 20000 });
    await page.click('#mark-out');
    await page.fill('#case-title', '桥头盗窃案 11-03');
    await page.click('#export-case');
    await page.waitForSelector('#evidence-sha', { timeout: 20000 });
    const sha = await page.$eval('#evidence-sha', (e) => e.textContent);
    const href = await page.$eval('#evidence-download', (a) => a.href);
    const bytes = await page.evaluate(async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer())), href);
    const got = createHash('sha256').update(Buffer.from(bytes)).digest('hex');
    check(got === sha, `downloaded package matches its SHA-256 (${sha.slice(0, 12)}…)`);
    check(Buffer.from(bytes).includes(Buffer.from('manifest.json')), 'package holds manifest.json');
    await page.screenshot({ path: path.join(out, '08-investigation.png') });
    await context.close();
  });

  await step('village viewer sees only the own village, in the UI and in the API', async () => {
    const { page, context } = await login('va', 'village-a-pass');
    const cams = await page.$$eval('.tree [data-camera]', (n) => n.map((x) => x.dataset.camera).sort());
    check(JSON.stringify(cams) === JSON.stringify(['cam-01', 'cam-02']), `tree shows ${cams}`);
    const status = await page.evaluate(async () => (await fetch('/api/cameras/cam-05')).status);
    check(status === 403, `API answers ${status} for another village's camera`);
    const wsRefused = await page.evaluate(() => new Promise((res) => {
      const ws = new WebSocket(`ws://${location.host}/ws/live/cam-05?stream=sub`);
      ws.onopen = () => res(false); ws.onerror = () => res(true);
    }));
    check(wsRefused, 'live video of another village is refused');
    await page.dragAndDrop('.tree [data-camera="cam-01"]', '.tile[data-tile="0"]');
    await page.waitForFunction(() => {
      const v = document.querySelector('video[data-camera="cam-01"]');
      return v && v.getVideoPlaybackQuality().totalVideoFrames > 5;
    }, null, { timeout: 30000 });
    await page.click('#nav-alerts');
    await page.waitForSelector('#alert-list li');
    const alertCams = await page.$$eval('#alert-list li .title', (n) => n.map((x) => x.textContent));
    check(alertCams.every((t) => t.includes('村口主路') || t.includes('村委会')), 'alerts only of the own cameras');
    await page.screenshot({ path: path.join(out, '09-village-viewer.png') });
    await context.close();
  });

  await step('English interface', async () => {
    const { page, context } = await login('op', 'operator-pass', 'en');
    check((await page.textContent('#nav-wall')).includes('Video wall'), 'navigation in English');
    await page.click('#nav-health');
    await page.waitForSelector('#problem-cameras tr td');
    await page.screenshot({ path: path.join(out, '10-health-en.png') });
    await context.close();
  });
} finally {
  await browser.close();
  server.kill('SIGTERM');
  await new Promise((r) => server.on('exit', r));
}
console.log(failures === 0 ? 'PASS' : `FAILED: ${failures}`);
process.exit(failures === 0 ? 0 : 1);
