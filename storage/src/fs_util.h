#pragma once
// Internal: the file-system steps of the durability order, as error values.
#include <string>

#include "sharpeyes/core/result.h"

namespace sharpeyes::storage::detail {

// fsync() of a file's data and metadata. ENOSPC/EDQUOT map to kResourceExhausted.
core::Result<void> fsyncPath(const std::string& path);
// fsync() of a directory, so that a create, rename or unlink in it is durable.
core::Result<void> fsyncDir(const std::string& dir);
// Renames `from` to `to` and makes both directories durable.
core::Result<void> durableRename(const std::string& from, const std::string& to);
// Unlinks `path` (absent counts as done) and fsyncs its directory.
core::Result<void> durableUnlink(const std::string& path);
core::Error errnoError(int err, const std::string& what);

}  // namespace sharpeyes::storage::detail
