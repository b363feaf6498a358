// Folder mapping and the wire form, against names worked out by hand from RFC 3501 and RFC 6154.
#include <gtest/gtest.h>

#include "mailmill/upload/upload.h"

namespace mm::upload {
namespace {

ServerFolders dovecot() {
  ServerFolders s;
  s.delimiter = '/';
  s.special = {{"\\Sent", "Sent"}, {"\\Trash", "Trash"}, {"\\Drafts", "Drafts"}, {"\\Junk", "Junk"}};
  return s;
}

ServerFolders courier() {  // personal namespace "INBOX." with '.' as delimiter
  ServerFolders s;
  s.prefix = "INBOX.";
  s.delimiter = '.';
  return s;
}

TEST(MapFolder, OutlookRootInboxAndSpecialUse) {
  ServerFolders s = dovecot();
  EXPECT_EQ(map_folder("", {}, true, s), "INBOX");
  EXPECT_EQ(map_folder("Top of Personal Folders", {}, true, s), "INBOX");
  EXPECT_EQ(map_folder("Top of Personal Folders/Inbox", {}, true, s), "INBOX");
  EXPECT_EQ(map_folder("Top of Personal Folders/inbox/Receipts", {}, true, s), "INBOX/Receipts");
  EXPECT_EQ(map_folder("Top of Personal Folders/Sent Items", {}, true, s), "Sent");
  EXPECT_EQ(map_folder("Top of Information Store/Deleted Items/Old", {}, true, s), "Trash/Old");
  EXPECT_EQ(map_folder("Top of Personal Folders/Junk E-mail", {}, true, s), "Junk");
  // No \Archive folder on this server: the name stays.
  EXPECT_EQ(map_folder("Top of Personal Folders/Archive", {}, true, s), "Archive");
  EXPECT_EQ(map_folder("Top of Personal Folders/Projects/2019", {}, true, s), "Projects/2019");
}

TEST(MapFolder, WithoutDefaultsNamesStayAsTheyAre) {
  ServerFolders s = dovecot();
  EXPECT_EQ(map_folder("Top of Personal Folders/Sent Items", {}, false, s),
            "Top of Personal Folders/Sent Items");
  EXPECT_EQ(map_folder("", {}, false, s), "INBOX");
}

TEST(MapFolder, ModifiedUtf7AndDelimitersInNames) {
  ServerFolders s = dovecot();
  // U+00FC is UTF-16BE 00 FC, base64 "APw"; "&" is "&-" (RFC 3501 5.1.3).
  EXPECT_EQ(map_folder("Entwürfe", {}, true, s), "Entw&APw-rfe");
  EXPECT_EQ(map_folder("Projekt & Co", {}, true, s), "Projekt &- Co");
  // RFC 3501's own example names: 台北 -> &U,BTFw-, 日本語 -> &ZeVnLIqe-.
  EXPECT_EQ(map_folder("台北/日本語", {}, true, s), "&U,BTFw-/&ZeVnLIqe-");
  ServerFolders c = courier();
  EXPECT_EQ(map_folder("Top of Personal Folders/Projects/v1.2", {}, true, c), "INBOX.Projects.v1_2");
  EXPECT_EQ(map_folder("Top of Personal Folders/Inbox/x.y", {}, true, c), "INBOX.x_y");
}

TEST(MapFolder, RulesLongestFirstSpecialUseAndGmail) {
  ServerFolders s = dovecot();
  s.special["\\Archive"] = "Archive";
  std::vector<FolderRule> rules = {*parse_folder_rule("Archive=Old"),
                                   *parse_folder_rule("Archive/2019=\\Archive"),
                                   *parse_folder_rule("Sent Items=[Gmail]/Sent Mail")};
  EXPECT_EQ(map_folder("Top of Personal Folders/Archive/2019/Q1", rules, true, s), "Archive/Q1");
  EXPECT_EQ(map_folder("Top of Personal Folders/archive/2020", rules, true, s), "Old/2020");
  EXPECT_EQ(map_folder("Top of Personal Folders/Sent Items", rules, true, s), "[Gmail]/Sent Mail");
  // A special use the server does not have: its plain name.
  std::vector<FolderRule> all = {*parse_folder_rule("Misc=\\All")};
  EXPECT_EQ(map_folder("Misc/a", all, true, s), "All/a");
  EXPECT_FALSE(parse_folder_rule("=x"));
  EXPECT_FALSE(parse_folder_rule("x="));
  EXPECT_FALSE(parse_folder_rule("nothing"));
}

TEST(WireForm, EveryLineEndBecomesCrlfAndNothingElseChanges) {
  EXPECT_EQ(wire_form("a\nb\r\nc"), "a\r\nb\r\nc");
  EXPECT_EQ(wire_form("\n\n"), "\r\n\r\n");
  EXPECT_EQ(wire_form("x\r"), "x\r\n");
  EXPECT_EQ(wire_form("a\rb\r\r\nc"), "a\r\nb\r\n\r\nc");
  EXPECT_EQ(wire_form(std::string("a\0b\n", 4)), std::string("a\0b\r\n", 5));
  EXPECT_EQ(wire_form(""), "");
}

}  // namespace
}  // namespace mm::upload
