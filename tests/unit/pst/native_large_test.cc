// The native reader on data trees of every depth: attachments small enough for one block, big
// enough for an XBLOCK (> 8,176 bytes), and big enough for an XXBLOCK (> 1,021 x 8,176 bytes),
// written by our writer and read back byte for byte. Regression: XXBLOCK children were once
// rejected as "malformed", losing every attachment over 8.3 MB.
#include <gtest/gtest.h>

#include <filesystem>

#include "mailmill/format/pst/native_store.h"
#include "mailmill/format/pst/writer.h"
#include "mailmill/mapi/tags.h"
#include "test_support.h"

namespace mm::pst {
namespace {

Bytes pattern(u64 n, u32 seed) {
  Bytes b(n, '\0');
  u32 x = seed;
  for (u64 i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    b[i] = static_cast<char>(x >> 24);
  }
  return b;
}

TEST(NativeDataTrees, AttachmentsOfEveryTreeDepthReadBackExactly) {
  std::string dir = testing::make_tmp_dir("mm_native_large");
  std::string path = dir + "/large.pst";
  const std::vector<u64> sizes = {100, 8176, 8177, 3'000'000, 8'347'697, 8'347'697 + 1,
                                  12'000'000};
  {
    auto w = PstWriter::create(path, WriterOptions{});
    ASSERT_TRUE(w.ok()) << w.problem().detail;
    auto folder = (*w)->add_folder(0, "Big");
    ASSERT_TRUE(folder.ok());
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      model::Message m;
      m.subject = "size " + std::to_string(sizes[i]);
      m.body_text = "body";
      model::Attachment a;
      a.filename = "blob" + std::to_string(i) + ".bin";
      a.data = pattern(sizes[i], static_cast<u32>(i + 1));
      m.attachments.push_back(std::move(a));
      ASSERT_TRUE((*w)->add_message(*folder, m).ok());
    }
    ASSERT_TRUE((*w)->finish().ok());
  }
  auto store = open_native(path);
  ASSERT_TRUE(store.ok()) << store.problem().detail;
  auto folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  std::size_t found = 0;
  for (const auto &f : *folders) {
    if (f.path.empty() || f.path.back() != "Big") continue;
    auto items = (*store)->items_in(f.node_id);
    ASSERT_TRUE(items.ok());
    ASSERT_EQ(items->size(), sizes.size());
    for (std::size_t i = 0; i < items->size(); ++i) {
      auto raw = (*store)->read_item((*items)[i]);
      ASSERT_TRUE(raw.ok()) << raw.problem().detail;
      ASSERT_EQ(raw->attachments.size(), 1u);
      const auto &att = raw->attachments[0];
      EXPECT_FALSE(att.problem.has_value()) << att.problem->detail;
      auto subject = raw->props.get_string(mapi::pid::SUBJECT, 1252);
      ASSERT_TRUE(subject.has_value());
      u64 size = std::stoull(subject->substr(5));
      auto data = att.props.get_bytes(mapi::pid::ATTACH_DATA);
      ASSERT_TRUE(data.has_value()) << *subject;
      std::size_t idx = std::find(sizes.begin(), sizes.end(), size) - sizes.begin();
      EXPECT_EQ(*data, pattern(size, static_cast<u32>(idx + 1))) << *subject;
      ++found;
    }
  }
  EXPECT_EQ(found, sizes.size());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mm::pst
