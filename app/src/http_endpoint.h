#pragma once
// The gateway's HTTP endpoint: /healthz, /metrics, /api/cameras (the API issue grows it).

#include <cstdint>
#include <memory>
#include <string>

#include "sharpeyes/core/result.h"

namespace sharpeyes::app {

class Gateway;

class HttpEndpoint {
 public:
  virtual ~HttpEndpoint() = default;
  static core::Result<std::unique_ptr<HttpEndpoint>> start(const std::string& address,
                                                           uint16_t port, Gateway& gateway);
  virtual uint16_t port() const = 0;
  virtual void stop() = 0;
};

}  // namespace sharpeyes::app
