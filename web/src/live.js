// Live player: fragmented MP4 over WebSocket into Media Source Extensions, kept at the live edge.
import { wsUrl } from './api.js';

export class LivePlayer {
  constructor(video, camera, stream, onStatus) {
    this.video = video; this.camera = camera; this.stream = stream; this.onStatus = onStatus || (() => {});
    this.queue = []; this.sb = null; this.closed = false; this.bytes = 0;
    this.open();
  }
  open() {
    this.ws = new WebSocket(wsUrl(`/ws/live/${encodeURIComponent(this.camera)}?stream=${this.stream}`));
    this.ws.binaryType = 'arraybuffer';
    this.ws.onmessage = (m) => this.onMessage(m);
    this.ws.onclose = () => {
      if (!this.closed) { this.onStatus('ended'); this.retry = setTimeout(() => this.open(), 3000); }
    };
  }
  onMessage(m) {
    if (this.closed) return;
    if (typeof m.data === 'string') {
      const msg = JSON.parse(m.data);
      if (msg.type === 'init') this.startSource(msg.mime);
      else this.onStatus(msg.type);
      return;
    }
    this.bytes += m.data.byteLength;
    this.queue.push(m.data);
    this.pump();
  }
  startSource(mime) {
    if (!window.MediaSource || !MediaSource.isTypeSupported(mime)) { this.onStatus('unsupported'); return; }
    this.queue = [];
    this.ms = new MediaSource();
    this.video.src = URL.createObjectURL(this.ms);
    const ms = this.ms;
    this.sb = null;
    ms.addEventListener('sourceopen', () => {
      if (this.closed || ms !== this.ms) return;
      this.sb = ms.addSourceBuffer(mime);
      this.sb.mode = 'segments';
      this.sb.addEventListener('updateend', () => { this.trim(); this.pump(); });
      this.pump();
    }, { once: true });
    this.onStatus('playing');
  }
  usable() { return !this.closed && this.sb && this.ms && this.ms.readyState === 'open'; }
  pump() {
    if (!this.usable() || this.sb.updating || this.queue.length === 0) return;
    try { this.sb.appendBuffer(this.queue.shift()); } catch (e) { this.queue = []; }
  }
  trim() {
    if (!this.usable()) return; // a late updateend after close() or a new init segment
    const v = this.video, b = this.sb.buffered;
    if (b.length === 0) return;
    const end = b.end(b.length - 1);
    // Stay near the live edge (glass-to-glass latency), without stutter.
    if (end - v.currentTime > 1.2 || v.currentTime < b.start(0)) v.currentTime = Math.max(b.start(0), end - 0.3);
    if (v.paused) v.play().catch(() => {});
    if (end - b.start(0) > 30 && !this.sb.updating) { try { this.sb.remove(b.start(0), end - 10); } catch {} }
  }
  close() {
    this.closed = true; clearTimeout(this.retry); this.sb = null;
    try { this.ws.close(); } catch {}
    if (this.video.src) { URL.revokeObjectURL(this.video.src); this.video.removeAttribute('src'); this.video.load(); }
  }
}
