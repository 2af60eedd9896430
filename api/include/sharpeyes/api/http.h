#pragma once
// Request and response values exchanged between the HTTP server and route handlers. Plain data:
// no Boost type leaks into a public header, so modules and app/ can build routes without Beast.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sharpeyes::api {

struct HttpRequest {
  std::string method;  // "GET", "POST", ... (upper case, as sent)
  std::string target;  // raw request target: "/api/cameras?division=5106"
  std::string path;    // percent-decoded path without the query: "/api/cameras"
  std::map<std::string, std::string> query;   // decoded query parameters (last one wins)
  std::map<std::string, std::string> params;  // path parameters from the route: {"id": "cam-1"}
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remoteAddress;  // "127.0.0.1"
  bool secure = false;        // arrived over TLS

  // First header with this (case-insensitive) name, or "" when absent.
  std::string header(std::string_view name) const;
  // Query parameter or nullopt.
  std::optional<std::string> queryParam(const std::string& name) const;
  // Cookie value from the Cookie header, or "".
  std::string cookie(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, sent as given
  // When set, the server streams this file instead of `body`, honouring a single-range
  // "Range: bytes=a-b" request (206 / 416) and sending Accept-Ranges. Used for clip downloads.
  std::string filePath;

  static HttpResponse json(int status, std::string body);
  static HttpResponse text(int status, std::string body, std::string contentType = "text/plain");
  // {"error": error, "detail": detail}; detail is a human-readable message (JSON-escaped here).
  static HttpResponse error(int status, std::string_view error, std::string_view detail);
  // {"error": error, "detail": <detailJson>} where detailJson is already valid JSON.
  static HttpResponse errorJson(int status, std::string_view error, const std::string& detailJson);
  static HttpResponse file(std::string path, std::string contentType);

  HttpResponse& withHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Runs on one of the server's I/O threads. It may block (a database query), which holds that
// thread: give the server enough threads. It must not throw; if it does, the server answers 500
// and keeps running.
using Handler = std::function<HttpResponse(const HttpRequest&)>;

// JSON string escaping (for handlers that build small bodies by hand).
std::string jsonEscape(std::string_view s);
// Percent-decoding of a URL component; nullopt on a malformed escape.
std::optional<std::string> percentDecode(std::string_view s, bool plusIsSpace);

}  // namespace sharpeyes::api
