import './style.css';
import { api, setCsrf, wsUrl, fmtTime, el } from './api.js';
import { t, getLang, setLang } from './i18n.js';
import { LivePlayer } from './live.js';

const state = {
  me: null, cameras: [], removedCameras: [], alerts: [], selectedAlert: null, view: 'wall', layout: 4,
  tiles: [], enlarged: null, sound: true, filters: { step: '', open: true, minSeverity: 1 },
};
const app = document.getElementById('app');
window.sharpeyes = state; // for the browser tests and for operators' debugging

const LEVELS = [[4, 'city'], [6, 'county'], [9, 'township'], [12, 'village']];
const stepsOrder = ['new', 'accepted', 'dispatched', 'handling', 'feedback', 'closed'];
const actionFor = { new: 'accept', accepted: 'dispatch', dispatched: 'handle', handling: 'feedback', feedback: 'close' };
const actionLabel = { accept: 'accept', dispatch: 'dispatch', handle: 'handle', feedback: 'feedbackAct', close: 'close' };

// ---------------------------------------------------------------- login / shell
async function boot() {
  setLang(getLang());
  try {
    state.me = await api('GET', '/api/me');
    setCsrf(state.me.csrf);
    await startShell();
  } catch (e) {
    renderLogin();
  }
}

function renderLogin(message = '') {
  app.replaceChildren();
  const user = el('input', { id: 'login-user', placeholder: t('user'), autocomplete: 'username' });
  const pass = el('input', { id: 'login-password', type: 'password', placeholder: t('password'), autocomplete: 'current-password' });
  const err = el('div', { class: 'error', id: 'login-error' }, message);
  const submit = async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('POST', '/api/login', { user: user.value, password: pass.value });
      setCsrf(r.csrf);
      state.me = await api('GET', '/api/me');
      setCsrf(state.me.csrf);
      await startShell();
    } catch (e) {
      err.textContent = e.status === 429 ? e.message : t('loginFailed');
    }
  };
  app.append(el('form', { class: 'login', onsubmit: submit },
    el('h1', {}, t('loginTitle')), el('p', {}, t('loginSub')), user, pass, err,
    el('button', { class: 'primary', type: 'submit', id: 'login-submit' }, t('login')),
    el('div', { class: 'form-row' }, langButton())));
}

function langButton() {
  return el('button', { type: 'button', id: 'lang-toggle', onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); state.me ? startShell() : renderLogin(); } },
    getLang() === 'zh' ? 'EN' : '中文');
}

function can(p) { return state.me && state.me.permissions.includes(p); }

async function startShell() {
  for (const tile of state.tiles) tile.player && tile.player.close();
  app.replaceChildren();
  const views = [['wall', 'wall'], ['alerts', 'alerts'], ['health', 'health'], ['investigate', 'investigate']];
  const nav = el('nav', {}, views.map(([id, key]) => el('button', {
    id: `nav-${id}`, class: state.view === id ? 'active' : '', onclick: () => show(id),
  }, t(key), id === 'alerts' ? el('span', { class: 'badge', id: 'alert-badge', style: 'display:none' }) : null)));
  const header = el('header', { class: 'top' },
    el('div', { class: 'brand' }, t('brand'), el('small', {}, t('brandSub'))), nav,
    el('div', { class: 'right' },
      el('label', {}, el('input', { type: 'checkbox', id: 'sound-toggle', checked: state.sound, onchange: (e) => { state.sound = e.target.checked; } }), ' ', t('sound')),
      langButton(),
      el('span', { id: 'whoami' }, `${state.me.display_name || state.me.name} · ${state.me.role}${state.me.scope ? ' · ' + state.me.scope : ''}`),
      el('button', { id: 'logout', onclick: async () => { await api('POST', '/api/logout', {}).catch(() => {}); state.me = null; location.reload(); } }, t('logout'))));
  const main = el('main', {},
    el('section', { class: 'view', id: 'view-wall' }), el('section', { class: 'view', id: 'view-alerts' }),
    el('section', { class: 'view', id: 'view-health' }), el('section', { class: 'view', id: 'view-investigate' }));
  app.append(header, main);
  await loadCameras();
  buildWall();
  buildAlerts();
  buildInvestigate();
  show(state.view);
  connectEvents();
}

function show(view) {
  state.view = view;
  document.querySelectorAll('.view').forEach((v) => v.classList.toggle('shown', v.id === `view-${view}`));
  document.querySelectorAll('header nav button').forEach((b) => b.classList.toggle('active', b.id === `nav-${view}`));
  if (view === 'health') buildHealth();
  if (view === 'alerts') refreshAlerts();
  if (view === 'investigate') refreshCameraChoice();
}

