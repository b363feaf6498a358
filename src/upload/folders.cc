// Source folder paths -> server mailbox names (--folder-map and the default rules).
#include <algorithm>

#include "mailmill/upload/upload.h"

namespace mm::upload {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > i) out.emplace_back(path.substr(i, slash - i));
    i = slash + 1;
  }
  return out;
}

// The store roots Outlook and Exchange put above the visible folders.
bool is_store_root(std::string_view name) {
  static const char *const ROOTS[] = {"top of personal folders", "top of information store",
                                      "top of outlook data file", "root - mailbox", "ipm_subtree"};
  std::string l = lower(name);
  return std::any_of(std::begin(ROOTS), std::end(ROOTS), [&](const char *r) { return l == r; });
}

// English names of the folders RFC 6154 gives a special use to, as Outlook, Exchange,
// Thunderbird and Apple Mail name them.
const char *special_use_of(std::string_view name) {
  static const std::pair<const char *, const char *> NAMES[] = {
      {"sent items", "\\Sent"},     {"sent", "\\Sent"},          {"sent mail", "\\Sent"},
      {"sent messages", "\\Sent"},  {"deleted items", "\\Trash"}, {"trash", "\\Trash"},
      {"deleted messages", "\\Trash"}, {"drafts", "\\Drafts"},    {"junk e-mail", "\\Junk"},
      {"junk email", "\\Junk"},     {"junk", "\\Junk"},          {"spam", "\\Junk"},
      {"archive", "\\Archive"},     {"archives", "\\Archive"}};
  std::string l = lower(name);
  for (const auto &[n, use] : NAMES)
    if (l == n) return use;
  return nullptr;
}

bool is_prefix_path(const std::vector<std::string> &prefix, const std::vector<std::string> &path) {
  if (prefix.size() > path.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(prefix[i]) != lower(path[i])) return false;
  return true;
}

}  // namespace

std::optional<FolderRule> parse_folder_rule(std::string_view text) {
  std::size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) return std::nullopt;
  return FolderRule{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

std::string map_folder(std::string_view folder, const std::vector<FolderRule> &rules,
                       bool defaults, const ServerFolders &server) {
  std::vector<std::string> parts = split_path(folder);
  if (defaults && !parts.empty() && is_store_root(parts.front())) parts.erase(parts.begin());

  // The longest matching rule wins; it replaces the matched head of the path.
  std::vector<std::string> head;  // target of the head, in the user's '/' notation
  std::size_t best = 0;
  bool ruled = false;
  for (const FolderRule &r : rules) {
    std::vector<std::string> from = split_path(r.from);
    if (!from.empty() && is_store_root(from.front())) from.erase(from.begin());
    if ((!ruled || from.size() > best) && is_prefix_path(from, parts)) {
      best = from.size();
      head = split_path(r.to);
      ruled = true;
    }
  }
  if (ruled) {
    parts.erase(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(best));
    parts.insert(parts.begin(), head.begin(), head.end());
  }

  // The first component may name INBOX or a special-use folder (a rule's "\Sent", or by
  // default the usual English names).
  std::string base;  // server name standing for parts[0], when it is not an ordinary name
  if (!parts.empty()) {
    const std::string &first = parts.front();
    const char *use = first.size() > 1 && first[0] == '\\' ? first.c_str()
                      : defaults                            ? special_use_of(first)
                                                            : nullptr;
    if (lower(first) == "inbox") {  // INBOX is case-insensitive (RFC 3501 5.1)
      base = "INBOX";
    } else if (use) {
      auto it = server.special.find(use);
      if (it == server.special.end()) {
        // Compare attributes case-insensitively: servers differ in capitalisation.
        for (auto i = server.special.begin(); i != server.special.end(); ++i)
          if (lower(i->first) == lower(use)) it = i;
      }
      if (it != server.special.end())
        base = it->second;
      else if (first[0] == '\\')
        parts.front() = first.substr(1);  // no such folder on this server: its plain name
    }
  }
  auto component = [&](const std::string &name) {
    std::string n = name;
    if (server.delimiter) std::replace(n.begin(), n.end(), server.delimiter, '_');
    return encode_mutf7(n);
  };
  std::string out;
  std::size_t from = 0;
  if (!base.empty()) {
    out = base;
    from = 1;
  } else if (parts.empty()) {
    return "INBOX";
  }
  for (std::size_t i = from; i < parts.size(); ++i) {
    if (out.empty())
      out = server.prefix + component(parts[i]);
    else
      out += std::string(1, server.delimiter ? server.delimiter : '_') + component(parts[i]);
  }
  return out;
}

Bytes wire_form(ByteView stored) {
  Bytes out;
  out.reserve(stored.size() + stored.size() / 32 + 2);
  std::size_t i = 0;
  while (i < stored.size()) {
    std::size_t j = stored.find_first_of("\r\n", i);
    if (j == ByteView::npos) {
      out.append(stored.substr(i));
      break;
    }
    out.append(stored.substr(i, j - i));
    out += "\r\n";
    if (stored[j] == '\r' && j + 1 < stored.size() && stored[j + 1] == '\n') ++j;
    i = j + 1;
  }
  return out;
}

}  // namespace mm::upload
