#include "protocol.h"

#include <chrono>

#include "sharpeyes/core/time.h"

namespace sharpeyes::bus::proto {

using nlohmann::json;

json eventToJson(const core::Event& e) {
  json j = {
      {"id", e.id},
      {"phase", core::toString(e.phase)},
      {"camera", e.camera.str()},
      {"division", e.division.str()},
      {"rule", e.rule},
      {"type", core::toString(e.type)},
      {"severity", e.severity},
      {"object", e.objectClass},
      {"track", e.trackId},
      {"box", {e.box.x, e.box.y, e.box.w, e.box.h}},
      {"zone", e.zone},
      {"start", core::formatIso8601(e.start)},
      {"start_us", core::toUnixMicros(e.start)},
      {"media_ns", e.mediaTime.count()},
      {"snapshot", e.snapshotPath},
      {"clip_start", core::formatIso8601(e.clipStart)},
      {"clip_end", core::formatIso8601(e.clipEnd)},
      {"attributes", e.attributes},
  };
  if (e.end) j["end"] = core::formatIso8601(*e.end);
  return j;
}

namespace {
core::Error bad(const std::string& what) {
  return core::makeError(core::ErrorCode::kInvalidArgument, "event: " + what);
}
const json* field(const json& j, const char* key, json::value_t type) {
  auto it = j.find(key);
  if (it == j.end()) return nullptr;
  if (type == json::value_t::number_integer) {
    return it->is_number_integer() ? &*it : nullptr;
  }
  return it->type() == type ? &*it : nullptr;
}
}  // namespace

core::Result<core::Event> eventFromJson(const json& j) {
  if (!j.is_object()) return bad("not an object");
  core::Event e;
  const json* f = nullptr;
  if (!(f = field(j, "id", json::value_t::string))) return bad("missing id");
  e.id = f->get<std::string>();
  if (e.id.empty() || e.id.size() > 128) return bad("bad id");
  if (!(f = field(j, "division", json::value_t::string))) return bad("missing division");
  auto div = core::DivisionCode::parse(f->get<std::string>());
  if (!div) return bad("bad division");
  e.division = *div;
  if (!(f = field(j, "camera", json::value_t::string))) return bad("missing camera");
  auto cam = core::CameraId::parse(f->get<std::string>());
  if (!cam) return bad("bad camera");
  e.camera = *cam;
  if (!(f = field(j, "type", json::value_t::string))) return bad("missing type");
  auto type = core::parseEventType(f->get<std::string>());
  if (!type) return bad("bad type");
  e.type = *type;
  if (!(f = field(j, "severity", json::value_t::number_integer))) return bad("missing severity");
  e.severity = f->get<int>();
  if (e.severity < core::kMinSeverity || e.severity > core::kMaxSeverity) {
    return bad("severity out of range");
  }
  if ((f = field(j, "phase", json::value_t::string))) {
    auto phase = core::parseEventPhase(f->get<std::string>());
    if (!phase) return bad("bad phase");
    e.phase = *phase;
  }
  if ((f = field(j, "rule", json::value_t::string))) e.rule = f->get<std::string>();
  if ((f = field(j, "object", json::value_t::string))) e.objectClass = f->get<std::string>();
  if ((f = field(j, "zone", json::value_t::string))) e.zone = f->get<std::string>();
  if ((f = field(j, "snapshot", json::value_t::string))) e.snapshotPath = f->get<std::string>();
  if ((f = field(j, "track", json::value_t::number_integer))) e.trackId = f->get<int64_t>();
  if ((f = field(j, "media_ns", json::value_t::number_integer))) {
    e.mediaTime = core::Duration(f->get<int64_t>());
  }
  if ((f = field(j, "start_us", json::value_t::number_integer))) {
    e.start = core::fromUnixMicros(f->get<int64_t>());
  } else if ((f = field(j, "start", json::value_t::string))) {
    auto t = core::parseIso8601(f->get<std::string>());
    if (!t) return bad("bad start");
    e.start = *t;
  }
  auto timeField = [&](const char* key, core::WallTime& out) -> bool {
    const json* t = field(j, key, json::value_t::string);
    if (!t) return true;
    auto parsed = core::parseIso8601(t->get<std::string>());
    if (!parsed) return false;
    out = *parsed;
    return true;
  };
  if (!timeField("clip_start", e.clipStart) || !timeField("clip_end", e.clipEnd)) {
    return bad("bad clip time");
  }
  if (j.contains("end")) {
    core::WallTime end{};
    if (!timeField("end", end)) return bad("bad end");
    e.end = end;
  }
  if ((f = field(j, "box", json::value_t::array)) && f->size() == 4) {
    for (const auto& v : *f) {
      if (!v.is_number()) return bad("bad box");
    }
    e.box = {(*f)[0].get<float>(), (*f)[1].get<float>(), (*f)[2].get<float>(),
             (*f)[3].get<float>()};
  }
  if ((f = field(j, "attributes", json::value_t::object))) {
    for (const auto& [k, v] : f->items()) {
      if (!v.is_string()) return bad("attribute values must be strings");
      e.attributes[k] = v.get<std::string>();
    }
  }
  return e;
}

std::optional<json> parseFrame(std::string_view frame) {
  if (frame.size() > static_cast<size_t>(kMaxMetaBytes)) return std::nullopt;
  json j = json::parse(frame, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() != kVersion) return std::nullopt;
  auto t = j.find("type");
  if (t == j.end() || !t->is_string()) return std::nullopt;
  return j;
}

namespace {
bool isWs(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
// Index just past the string literal starting at frame[i] == '"'.
size_t skipString(std::string_view f, size_t i) {
  for (++i; i < f.size(); ++i) {
    if (f[i] == '\\') {
      ++i;
    } else if (f[i] == '"') {
      return i + 1;
    }
  }
  return f.size();
}
// Index just past the JSON value starting at frame[i].
size_t skipValue(std::string_view f, size_t i) {
  if (i >= f.size()) return f.size();
  if (f[i] == '"') return skipString(f, i);
  if (f[i] == '{' || f[i] == '[') {
    int depth = 0;
    while (i < f.size()) {
      const char c = f[i];
      if (c == '"') {
        i = skipString(f, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return f.size();
  }
  while (i < f.size() && f[i] != ',' && f[i] != '}' && f[i] != ']' && !isWs(f[i])) ++i;
  return i;
}
}  // namespace

std::optional<std::string_view> rawMember(std::string_view f, std::string_view key) {
  size_t i = 0;
  auto ws = [&] {
    while (i < f.size() && isWs(f[i])) ++i;
  };
  ws();
  if (i >= f.size() || f[i] != '{') return std::nullopt;
  ++i;
  // The last occurrence wins, as in the parser that validated the frame: a duplicated key must
  // not let a sender get one value checked and another stored.
  std::optional<std::string_view> found;
  while (true) {
    ws();
    if (i >= f.size() || f[i] != '"') return std::nullopt;
    const size_t keyEnd = skipString(f, i);
    const std::string_view k = f.substr(i + 1, keyEnd - i - 2);
    // An escaped key might decode to `key`: give up rather than guess which value the parser kept.
    if (k.find('\\') != std::string_view::npos) return std::nullopt;
    i = keyEnd;
    ws();
    if (i >= f.size() || f[i] != ':') return std::nullopt;
    ++i;
    ws();
    const size_t start = i;
    i = skipValue(f, i);
    if (i > f.size() || i == start) return std::nullopt;
    if (k == key) found = f.substr(start, i - start);
    ws();
    if (i < f.size() && f[i] == '}') return found;
    if (i >= f.size() || f[i] != ',') return std::nullopt;
    ++i;
  }
}

bool validClipId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace sharpeyes::bus::proto
