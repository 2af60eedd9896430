// The simulator's clock stamp (`sharpeyes sim --ptz N --stamp-clock`), read in the page: each
// frame of a live-encoded camera carries its render time (low 32 bits of Unix ms) as 40
// black/white blocks across the top: 32 bits, most significant first, then an 8-bit check
// (sim/src/clock_stamp.cpp). Both functions run IN THE PAGE (page.addInitScript / page.evaluate),
// so each is self-contained.

// Defines window.__readClockStamp(rgba, width): the stamp, or null when the picture carries none.
// The same rule as sim::readClockStamp: the mean luma of the middle half of each block, a block
// neither clearly black nor clearly white means no stamp, then the check.
export function installClockStampReader() {
  const BITS = 40;
  const check = (v) => (((v >>> 24) + (v >>> 16) + (v >>> 8) + v) & 0xff) ^ 0x5a;
  window.__clockStampRows = (width) => Math.max(8, Math.floor(width / BITS));
  window.__readClockStamp = (d, width) => {
    const b = Math.max(8, Math.floor(width / BITS));
    if (b * BITS > width || d.length < b * width * 4) return null;
    const lo = Math.floor(b / 4), hi = b - Math.floor(b / 4);
    let millis = 0, chk = 0;
    for (let i = 0; i < BITS; i++) {
      let sum = 0, n = 0;
      for (let y = lo; y < hi; y++) {
        for (let x = i * b + lo; x < i * b + hi; x++, n++) {
          const k = (y * width + x) * 4;
          sum += 0.299 * d[k] + 0.587 * d[k + 1] + 0.114 * d[k + 2];
        }
      }
      const mean = sum / n;
      if (mean > 40 && mean < 200) return null;
      const bit = mean >= 128 ? 1 : 0;
      if (i < 32) millis = (millis * 2 + bit) >>> 0; else chk = (chk << 1) | bit;
    }
    return chk === check(millis) ? millis : null;
  };
  // Reads the stamp of the frame a <video> shows now (null: none, or no picture yet).
  window.__videoClockStamp = (video, canvas) => {
    const w = video.videoWidth, h = video.videoHeight, b = window.__clockStampRows(w);
    if (!w || b * BITS > w || b > h) return null;
    if (canvas.width !== w || canvas.height !== b) { canvas.width = w; canvas.height = b; }
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, w, b, 0, 0, w, b);
    return window.__readClockStamp(ctx.getImageData(0, 0, w, b).data, w);
  };
}

// Milliseconds between a stamp and a wall-clock time (the low 32 bits wrap alike).
export function stampAge(wallMs, stamp) {
  return ((Math.round(wallMs) >>> 0) - stamp) | 0;
}
