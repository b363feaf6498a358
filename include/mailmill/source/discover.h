#pragma once
/// Turning command-line input arguments into the list of inputs to convert.
#include <string>
#include <vector>

#include "mailmill/util/result.h"

namespace mm::source {

/// What discovery passed over: files below a directory argument that are no mail input of any
/// kind (told by content). Not an error; a line for the user.
struct DiscoverReport {
  i64 ignored_files = 0;
  std::vector<std::string> ignored_examples;  ///< the first few ignored paths, in walk order
  /// One line for the log, e.g. "ignored 3 file(s) that are no mail input (e.g. a/notes.txt)";
  /// empty when nothing was ignored.
  std::string note() const;
};

/// Expands input arguments. A file argument is taken as is (whatever it holds; opening it
/// tells). A directory argument that is itself a maildir (detect_input) is one input. Any other
/// directory is walked: PST/OST and mbox files found in it (told by content, never by
/// extension) are inputs of their own; a maildir found in it is one input and is not entered;
/// when loose .eml/.msg files (by content) lie anywhere below it outside maildirs, the
/// directory argument itself is one more input (a file tree, opened by open_file_tree, which
/// finds them itself). A file named *.pst / *.ost (any case) whose content is none of these is
/// listed too (a damaged PST: opening it says why it cannot be read). Other files are ignored
/// and counted in `report` (when given).
/// The walk follows directory symlinks but never enters the same directory twice (no loops).
/// Results keep argument order; the inputs found under one directory are sorted by path (byte
/// order, so a tree input comes before what lies inside it) and a path is listed once. A
/// nonexistent or unreadable argument (or subdirectory) adds a Problem (SourceUnreadable, detail
/// naming the path) to `problems` and is skipped. Never throws.
std::vector<std::string> discover_inputs(const std::vector<std::string> &args,
                                         std::vector<Problem> &problems,
                                         DiscoverReport *report = nullptr);

}  // namespace mm::source
