#include "mailmill/mime/mbox.h"

#include <gtest/gtest.h>

namespace mm::mime {
namespace {

TEST(Mboxrd, EscapesFromLinesInBody) {
  Bytes out;
  append_mboxrd(out,
                "Subject: a\r\n\r\nFrom x\r\n>From y\r\n>>From z\r\nFromage\r\n From w\r\n",
                "a@b.example", 1627424390);
  EXPECT_EQ(out,
            "From a@b.example Tue Jul 27 22:19:50 2021\n"
            "Subject: a\n\n>From x\n>>From y\n>>>From z\nFromage\n From w\n\n");
}

TEST(Mboxrd, FromAtMessageStartAndNoTrailingNewline) {
  Bytes out;
  append_mboxrd(out, "From nobody\nX: y\n\nbody", "", 0);
  EXPECT_EQ(out, "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n>From nobody\nX: y\n\nbody\n\n");
}

TEST(Mboxrd, EntriesSeparatedByOneBlankLine) {
  Bytes out;
  append_mboxrd(out, "A: 1\n\none\n", "x@y", 0);
  append_mboxrd(out, "A: 2\r\n\r\ntwo\r\n", "bad sender", 60);
  EXPECT_EQ(out,
            "From x@y Thu Jan  1 00:00:00 1970\nA: 1\n\none\n\n"
            "From MAILER-DAEMON Thu Jan  1 00:01:00 1970\nA: 2\n\ntwo\n\n");
}

TEST(Mboxrd, EmptyMessageAndBareCrKept) {
  Bytes out;
  append_mboxrd(out, "", "x@y", 0);
  EXPECT_EQ(out, "From x@y Thu Jan  1 00:00:00 1970\n\n");
  out.clear();
  append_mboxrd(out, "A: b\r\n\r\nx\ry\r\n", "x@y", 0);
  EXPECT_EQ(out, "From x@y Thu Jan  1 00:00:00 1970\nA: b\n\nx\ry\n\n");
}

}  // namespace
}  // namespace mm::mime