// The configured cameras (wall, alerts, health) and, apart, the removed ones whose recordings are
// still here: police search those too, so they appear in the investigation only, marked removed.
async function loadCameras() {
  const r = await api('GET', '/api/cameras?include=removed');
  state.cameras = r.cameras.filter((c) => c.origin !== 'removed');
  state.removedCameras = r.cameras.filter((c) => c.origin === 'removed');
}
function cameraById(id) { return state.cameras.find((c) => c.id === id); }
// For naming what was recorded: a configured camera or a removed one.
function recordedCameraById(id) { return cameraById(id) || state.removedCameras.find((c) => c.id === id); }
function camState(c) { return (c && c.state && c.state.state) || 'unknown'; }

// ---------------------------------------------------------------- division tree
function divisionTree(cameras) {
  const root = { children: new Map(), cameras: [] };
  for (const c of cameras) {
    let node = root;
    for (const [digits, level] of LEVELS) {
      const sig = c.division.slice(0, digits);
      if (/^0+$/.test(c.division.slice(digits - (digits === 4 ? 2 : digits === 6 ? 2 : 3), digits))) break;
      const code = sig.padEnd(12, '0');
      if (!node.children.has(code)) node.children.set(code, { code, level, children: new Map(), cameras: [] });
      node = node.children.get(code);
    }
    node.cameras.push(c);
  }
  return root;
}

function renderTree(node) {
  const ul = el('ul');
  for (const child of [...node.children.values()].sort((a, b) => a.code.localeCompare(b.code))) {
    const total = countCams(child);
    const online = countCams(child, (c) => camState(c) === 'streaming');
    const sub = renderTree(child);
    const label = el('div', { class: 'node', onclick: () => { sub.style.display = sub.style.display === 'none' ? '' : 'none'; } },
      '▾', el('span', {}, `${t(child.level)} ${child.code.slice(0, { city: 4, county: 6, township: 9, village: 12 }[child.level])}`),
      el('span', { class: 'muted' }, `${online}/${total}`));
    ul.append(el('li', {}, label, sub));
  }
  for (const c of node.cameras) {
    ul.append(el('li', {}, el('div', {
      class: 'node cam', draggable: 'true', dataset: { camera: c.id }, title: c.id,
      ondragstart: (e) => { e.dataTransfer.setData('text/plain', c.id); },
      ondblclick: () => placeCamera(firstFreeTile(), c.id),
    }, el('span', { class: `dot ${camState(c)}` }), c.name || c.id, c.ptz ? el('span', { class: 'muted' }, ' ⟲') : null)));
  }
  return ul;
}
function countCams(node, pred = () => true) {
  let n = node.cameras.filter(pred).length;
  for (const c of node.children.values()) n += countCams(c, pred);
  return n;
}

// ---------------------------------------------------------------- video wall
function buildWall() {
  const view = document.getElementById('view-wall');
  const tree = el('div', { class: 'tree', id: 'division-tree' }, renderTree(divisionTree(state.cameras)));
  const toolbar = el('div', { class: 'toolbar' }, el('span', { class: 'muted' }, t('layout')),
    [1, 4, 9, 16].map((n) => el('button', { id: `layout-${n}`, class: state.layout === n ? 'active' : '', onclick: () => setLayout(n) }, String(n))),
    el('span', { class: 'grow' }), el('span', { class: 'muted' }, t('enlarge')));
  const wall = el('div', { class: 'wall', id: 'wall' });
  view.replaceChildren(el('aside', { class: 'side' }, el('div', { class: 'section-title' }, t('divisions')), tree),
    el('div', { class: 'wall-wrap' }, toolbar, wall));
  const keep = state.tiles.map((x) => x.camera);
  state.tiles = [];
  setLayout(state.layout, keep);
}

function setLayout(n, cams) {
  const previous = cams || state.tiles.map((x) => x.camera);
  for (const tile of state.tiles) tile.player && tile.player.close();
  state.layout = n; state.enlarged = null;
  document.querySelectorAll('.toolbar button[id^=layout-]').forEach((b) => b.classList.toggle('active', b.id === `layout-${n}`));
  const wall = document.getElementById('wall');
  const side = Math.sqrt(n);
  wall.style.gridTemplateColumns = `repeat(${side}, 1fr)`;
  wall.style.gridTemplateRows = `repeat(${side}, 1fr)`;
  wall.replaceChildren();
  state.tiles = [];
  for (let i = 0; i < n; i++) {
    const tile = { index: i, camera: null, player: null, node: null };
    tile.node = el('div', {
      class: 'tile', dataset: { tile: i },
      ondragover: (e) => { e.preventDefault(); tile.node.classList.add('drop'); },
      ondragleave: () => tile.node.classList.remove('drop'),
      ondrop: (e) => { e.preventDefault(); tile.node.classList.remove('drop'); placeCamera(tile, e.dataTransfer.getData('text/plain')); },
      ondblclick: () => toggleEnlarge(tile),
    });
    state.tiles.push(tile);
    wall.append(tile.node);
    renderTile(tile, previous[i] || null);
  }
}

