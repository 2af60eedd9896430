#pragma once
// A tiny blocking HTTP/1.1 GET for the CLI (`sharpeyes status`) and tests: no TLS, loopback use.

#include <chrono>
#include <string>

#include "sharpeyes/core/result.h"

namespace sharpeyes::app {

struct HttpReply {
  int status = 0;
  std::string body;
};

// url: http://host:port/path
core::Result<HttpReply> httpGet(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace sharpeyes::app
