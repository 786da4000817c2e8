#include "adapters/hospital/mllp.h"

#include <gtest/gtest.h>

namespace relais::hospital {
namespace {

std::vector<base::Result<std::string>> FeedAll(MllpDecoder& d,
                                               const std::vector<std::string>& parts) {
  std::vector<base::Result<std::string>> out;
  for (const auto& p : parts) d.Feed(p, out);
  return out;
}

TEST(Mllp, FrameWrapsTheMessage) {
  EXPECT_EQ(MllpFrame("MSH|x"), std::string("\x0bMSH|x\x1c\x0d"));
}

TEST(Mllp, DecodesFramesSplitAnywhereAndSeveralPerRead) {
  std::string stream = MllpFrame("one") + MllpFrame("two") + MllpFrame("three");
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    MllpDecoder d;
    auto out = FeedAll(d, {stream.substr(0, cut), stream.substr(cut)});
    ASSERT_EQ(out.size(), 3u) << cut;
    EXPECT_EQ(*out[0], "one");
    EXPECT_EQ(*out[1], "two");
    EXPECT_EQ(*out[2], "three");
    EXPECT_FALSE(d.InFrame());
  }
  MllpDecoder bytewise;
  std::vector<base::Result<std::string>> out;
  for (char c : stream) bytewise.Feed(std::string_view(&c, 1), out);
  EXPECT_EQ(out.size(), 3u);
}

TEST(Mllp, SkipsBytesBetweenFramesAndAcceptsAMissingTrailer) {
  MllpDecoder d;
  auto out = FeedAll(d, {"junk\r\n\x0b"
                         "a\x1c"
                         "\x0b"
                         "b\x1c\r\n\n"});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(*out[0], "a");
  EXPECT_EQ(*out[1], "b");
  EXPECT_EQ(d.skipped_bytes(), 9u);
}

TEST(Mllp, ReportsAnInterruptedFrameAndKeepsTheNextOne) {
  MllpDecoder d;
  auto out = FeedAll(d, {"\x0bhalf a mess", "\x0bwhole\x1c\r"});
  ASSERT_EQ(out.size(), 2u);
  ASSERT_FALSE(out[0]);
  EXPECT_EQ(out[0].error().code, "mllp_truncated");
  EXPECT_EQ(*out[1], "whole");
}

TEST(Mllp, ReportsAnOversizedFrameOnceAndResynchronises) {
  MllpDecoder d(10);
  auto out =
      FeedAll(d, {"\x0b" + std::string(8, 'x'), std::string(30, 'y'), "\x1c\r", MllpFrame("ok")});
  ASSERT_EQ(out.size(), 2u);
  ASSERT_FALSE(out[0]);
  EXPECT_EQ(out[0].error().code, "mllp_too_large");
  EXPECT_EQ(*out[1], "ok");
}

TEST(Mllp, AnEmptyFrameIsAFrame) {
  MllpDecoder d;
  auto out = FeedAll(d, {"\x0b\x1c\r"});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(*out[0], "");
}

}  // namespace
}  // namespace relais::hospital
