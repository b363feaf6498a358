#include "mailmill/sink/paths.h"

#include <gtest/gtest.h>

namespace mm::sink {
namespace {

TEST(SanitizeComponent, NeutralizesTraversalAndSeparators) {
  EXPECT_EQ(sanitize_component(".."), "_");
  EXPECT_EQ(sanitize_component("."), "_");
  EXPECT_EQ(sanitize_component("../x"), ".._x");
  EXPECT_EQ(sanitize_component("a/b"), "a_b");
  EXPECT_EQ(sanitize_component("a\\b"), "a_b");
  EXPECT_EQ(sanitize_component("/etc/passwd"), "_etc_passwd");
}

TEST(SanitizeComponent, ReplacesControlAndReservedCharacters) {
  EXPECT_EQ(sanitize_component(std::string("a\0b", 3)), "a_b");
  EXPECT_EQ(sanitize_component("tab\there\nnl"), "tab_here_nl");
  EXPECT_EQ(sanitize_component("what? <yes>: \"no\" | *"), "what_ _yes__ _no_ _ _");
}

TEST(SanitizeComponent, WindowsDeviceNamesAndTrailingDots) {
  EXPECT_EQ(sanitize_component("CON"), "_CON");
  EXPECT_EQ(sanitize_component("con.txt"), "_con.txt");
  EXPECT_EQ(sanitize_component("LPT1"), "_LPT1");
  EXPECT_EQ(sanitize_component("COM9.log"), "_COM9.log");
  EXPECT_EQ(sanitize_component("CONSOLE"), "CONSOLE");
  EXPECT_EQ(sanitize_component("name. . "), "name");
  EXPECT_EQ(sanitize_component("   "), "_");
  EXPECT_EQ(sanitize_component(""), "_");
}

TEST(SanitizeComponent, TruncatesOnCharacterBoundary) {
  std::string long_name;
  for (int i = 0; i < 200; ++i) long_name += "\xC3\xA9";  // é, 2 bytes each
  std::string s = sanitize_component(long_name, 101);
  EXPECT_EQ(s.size(), 100u);
  EXPECT_EQ(s.substr(0, 2), "\xC3\xA9");
  EXPECT_EQ(sanitize_component(std::string(10000, 'x')).size(), MAX_COMPONENT_BYTES);
}

TEST(SanitizeComponent, KeepsUnicodeAndReplacesInvalidUtf8) {
  EXPECT_EQ(sanitize_component("Входящие 📥"), "Входящие 📥");
  EXPECT_EQ(sanitize_component("bad\xFFutf8"), "bad\xEF\xBF\xBDutf8");
}

TEST(UniqueNamer, CollisionsGetNumberedCaseInsensitively) {
  UniqueNamer n;
  EXPECT_EQ(n.claim("Inbox", ".mbox"), "Inbox.mbox");
  EXPECT_EQ(n.claim("inbox", ".mbox"), "inbox (2).mbox");
  EXPECT_EQ(n.claim("INBOX", ".mbox"), "INBOX (3).mbox");
  EXPECT_EQ(n.claim("Inbox"), "Inbox");
  n.reserve("taken");
  EXPECT_EQ(n.claim("Taken"), "Taken (2)");
}

TEST(FolderMap, SanitizesAndDeduplicatesSiblings) {
  FolderMap m;
  EXPECT_EQ(m.dir_for({"Top", "a/b"}), "Top/a_b");
  EXPECT_EQ(m.dir_for({"Top", "a_b"}), "Top/a_b (2)");
  EXPECT_EQ(m.dir_for({"Top", "a/b"}), "Top/a_b");  // stable on repeat
  EXPECT_EQ(m.dir_for({"Top", ".."}), "Top/_");
  EXPECT_EQ(m.dir_for({"Top", "."}), "Top/_ (2)");
  EXPECT_EQ(m.dir_for({}), "");
}

}  // namespace
}  // namespace mm::sink