function firstFreeTile() { return state.tiles.find((x) => !x.camera) || state.tiles[0]; }

function placeCamera(tile, cameraId) {
  if (!cameraById(cameraId)) return;
  renderTile(tile, cameraId);
}

function renderTile(tile, cameraId, stream = 'sub') {
  if (tile.player) { tile.player.close(); tile.player = null; }
  tile.camera = cameraId;
  tile.node.replaceChildren();
  if (!cameraId) {
    tile.node.append(el('div', { class: 'empty' }, t('dragHint')));
    return;
  }
  const cam = cameraById(cameraId);
  const video = el('video', { muted: true, autoplay: true, playsinline: true, dataset: { camera: cameraId } });
  video.muted = true;
  const status = el('div', { class: 'status' }, t('waiting'));
  tile.node.append(video, el('div', { class: 'label' }, el('span', { class: `dot ${camState(cam)}` }), cam.name || cam.id,
    el('span', { class: 'muted' }, stream === 'main' ? 'HD' : ''),
    el('span', { class: 'close', title: t('closeTile'), onclick: (e) => { e.stopPropagation(); renderTile(tile, null); } }, '✕')), status);
  if (cam.ptz && can('ptz')) tile.node.append(ptzPad(cam.id));
  tile.player = new LivePlayer(video, cameraId, stream, (s) => {
    status.textContent = s === 'playing' ? '' : t(s);
  });
}

function ptzPad(cameraId) {
  const send = (body) => api('POST', `/api/cameras/${cameraId}/ptz`, body).catch(() => {});
  const hold = (label, pan, tilt, zoom) => el('button', {
    title: t('ptz'), onmousedown: () => send({ action: 'move', pan, tilt, zoom, timeout_ms: 2000 }),
    onmouseup: () => send({ action: 'stop' }), ondblclick: (e) => e.stopPropagation(),
  }, label);
  return el('div', { class: 'ptz', ondblclick: (e) => e.stopPropagation() },
    hold('＋', 0, 0, 0.5), hold('▲', 0, 0.5, 0), hold('－', 0, 0, -0.5),
    hold('◀', -0.5, 0, 0), el('button', { onclick: () => send({ action: 'stop' }) }, '■'), hold('▶', 0.5, 0, 0),
    el('span'), hold('▼', 0, -0.5, 0), el('span'));
}

function toggleEnlarge(tile) {
  if (!tile.camera) return;
  const wall = document.getElementById('wall');
  if (state.enlarged === tile) {
    state.enlarged = null;
    const side = Math.sqrt(state.layout);
    wall.style.gridTemplateColumns = `repeat(${side}, 1fr)`;
    wall.style.gridTemplateRows = `repeat(${side}, 1fr)`;
    state.tiles.forEach((x) => {
      x.node.style.display = '';
      if (x !== tile && x.camera) renderTile(x, x.camera, 'sub');
    });
    renderTile(tile, tile.camera, 'sub');
  } else {
    state.enlarged = tile;
    wall.style.gridTemplateColumns = '1fr';
    wall.style.gridTemplateRows = '1fr';
    // The hidden tiles stop streaming: 15 sub streams decoded behind one 1080p view would cost
    // the operator's PC (and the gateway's uplink) for nothing. They reopen when it shrinks.
    state.tiles.forEach((x) => {
      x.node.style.display = x === tile ? '' : 'none';
      if (x !== tile && x.player) { x.player.close(); x.player = null; x.node.querySelector('video')?.remove(); }
    });
    renderTile(tile, tile.camera, 'main'); // one enlarged view: the main stream
  }
}

// ---------------------------------------------------------------- events socket
function connectEvents() {
  if (state.events) { state.events.onclose = null; state.events.close(); }
  const ws = new WebSocket(wsUrl('/ws/events'));
  state.events = ws;
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === 'alert') onAlert(msg.alert);
    if (msg.type === 'camera') onCamera(msg.camera);
  };
  ws.onclose = () => setTimeout(() => { if (state.me) { connectEvents(); refreshAlerts(); } }, 2000);
}

function onAlert(a) {
  const i = state.alerts.findIndex((x) => x.id === a.id);
  const isNew = i < 0;
  // The same step arrives twice (the POST's answer and the /ws/events push), in either order; an
  // older one arriving late must not wind the alert back. History only grows.
  if (!isNew && (a.history || []).length < (state.alerts[i].history || []).length) return;
  if (isNew) state.alerts.unshift(a); else state.alerts[i] = a;
  if (state.selectedAlert && state.selectedAlert.id === a.id) state.selectedAlert = a;
  renderAlertList();
  if (state.selectedAlert && state.selectedAlert.id === a.id) renderAlertDetail();
  if (isNew && a.step === 'new') {
    toast(a);
    if (a.event.severity >= 3 && state.sound) beep(a.event.severity);
  }
}

