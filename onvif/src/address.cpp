#include <cctype>
#include <string>

#include "sharpeyes/onvif/client.h"

namespace sharpeyes::onvif {

core::Result<std::string> deviceServiceUrl(std::string_view address) {
  std::string a(address);
  while (!a.empty() && std::isspace(static_cast<unsigned char>(a.back()))) a.pop_back();
  while (!a.empty() && std::isspace(static_cast<unsigned char>(a.front()))) a.erase(0, 1);
  if (a.empty()) {
    return core::makeError(core::ErrorCode::kInvalidArgument, "empty ONVIF address");
  }
  if (a.starts_with("http://") || a.starts_with("https://")) {
    const size_t hostStart = a.find("://") + 3;
    const size_t pathStart = a.find('/', hostStart);
    if (pathStart == hostStart || hostStart >= a.size()) {
      return core::makeError(core::ErrorCode::kInvalidArgument, "ONVIF address has no host: " + a);
    }
    if (pathStart == std::string::npos) return a + "/onvif/device_service";
    return a;
  }
  if (a.find("://") != std::string::npos) {
    return core::makeError(core::ErrorCode::kInvalidArgument,
                           "ONVIF address must be host[:port] or an http(s) URL");
  }
  for (char c : a) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                    c == ':' || c == '[' || c == ']' || c == '_';
    if (!ok) {
      return core::makeError(core::ErrorCode::kInvalidArgument,
                             "ONVIF address must be host[:port] or an http(s) URL");
    }
  }
  return "http://" + a + "/onvif/device_service";
}

}  // namespace sharpeyes::onvif
