// Browser test of the operators' page on the REAL gateway: `sharpeyes sim` (simulated RTSP
// cameras whose scripted walkers cross a tripwire) and `sharpeyes gateway` (ingest, analytics,
// SQLite storage, the API, live fMP4 and the page embedded in the binary), driven with Debian's
// chromium through playwright-core.
//   node gateway.test.mjs --bin <sharpeyes> --out <screenshots and logs> --cache <sim cache dir>
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, v, i, a) => (v.startsWith('--') ? [...acc, [v.slice(2), a[i + 1]]] : acc), []));
const bin = args.bin;
const out = path.resolve(args.out || 'gateway-browser-output');
const cache = path.resolve(args.cache || path.join(out, 'sim-cache'));
if (!bin) { console.error('usage: gateway.test.mjs --bin <sharpeyes> --out <dir> [--cache <dir>]'); process.exit(2); }
rmSync(out, { recursive: true, force: true });
const work = path.join(out, 'work');
const dataDir = path.join(work, 'data');
mkdirSync(dataDir, { recursive: true });
mkdirSync(cache, { recursive: true });
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

let failures = 0;
function check(cond, what) {
  if (cond) console.log(`  ok   ${what} (${elapsed()})`);
  else { failures++; console.log(`  FAIL ${what} (${elapsed()})`); }
}
async function step(name, fn) {
  console.log(`[ ${name} ] (${elapsed()})`);
  try { await fn(); } catch (e) { failures++; console.log(`  FAIL ${name}: ${e.stack || e}`); }
}
// Polls an async condition (no fixed sleeps): resolves with its first truthy value.
async function waitUntil(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// ---------------------------------------------------------------- processes
const children = [];
function start(name, argv, env = {}) {
  const log = createWriteStream(path.join(out, `${name}.log`));
  const p = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  p.stdoutText = ''; p.stderrText = '';
  p.stdout.on('data', (d) => { p.stdoutText += d; log.write(d); });
  p.stderr.on('data', (d) => { p.stderrText += d; log.write(d); });
  p.exited = new Promise((r) => p.on('exit', (code, sig) => { p.exitCode_ = code ?? sig; r(code ?? sig); }));
  children.push(p);
  return p;
}
function killAll() { for (const p of children) if (p.exitCode_ === undefined) try { p.kill('SIGTERM'); } catch {} }
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(1); });

async function waitForOutput(p, name, stream, re, timeoutMs) {
  return waitUntil(`${name}: ${re}`, () => {
    if (p.exitCode_ !== undefined) throw new Error(`${name} exited with ${p.exitCode_}: ${p.stderrText.slice(-2000)}`);
    return (stream === 'stdout' ? p.stdoutText : p.stderrText).match(re);
  }, timeoutMs);
}

// Four simulated cameras (one scene, 10 s loop: the walkers cross the middle of the picture).
// The first run encodes the scene (~30 s); later runs read it from the cache.
const sim = start('sim', ['sim', '--cameras', '4', '--scenes', '1', '--loop-seconds', '10',
  '--port', '0', '--control-port', '0', '--cache-dir', cache]);
await waitForOutput(sim, 'sim', 'stdout', /^ready /m, 180000);
const urls = Object.fromEntries([...sim.stdoutText.matchAll(/^(cam\d+) (rtsp:\S+) (rtsp:\S+)$/gm)].map((m) => [m[1], { main: m[2], sub: m[3] }]));
console.log(`sim ready with ${Object.keys(urls).join(' ')} (${elapsed()})`);

// Two villages of township 510603101: 村 201 has cam01 (tripwire, red alerts) and cam02; 村 202 has
// cam03 (tripwire, orange alerts: the other village's alerts the village viewer must not see),
// cam04 and cam05, whose address answers nothing (an offline camera for the health board).
const VILLAGE_A = '510603101201', VILLAGE_B = '510603101202';
const cams = [
  { id: 'cam01', name: '村口主路', division: VILLAGE_A, ...urls.cam01, tripwire: 4 },
  { id: 'cam02', name: '村委会', division: VILLAGE_A, ...urls.cam02 },
  { id: 'cam03', name: '小学门口', division: VILLAGE_B, ...urls.cam03, tripwire: 3 },
  { id: 'cam04', name: '桥头', division: VILLAGE_B, ...urls.cam04 },
  { id: 'cam05', name: '水库大坝', division: VILLAGE_B, main: 'rtsp://127.0.0.1:9/cam05/main' },
];
let yaml = `gateway:\n  id: gw-web\n  division: "510603101000"\n  data_dir: ${dataDir}\n  http: {address: 127.0.0.1, port: 0}\n` +
  'defaults:\n  recording: {segment_length: 2s}\n  feed: {enabled: false, width: 640, height: 360, fps: 5}\n' +
  'storage: {retention: 30d, quota_gb: 50, sweep_interval: 30s, event_clips: true}\ncameras:\n';