function onCamera(c) {
  const i = state.cameras.findIndex((x) => x.id === c.id);
  if (i >= 0) state.cameras[i] = c; else state.cameras.push(c);
  const tree = document.getElementById('division-tree');
  if (tree) tree.replaceChildren(renderTree(divisionTree(state.cameras)));
  if (state.view === 'health') buildHealth();
}

let audioCtx = null;
function beep(severity) {
  try {
    audioCtx = audioCtx || new AudioContext();
    for (let i = 0; i < (severity >= 4 ? 3 : 2); i++) {
      const o = audioCtx.createOscillator(), g = audioCtx.createGain();
      o.frequency.value = severity >= 4 ? 1040 : 880;
      g.gain.value = 0.15;
      o.connect(g).connect(audioCtx.destination);
      const t0 = audioCtx.currentTime + i * 0.3;
      o.start(t0); o.stop(t0 + 0.18);
    }
    state.lastBeep = Date.now();
  } catch {}
}

function toast(a) {
  const cam = cameraById(a.event.camera);
  const n = el('div', { class: 'toast', id: 'toast' }, el('b', {}, `${t('newAlert')} · ${t('sev' + a.event.severity)}`), el('br'),
    `${cam ? cam.name : a.event.camera} · ${t(a.event.type)} · ${fmtTime(a.event.start)}`);
  document.getElementById('toast')?.remove();
  document.body.append(n);
  setTimeout(() => n.remove(), 15000); // long enough to be seen on a busy desk
}

// ---------------------------------------------------------------- alert desk
function buildAlerts() {
  const view = document.getElementById('view-alerts');
  const f = state.filters;
  const stepSel = el('select', { id: 'filter-step', onchange: (e) => { f.step = e.target.value; refreshAlerts(); } },
    el('option', { value: '' }, t('allSteps')), stepsOrder.map((s) => el('option', { value: s, selected: f.step === s }, t(s))));
  const sevSel = el('select', { id: 'filter-severity', onchange: (e) => { f.minSeverity = +e.target.value; refreshAlerts(); } },
    [1, 2, 3, 4].map((s) => el('option', { value: s, selected: f.minSeverity === s }, `≥ ${t('sev' + s)}`)));
  const open = el('label', {}, el('input', { type: 'checkbox', id: 'filter-open', checked: f.open, onchange: (e) => { f.open = e.target.checked; refreshAlerts(); } }), ' ', t('openOnly'));
  view.replaceChildren(
    el('div', { class: 'alerts-list' }, el('div', { class: 'filters' }, stepSel, sevSel, open), el('ul', { id: 'alert-list' })),
    el('div', { class: 'detail', id: 'alert-detail' }, el('p', { class: 'muted' }, t('noAlert'))));
  refreshAlerts();
}

async function refreshAlerts() {
  const f = state.filters;
  const q = new URLSearchParams({ min_severity: f.minSeverity });
  if (f.step) q.set('step', f.step);
  if (f.open) q.set('open', 'true');
  try {
    const r = await api('GET', `/api/alerts?${q}`);
    state.alerts = r.alerts;
  } catch { state.alerts = []; }
  renderAlertList();
}

function alertVisible(a) {
  const f = state.filters;
  return (!f.step || a.step === f.step) && (!f.open || a.step !== 'closed') && a.event.severity >= f.minSeverity;
}

function renderAlertList() {
  const list = document.getElementById('alert-list');
  if (!list) return;
  const shown = state.alerts.filter(alertVisible);
  list.replaceChildren(...shown.map((a) => {
    const cam = cameraById(a.event.camera);
    return el('li', {
      class: `alert-item sev-${a.event.severity} ${a.step === 'closed' ? 'closed' : ''} ${state.selectedAlert && state.selectedAlert.id === a.id ? 'sel' : ''}`,
      dataset: { alert: a.id, step: a.step }, onclick: () => { state.selectedAlert = a; renderAlertList(); renderAlertDetail(); },
    },
    a.event.has_snapshot ? el('img', { src: `/api/events/${a.event.id}/snapshot`, alt: '' }) : el('img', { alt: '' }),
    el('div', { class: 'meta' },
      el('div', { class: 'title' }, `${t(a.event.type)} · ${cam ? cam.name : a.event.camera}`),
      el('div', { class: 'sub' }, fmtTime(a.event.start), ' · ', a.event.division),
      el('div', {}, el('span', { class: `chip s${a.event.severity}` }, t('sev' + a.event.severity)), ' ', el('span', { class: 'chip step' }, t(a.step)))));
  }));
  const badge = document.getElementById('alert-badge');
  const unaccepted = state.alerts.filter((a) => a.step === 'new').length;
  if (badge) { badge.textContent = unaccepted; badge.style.display = unaccepted ? '' : 'none'; }
}

