#pragma once
// Internal: the per-camera hash chain over segment rows (see segment_index.h).
#include <string>

#include "sharpeyes/core/segment.h"

namespace sharpeyes::storage::detail {

inline const std::string kGenesisChain(64, '0');

std::string segmentChainHash(const std::string& prevChain, const core::Segment& s);

}  // namespace sharpeyes::storage::detail
