// Round trip through the Internet-message form: for every item of every PST/OST in the corpus
// (and of a generated PST), mapi::to_model, mime::build_message (CRLF for EML, LF for mbox),
// mime::parse_message, and the content key (dedup::content_hash) of both sides must agree, so
// that a PST and an mbox of the same mailbox dedup against each other.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "mailmill/dedup/keys.h"
#include "mailmill/gen/generate.h"
#include "mailmill/mapi/to_model.h"
#include "mailmill/mime/build.h"
#include "mailmill/mime/parse.h"
#include "mailmill/source/open.h"
#include "test_support.h"

namespace mm {
namespace {

bool is_mail(const model::Message &m) {
  return m.kind == model::ItemKind::Message || m.kind == model::ItemKind::Other;
}

struct Tally {
  i64 items = 0;     // items read and converted
  i64 mail = 0;      // of which mail items
  i64 compared = 0;  // mail items x {CRLF, LF}
  i64 matched = 0;
  i64 non_mail_matched = 0, non_mail_compared = 0;
  std::vector<std::string> failures;
  std::vector<std::pair<std::string, dedup::Digest>> keys;  // message_id, key of the parsed EML
  i64 stores = 0, stores_failed = 0;
  i64 second_compared = 0, second_matched = 0;
  i64 read_failed = 0;
};

// What differs, for the failure message: the key's inputs side by side.
std::string describe(const model::Message &a, const model::Message &b) {
  std::ostringstream o;
  auto addr = [](const model::Address &x) { return x.name + " <" + x.smtp + "> " + x.x500; };
  if (a.subject != b.subject) o << " subject[" << a.subject << "|" << b.subject << "]";
  o << " from[" << addr(a.from.empty() ? a.sender : a.from) << "|"
    << addr(b.from.empty() ? b.sender : b.from) << "]";
  o << " rcpts[" << a.recipients.size() << "|" << b.recipients.size() << "]";
  auto d1 = mime::message_date(a), d2 = mime::message_date(b);
  if (d1 != d2) o << " date[" << d1.value_or(-1) << "|" << d2.value_or(-1) << "]";
  o << " text[" << a.body_text.has_value() << a.body_html.has_value() << a.body_rtf.has_value()
    << "|" << b.body_text.has_value() << b.body_html.has_value() << "]";
  o << " atts[" << a.attachments.size() << "|" << b.attachments.size() << "]";
  o << " kind[" << model::item_kind_name(a.kind) << "]";
  return o.str();
}

void compare_item(const model::Message &m, const std::string &label, Tally &t) {
  for (bool crlf : {true, false}) {
    mime::BuildOptions bo;
    bo.crlf = crlf;
    bo.flags = crlf ? mime::FlagStyle::Eml : mime::FlagStyle::Mbox;
    Result<mime::Built> built = mime::build_message(m, bo);
    if (!built.ok()) {
      if (is_mail(m)) t.failures.push_back(label + ": build failed: " + built.problem().detail);
      continue;
    }
    Result<model::Message> back = mime::parse_message(Blob(Bytes(built->bytes)));
    if (const char *dump = std::getenv("MM_PARSE_DUMP"); dump && label.ends_with(dump)) {
      std::FILE *f =
          std::fopen(("/tmp/mm_dump_" + std::string(crlf ? "crlf" : "lf")).c_str(), "wb");
      std::fwrite(built->bytes.data(), 1, built->bytes.size(), f);
      std::fclose(f);
    }
    bool same = back.ok() && dedup::content_hash(*back) == dedup::content_hash(m);
    // Second generation: the parsed message built and parsed again keys the same (the parser's
    // model is one the builder writes faithfully).
    if (is_mail(m) && back.ok()) {
      Result<mime::Built> again = mime::build_message(*back, bo);
      Result<model::Message> back2 = again.ok() ? mime::parse_message(Blob(Bytes(again->bytes)))
                                                : Result<model::Message>(again.problem());
      ++t.second_compared;
      if (back2.ok() && dedup::content_hash(*back2) == dedup::content_hash(*back))
        ++t.second_matched;
      else
        t.failures.push_back(label + " second generation" +
                             (back2.ok() ? describe(*back, *back2) : ""));
    }
    if (is_mail(m) && crlf && back.ok())
      t.keys.emplace_back(m.message_id, dedup::content_hash(*back));
    if (is_mail(m)) {
      ++t.compared;
      if (same)
        ++t.matched;
      else
        t.failures.push_back(label + (crlf ? " CRLF:" : " LF:") +
                             (back.ok() ? describe(m, *back) : " parse: " + back.problem().detail));
    } else {
      ++t.non_mail_compared;
      if (same) ++t.non_mail_matched;
    }
  }
}

void walk_store(const std::string &path, Tally &t) {
  auto store = source::open_store(path, source::Reader::Auto);
  if (!store.ok()) {
    std::printf("[roundtrip] %s: not opened (%s)\n", path.c_str(), store.problem().detail.c_str());
    ++t.stores_failed;
    return;
  }
  ++t.stores;
  mapi::MailStore &s = **store;
  mapi::ConvertContext ctx{s.info().default_codepage, &s.names()};
  auto folders = s.folders();
  if (!folders.ok()) return;
  for (const mapi::FolderInfo &f : *folders) {
    auto ids = s.items_in(f.node_id);
    if (!ids.ok()) continue;
    for (u64 id : *ids) {
      auto raw = s.read_item(id);
      if (!raw.ok()) {
        ++t.read_failed;
        continue;
      }
      auto m = mapi::to_model(*raw, ctx);
      if (!m.ok()) {
        ++t.read_failed;
        continue;
      }
      ++t.items;
      if (is_mail(*m)) ++t.mail;
      compare_item(*m, std::filesystem::path(path).filename().string() + "#" + std::to_string(id),
                   t);
    }
  }
}

void report(const Tally &t, const char *what) {
  std::printf("[roundtrip] %s: %lld stores (%lld not opened), %lld items unreadable\n", what,
              static_cast<long long>(t.stores), static_cast<long long>(t.stores_failed),
              static_cast<long long>(t.read_failed));
  std::printf(
      "[roundtrip] %s: %lld items, %lld mail; mail builds matching %lld/%lld; "
      "non-mail matching %lld/%lld\n",
      what, static_cast<long long>(t.items), static_cast<long long>(t.mail),
      static_cast<long long>(t.matched), static_cast<long long>(t.compared),
      static_cast<long long>(t.non_mail_matched), static_cast<long long>(t.non_mail_compared));
  std::printf("[roundtrip] %s: second generation (parse, build, parse) matching %lld/%lld\n", what,
              static_cast<long long>(t.second_matched), static_cast<long long>(t.second_compared));
  for (std::size_t i = 0; i < t.failures.size() && i < 40; ++i)
    std::printf("  mismatch %s\n", t.failures[i].c_str());
}

TEST(ParseRoundTrip, CorpusPstItemsKeepTheirContentKey) {
  MM_REQUIRE_CORPUS();
  const std::string dir = testing::corpus_path("pst");
  Tally t;
  std::vector<std::string> files;
  for (const auto &e : std::filesystem::directory_iterator(dir)) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const std::string &f : files) walk_store(f, t);
  report(t, "corpus");
  EXPECT_GT(t.mail, 100);
  EXPECT_EQ(t.matched, t.compared);
  EXPECT_EQ(t.second_matched, t.second_compared);
  EXPECT_TRUE(t.failures.empty());
}

TEST(ParseRoundTrip, GeneratedPstItemsKeepTheirContentKey) {
  const std::string dir = testing::make_tmp_dir("mm_parse_rt");
  gen::GenOptions o;
  o.seed = 7;
  o.messages = 300;
  o.html_ratio = 0.4;
  o.rtf_only_ratio = 0.15;
  o.non_ascii_ratio = 0.4;
  o.embedded_ratio = 0.1;
  o.attachment_ratio = 0.4;
  o.attachment_max = 20000;
  o.near_duplicate_ratio = 0.05;
  o.duplicate_ratio = 0.05;
  auto st = gen::generate(o, dir + "/g.pst", dir + "/g.jsonl");
  ASSERT_TRUE(st.ok()) << st.problem().detail;
  Tally t;
  walk_store(dir + "/g.pst", t);
  report(t, "generated");
  EXPECT_EQ(t.items, 300);
  EXPECT_EQ(t.mail, 300);
  EXPECT_EQ(t.matched, t.compared);
  EXPECT_EQ(t.compared, 600);

  // The generator's ground truth: exact copies and near-duplicates (another Received line) of
  // an original carry its Message-ID; read back from EML, every copy must key as its original
  // and different originals differently.
  std::ifstream jl(dir + "/g.jsonl");
  i64 originals = 0, copies = 0;
  for (std::string line; std::getline(jl, line);) {
    bool dup = line.find("\"duplicate_of\":null") == std::string::npos;
    bool near = line.find("\"near_duplicate_of\":null") == std::string::npos;
    (dup || near) ? ++copies : ++originals;
  }
  EXPECT_GT(copies, 5);
  std::map<std::string, std::set<dedup::Digest>> by_id;
  std::set<dedup::Digest> distinct;
  for (const auto &[id, key] : t.keys) {
    by_id[id].insert(key);
    distinct.insert(key);
  }
  for (const auto &[id, keys] : by_id)
    EXPECT_EQ(keys.size(), 1u) << "copies of " << id << " key differently";
  EXPECT_EQ(static_cast<i64>(by_id.size()), originals);
  EXPECT_EQ(static_cast<i64>(distinct.size()), originals);

  // The key still sees content: the same parsed item with one more body line or one changed
  // attachment byte keys differently.
  i64 checked = 0;
  auto store = source::open_store(dir + "/g.pst", source::Reader::Auto);
  ASSERT_TRUE(store.ok());
  mapi::ConvertContext ctx{(*store)->info().default_codepage, &(*store)->names()};
  auto folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  for (const mapi::FolderInfo &f : *folders) {
    auto items = (*store)->items_in(f.node_id);
    if (!items.ok()) continue;
    for (u64 item : *items) {
      auto raw = (*store)->read_item(item);
      ASSERT_TRUE(raw.ok());
      auto m = mapi::to_model(*raw, ctx);
      ASSERT_TRUE(m.ok());
      auto built = mime::build_message(*m, {});
      ASSERT_TRUE(built.ok());
      Result<model::Message> a = mime::parse_message(Blob(Bytes(built->bytes)));
      ASSERT_TRUE(a.ok());
      const dedup::Digest k = dedup::content_hash(*a);
      if (a->body_text) {
        *a->body_text += "\nP.S.";
        EXPECT_NE(dedup::content_hash(*a), k);
        ++checked;
      }
      for (model::Attachment &att : a->attachments) {
        if (att.kind != model::AttachmentKind::ByValue || att.data.empty()) continue;
        Bytes changed = att.data.str();
        changed[0] = static_cast<char>(changed[0] ^ 1);
        att.data = Blob(std::move(changed));
        EXPECT_NE(dedup::content_hash(*a), k);
        ++checked;
        break;
      }
    }
  }
  EXPECT_GT(checked, 300);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mm