function renderAlertDetail() {
  const a = state.selectedAlert;
  const box = document.getElementById('alert-detail');
  if (!a || !box) return;
  const cam = cameraById(a.event.camera);
  const idx = stepsOrder.indexOf(a.step);
  const steps = el('div', { class: 'steps', id: 'alert-steps' }, ['accepted', 'dispatched', 'handling', 'feedback', 'closed'].map((s, i) => {
    const rec = a.history.find((h) => h.step === s);
    return el('div', { class: `step ${stepsOrder.indexOf(s) <= idx ? 'done' : ''} ${stepsOrder.indexOf(s) === idx + 1 ? 'next' : ''}`, dataset: { n: i + 1 } },
      el('div', { class: 'name' }, t(actionLabel[actionFor[stepsOrder[stepsOrder.indexOf(s) - 1]]])),
      rec ? el('div', {}, rec.user, el('br'), fmtTime(rec.at)) : null);
  }));
  const action = actionFor[a.step];
  // Re-rendered on every update of this alert (including the push that echoes the operator's own
  // step): what is being typed for the same next step is kept, and so is the focus. Before, the
  // echo wiped a note typed in the meantime and the step went out without it.
  const typed = box.dataset.alert === a.id && box.dataset.action === (action || '')
    ? { note: document.getElementById('step-note')?.value, assignee: document.getElementById('step-assignee')?.value,
      focus: box.contains(document.activeElement) ? document.activeElement.id : '' }
    : null;
  box.dataset.alert = a.id;
  box.dataset.action = action || '';
  let form = null;
  if (action && can('handle_alerts')) {
    const note = el('input', { id: 'step-note', placeholder: t('note'), style: 'flex:1' });
    const assignee = action === 'dispatch' ? el('input', { id: 'step-assignee', placeholder: t('assignee') }) : null;
    if (typed) {
      note.value = typed.note || '';
      if (assignee) assignee.value = typed.assignee || '';
    }
    const err = el('span', { class: 'error', id: 'step-error' });
    form = el('div', { class: 'form-row' }, assignee, note,
      el('button', { class: 'primary', id: 'step-submit', onclick: async () => {
        try {
          const updated = await api('POST', `/api/alerts/${a.id}/${action}`, { note: note.value, assignee: assignee ? assignee.value : '' });
          onAlert(updated);
        } catch (e) { err.textContent = e.message; }
      } }, t(actionLabel[action])), err);
  }
  box.replaceChildren(...[
    el('h2', {}, `${t(a.event.type)} · ${cam ? cam.name : a.event.camera}`, ' ', el('span', { class: `chip s${a.event.severity}` }, t('sev' + a.event.severity))),
    el('div', { class: 'muted' }, `${fmtTime(a.event.start)} · ${a.event.division} · ${a.event.rule} · ${t(a.event.object_class) || ''}`),
    a.event.has_snapshot ? el('img', { class: 'snapshot', src: `/api/events/${a.event.id}/snapshot` }) : null,
    steps, form,
    el('div', { class: 'form-row' }, can('view_recordings') ? el('button', { id: 'jump-clip', onclick: () => jumpToClip(a.event) }, t('jumpToClip')) : null),
    el('h3', {}, t('history')),
    el('table', {}, el('tr', {}, el('th', {}, t('state')), el('th', {}, t('by')), el('th', {}, t('at')), el('th', {}, t('assignee')), el('th', {}, t('note'))),
      a.history.map((h) => el('tr', {}, el('td', {}, t(h.step)), el('td', {}, h.user), el('td', {}, fmtTime(h.at)), el('td', {}, h.assignee), el('td', {}, h.note))))].filter(Boolean));
  if (typed && typed.focus) document.getElementById(typed.focus)?.focus();
}

