#include "mailmill/sink/paths.h"

#include <algorithm>
#include <array>

#include "mailmill/util/text.h"

namespace mm::sink {
namespace {

bool is_device_name(std::string_view stem) {
  // Windows reserves these names with any extension ("CON.txt" too).
  static constexpr std::array<std::string_view, 4> fixed = {"con", "prn", "aux", "nul"};
  const std::string lower = text::to_lower_ascii(stem);
  auto dot = lower.find('.');
  std::string_view base = std::string_view(lower).substr(0, dot);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  for (auto f : fixed)
    if (base == f) return true;
  if (base.size() == 4 && (base.substr(0, 3) == "com" || base.substr(0, 3) == "lpt") &&
      base[3] >= '0' && base[3] <= '9')
    return true;
  return false;
}

// Length of the longest prefix of `s` (valid UTF-8) that is at most `max` bytes and ends on a
// character boundary.
std::size_t utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s.size();
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace

std::string sanitize_component(std::string_view name, std::size_t max_bytes) {
  std::string valid = text::sanitize_utf8(name);
  std::string out;
  out.reserve(valid.size());
  for (unsigned char c : valid) {
    if (c < 0x20 || c == 0x7F || c == '/' || c == '\\' || c == '<' || c == '>' || c == ':' ||
        c == '"' || c == '|' || c == '?' || c == '*')
      out += '_';
    else
      out += static_cast<char>(c);
  }
  // Leading spaces, trailing spaces and dots are invisible or stripped by Windows.
  auto first = out.find_first_not_of(' ');
  out.erase(0, first == std::string::npos ? out.size() : first);
  while (!out.empty() && (out.back() == ' ' || out.back() == '.')) out.pop_back();
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  if (is_device_name(out)) out = "_" + out;
  out.resize(utf8_prefix(out, std::max<std::size_t>(max_bytes, 8)));
  while (!out.empty() && (out.back() == ' ' || out.back() == '.')) out.pop_back();
  if (out.empty()) out = "_";
  return out;
}

std::string UniqueNamer::claim(std::string_view stem, std::string_view ext) {
  std::string candidate = std::string(stem) + std::string(ext);
  for (int n = 2; taken_.count(text::to_lower_ascii(candidate)); ++n)
    candidate = std::string(stem) + " (" + std::to_string(n) + ")" + std::string(ext);
  taken_.insert(text::to_lower_ascii(candidate));
  return candidate;
}

void UniqueNamer::reserve(std::string_view name) { taken_.insert(text::to_lower_ascii(name)); }

const std::string &FolderMap::dir_for(const std::vector<std::string> &path) {
  std::size_t at = 0;
  for (const std::string &raw : path) {
    auto it = nodes_[at].children.find(raw);
    if (it == nodes_[at].children.end()) {
      std::string name = nodes_[at].namer.claim(sanitize_component(raw));
      Node child;
      child.rel = nodes_[at].rel.empty() ? name : nodes_[at].rel + "/" + name;
      nodes_.push_back(std::move(child));
      it = nodes_[at].children.emplace(raw, nodes_.size() - 1).first;
    }
    at = it->second;
  }
  return nodes_[at].rel;
}

UniqueNamer &FolderMap::namer_in(const std::vector<std::string> &path) {
  dir_for(path);
  std::size_t at = 0;
  for (const std::string &raw : path) at = nodes_[at].children.at(raw);
  return nodes_[at].namer;
}

}  // namespace mm::sink
