#pragma once
/// Safe, stable output names. Everything a sink creates is named through these functions so
/// that no input (folder names like "../x", "a/b", "CON", control characters, 10 KB names) can
/// write outside the output folder or collide silently.
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::sink {

/// Longest path component we create, in bytes (ext4 allows 255; room is kept for suffixes).
inline constexpr std::size_t MAX_COMPONENT_BYTES = 150;

/// Turns an arbitrary UTF-8 (or not) string into one safe path component: no '/', '\\', NUL,
/// control characters or Windows-reserved characters (<>:"|?*); not "." or ".."; not a
/// Windows device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without extension); no
/// leading/trailing spaces or trailing dots; invalid UTF-8 replaced; truncated on a character
/// boundary to `max_bytes`. Never returns an empty string ("_" instead). Pure.
std::string sanitize_component(std::string_view name, std::size_t max_bytes = MAX_COMPONENT_BYTES);

/// Hands out unique names inside one directory, deterministically: the first request for a
/// name gets it, later colliding requests get "name (2)", "name (3)", ... inserted before the
/// extension. Comparison is case-insensitive (ASCII) so outputs survive case-insensitive file
/// systems. Not thread-safe.
class UniqueNamer {
 public:
  /// Returns a unique variant of `stem` + `ext` (ext includes the dot, may be empty).
  std::string claim(std::string_view stem, std::string_view ext = "");
  /// Marks a name as taken (e.g. a directory we created for something else).
  void reserve(std::string_view name);

 private:
  std::set<std::string> taken_;  // lower-cased
};

/// Maps store folders (paths of raw names) to unique relative directories under one root.
/// Folder paths are assigned in the order first seen, which the pipeline keeps deterministic.
class FolderMap {
 public:
  /// Relative directory (components joined with '/') for the folder `path`; assigns one on
  /// first use, sanitizing and de-duplicating each component among its siblings.
  const std::string &dir_for(const std::vector<std::string> &path);
  /// The namer of files directly inside the directory for `path` (shared with subfolders).
  UniqueNamer &namer_in(const std::vector<std::string> &path);

 private:
  struct Node {
    std::string rel;
    UniqueNamer namer;
    std::map<std::string, std::size_t> children;  // raw name -> node index
  };
  std::vector<Node> nodes_{Node{}};
};

}  // namespace mm::sink
