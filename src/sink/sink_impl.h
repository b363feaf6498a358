#pragma once
// Helpers shared by the sinks' implementations.
#include <filesystem>
#include <string>

namespace mm::sink {

/// Throws FatalError naming the path and errno's text.
[[noreturn]] void fail_io(const std::string &what, const std::filesystem::path &p);
/// create_directories or FatalError.
void make_dirs(const std::filesystem::path &dir);

}  // namespace mm::sink
