// fMP4 splitting and live fan-out to WebSocket viewers.

#include "sharpeyes/api/live.h"

#include <chrono>
#include <cstdio>

#include "sharpeyes/api/http.h"
#include "sharpeyes/api/http_server.h"

namespace sharpeyes::api {

std::string_view toString(StreamKind k) {
  return k == StreamKind::kMain ? "main" : "sub";
}

namespace {

uint32_t be32(const char* p) {
  auto u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

// Finds child box `type` inside [data, data+size) (a box's payload); returns payload view.
std::string_view childBox(std::string_view payload, std::string_view type) {
  size_t off = 0;
  while (off + 8 <= payload.size()) {
    uint64_t size = be32(payload.data() + off);
    size_t hdr = 8;
    if (size == 1) {
      if (off + 16 > payload.size()) return {};
      size = (uint64_t{be32(payload.data() + off + 8)} << 32) | be32(payload.data() + off + 12);
      hdr = 16;
    }
    if (size < hdr || off + size > payload.size()) return {};
    if (payload.substr(off + 4, 4) == type) return payload.substr(off + hdr, size - hdr);
    off += size;
  }
  return {};
}

constexpr size_t kMaxBox = 64u << 20;       // a single box larger than this is not live video
constexpr size_t kMaxGopBytes = 12u << 20;  // cached fragments since the last keyframe

int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool Fmp4Splitter::fragmentStartsWithKeyframe(std::string_view piece) {
  // Locate moof among the top-level boxes of the piece.
  std::string_view moof = childBox(piece, "moof");
  if (moof.empty()) return false;
  std::string_view traf = childBox(moof, "traf");
  if (traf.empty()) return false;
  std::optional<uint32_t> defaultFlags;
  std::string_view tfhd = childBox(traf, "tfhd");
  if (tfhd.size() >= 8) {
    uint32_t f = be32(tfhd.data()) & 0xffffff;
    size_t off = 8;
    if (f & 0x1) off += 8;
    if (f & 0x2) off += 4;
    if (f & 0x8) off += 4;
    if (f & 0x10) off += 4;
    if ((f & 0x20) && off + 4 <= tfhd.size()) defaultFlags = be32(tfhd.data() + off);
  }
  std::string_view trun = childBox(traf, "trun");
  std::optional<uint32_t> first;
  if (trun.size() >= 8) {
    uint32_t f = be32(trun.data()) & 0xffffff;
    size_t off = 8;
    if (f & 0x1) off += 4;
    if (f & 0x4) {
      if (off + 4 <= trun.size()) first = be32(trun.data() + off);
      off += 4;
    } else if (f & 0x400) {
      size_t at = off + ((f & 0x100) ? 4 : 0) + ((f & 0x200) ? 4 : 0);
      if (at + 4 <= trun.size()) first = be32(trun.data() + at);
    }
  }
  if (!first) first = defaultFlags;
  if (!first) return true;  // no flags at all: muxers doing so cut fragments at keyframes
  return (*first & 0x00010000u) == 0;  // sample_is_non_sync_sample clear
}

std::string Fmp4Splitter::codecString(std::string_view init) {
  auto find = [&](std::string_view t) { return init.find(t); };
  size_t p = find("avcC");
  if (p != std::string_view::npos && p + 8 <= init.size()) {
    auto u = reinterpret_cast<const uint8_t*>(init.data() + p + 4);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s.%02x%02x%02x",
                  find("avc3") != std::string_view::npos ? "avc3" : "avc1", u[1], u[2], u[3]);
    return buf;
  }
  p = find("hvcC");
  if (p != std::string_view::npos && p + 4 + 13 <= init.size()) {
    auto u = reinterpret_cast<const uint8_t*>(init.data() + p + 4);
    int profile = u[1] & 0x1f;
    bool tier = (u[1] & 0x20) != 0;
    int level = u[12];
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s.%d.6.%c%d.B0",
                  find("hev1") != std::string_view::npos ? "hev1" : "hvc1", profile,
                  tier ? 'H' : 'L', level);
    return buf;
  }
  return "avc1.42e01e";  // a safe default (baseline 3.0) when nothing is found
}

std::vector<Fmp4Splitter::Piece> Fmp4Splitter::push(std::string_view data, bool* malformed) {
  std::vector<Piece> out;
  if (malformed) *malformed = false;
  buf_.append(data);
  size_t off = 0;
  while (buf_.size() - off >= 8) {
    uint64_t size = be32(buf_.data() + off);
    size_t hdr = 8;
    if (size == 1) {
      if (buf_.size() - off < 16) break;
      size = (uint64_t{be32(buf_.data() + off + 8)} << 32) | be32(buf_.data() + off + 12);
      hdr = 16;
    }
    if (size < hdr || size > kMaxBox) {
      if (malformed) *malformed = true;
      buf_.clear();
      pending_.clear();
      inInit_ = false;
      return out;
    }
    if (buf_.size() - off < size) break;
    std::string_view box(buf_.data() + off, size);
    std::string_view type = box.substr(4, 4);
    if (type == "ftyp") {
      pending_.assign(box);
      inInit_ = true;
    } else if (type == "moov") {
      if (!inInit_) pending_.clear();
      pending_.append(box);
      out.push_back({Piece::Kind::kInit, std::move(pending_), false});
      pending_.clear();
      inInit_ = false;
    } else if (type == "styp") {
      pending_.assign(box);
      inInit_ = false;
    } else if (type == "moof") {
      if (inInit_) pending_.clear();
      inInit_ = false;
      pending_.append(box);
    } else if (type == "mdat") {
      if (!pending_.empty() && !inInit_) {
        pending_.append(box);
        bool key = fragmentStartsWithKeyframe(pending_);
        out.push_back({Piece::Kind::kFragment, std::move(pending_), key});
      }
      pending_.clear();
    } else if (inInit_) {
      pending_.append(box);  // e.g. "free" between ftyp and moov
    }
    // sidx, mfra, free outside the init: not needed by MSE.
    off += size;
  }
  buf_.erase(0, off);
  return out;
}

// ---- hub --------------------------------------------------------------------------------------

struct LiveVideoHub::Viewer {
  std::shared_ptr<WebSocketConnection> ws;
  bool started = false;  // has the init segment
  bool waitKey = true;   // skipping until a keyframe (start, or after a drop)
};

struct LiveVideoHub::Stream {
  core::CameraId cam;
  StreamKind kind = StreamKind::kSub;
  Fmp4Splitter splitter;
  std::string init;
  std::string codec;
  std::vector<std::string> gop;  // fragments since the last keyframe
  size_t gopBytes = 0;
  std::vector<Viewer> viewers;
};

LiveVideoHub::LiveVideoHub(DemandCallback onDemand) : onDemand_(std::move(onDemand)) {}
LiveVideoHub::~LiveVideoHub() = default;

LiveVideoHub::Stream& LiveVideoHub::streamLocked(const core::CameraId& cam, StreamKind kind) {
  auto& p = streams_[{cam.str(), static_cast<int>(kind)}];
  if (!p) {
    p = std::make_unique<Stream>();
    p->cam = cam;
    p->kind = kind;
  }
  return *p;
}

void LiveVideoHub::pushBytes(const core::CameraId& cam, StreamKind kind, std::string_view data) {
  std::vector<Fmp4Splitter::Piece> pieces;
  {
    std::lock_guard lock(mu_);
    pieces = streamLocked(cam, kind).splitter.push(data);
  }
  for (auto& p : pieces) {
    if (p.kind == Fmp4Splitter::Piece::Kind::kInit) {
      pushInit(cam, kind, std::move(p.bytes));
    } else {
      pushFragment(cam, kind, std::move(p.bytes), p.keyframe);
    }
  }
}

void LiveVideoHub::sendStartLocked(Stream& s, Viewer& v) {
  std::string codec = s.codec;
  std::string msg = "{\"type\":\"init\",\"camera\":\"" + jsonEscape(s.cam.str()) +
                    "\",\"stream\":\"" + std::string(toString(s.kind)) + "\",\"codec\":\"" + codec +
                    "\",\"mime\":\"video/mp4; codecs=\\\"" + codec + "\\\"\"}";
  v.ws->send(std::move(msg), false);
  v.ws->send(s.init, true);
  v.started = true;
  v.waitKey = true;
  // The cached GOP starts with a keyframe: a new viewer sees a picture at once.
  if (!s.gop.empty()) {
    bool ok = true;
    for (const auto& f : s.gop) ok = ok && v.ws->send(f, true);
    v.waitKey = !ok;
  }
}

void LiveVideoHub::pushInit(const core::CameraId& cam, StreamKind kind, std::string init) {
  std::lock_guard lock(mu_);
  Stream& s = streamLocked(cam, kind);
  // Every init starts a new run of media time at 0 (ingest restarts its muxer on reconnect), so
  // viewers restart their player even when the bytes equal the previous init's.
  s.init = std::move(init);
  s.codec = Fmp4Splitter::codecString(s.init);
  s.gop.clear();
  s.gopBytes = 0;
  for (auto& v : s.viewers) sendStartLocked(s, v);
}

void LiveVideoHub::deliverLocked(Stream& s, const std::string& bytes, bool keyframe) {
  for (auto& v : s.viewers) {
    if (!v.started) continue;
    if (v.waitKey) {
      // Resume only on a keyframe and once the client's queue has drained somewhat.
      if (!keyframe || v.ws->queuedBytes() > (1u << 20)) {
        ++stats_.fragmentsDropped;
        continue;
      }
      v.waitKey = false;
    }
    if (v.ws->send(bytes, true)) {
      ++stats_.fragmentsSent;
    } else {
      v.waitKey = true;
      ++stats_.fragmentsDropped;
    }
  }
}

void LiveVideoHub::pushFragment(const core::CameraId& cam, StreamKind kind, std::string fragment,
                                bool keyframe) {
  std::lock_guard lock(mu_);
  Stream& s = streamLocked(cam, kind);
  ++stats_.fragmentsIn;
  stats_.bytesIn += fragment.size();
  if (keyframe) {
    s.gop.clear();
    s.gopBytes = 0;
  }
  if (s.init.empty()) return;  // nothing can play before the init segment
  deliverLocked(s, fragment, keyframe);
  // Kept for viewers who join mid-GOP (after delivery, so the bytes move instead of copying).
  if (keyframe || !s.gop.empty()) {
    if (s.gopBytes + fragment.size() <= kMaxGopBytes) {
      s.gopBytes += fragment.size();
      s.gop.push_back(std::move(fragment));
    }
  }
}

void LiveVideoHub::endStream(const core::CameraId& cam, StreamKind kind) {
  std::lock_guard lock(mu_);
  Stream& s = streamLocked(cam, kind);
  s.gop.clear();
  s.gopBytes = 0;
  s.init.clear();
  for (auto& v : s.viewers) {
    v.ws->send("{\"type\":\"ended\"}", false);
    v.started = false;
  }
  s.splitter = Fmp4Splitter{};
}

void LiveVideoHub::addViewer(const core::CameraId& cam, StreamKind kind,
                             const std::shared_ptr<WebSocketConnection>& ws) {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    Stream& s = streamLocked(cam, kind);
    first = s.viewers.empty();
    s.viewers.push_back(Viewer{ws});
    ++stats_.viewers;
    lastViewed_[cam.str()] = nowMillis();
    if (!s.init.empty()) {
      sendStartLocked(s, s.viewers.back());
    } else {
      ws->send("{\"type\":\"waiting\",\"camera\":\"" + jsonEscape(cam.str()) + "\"}", false);
    }
  }
  if (first && onDemand_) onDemand_(cam, kind, true);
}

void LiveVideoHub::removeViewer(const std::shared_ptr<WebSocketConnection>& ws) {
  std::vector<std::pair<core::CameraId, StreamKind>> idle;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, s] : streams_) {
      size_t before = s->viewers.size();
      std::erase_if(s->viewers, [&](const Viewer& v) { return v.ws == ws; });
      if (before != s->viewers.size()) {
        stats_.viewers -= before - s->viewers.size();
        lastViewed_[s->cam.str()] = nowMillis();
        if (s->viewers.empty()) idle.emplace_back(s->cam, s->kind);
      }
    }
  }
  if (onDemand_) {
    for (auto& [c, k] : idle) onDemand_(c, k, false);
  }
}

LiveStats LiveVideoHub::stats() const {
  std::lock_guard lock(mu_);
  LiveStats s = stats_;
  s.streams = streams_.size();
  return s;
}

std::map<std::string, int64_t> LiveVideoHub::lastViewedMillis() const {
  std::lock_guard lock(mu_);
  return lastViewed_;
}

}  // namespace sharpeyes::api
