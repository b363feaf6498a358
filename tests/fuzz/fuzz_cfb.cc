// Fuzz target: the compound-file adapter (libgsf underneath) and OLE attachment unpacking on
// arbitrary bytes. Any input must give a Problem or a result: never a crash, a hang, a leak or
// an out-of-bounds read, and never output on stderr from the library.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mailmill/format/cfb/compound_file.h"
#include "mailmill/mime/ole_attachment.h"

namespace {

/// Lists every storage and reads every stream, with bounds on depth and work per input.
void walk(const mm::cfb::CompoundFile &cf, const std::string &path, int depth, int &budget) {
  if (depth > 8) return;
  auto kids = cf.list(path);
  if (!kids) return;
  for (const mm::cfb::Entry &e : *kids) {
    if (--budget < 0) return;
    const std::string p = path.empty() ? e.name : path + "/" + e.name;
    (void)cf.find(p);
    if (e.type == mm::cfb::EntryType::Storage)
      walk(cf, p, depth + 1, budget);
    else
      (void)cf.read_stream(p, 1 << 20);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mm;
  const ByteView bytes(reinterpret_cast<const char *>(data), size);
  auto cf = cfb::CompoundFile::open(bytes);
  if (cf) {
    int budget = 256;
    walk(**cf, "", 0, budget);
  }
  (void)mime::unpack_ole_object(Blob(bytes, nullptr), "object");
  return 0;
}
