// Placeholder until the maildir sink lands (issue 13).
#include "mailmill/sink/sink.h"
#include "mailmill/util/result.h"

namespace mm::sink {

std::unique_ptr<Sink> make_maildir_sink(const std::filesystem::path &root) {
  throw FatalError("maildir output is not built yet: " + root.string());
}

}  // namespace mm::sink
