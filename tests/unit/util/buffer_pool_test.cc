#include "mailmill/util/buffer_pool.h"

#include <gtest/gtest.h>

#include <cstring>

namespace mm::util {
namespace {

TEST(BufferPool, ReusesTheSmallestFittingBufferWithinItsLimit) {
  BufferPool pool(3u << 20);
  Bytes a = pool.take(1u << 20), b = pool.take(2u << 20);
  a.assign(1000, 'x');
  const char *pa = a.data(), *pb = b.data();
  pool.give(std::move(a));
  pool.give(std::move(b));
  EXPECT_GE(pool.kept_bytes(), (1u << 20) + (2u << 20));
  Bytes c = pool.take(900u << 10);  // fits both: gets the smaller, empty
  EXPECT_EQ(c.data(), pa);
  EXPECT_TRUE(c.empty());
  Bytes d = pool.take(1500u << 10);
  EXPECT_EQ(d.data(), pb);
  EXPECT_EQ(pool.kept_bytes(), 0u);
  // Over the limit: not kept. Small buffers: never kept.
  Bytes big = pool.take(4u << 20);
  pool.give(std::move(big));
  Bytes small = pool.take(1000);
  pool.give(std::move(small));
  EXPECT_EQ(pool.kept_bytes(), 0u);
}

TEST(BufferPool, SharedBuffersComeBackWhenTheLastOwnerGoes) {
  BufferPool &pool = BufferPool::instance();
  pool.reset(64u << 20);
  const char *p = nullptr;
  {
    std::shared_ptr<Bytes> s = BufferPool::shared(1u << 20);
    s->assign(10, 'y');
    p = s->data();
    std::shared_ptr<const void> keep = s;
    s.reset();
    EXPECT_EQ(pool.kept_bytes(), 0u);  // still owned through `keep`
  }
  EXPECT_GE(pool.kept_bytes(), 1u << 20);
  Bytes again = pool.take(1u << 20);
  EXPECT_EQ(again.data(), p);
  EXPECT_TRUE(again.empty());
}

TEST(BufferPool, TakeSizedReusesABufferWithoutClearingIt) {
  BufferPool pool(8u << 20);
  Bytes a = pool.take_sized(1u << 20);
  ASSERT_EQ(a.size(), 1u << 20);
  EXPECT_EQ(a[0], '\0');  // never-used bytes are zeroed
  std::memset(a.data(), 'q', a.size());
  const char *pa = a.data();
  pool.give(std::move(a));
  Bytes b = pool.take_sized(700u << 10);  // the same buffer, cut to size, old bytes left
  EXPECT_EQ(b.data(), pa);
  ASSERT_EQ(b.size(), 700u << 10);
  EXPECT_EQ(b[0], 'q');
  EXPECT_EQ(b.back(), 'q');
  pool.give(std::move(b));
  Bytes c = pool.take_sized(2u << 20);  // larger than any kept buffer: grown, all zero-filled
  ASSERT_EQ(c.size(), 2u << 20);
  EXPECT_EQ(c[0], '\0');
  EXPECT_EQ(c.back(), '\0');
}

}  // namespace
}  // namespace mm::util