// ---------------------------------------------------------------- health board
async function buildHealth() {
  const view = document.getElementById('view-health');
  let b;
  try { b = await api('GET', '/api/health/cameras'); } catch (e) { view.replaceChildren(el('p', { class: 'error' }, e.message)); return; }
  const total = state.cameras.length;
  const online = state.cameras.filter((c) => camState(c) === 'streaming').length;
  const tampered = b.problems.filter((p) => p.tampered).length;
  const pct = (x) => `${Math.round(x * 100)}%`;
  view.replaceChildren(el('div', { class: 'board', id: 'health-board' },
    el('div', { class: 'card wide' }, el('div', { class: 'kpis' },
      el('div', { class: 'kpi' }, el('div', { class: 'v' }, total), el('div', { class: 'k' }, t('total'))),
      el('div', { class: 'kpi' }, el('div', { class: 'v', style: 'color:var(--ok)' }, online), el('div', { class: 'k' }, t('online'))),
      el('div', { class: 'kpi' }, el('div', { class: 'v', style: 'color:var(--bad)' }, b.problems.length), el('div', { class: 'k' }, t('offlineCount'))),
      el('div', { class: 'kpi' }, el('div', { class: 'v', style: 'color:var(--sev3)' }, tampered), el('div', { class: 'k' }, t('tampered'))),
      el('div', { class: 'kpi' }, el('div', { class: 'v' }, total ? pct(online / total) : '–'), el('div', { class: 'k' }, t('onlineRate'))))),
    el('div', { class: 'card' }, el('h3', {}, t('byDivision')), el('table', { id: 'division-rates' },
      el('tr', {}, el('th', {}, t('division')), el('th', {}, t('online')), el('th', {}, t('onlineRate'))),
      b.divisions.map((d) => el('tr', {}, el('td', {}, `${t(d.level)} ${d.division}`), el('td', {}, `${d.online}/${d.cameras}`),
        el('td', {}, el('div', { class: 'bar' }, el('span', { style: `width:${pct(d.online_rate)};background:${d.online_rate < 0.8 ? 'var(--bad)' : 'var(--ok)'}` })), pct(d.online_rate)))))),
    el('div', { class: 'card' }, el('h3', {}, t('problems')), el('table', { id: 'problem-cameras' },
      el('tr', {}, el('th', {}, t('camera')), el('th', {}, t('state')), el('th', {}, t('reason')), el('th', {}, t('since'))),
      b.problems.map((p) => el('tr', {}, el('td', {}, el('span', { class: `dot ${p.state}` }), ' ', p.name || p.camera),
        el('td', {}, p.tampered ? `${t(p.state)} / ${t('tampered')}` : t(p.state)), el('td', {}, p.reason),
        el('td', {}, fmtTime(p.tampered_since || p.since)))))),
    el('div', { class: 'card wide' }, el('h3', {}, t('neverWatched')), el('table', { id: 'never-watched' },
      el('tr', {}, el('th', {}, t('camera')), el('th', {}, t('division')), el('th', {}, t('state'))),
      b.never_watched.map((n) => el('tr', {}, el('td', {}, n.name || n.camera), el('td', {}, n.division), el('td', {}, t(camState(cameraById(n.camera))))))))));
}

// ---------------------------------------------------------------- investigation
const inv = { camera: '', from: null, to: null, timeline: null, events: [], clip: null, markIn: null, markOut: null };

function toLocalInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function buildInvestigate() {
  const view = document.getElementById('view-investigate');
  const now = new Date();
  const camSel = el('select', { id: 'inv-camera', onchange: () => markRemovedChoice() }, cameraOptions());
  const from = el('input', { type: 'datetime-local', id: 'inv-from', value: toLocalInput(new Date(now - 3600e3)) });
  // Left untouched, "to" means the moment of the search (see search()): the field shows minutes
  // only and the page stays open for a whole shift.
  const to = el('input', { type: 'datetime-local', id: 'inv-to', value: toLocalInput(new Date(now.getTime() + 60e3)),
    dataset: { auto: '1' }, onchange: (e) => { delete e.target.dataset.auto; } });
  const type = el('select', { id: 'inv-type' }, el('option', { value: '' }, t('anyType')),
    ['intrusion', 'tripwire', 'loitering', 'crowd', 'tamper', 'motion', 'signal_loss', 'camera_event'].map((x) => el('option', { value: x }, t(x))));
  const cls = el('select', { id: 'inv-class' }, el('option', { value: '' }, t('anyClass')), ['person', 'vehicle'].map((x) => el('option', { value: x }, t(x))));
  view.replaceChildren(el('div', { class: 'invest' },
    el('div', { class: 'left' },
      el('div', { class: 'form-row' }, el('label', {}, t('camera')), camSel,
        el('span', { class: 'tag removed', id: 'inv-camera-removed', hidden: true, title: t('removedHint') }, t('removed'))),
      el('div', { class: 'form-row' }, el('label', {}, t('from')), from),
      el('div', { class: 'form-row' }, el('label', {}, t('to')), to),
      el('div', { class: 'form-row' }, el('label', {}, t('type')), type),
      el('div', { class: 'form-row' }, el('label', {}, t('class')), cls),
      el('div', { class: 'form-row' }, el('button', { class: 'primary', id: 'inv-search', onclick: () => search() }, t('search'))),
      el('div', { class: 'section-title' }, t('results')), el('div', { id: 'inv-results' })),
    el('div', { class: 'right' },
      el('div', { class: 'legend' }, el('span', {}, el('i', { style: 'background:#1f6f43' }), t('recorded')), el('span', {}, el('i', { style: 'background:#2a1a1a' }), t('gap')),
        el('span', {}, el('i', { style: 'background:var(--sev3)' }), t('event')), el('span', {}, el('i', { style: 'background:#2f8cff55' }), t('clipRange'))),
      el('div', { class: 'timeline', id: 'inv-timeline', onclick: (e) => seekTimeline(e) }),
      el('div', { class: 'muted', id: 'inv-range' }),
      el('video', { class: 'player', id: 'inv-player', controls: true }),
      el('div', { class: 'form-row' },
        el('button', { id: 'mark-in', onclick: () => mark('in') }, t('markIn')),
        el('button', { id: 'mark-out', onclick: () => mark('out') }, t('markOut')),
        el('span', { id: 'inout', class: 'muted' }),
        can('manage_cases') ? el('input', { id: 'case-title', placeholder: t('caseTitle') }) : null,
        can('export_evidence') ? el('button', { class: 'primary', id: 'export-case', onclick: () => exportCase() }, t('exportToCase')) : null),
      el('div', { id: 'export-result' }))));
}

