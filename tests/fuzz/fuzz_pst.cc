// Fuzz target: the native PST reader and everything downstream of it. Any input must give a
// Problem or a result — never a crash, hang, leak or out-of-bounds read.
#include <cstddef>
#include <cstdint>

#include "mailmill/format/pst/native_store.h"
#include "mailmill/mapi/to_model.h"
#include "mailmill/mime/build.h"
#include "mailmill/mime/render.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mm;
  auto store = pst::open_native_bytes(ByteView(reinterpret_cast<const char *>(data), size));
  if (!store) return 0;
  mapi::MailStore &s = **store;
  auto folders = s.folders();
  if (!folders) return 0;
  int budget = 64;  // bound the work per input
  for (const auto &f : *folders) {
    auto items = s.items_in(f.node_id);
    if (!items) continue;
    for (u64 nid : *items) {
      if (--budget < 0) return 0;
      auto raw = s.read_item(nid);
      if (!raw) continue;
      mapi::ConvertContext ctx{s.info().default_codepage, &s.names()};
      auto msg = mapi::to_model(*raw, ctx);
      if (!msg) continue;
      (void)mime::build_message(*msg, mime::BuildOptions{});
      (void)mime::render_ics(*msg);
      (void)mime::render_vcf(*msg);
    }
  }
  return 0;
}
