// Placeholder until the Microsoft 365 PST sink lands.
#include "mailmill/sink/pst_sink.h"

#include "mailmill/util/result.h"

namespace mm::sink {

std::unique_ptr<Sink> make_pst_sink(const std::filesystem::path &root, PstSinkOptions opts) {
  throw FatalError("--format pst is not available yet");
}

}  // namespace mm::sink