for (const c of cams) {
  yaml += `  - id: ${c.id}\n    name: "${c.name}"\n    division: "${c.division}"\n    main: ${c.main}\n`;
  if (c.sub) yaml += `    sub: ${c.sub}\n`;
  if (c.tripwire) {
    yaml += '    analytics:\n      pre_roll: 1s\n      post_roll: 2s\n      rules:\n' +
      `        - {name: gate-line, type: tripwire, line: [[0.5, 0.0], [0.5, 1.0]], direction: both, severity: ${c.tripwire}}\n`;
  }
}
const configPath = path.join(work, 'gateway.yaml');
writeFileSync(configPath, yaml);
const ADMIN_PASSWORD = 'admin-pass-4711';
const gw = start('gateway', ['gateway', '--config', configPath], { SHARPEYES_ADMIN_PASSWORD: ADMIN_PASSWORD });
const port = +(await waitForOutput(gw, 'gateway', 'stderr', /listening on 127\.0\.0\.1:(\d+)/, 120000))[1];
const base = `http://127.0.0.1:${port}`;
console.log(`gateway on ${base} (${elapsed()})`);

// The admin sets up the accounts over the API (as an installer would), with a bearer token.
async function apiLogin(user, password) {
  const r = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user, password }) });
  if (r.status !== 200) throw new Error(`login ${user}: ${r.status} ${await r.text()}`);
  return (await r.json()).token;
}
async function apiCall(token, method, target, body) {
  const r = await fetch(base + target, {
    method, headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text };
}
const admin = await apiLogin('admin', ADMIN_PASSWORD);
const users = [
  { name: 'op', password: 'operator-pass-1', role: 'operator', scope: '510603101000', display_name: '值班员 李' },
  { name: 'inv', password: 'investigator-pass-1', role: 'investigator', scope: '510603101000', display_name: '民警 王' },
  { name: 'va', password: 'village-a-pass-1', role: 'viewer', scope: VILLAGE_A, display_name: '村 201 网格员' },
];
for (const u of users) {
  const r = await apiCall(admin, 'POST', '/api/users', u);
  if (r.status !== 201) throw new Error(`creating user ${u.name}: ${r.status} ${r.text}`);
}
await waitUntil('the four simulated cameras streaming', async () => {
  const r = await apiCall(admin, 'GET', '/api/cameras');
  return r.json.cameras.filter((c) => c.state && c.state.state === 'streaming').length === 4;
}, 120000);
console.log(`cameras streaming (${elapsed()})`);

// A camera that recorded and was then removed (its pole taken down): added through the API on
// cam04's stream, recording until it has closed segments, removed. Its recordings stay, and the
// police look for them in the investigation. Village B: the village A viewer must not see it.
// Removed before the browser steps, so the division tree (cam01..cam05) and the health board
// (4/5 online) checked below also show that it is not presented as a live camera.
const REMOVED = { id: 'cam06', name: '旧粮站', division: VILLAGE_B };
{
  const r = await apiCall(admin, 'POST', '/api/cameras', { ...REMOVED, main_url: urls.cam04.main });
  if (r.status !== 201) throw new Error(`adding ${REMOVED.id}: ${r.status} ${r.text}`);
  await waitUntil(`${REMOVED.id} recording two segments`, async () => {
    const c = (await apiCall(admin, 'GET', `/api/cameras/${REMOVED.id}`)).json;
    return c && c.state && c.state.segments >= 2;
  }, 120000);
  const d = await apiCall(admin, 'DELETE', `/api/cameras/${REMOVED.id}`);
  if (d.status >= 300) throw new Error(`removing ${REMOVED.id}: ${d.status} ${d.text}`);
  const listed = (await apiCall(admin, 'GET', '/api/cameras?include=removed')).json.cameras.find((c) => c.id === REMOVED.id);
  if (!listed || listed.origin !== 'removed') throw new Error(`${REMOVED.id} not listed as removed: ${JSON.stringify(listed)}`);
  console.log(`${REMOVED.id} recorded and removed (${elapsed()})`);
}
const removedFrom = new Date(Date.now() - 10 * 60e3);

// ---------------------------------------------------------------- browser
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required',
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding'],
});

