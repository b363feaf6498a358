#include <gtest/gtest.h>

#include "mailmill/dedup/index.h"
#include "mailmill/dedup/keys.h"

namespace mm::dedup {
namespace {

TEST(Hashes, KnownVectors) {
  // FIPS 180-2 and RFC 1321 test vectors.
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(EdrmMih, HashesTheMessageIdWithAngleBrackets) {
  EXPECT_EQ(edrm_mih("<abc@example.com>"), md5("<abc@example.com>"));
  EXPECT_NE(edrm_mih("<abc@example.com>"), edrm_mih("abc@example.com"));
}

model::Message sample() {
  model::Message m;
  m.subject = "Quarterly numbers";
  m.from.smtp = "Alice@Example.com";
  m.recipients.push_back({model::RecipientType::To, {"Bob", "bob@example.com", "", "SMTP"}});
  m.recipients.push_back({model::RecipientType::Cc, {"Carol", "carol@example.com", "", "SMTP"}});
  m.submit_time = 1700000000;
  m.body_text = "Hello\r\nworld  \r\n";
  model::Attachment a;
  a.filename = "report.pdf";
  a.data = "%PDF-1.4 ...";
  m.attachments.push_back(std::move(a));
  return m;
}

TEST(ContentHash, IgnoresTransportHeadersFlagsAndFormatting) {
  model::Message a = sample();
  model::Message b = sample();
  b.transport_headers = "Received: from x by y\r\n";
  b.flags.read = true;
  b.from.smtp = "alice@example.com";
  b.body_text = "Hello\nworld\n\n";
  std::swap(b.recipients[0], b.recipients[1]);
  EXPECT_EQ(content_hash(a), content_hash(b));
}

// Bodies already in normal form (LF ends, nothing blank at line ends) are hashed as one span;
// every other body line by line. Both must give the key of the same normal form.
TEST(ContentHash, BodyNormalFormIsTheSameWhicheverWayItIsReached) {
  auto key = [](std::string body) {
    model::Message m = sample();
    m.body_text = std::move(body);
    return content_hash(m);
  };
  const std::string nul_end("Hello\0\nworld", 13);
  const std::pair<std::string, std::string> same[] = {
      {"\n\nHello\n\nworld\n\n\n", "\r\n\r\nHello  \r\n\r\nworld\t\r\n"},
      {"Hello\nworld", "Hello\rworld"},
      {"Hello\nworld", "Hello \nworld"},
      {"Hello\nworld", nul_end},
      {"\n\n\n", ""},
      {"\n\n\n", " \r\n\t"},
      {"Hello", "Hello\n"},
  };
  for (const auto &[normal, other] : same) EXPECT_EQ(key(normal), key(other)) << other;
  const std::pair<std::string, std::string> differ[] = {
      {"Hello\nworld", "Hello\n\nworld"},   // blank lines inside are kept
      {"Hello\nworld", "Helloworld"},
      {" Hello\nworld", "Hello\nworld"},     // leading blanks of a line are content
      {"Hello\nworld", "Hello\r\n\r\nworld"},
  };
  for (const auto &[a, b] : differ) EXPECT_NE(key(a), key(b)) << a << " | " << b;
}

TEST(ContentHash, SeesRealDifferences) {
  model::Message a = sample();
  model::Message b = sample();
  b.subject = "Quarterly numbers (2)";
  EXPECT_NE(content_hash(a), content_hash(b));
  b = sample();
  b.attachments[0].data = b.attachments[0].data.str() + "x";
  EXPECT_NE(content_hash(a), content_hash(b));
  b = sample();
  b.submit_time = 1700000001;
  EXPECT_NE(content_hash(a), content_hash(b));
  b = sample();
  b.recipients[1].type = model::RecipientType::Bcc;
  EXPECT_NE(content_hash(a), content_hash(b));
}

TEST(KeyIndex, FirstInsertWinsAndFullKeysAreCompared) {
  KeyIndex idx;
  // Keys that agree on their first 8 bytes (the bucket hash) but differ later must stay apart;
  // in the MM_WEAK_HASH build all of these also share buckets.
  std::vector<Digest> keys;
  for (int i = 0; i < 3000; ++i) {
    Digest d{};
    d[31] = static_cast<u8>(i);
    d[30] = static_cast<u8>(i >> 8);
    keys.push_back(d);
  }
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(idx.find_or_insert(keys[i], i), std::nullopt);
  EXPECT_EQ(idx.size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(idx.find_or_insert(keys[i], 999999), i);
    EXPECT_EQ(idx.find(keys[i]), i);
  }
  Digest absent{};
  absent[0] = 1;
  EXPECT_EQ(idx.find(absent), std::nullopt);
}

TEST(KeyIndex, MemoryPerKeyStaysUnder64Bytes) {
#ifdef MM_WEAK_HASH
  GTEST_SKIP() << "quadratic by design in the collision build";
#endif
  KeyIndex idx;
  const std::size_t n = 200000;
  for (std::size_t i = 0; i < n; ++i) idx.find_or_insert(sha256(std::to_string(i)), i);
  EXPECT_EQ(idx.size(), n);
  EXPECT_LE(static_cast<double>(idx.memory_bytes()) / n, 64.0);
}

}  // namespace
}  // namespace mm::dedup
