// Live player: fragmented MP4 over WebSocket into Media Source Extensions, kept at the live edge.
import { wsUrl } from './api.js';

// Seconds behind the newest buffered frame: where playback aims, beyond which it plays faster to
// catch up, beyond which it jumps instead; buffer kept behind the play position. The gateway
// sends one fragment per frame, so a small target does not starve the decoder. (A target that
// grows with each stall, as jitter buffers do, was measured worse on a loaded machine: 1.4 s
// instead of 0.54 s p50 on the enlarged 1080p view, docs/benchmarks.md.)
export const LIVE = { targetLag: 0.15, catchUpLag: 0.3, catchUpRate: 1.25, seekLag: 1.0, keepBehind: 10 };

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
    // Everything that arrived during the last append goes in one append: one fragment per append
    // (an event-loop round trip each) falls behind 25 fragments/s on a busy machine, and the
    // backlog is latency the buffered range does not show.
    let data = this.queue.length === 1 ? this.queue[0] : null;
    if (!data) {
      const all = new Uint8Array(this.queue.reduce((n, b) => n + b.byteLength, 0));
      let at = 0;
      for (const b of this.queue) { all.set(new Uint8Array(b), at); at += b.byteLength; }
      data = all;
    }
    this.queue = [];
    try { this.sb.appendBuffer(data); } catch (e) { /* a full or closed buffer: drop, the next key frame resyncs */ }
  }
  // Keeps playback at the live edge. MSE plays what is buffered at 1x, so any lag (a new viewer
  // first gets the cached GOP, up to 2 s old; a decoder or network hiccup; a busy machine) stays
  // for good unless the player chases it, as low-latency players do: a small lag is caught up by
  // playing a little faster (no visible jump), a large one (or a gap) by seeking to the edge.
  // Old buffer is dropped so that memory stays bounded on a wall of 16 tiles.
  trim() {
    if (!this.usable()) return; // a late updateend after close() or a new init segment
    const v = this.video, b = this.sb.buffered;
    if (b.length === 0) return;
    const end = b.end(b.length - 1), start = b.start(b.length - 1);
    const lag = end - v.currentTime;
    if (lag > LIVE.seekLag || v.currentTime < start) {
      v.currentTime = Math.max(start, end - LIVE.targetLag);
      v.playbackRate = 1;
    } else if (lag > LIVE.catchUpLag) {
      if (v.playbackRate !== LIVE.catchUpRate) v.playbackRate = LIVE.catchUpRate;
    } else if (lag <= LIVE.targetLag && v.playbackRate !== 1) {
      v.playbackRate = 1;
    }
    if (v.paused) v.play().catch(() => {});
    if (v.currentTime - b.start(0) > LIVE.keepBehind * 2 && !this.sb.updating) {
      try { this.sb.remove(b.start(0), v.currentTime - LIVE.keepBehind); } catch {}
    }
  }
  close() {
    this.closed = true; clearTimeout(this.retry); this.sb = null;
    try { this.ws.close(); } catch {}
    if (this.video.src) { URL.revokeObjectURL(this.video.src); this.video.removeAttribute('src'); this.video.load(); }
  }
}
