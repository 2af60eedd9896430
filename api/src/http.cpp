// Plain-data helpers of the HTTP layer (no Beast here, so this file compiles fast).

#include "sharpeyes/api/http.h"

#include <cctype>
#include <cmath>
#include <cstdio>

#include "router.h"
#include "sharpeyes/api/prometheus.h"

namespace sharpeyes::api {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

std::optional<std::string> HttpRequest::queryParam(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::string HttpRequest::cookie(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (!iequals(k, "cookie")) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view part = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) continue;
      if (part.substr(0, eq) == name) return std::string(part.substr(eq + 1));
    }
  }
  return {};
}

HttpResponse HttpResponse::json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::text(int status, std::string body, std::string contentType) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.contentType = std::move(contentType);
  return r;
}

HttpResponse HttpResponse::error(int status, std::string_view error, std::string_view detail) {
  return errorJson(status, error, "\"" + jsonEscape(detail) + "\"");
}

HttpResponse HttpResponse::errorJson(int status, std::string_view error,
                                     const std::string& detailJson) {
  HttpResponse r;
  r.status = status;
  r.body = "{\"error\":\"";
  r.body += jsonEscape(error);
  r.body += "\",\"detail\":";
  r.body += detailJson;
  r.body += "}";
  return r;
}

HttpResponse HttpResponse::file(std::string path, std::string contentType) {
  HttpResponse r;
  r.filePath = std::move(path);
  r.contentType = std::move(contentType);
  return r;
}

std::string jsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::optional<std::string> percentDecode(std::string_view s, bool plusIsSpace) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;  // needs two hex digits
      int hi = hexValue(s[i + 1]);
      int lo = hexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plusIsSpace) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// ---- Prometheus -------------------------------------------------------------------------------

bool PrometheusWriter::validName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
              (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

std::string PrometheusWriter::escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void PrometheusWriter::family(std::string_view name, std::string_view help, MetricType type) {
  if (declared_.count(name) != 0) return;
  declared_.emplace(name);
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  for (char c : help) {  // HELP escapes only backslash and newline
    if (c == '\\') {
      out_ += "\\\\";
    } else if (c == '\n') {
      out_ += "\\n";
    } else {
      out_ += c;
    }
  }
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += type == MetricType::kCounter ? " counter\n"
          : type == MetricType::kGauge ? " gauge\n"
                                       : " untyped\n";
}

void PrometheusWriter::sample(std::string_view name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      out_ += escapeLabelValue(v);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  if (std::isnan(value)) {
    out_ += "NaN";
  } else if (std::isinf(value)) {
    out_ += value > 0 ? "+Inf" : "-Inf";
  } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", value);
    out_ += buf;
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", value);
    out_ += buf;
  }
  out_ += '\n';
}

// ---- routing ----------------------------------------------------------------------------------

namespace detail {

core::Result<std::vector<PatternSegment>> parsePattern(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    return core::makeError(core::ErrorCode::kInvalidArgument,
                           "route pattern must start with '/': " + std::string(pattern));
  }
  std::vector<PatternSegment> out;
  for (const auto& seg : splitPath(pattern)) {
    if (!out.empty() && out.back().rest) {
      return core::makeError(core::ErrorCode::kInvalidArgument,
                             "a {name*} segment must be last: " + std::string(pattern));
    }
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      std::string name = seg.substr(1, seg.size() - 2);
      bool rest = !name.empty() && name.back() == '*';
      if (rest) name.pop_back();
      if (name.empty()) {
        return core::makeError(core::ErrorCode::kInvalidArgument,
                               "empty parameter name in " + std::string(pattern));
      }
      out.push_back({name, true, rest});
    } else {
      out.push_back({seg, false, false});
    }
  }
  return out;
}

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool matchPattern(const std::vector<PatternSegment>& pattern,
                  const std::vector<std::string>& segments,
                  std::map<std::string, std::string>* params) {
  size_t i = 0;
  for (; i < pattern.size(); ++i) {
    const auto& p = pattern[i];
    if (p.rest) {
      std::string restPath;
      for (size_t j = i; j < segments.size(); ++j) {
        if (!restPath.empty()) restPath += '/';
        restPath += segments[j];
      }
      (*params)[p.text] = restPath;
      return true;
    }
    if (i >= segments.size()) return false;
    if (p.param) {
      (*params)[p.text] = segments[i];
    } else if (p.text != segments[i]) {
      return false;
    }
  }
  return i == segments.size();
}

}  // namespace detail
}  // namespace sharpeyes::api