async function newPage(lang = 'zh') {
  const context = await browser.newContext({ viewport: { width: 1600, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(60000); // clicks and selectors on a loaded 2-core machine
  page.on('pageerror', (e) => { failures++; console.log(`  FAIL page error: ${e.message}`); });
  await page.addInitScript((l) => { if (!localStorage.getItem('lang')) localStorage.setItem('lang', l); }, lang);
  return { context, page };
}
async function login(user, password, lang = 'zh') {
  const { context, page } = await newPage(lang);
  await page.goto(base + '/');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#whoami', { timeout: 60000 });
  console.log(`  logged in as ${user} (${elapsed()})`);
  return { context, page };
}
const shot = (page, name) => page.screenshot({ path: path.join(out, name) });

// Playback of every <video> matching the selector, from the page: decoded frames and currentTime.
const playback = (page, selector) => page.$$eval(selector, (vs) => vs.map((v) => ({
  frames: v.getVideoPlaybackQuality().totalVideoFrames, time: v.currentTime, w: v.videoWidth, h: v.videoHeight,
})));
// Waits until each video matching the selector has decoded frames, then until all of them have
// decoded at least 10 more and moved their clock by at least 1 s: the video is playing, not a still.
async function expectPlaying(page, selector, count, what, timeout = 90000) {
  await page.waitForFunction(([s, n]) => {
    const vs = [...document.querySelectorAll(s)];
    return vs.length === n && vs.every((v) => v.getVideoPlaybackQuality().totalVideoFrames > 5 && v.currentTime > 0);
  }, [selector, count], { timeout, polling: 500 });
  const before = await playback(page, selector);
  await page.waitForFunction(([s, b]) => {
    const vs = [...document.querySelectorAll(s)];
    return vs.length === b.length && vs.every((v, i) => v.getVideoPlaybackQuality().totalVideoFrames >= b[i].frames + 10 && v.currentTime >= b[i].time + 1);
  }, [selector, before], { timeout, polling: 500 });
  const after = await playback(page, selector);
  check(after.every((a, i) => a.frames > before[i].frames && a.time > before[i].time),
    `${what}: frames ${before.map((b) => b.frames).join(',')} -> ${after.map((a) => a.frames).join(',')}`);
  return after;
}
// A small grey-level picture of a <video>: the scene's walkers move, so two pictures taken
// seconds apart differ when the video really plays (and a black or frozen tile does not).
const picture = (page, selector) => page.$eval(selector, (v) => {
  const c = document.createElement('canvas'); c.width = 64; c.height = 36;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 36);
  const d = g.getImageData(0, 0, 64, 36).data, px = [];
  for (let i = 0; i < d.length; i += 4) px.push((d[i] + d[i + 1] + d[i + 2]) / 3);
  return px;
});

// Waits until the investigation player plays a clip (past 0.5 s: the clip request is answered once
// the recording's open segment is closed) and returns that clip's record from the API.
async function playedClip(page) {
  await page.waitForFunction(() => {
    const v = document.querySelector('#inv-player');
    return v.src.includes('/api/clips/') && v.currentTime > 0.5;
  }, null, { timeout: 60000 }).catch(async (e) => { throw new Error(`${e.message}; page says: ${await page.textContent('#export-result')}`); });
  return page.evaluate(async () => {
    const id = document.querySelector('#inv-player').src.match(/\/api\/clips\/([^/]+)\//)[1];
    return (await fetch(`/api/clips/${id}`)).json();
  });
}

const adminAlerts = async (q = '') => (await apiCall(admin, 'GET', `/api/alerts${q}`)).json.alerts;

try {
  await step('login page rejects a wrong password', async () => {
    const { context, page } = await newPage();
    await page.goto(base + '/');
    await page.fill('#login-user', 'op');
    await page.fill('#login-password', 'wrong-password');
    await page.click('#login-submit');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0, null, { timeout: 20000 });
    await shot(page, '01-login-rejected.png');
    check(await page.$('#whoami') === null, 'still on the login page');
    await context.close();
  });

  const op = await login('op', 'operator-pass-1');
  await step('video wall: four cameras of the real gateway play live; a 16-tile layout loads', async () => {
    const { page } = op;
    check((await page.textContent('#whoami')).includes('operator'), 'logged in as the operator');
    const tree = await page.$$eval('.tree [data-camera]', (n) => n.map((x) => x.dataset.camera).sort());
    check(JSON.stringify(tree) === JSON.stringify(['cam01', 'cam02', 'cam03', 'cam04', 'cam05']), `division tree shows ${tree}`);
    await page.click('#layout-4');
    const four = ['cam01', 'cam02', 'cam03', 'cam04'];
    for (let i = 0; i < four.length; i++) await page.dragAndDrop(`.tree [data-camera="${four[i]}"]`, `.tile[data-tile="${i}"]`);
    const after = await expectPlaying(page, '#wall video[data-camera]', 4, 'live video plays on 4 tiles');
    check(after.every((a) => a.w > 0 && a.h > 0), `decoded pictures ${after.map((a) => `${a.w}x${a.h}`).join(' ')}`);
    const lag = await page.$eval('video[data-camera="cam01"]', (v) => (v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : 99));
    check(lag < 3, `playing near the live edge (buffered ahead ${lag.toFixed(2)} s)`);
    const p1 = await picture(page, 'video[data-camera="cam01"]');
    const mean = p1.reduce((a, b) => a + b, 0) / p1.length;
    const p2 = await waitUntil('the picture of cam01 to change', async () => {
      const p = await picture(page, 'video[data-camera="cam01"]');
      return p.reduce((a, b, i) => a + Math.abs(b - p1[i]), 0) / p.length > 0.5 ? p : null;
    }, 30000);
    const diff = p2.reduce((a, b, i) => a + Math.abs(b - p1[i]), 0) / p2.length;
    check(mean > 10 && diff > 0.5, `cam01 shows a moving picture (mean grey ${mean.toFixed(0)}, change ${diff.toFixed(2)})`);
    await shot(page, '02-wall-4-live.png');

    await page.click('#layout-16');
    check((await page.$$('#wall .tile')).length === 16, '16 tiles laid out');
    // Every tile gets a camera (each camera four times): 16 live sub streams at once.
    for (let i = 4; i < 16; i++) await page.dragAndDrop(`.tree [data-camera="${four[i % 4]}"]`, `.tile[data-tile="${i}"]`);
    await expectPlaying(page, '#wall video[data-camera]', 16, 'live video plays on all 16 tiles', 180000);
    await shot(page, '03-wall-16-live.png');

    await page.dblclick('.tile[data-tile="0"] video');
    await page.waitForFunction(() => [...document.querySelectorAll('#wall .tile')].filter((t) => t.style.display !== 'none').length === 1);
    const main = await expectPlaying(page, '#wall .tile[data-tile="0"] video', 1, 'enlarged tile plays the main stream');
    const sub = after[0];
    check(main[0].w > sub.w, `main stream is larger than the sub stream (${main[0].w}x${main[0].h} vs ${sub.w}x${sub.h})`);
    check((await page.$$('#wall video')).length === 1, 'the 15 hidden tiles stop streaming while one is enlarged');
    await shot(page, '04-wall-enlarged-main.png');
    await page.dblclick('.tile[data-tile="0"] video');
    await page.waitForFunction(() => [...document.querySelectorAll('#wall .tile')].filter((t) => t.style.display !== 'none').length === 16);
    await page.waitForFunction(() => {
      const vs = [...document.querySelectorAll('#wall video[data-camera]')];
      return vs.length === 16 && vs.every((v) => v.getVideoPlaybackQuality().totalVideoFrames > 5);
    }, null, { timeout: 180000, polling: 500 });
    check(true, 'back to 16 tiles, all streaming again');
    await page.click('#layout-1'); // one tile left: less decoding while the rest of the test runs
  });

  let alertId = '';
  await step('alert desk: an alert raised by the simulator\'s walkers arrives without reload', async () => {
    const { page } = op;
    await page.evaluate(() => { window.__sameDocument = true; });
    const fetchesOfAlerts = () => page.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/alerts?')).length);
    // Opening the desk loads the list once (a resource entry appears when the response is in);
    // after that, new alerts must come without another fetch.
    const loads = (await fetchesOfAlerts()) + 1;
    await page.click('#nav-alerts');
    await page.waitForFunction((n) => performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/alerts?')).length >= n, loads);
    const known = (await adminAlerts('?limit=1000')).map((a) => a.id);
    const shown = await page.$$eval('#alert-list li', (l) => l.map((x) => x.dataset.alert));
    alertId = await page.waitForFunction((k) => {
      const li = [...document.querySelectorAll('#alert-list li')].find((x) => !k.includes(x.dataset.alert) && x.querySelector('.title').textContent.includes('村口主路'));
      return li ? li.dataset.alert : null;
    }, [...known, ...shown], { timeout: 90000, polling: 200 }).then((h) => h.jsonValue());
    check(!!alertId, `new alert ${alertId} appeared (after ${known.length} earlier ones)`);
    check(await page.evaluate(() => window.__sameDocument === true), 'the page was not reloaded');
    check(await fetchesOfAlerts() === loads, 'the list was not fetched again: the alert came over /ws/events');
    const a = (await apiCall(admin, 'GET', `/api/alerts/${alertId}`)).json;
    check(a.event.camera === 'cam01' && a.event.type === 'tripwire' && a.step === 'new', `it is cam01's tripwire alert (${a.event.camera} ${a.event.type} ${a.step})`);
    check(await page.$(`#alert-list li[data-alert="${alertId}"].sev-4`) !== null, 'shown in red (severity 4)');
    const other = await page.waitForFunction((v) => [...document.querySelectorAll('#alert-list li.sev-3 .sub')].some((x) => x.textContent.includes(v)), VILLAGE_B, { timeout: 60000 }).then(() => true, () => false);
    check(other, 'the township operator also sees the other village\'s (orange, cam03) alerts');
    check((await page.textContent(`#alert-list li[data-alert="${alertId}"] .title`)).includes('村口主路'), 'titled with the camera\'s name');
    check(await page.$('#toast') !== null, 'toast shown');
    check(await page.evaluate(() => !!window.sharpeyes.lastBeep), 'alarm sound played');
    if (a.event.has_snapshot) {
      const ok = await page.waitForFunction((id) => {
        const img = document.querySelector(`#alert-list li[data-alert="${id}"] img`);
        return img && img.complete && img.naturalWidth > 0;
      }, alertId, { timeout: 20000 }).then(() => true, () => false);
      check(ok, 'the snapshot of the event is shown');
    } else {
      console.log('  note the gateway stored no snapshot for this event');
    }
    await shot(page, '05-alert-desk-new.png');
  });

  await step('alert desk: five-step workflow 受理 分流 办理 反馈 结单 in the UI', async () => {
    const { page } = op;
    if (!alertId) throw new Error('no alert to work on');
    await page.click('#filter-open'); // closed ones stay in the list
    await page.click(`#alert-list li[data-alert="${alertId}"]`);
    await page.waitForSelector('#step-submit');
    const steps = [['accepted', '', '已到岗'], ['dispatched', '网格员 张三', '派网格员核实'], ['handling', '', '现场处置中'],
      ['feedback', '', '经核实为村民夜归'], ['closed', '', '误报, 结单']];
    for (const [want, assignee, note] of steps) {
      if (assignee) await page.fill('#step-assignee', assignee);
      await page.fill('#step-note', note);
      await page.click('#step-submit');
      await page.waitForSelector(`#alert-list li[data-alert="${alertId}"][data-step="${want}"]`, { timeout: 20000 });
    }
    const rows = await page.$$eval('#alert-detail table tr', (r) => r.length - 1);
    check(rows === 6, `history shows raised + 5 steps (${rows})`);
    check((await page.$$eval('#alert-steps .step.done', (s) => s.length)) === 5, 'all five steps marked done');
    const a = (await apiCall(admin, 'GET', `/api/alerts/${alertId}`)).json;
    check(a.step === 'closed' && a.assignee === '网格员 张三', `stored by the gateway: ${a.step}, assignee ${a.assignee}`);
    check(a.history.length === 6 && a.history.slice(1).every((h) => h.user === 'op'), 'each step recorded with who did it');
    check(a.history[4].note === '经核实为村民夜归', 'notes stored');
    await shot(page, '06-alert-closed.png');
  });

  await step('camera health board', async () => {
    const { page } = op;
    await page.click('#nav-health');
    await page.waitForSelector('#division-rates tr td', { timeout: 20000 });
    // Cells: division, online/total, rate.
    const rates = await page.$$eval('#division-rates tr', (r) => r.slice(1).map((x) => [...x.cells].map((c) => c.textContent)));
    const online = (code) => (rates.find((r) => r[0].endsWith(code)) || [])[1];
    check(online(VILLAGE_A) === '2/2' && online(VILLAGE_B) === '2/3' && online('510603101000') === '4/5',
      `online per division: ${rates.map((r) => r.join(' ')).join(' | ')}`);
    const problems = await page.$$eval('#problem-cameras tr', (r) => r.slice(1).map((x) => x.textContent));
    check(problems.length === 1 && problems[0].includes('水库大坝'), `the offline camera is listed (${problems})`);
    const never = await page.$$eval('#never-watched tr', (r) => r.slice(1).map((x) => x.textContent));
    check(never.some((x) => x.includes('水库大坝')) && !never.some((x) => x.includes('村口主路')), `never-watched lists cam05, not the watched cam01 (${never})`);
    check((await page.textContent('#health-board .kpis')).includes('80%'), 'online rate 4/5 = 80%');
    await shot(page, '07-health.png');
  });

  await step('Chinese and English switch', async () => {
    const { page } = op;
    check((await page.textContent('#nav-wall')).includes('视频墙'), 'Chinese navigation');
    await page.click('#lang-toggle');
    await page.waitForFunction(() => document.querySelector('#nav-wall')?.textContent.includes('Video wall'));
    check((await page.textContent('#nav-alerts')).includes('Alert desk'), 'English navigation after the switch');
    await page.click('#nav-health');
    await page.waitForSelector('#division-rates tr td');
    check((await page.textContent('#health-board')).includes('Online'), 'health board in English');
    await shot(page, '08-health-en.png');
    await page.click('#lang-toggle');
    await page.waitForFunction(() => document.querySelector('#nav-wall')?.textContent.includes('视频墙'));
    check(true, 'back to Chinese');
  });
  await step('alert desk: jump to the clip of the handled alert', async () => {
    const { page } = op;
    if (!alertId) throw new Error('no alert');
    const a = (await apiCall(admin, 'GET', `/api/alerts/${alertId}`)).json;
    await page.click('#nav-alerts');
    await page.click(`#alert-list li[data-alert="${alertId}"]`);
    await page.click('#jump-clip');
    await page.waitForFunction(() => document.querySelector('#view-investigate').classList.contains('shown'));
    // The recording around the event may still be in its open segment: the page's request is
    // answered once it is closed (2 s segments), so the check waits for playback.
    const clip = await playedClip(page);
    const start = new Date(a.event.start).getTime();
    check(clip.camera === 'cam01' && new Date(clip.actual.from).getTime() <= start && start < new Date(clip.actual.to).getTime(),
      `the clip played covers the event (${clip.actual.from} .. ${clip.actual.to}, event at ${a.event.start})`);
    await shot(page, '08b-jump-to-clip.png');
  });
  await op.context.close();

  await step('investigation: search events, cut a clip, create a case, export and download evidence, verify it', async () => {
    const { page, context } = await login('inv', 'investigator-pass-1');
    await page.click('#nav-investigate');
    await page.selectOption('#inv-camera', 'cam01');
    await page.selectOption('#inv-type', 'tripwire');
    // The page was opened a while ago; the search must still reach up to now (the newest events).
    const clickAt = Date.now();
    await page.click('#inv-search');
    await page.waitForSelector('#inv-table tr', { timeout: 20000 });
    const rows = await page.$$eval('#inv-table tr', (r) => r.map((x) => x.textContent));
    check(rows.length > 0 && rows.every((r) => r.includes('越线') && r.includes('村口主路')), `${rows.length} tripwire events of cam01 found`);
    const shownIds = await page.$$eval('#inv-table tr', (r) => r.map((x) => x.dataset.event));
    const q = new URLSearchParams({ camera: 'cam01', type: 'tripwire', from: new Date(clickAt - 50 * 60e3).toISOString(), to: new Date(clickAt - 1000).toISOString(), limit: 200 });
    const expected = (await apiCall(admin, 'GET', `/api/events?${q}`)).json.events.map((e) => e.id);
    check(expected.length > 1 && expected.every((id) => shownIds.includes(id)), `all ${expected.length} events the gateway stored up to the search are listed (incl. the newest)`);
    check((await page.$$('#inv-timeline .rec')).length >= 1, 'timeline shows the recorded span');
    check((await page.$$('#inv-timeline .mark')).length === rows.length, 'events marked on the timeline');
    await shot(page, '09-investigation-search.png');
    // Seek by time: a click in the middle of the recorded span plays the recording from there.
    const box = await (await page.$('#inv-timeline .rec')).boundingBox();
    const line = await (await page.$('#inv-timeline')).boundingBox();
    const fromValue = await page.$eval('#inv-from', (e) => e.value);
    const frac = (box.x + box.width / 2 - line.x) / line.width;
    const wanted = new Date(fromValue).getTime() + frac * (clickAt - new Date(fromValue).getTime());
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const seekClip = await playedClip(page);
    const offset = (new Date(seekClip.actual.from).getTime() - wanted) / 1000;
    check(Math.abs(offset) < 10, `timeline click plays the recording from the clicked time (clip starts ${offset.toFixed(1)} s from it)`);
    // The oldest event: its recording is complete.
    await page.click('#inv-table tr:last-child');
    await page.waitForFunction(() => {
      const v = document.querySelector('#inv-player');
      return v && v.currentTime > 0.5;
    }, null, { timeout: 60000 });
    await page.click('#mark-in');
    const tIn = await page.$eval('#inv-player', (v) => v.currentTime);
    await page.waitForFunction((t) => document.querySelector('#inv-player').currentTime > t + 1.5, tIn, { timeout: 30000 });
    await page.click('#mark-out');
    check((await page.textContent('#inout')).includes('→'), `in/out marked (${await page.textContent('#inout')})`);
    await page.fill('#case-title', '村口盗窃案 11-26');
    await page.click('#export-case');
    await page.waitForSelector('#evidence-sha, #export-result .error', { timeout: 60000 });
    const error = await page.$('#export-result .error');
    if (error) throw new Error(`export failed in the page: ${await error.textContent()}`);
    const sha = await page.$eval('#evidence-sha', (e) => e.textContent);
    await shot(page, '10-investigation-exported.png');
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), page.click('#evidence-download')]);
    const tar = path.join(out, download.suggestedFilename() || 'evidence.tar');
    await download.saveAs(tar);
    const got = createHash('sha256').update(readFileSync(tar)).digest('hex');
    check(got === sha, `downloaded ${path.basename(tar)} matches the SHA-256 shown (${sha.slice(0, 12)}…)`);
    const unpacked = path.join(work, 'evidence');
    mkdirSync(unpacked, { recursive: true });
    const x = spawnSync('tar', ['-xf', tar, '-C', unpacked], { encoding: 'utf8' });
    check(x.status === 0, `tar unpacks ${x.stderr || ''}`);
    const [pkg] = readdirSync(unpacked);
    const caseJson = JSON.parse(readFileSync(path.join(unpacked, pkg, 'case.json'), 'utf8'));
    check(caseJson.case.title === '村口盗窃案 11-26' && caseJson.exported_by === 'inv', `case manifest: ${caseJson.case.title} by ${caseJson.exported_by}`);
    check(caseJson.items.length === 1 && caseJson.items[0].camera === 'cam01', `${caseJson.items.length} clip of cam01 in the package`);
    for (const item of caseJson.items) {
      const dir = path.join(unpacked, pkg, item.directory);
      check(['clip.mp4', 'manifest.json', 'manifest.sig', 'signer.pub.pem'].every((f) => readdirSync(dir).includes(f)), `${item.directory} holds clip, manifest, signature, key`);
      const v = spawnSync(bin, ['verify', dir, '--key', path.join(dataDir, 'keys', 'evidence.pub.pem')], { encoding: 'utf8' });
      check(v.status === 0, `sharpeyes verify accepts the package with the gateway's public key: ${(v.stdout + v.stderr).trim().split('\n').pop()}`);
      // A changed byte in the clip must fail verification (the check is not vacuous).
      const clip = path.join(dir, 'clip.mp4');
      const bytes = readFileSync(clip);
      bytes[bytes.length - 100] ^= 0xff;
      writeFileSync(clip, bytes);
      const bad = spawnSync(bin, ['verify', dir, '--key', path.join(dataDir, 'keys', 'evidence.pub.pem')], { encoding: 'utf8' });
      check(bad.status !== 0, 'a tampered clip fails verification');
    }
    const audit = (await apiCall(admin, 'GET', '/api/audit')).json.entries.map((e) => `${e.action}:${e.user}`);
    check(audit.includes('evidence.export:inv') && audit.includes('clip.view:inv'), 'the export and the viewing are in the audit log');
    await context.close();
  });

  await step('investigation: a removed camera is offered, marked removed, and its recordings play', async () => {
    const { page, context } = await login('inv', 'investigator-pass-1');
    check(await page.$(`.tree [data-camera="${REMOVED.id}"]`) === null, 'the removed camera is not in the live division tree');
    check(!(await page.evaluate(() => window.sharpeyes.cameras.map((c) => c.id))).includes(REMOVED.id), 'nor among the live cameras of the page');
    await page.click('#nav-investigate');
    const opt = await page.waitForSelector(`#inv-removed-cameras option[value="${REMOVED.id}"]`, { state: 'attached', timeout: 20000 });
    const shown = await opt.evaluate((o) => ({ text: o.textContent, origin: o.dataset.origin, cls: o.className, color: getComputedStyle(o).color, live: getComputedStyle(o.ownerDocument.querySelector('#inv-camera option[value="cam01"]')).color }));
    check(shown.text.includes(REMOVED.name) && shown.text.includes(REMOVED.division) && shown.text.includes('已移除'),
      `offered in the clip search as "${shown.text}"`);
    check(shown.origin === 'removed' && shown.cls === 'removed' && shown.color !== shown.live, `marked removed and greyed (${shown.color} vs ${shown.live})`);
    const liveMarked = await page.$$eval('#inv-camera option[value^="cam0"]:not([value="cam06"])', (o) => o.filter((x) => x.dataset.origin === 'removed' || x.closest('optgroup')).length);
    check(liveMarked === 0, 'configured cameras are not marked removed');
    check(await page.$eval('#inv-camera-removed', (e) => e.hidden), 'no removed tag before a removed camera is chosen');
    await page.selectOption('#inv-camera', REMOVED.id);
    check(await page.$eval('#inv-camera-removed', (e) => !e.hidden && e.offsetWidth > 0), 'the removed tag shows beside the chosen camera');
    await page.click('#inv-search');
    await page.waitForSelector('#inv-timeline .rec', { timeout: 30000 });
    const tl = await page.evaluate(async ([id, from]) => (await fetch(`/api/recordings/${id}/timeline?from=${from}&to=${new Date().toISOString()}`)).json(),
      [REMOVED.id, removedFrom.toISOString()]);
    check(tl.recorded.length >= 1, `its timeline shows what it recorded (${tl.recorded.map((r) => `${r.from}..${r.to}`).join(', ')})`);
    await shot(page, '12-investigation-removed-camera.png');
    const box = await (await page.$('#inv-timeline .rec')).boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const clip = await playedClip(page);
    const recFrom = Math.min(...tl.recorded.map((r) => new Date(r.from).getTime()));
    const recTo = Math.max(...tl.recorded.map((r) => new Date(r.to).getTime()));
    check(clip.camera === REMOVED.id && new Date(clip.actual.from).getTime() >= recFrom - 1000 && new Date(clip.actual.to).getTime() <= recTo + 1000,
      `a clip of the removed camera plays, cut from its recordings (${clip.actual.from} .. ${clip.actual.to})`);
    await context.close();
  });

  await step('village viewer sees only the own village, in the UI and in the API', async () => {
    const { page, context } = await login('va', 'village-a-pass-1');
    const tree = await page.$$eval('.tree [data-camera]', (n) => n.map((x) => x.dataset.camera).sort());
    check(JSON.stringify(tree) === JSON.stringify(['cam01', 'cam02']), `tree shows ${tree}`);
    const options = await page.$$eval('#inv-camera option', (o) => o.map((x) => x.value).filter(Boolean).sort());
    check(JSON.stringify(options) === JSON.stringify(['cam01', 'cam02']), `investigation offers ${options}`);
    const status = await page.evaluate(async () => (await fetch('/api/cameras/cam03')).status);
    check(status === 403, `API answers ${status} for another village's camera`);
    const evStatus = await page.evaluate(async () => (await fetch('/api/events?camera=cam04')).status);
    check(evStatus === 403, `API answers ${evStatus} for another village's events`);
    const wsRefused = await page.evaluate(() => new Promise((res) => {
      const ws = new WebSocket(`ws://${location.host}/ws/live/cam03?stream=sub`);
      ws.onopen = () => res(false); ws.onerror = () => res(true);
    }));
    check(wsRefused, 'live video of another village is refused');
    await page.dragAndDrop('.tree [data-camera="cam02"]', '.tile[data-tile="0"]');
    await expectPlaying(page, '#wall video[data-camera]', 1, 'own village camera plays');
    await page.click('#nav-alerts');
    await page.waitForSelector('#alert-list li', { timeout: 20000 });
    const divisions = await page.$$eval('#alert-list li .sub', (n) => n.map((x) => x.textContent));
    const bAlerts = await adminAlerts('?camera=cam03');
    check(bAlerts.length > 0, `the other village has ${bAlerts.length} alerts (cam03)`);
    check(divisions.length > 0 && divisions.every((d) => d.includes(VILLAGE_A)), `${divisions.length} alerts shown, all of the own village`);
    if (bAlerts.length) {
      const st = await page.evaluate(async (id) => (await fetch(`/api/alerts/${id}`)).status, bAlerts[0].id);
      check(st === 403, `API answers ${st} for an alert of the other village`);
    }
    await page.click('#nav-health');
    await page.waitForSelector('#division-rates tr td');
    const rates = await page.$$eval('#division-rates tr', (r) => r.slice(1).map((x) => [...x.cells].map((c) => c.textContent)));
    check(rates.length === 1 && rates[0][0].endsWith(VILLAGE_A) && rates[0][1] === '2/2', `health board only of the own village (${rates.map((r) => r.join(' '))})`);
    await shot(page, '11-village-viewer.png');
    await context.close();
  });
} finally {
  await browser.close();
  for (const p of [gw, sim]) p.kill('SIGTERM');
  const codes = await Promise.all([gw.exited, sim.exited]);
  check(codes[0] === 0, `gateway stopped cleanly (${codes[0]})`);
  check(!gw.stderrText.includes(ADMIN_PASSWORD), 'the admin password is not in the gateway log');
}
console.log(`${failures === 0 ? 'PASS' : `FAILED: ${failures}`} (${elapsed()})`);
process.exit(failures === 0 ? 0 : 1);
