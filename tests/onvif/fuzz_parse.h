#pragma once
// Parses one HTTP response (header + SOAP envelope) the way the client does, with the client's
// limits, as each response type the client reads. Shared by the libFuzzer target and the
// deterministic corpus test. Returns the number of response types that parsed successfully.

#include <cstddef>
#include <cstdint>

namespace sharpeyes::onvif::fuzz {
int parseResponse(const uint8_t* data, size_t size);
}
