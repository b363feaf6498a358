#pragma once
// Private helpers shared by output.cc and verify.cc.
#include <filesystem>
#include <optional>

#include "mailmill/util/types.h"

namespace mm::pipeline {

/// The whole file, or nullopt when it cannot be read.
std::optional<Bytes> read_whole_file(const std::filesystem::path &p);

/// Decompresses a zstd stream of any number of concatenated frames (batch files hold one per
/// message); nullopt when the data is not zstd or stops inside a frame.
std::optional<Bytes> zstd_decompress(ByteView data);

}  // namespace mm::pipeline
