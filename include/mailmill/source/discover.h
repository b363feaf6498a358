#pragma once
/// Turning command-line input arguments into the list of store files to convert.
#include <string>
#include <vector>

#include "mailmill/util/result.h"

namespace mm::source {

/// Expands input arguments: a file argument is taken as is (whatever its extension); a
/// directory is searched recursively for *.pst / *.ost (case-insensitive), following directory
/// symlinks but never entering the same directory twice (no loops). Results keep argument order;
/// the files found under one directory are sorted by path (byte order) for determinism, and a
/// path is listed once. A nonexistent or unreadable argument (or subdirectory) adds a Problem
/// (SourceUnreadable, detail naming the path) to `problems` and is skipped. Never throws.
std::vector<std::string> discover_inputs(const std::vector<std::string> &args,
                                         std::vector<Problem> &problems);

}  // namespace mm::source