// The camera choice: the configured cameras, then the removed ones in a group of their own, each
// tagged as removed (their recordings can be searched and cut; they have no live video).
function cameraOptions() {
  const option = (c) => el('option', { value: c.id }, `${c.name || c.id} (${c.division})`);
  const removed = state.removedCameras.map((c) => el('option', {
    value: c.id, class: 'removed', dataset: { origin: 'removed' }, title: t('removedHint'),
  }, `${c.name || c.id} (${c.division}) · ${t('removed')}`));
  return [el('option', { value: '' }, t('selectCamera')), ...state.cameras.map(option),
    removed.length ? el('optgroup', { label: t('removedCameras'), class: 'removed', id: 'inv-removed-cameras' }, removed) : null];
}

function markRemovedChoice() {
  const sel = document.getElementById('inv-camera');
  const opt = sel.selectedOptions[0];
  const removed = Boolean(opt && opt.dataset.origin === 'removed');
  sel.classList.toggle('removed', removed);
  document.getElementById('inv-camera-removed').hidden = !removed;
}

// A camera removed while the page is open keeps its recordings: list it again on each visit.
async function refreshCameraChoice() {
  let r;
  try { r = await api('GET', '/api/cameras?include=removed'); } catch { return; }
  state.removedCameras = r.cameras.filter((c) => c.origin === 'removed');
  const sel = document.getElementById('inv-camera');
  if (!sel) return;
  const keep = sel.value;
  sel.replaceChildren(...cameraOptions().filter(Boolean));
  sel.value = keep;
  markRemovedChoice();
}

async function search() {
  const g = (id) => document.getElementById(id).value;
  inv.camera = g('inv-camera');
  inv.from = new Date(g('inv-from'));
  const toInput = document.getElementById('inv-to');
  if (toInput.dataset.auto) {
    inv.to = new Date();
    toInput.value = toLocalInput(new Date(inv.to.getTime() + 60e3));
  } else {
    inv.to = new Date(g('inv-to'));
  }
  const q = new URLSearchParams({ from: inv.from.toISOString(), to: inv.to.toISOString(), limit: 200 });
  if (inv.camera) q.set('camera', inv.camera);
  if (g('inv-type')) q.set('type', g('inv-type'));
  if (g('inv-class')) q.set('class', g('inv-class'));
  const box = document.getElementById('inv-results');
  try {
    inv.events = (await api('GET', `/api/events?${q}`)).events;
    inv.timeline = inv.camera ? await api('GET', `/api/recordings/${inv.camera}/timeline?from=${inv.from.toISOString()}&to=${inv.to.toISOString()}`) : null;
  } catch (e) { box.replaceChildren(el('p', { class: 'error' }, e.message)); return; }
  box.replaceChildren(inv.events.length === 0 ? el('p', { class: 'muted' }, t('noResults')) :
    el('table', { id: 'inv-table' }, inv.events.map((e) => el('tr', { class: 'clickable', dataset: { event: e.id }, onclick: () => playEvent(e) },
      el('td', {}, fmtTime(e.start)), el('td', {}, (recordedCameraById(e.camera) || {}).name || e.camera), el('td', {}, t(e.type)), el('td', {}, t(e.object_class))))));
  drawTimeline();
}

function drawTimeline() {
  const tl = document.getElementById('inv-timeline');
  tl.replaceChildren();
  if (!inv.from) return;
  const span = inv.to - inv.from;
  const x = (iso) => `${Math.max(0, Math.min(100, ((new Date(iso) - inv.from) / span) * 100))}%`;
  for (const r of (inv.timeline && inv.timeline.recorded) || []) {
    const l = parseFloat(x(r.from)), w = parseFloat(x(r.to)) - l;
    tl.append(el('div', { class: 'rec', style: `left:${l}%;width:${w}%` }));
  }
  for (const e of inv.events) tl.append(el('div', { class: 'mark', style: `left:${x(e.start)}`, title: t(e.type) }));
  if (inv.markIn && inv.markOut) {
    const l = parseFloat(x(inv.markIn.toISOString())), w = parseFloat(x(inv.markOut.toISOString())) - l;
    tl.append(el('div', { class: 'inout', style: `left:${l}%;width:${Math.max(w, 0.3)}%` }));
  }
  document.getElementById('inv-range').textContent = `${fmtTime(inv.from)} — ${fmtTime(inv.to)}` +
    (inv.timeline ? ` · ${t('gap')}: ${inv.timeline.gaps.length}` : '');
}

