// Drives the simulated ONVIF device with the `onvif` npm package (a client we did not write).
// Usage: node interop.js <host> <port> <ptzCameraPath> <user> <password>
// Prints one JSON object; the C++ test (onvif_interop_test) checks it against the simulator.
'use strict';
const { Cam } = require('onvif');

const [host, port, path, user, password] = process.argv.slice(2);

function connect(pass) {
  return new Promise((resolve, reject) => {
    const cam = new Cam({ hostname: host, port: Number(port), path, username: user,
                          password: pass, timeout: 15000, autoconnect: false });
    cam.connect((err) => (err ? reject(err) : resolve(cam)));
  });
}

function call(cam, fn, ...args) {
  return new Promise((resolve, reject) => {
    cam[fn](...args, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

(async () => {
  const out = {};
  const cam = await connect(password);
  out.profiles = cam.profiles.map((p) => p.$.token);
  out.defaultProfile = cam.defaultProfile ? cam.defaultProfile.$.token : null;
  const info = await call(cam, 'getDeviceInformation');
  out.manufacturer = info.manufacturer;
  out.model = info.model;
  out.serialNumber = info.serialNumber;
  out.mainUri = (await call(cam, 'getStreamUri', { protocol: 'RTSP', profileToken: 'main' })).uri;
  out.subUri = (await call(cam, 'getStreamUri', { protocol: 'RTSP', profileToken: 'sub' })).uri;
  out.snapshotUri = (await call(cam, 'getSnapshotUri', { profileToken: 'main' })).uri;
  const nodes = await call(cam, 'getNodes');
  out.ptzNodes = Object.keys(nodes);
  await call(cam, 'absoluteMove', { profileToken: 'main', x: 0.25, y: -0.5, zoom: 0.4 });
  const status = await call(cam, 'getStatus', { profileToken: 'main' });
  out.position = status.position;
  await call(cam, 'createPullPointSubscription');
  const messages = await call(cam, 'pullMessages', { messageLimit: 10 });
  const list = Array.isArray(messages.notificationMessage) ? messages.notificationMessage
             : messages.notificationMessage ? [messages.notificationMessage] : [];
  out.topics = list.map((m) => (typeof m.topic === 'object' ? m.topic._ : m.topic));
  await call(cam, 'unsubscribe');
  try {
    await connect('wrong-password');
    out.badPassword = 'accepted';
  } catch (e) {
    out.badPassword = String(e.message || e);
  }
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.log(JSON.stringify({ error: String((e && e.stack) || e) }));
  process.exit(1);
});
