#include "mailmill/util/json_escape.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "mailmill/util/text.h"

namespace mm::text {
namespace {

// The three escapers this one replaced, copied verbatim (apart from their names) from
// src/pipeline/json.h (JsonWriter::str), src/sink/batch.cc and src/gen/generate.cc before
// they were removed. They are the oracles for "the output bytes did not change".
std::string old_json_writer(std::string_view raw) {
  std::string out_;
  std::string fixed;
  std::string_view s = raw;
  if (!text::is_valid_utf8(raw)) {
    fixed = text::sanitize_utf8(raw);
    s = fixed;
  }
  out_ += '"';
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out_.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\r':
        out_ += "\\r";
        break;
      case '\t':
        out_ += "\\t";
        break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out_ += buf;
      }
    }
  }
  out_.append(s.data() + run, s.size() - run);
  out_ += '"';
  return out_;
}

std::string old_batch(std::string_view raw) {
  std::string s = text::sanitize_utf8(raw), out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// The generator's did not sanitize; it only ever saw valid UTF-8 (its strings are built from
// literals), and on valid UTF-8 it is the batch escaper.
std::string old_generator(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

TEST(JsonString, KnownForms) {
  EXPECT_EQ(json_string(""), "\"\"");
  EXPECT_EQ(json_string("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
  EXPECT_EQ(json_string("l1\nl2\r\t\x01\x1f\x7f"), "\"l1\\nl2\\r\\t\\u0001\\u001f\x7f\"");
  EXPECT_EQ(json_string("l1\nl2\r\t\x01\x1f\x7f", JsonControls::Unicode),
            "\"l1\\u000al2\\u000d\\u0009\\u0001\\u001f\x7f\"");
  EXPECT_EQ(json_string(std::string_view("a\0b", 3)), "\"a\\u0000b\"");
  EXPECT_EQ(json_string("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  // Invalid UTF-8 (a lone continuation byte, a truncated sequence) becomes U+FFFD.
  EXPECT_EQ(json_string("a\x80z\xE2\x82"), "\"a\xEF\xBF\xBDz\xEF\xBF\xBD\"");
  std::string out = "x";
  append_json_string(out, "y");
  EXPECT_EQ(out, "x\"y\"");
}

// Random strings weighted towards the bytes that matter: controls, quotes, backslashes, valid
// multi-byte sequences and invalid bytes.
std::string random_string(std::mt19937 &rng) {
  static const char *const PIECES[] = {"\"",
                                       "\\",
                                       "\n",
                                       "\r",
                                       "\t",
                                       "\x01",
                                       "\x1f",
                                       "\x7f",
                                       "a",
                                       "Z",
                                       " ",
                                       "/",
                                       "\xC3\xA9",
                                       "\xE2\x82\xAC",
                                       "\xF0\x9F\x98\x80",
                                       "\x80",
                                       "\xC3",
                                       "\xED\xA0\x80",
                                       "\xFF",
                                       "\xF4\x90\x80\x80"};
  std::string s;
  const std::size_t n = rng() % 40;
  for (std::size_t i = 0; i < n; ++i) {
    if (rng() % 4 == 0) {
      s += static_cast<char>(rng() & 0xFF);
    } else {
      s += PIECES[rng() % std::size(PIECES)];
    }
  }
  if (rng() % 8 == 0) s.push_back('\0');
  return s;
}

TEST(JsonString, SameBytesAsTheEscapersItReplaced) {
  std::mt19937 rng(11);
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string s = random_string(rng);
    ASSERT_EQ(json_string(s, JsonControls::Short), old_json_writer(s)) << i;
    ASSERT_EQ(json_string(s, JsonControls::Unicode), old_batch(s)) << i;
    if (is_valid_utf8(s)) {
      ++valid;
      ASSERT_EQ(json_string(s, JsonControls::Unicode), old_generator(s)) << i;
    }
  }
  // Both kinds of input were drawn often enough to mean something.
  EXPECT_GT(valid, 1000);
  EXPECT_LT(valid, 18000);
}

}  // namespace
}  // namespace mm::text