async function playRange(camera, from, to) {
  inv.clip = await api('POST', '/api/clips', { camera, from: from.toISOString(), to: to.toISOString() });
  inv.clipFrom = new Date(inv.clip.actual.from);
  const v = document.getElementById('inv-player');
  v.src = inv.clip.download;
  v.play().catch(() => {});
}

async function playEvent(e) {
  inv.camera = e.camera;
  const from = new Date(e.clip_start || e.start), to = new Date(e.clip_end || e.start);
  if (to - from < 10e3) to.setTime(from.getTime() + 30e3);
  const status = document.getElementById('export-result');
  try {
    await waitForRecording(e.camera, from, new Date(Math.max(new Date(e.clip_end || e.start).getTime(), new Date(e.start).getTime() + 2e3)), status);
    await playRange(e.camera, from, to);
  } catch (err) { status.textContent = err.message; }
}

// Right after an alert its moment may still be in the camera's open recording segment; a clip cut
// now would end before the event. Waits (bounded) until the timeline has recorded up to `until`.
async function waitForRecording(camera, from, until, status) {
  const deadline = Date.now() + 60e3;
  for (;;) {
    const now = new Date();
    const tl = await api('GET', `/api/recordings/${camera}/timeline?from=${from.toISOString()}&to=${now.toISOString()}`);
    const end = Math.max(0, ...(tl.recorded || []).map((r) => new Date(r.to).getTime()));
    if (end >= until.getTime() || Date.now() > deadline) { status.textContent = ''; return; }
    status.textContent = t('recordingPending');
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function seekTimeline(ev) {
  if (!inv.from || !inv.camera) return;
  const r = ev.currentTarget.getBoundingClientRect();
  const at = new Date(inv.from.getTime() + ((ev.clientX - r.left) / r.width) * (inv.to - inv.from));
  playRange(inv.camera, at, new Date(at.getTime() + 60e3)).catch((e) => { document.getElementById('export-result').textContent = e.message; });
}

function mark(which) {
  const v = document.getElementById('inv-player');
  if (!inv.clip) return;
  const at = new Date(inv.clipFrom.getTime() + v.currentTime * 1000);
  if (which === 'in') inv.markIn = at; else inv.markOut = at;
  if (inv.markIn && inv.markOut && inv.markOut <= inv.markIn) inv.markOut = new Date(inv.markIn.getTime() + 1000);
  document.getElementById('inout').textContent = `${inv.markIn ? fmtTime(inv.markIn) : '…'} → ${inv.markOut ? fmtTime(inv.markOut) : '…'}`;
  drawTimeline();
}

async function exportCase() {
  const out = document.getElementById('export-result');
  try {
    if (!inv.clip) throw new Error(t('selectCamera'));
    const from = inv.markIn || new Date(inv.clip.actual.from);
    const to = inv.markOut || new Date(inv.clip.actual.to);
    const title = document.getElementById('case-title').value || `${inv.clip.camera} ${fmtTime(from)}`;
    const k = await api('POST', '/api/cases', { title });
    await api('POST', '/api/clips', { camera: inv.clip.camera, from: from.toISOString(), to: to.toISOString(), case_id: k.id });
    const p = await api('POST', `/api/cases/${k.id}/export`, {});
    out.replaceChildren(el('div', { class: 'card', id: 'evidence-card' }, el('b', {}, t('exported')), el('br'),
      `${t('casesLabel')}: ${k.title}`, el('br'), 'SHA-256: ', el('code', { id: 'evidence-sha' }, p.sha256), el('br'),
      `${p.bytes} B · ${p.clip_ids.length} clip(s) · `, el('a', { href: p.download, id: 'evidence-download', style: 'color:var(--accent)' }, t('download'))));
  } catch (e) { out.replaceChildren(el('span', { class: 'error' }, e.message)); }
}

async function jumpToClip(e) {
  show('investigate');
  document.getElementById('inv-camera').value = e.camera;
  markRemovedChoice();
  const from = new Date(new Date(e.clip_start || e.start).getTime() - 10 * 60e3);
  document.getElementById('inv-from').value = toLocalInput(from);
  const toInput = document.getElementById('inv-to');
  toInput.value = toLocalInput(new Date(from.getTime() + 30 * 60e3));
  delete toInput.dataset.auto;
  await search();
  await playEvent(e);
}

boot();
