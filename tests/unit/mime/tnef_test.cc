// TNEF streams that fuzz_tnef found mishandled (the same streams are fuzz seeds in
// tests/fuzz/seeds/tnef/*.hex, where LeakSanitizer checks them in sanitizer builds). Here the
// outcome is checked: what the message gets from a stream libytnef reads in unusual order.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "mailmill/mime/encode.h"
#include "mailmill/mime/parse.h"

namespace mm::mime {
namespace {

// One TNEF attribute record ([MS-OXTNEF] 2.1.3.1): level, id, length, data, checksum.
std::string attr(uint8_t level, uint32_t id, const std::string &data) {
  std::string r(1, static_cast<char>(level));
  auto put32 = [&r](uint32_t v) {
    for (int i = 0; i < 4; ++i) r += static_cast<char>(v >> (8 * i));
  };
  put32(id);
  put32(static_cast<uint32_t>(data.size()));
  r += data;
  uint16_t sum = 0;
  for (unsigned char c : data) sum = static_cast<uint16_t>(sum + c);
  r += static_cast<char>(sum & 0xFF);
  r += static_cast<char>(sum >> 8);
  return r;
}

std::string tnef_header() { return std::string("\x78\x9f\x3e\x22\x06\x01", 6); }

// A message whose only part is the stream as winmail.dat.
Result<model::Message> parse_with(const std::string &tnef) {
  const std::string msg =
      "From: a@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: application/ms-tnef; name=winmail.dat\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      base64_encode(tnef) + "\r\n--b--\r\n";
  return parse_message(Blob(Bytes(msg)));
}

TEST(ParseTnef, RepeatedAttributesKeepTheLastValue) {
  // seeds/tnef/repeated_attributes.hex: libytnef overwrote the first value of each repeated
  // attribute without freeing it; tnef.cc now hands it each attribute's last record only.
  const std::string s =
      tnef_header() + attr(1, 0x00069007, std::string("\xE4\x04\0\0\0\0\0\0", 8)) +
      attr(1, 0x0002800C, std::string("first body\0", 11)) +
      attr(1, 0x00069007, std::string("\xB5\x01\0\0\0\0\0\0", 8)) +
      attr(1, 0x0002800C, std::string("second body wins\0", 17)) +
      attr(2, 0x00069002, std::string(14, '\0')) + attr(2, 0x00018010, std::string("a.txt\0", 6)) +
      attr(2, 0x0006800F, "first data\n") + attr(2, 0x00018010, std::string("b.txt\0", 6)) +
      attr(2, 0x0006800F, "second data\n");
  Result<model::Message> r = parse_with(s);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->body_text.has_value());
  EXPECT_EQ(*r->body_text, "second body wins");
  ASSERT_EQ(r->attachments.size(), 1u);
  EXPECT_EQ(r->attachments[0].filename, "b.txt");
  EXPECT_EQ(r->attachments[0].data.view(), "second data\n");
}

TEST(ParseTnef, RepeatsInDifferentAttachmentsAreDifferentAttachments) {
  // The same attribute in two slots (each opened by attAttachRendData) is no repeat.
  const std::string s = tnef_header() + attr(2, 0x00069002, std::string(14, '\0')) +
                        attr(2, 0x00018010, std::string("a.txt\0", 6)) +
                        attr(2, 0x0006800F, "one\n") + attr(2, 0x00069002, std::string(14, '\0')) +
                        attr(2, 0x00018010, std::string("b.txt\0", 6)) +
                        attr(2, 0x0006800F, "two\n");
  Result<model::Message> r = parse_with(s);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->attachments.size(), 2u);
  EXPECT_EQ(r->attachments[0].filename, "a.txt");
  EXPECT_EQ(r->attachments[0].data.view(), "one\n");
  EXPECT_EQ(r->attachments[1].filename, "b.txt");
  EXPECT_EQ(r->attachments[1].data.view(), "two\n");
}

TEST(ParseTnef, AttachmentRecordBeforeAnySlotIsNotAnAttachment) {
  // seeds/tnef/attach_before_renddata.hex: libytnef keeps these records in a slot that no
  // attachment list shows (and TNEFFree never freed); the stream holds nothing else, so the
  // part stays winmail.dat, with a warning.
  const std::string s = tnef_header() + attr(1, 0x00089006, std::string("\0\0\1\0", 4)) +
                        attr(2, 0x00018010, std::string("early.txt\0", 10)) +
                        attr(2, 0x0006800F, "attachment bytes with no slot\n");
  Result<model::Message> r = parse_with(s);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->attachments.size(), 1u);
  EXPECT_EQ(r->attachments[0].filename, "winmail.dat");
  EXPECT_FALSE(r->warnings.empty());
}

}  // namespace
}  // namespace mm::mime
