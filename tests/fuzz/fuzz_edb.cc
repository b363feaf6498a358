// Fuzz target: the Exchange layer. Inputs starting with "ProP" are PropertyBlobs for the
// decoder (and their values as off-page values); ESE databases (a generated Exchange-shaped
// one is the seed) are opened as an Exchange store with page checksums off, so that mutations
// reach the Mailbox, Folder_n, Message_n and Attachment_n rows, and every folder, item
// (recipients, attachments, embedded messages, bodies) and the census are read and converted
// to the model. Any input must give a Problem or values: never a crash, a hang or an
// out-of-bounds read.
#include <cstddef>
#include <cstdint>

#include "mailmill/format/exchange/exchange.h"
#include "mailmill/format/exchange/property_blob.h"
#include "mailmill/mapi/to_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mm;
  const ByteView bytes(reinterpret_cast<const char *>(data), size);
  if (bytes.substr(0, 4) == "ProP") {
    Result<exchange::DecodedBlob> blob = exchange::decode_property_blob(bytes);
    if (blob)
      for (const exchange::BlobProperty &p : blob->props)
        (void)exchange::decode_separated_value(p.tag, p.value);
    return 0;
  }
  auto store = exchange::open_exchange_bytes(bytes, "fuzz.edb", {}, false);
  if (!store) return 0;
  mapi::MailStore &s = **store;
  (void)s.census();
  auto folders = s.folders();
  if (!folders) return 0;
  int budget = 200;  // items per input
  for (const mapi::FolderInfo &f : *folders) {
    auto items = s.items_in(f.node_id);
    if (!items) continue;
    for (u64 id : *items) {
      if (--budget < 0) return 0;
      Result<mapi::RawMessage> raw = s.read_item(id);
      if (!raw) continue;
      mapi::ConvertContext ctx{raw->codepage ? raw->codepage : s.info().default_codepage,
                               raw->names ? raw->names.get() : &s.names()};
      (void)mapi::to_model(*raw, ctx);
    }
  }
  return 0;
}
