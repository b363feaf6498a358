// Fuzz target: compressed-RTF decompression and RTF de-encapsulation / text extraction.
#include <cstddef>
#include <cstdint>

#include "mailmill/mime/rtf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mm;
  ByteView in(reinterpret_cast<const char *>(data), size);
  auto plain = mime::rtf::decompress(in);
  ByteView rtf = plain ? ByteView(*plain) : in;
  (void)mime::rtf::detect(rtf);
  (void)mime::rtf::deencapsulate(rtf);
  (void)mime::rtf::to_plain_text(rtf);
  return 0;
}
