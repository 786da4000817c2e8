#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/crash_point.h"
#include "base/log.h"
#include "base/status.h"

namespace relais::base {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return InvalidInput("not_positive", "value must be positive");
  return v;
}

Result<int> Doubled(int v) {
  RELAIS_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

TEST(ResultTest, CarriesValueOrError) {
  auto ok = Doubled(4);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 8);
  auto bad = Doubled(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(bad.error().code, "not_positive");
  EXPECT_EQ(bad.error().ToString(), "not_positive: value must be positive");
}

TEST(ResultDeathTest, ValueOnErrorAborts) {
  Result<int> r = InvalidInput("x", "y");
  EXPECT_DEATH((void)r.value(), "invariant broken");
}

TEST(BytesTest, HexRoundTrip) {
  Bytes b = {0x00, 0x7f, 0xff, 0x10};
  EXPECT_EQ(HexEncode(b), "007fff10");
  auto back = HexDecode("007FFF10");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, b);
  EXPECT_EQ(HexDecode("abc").error().code, "bad_hex");
  EXPECT_EQ(HexDecode("zz").error().code, "bad_hex");
}

TEST(BytesTest, BigEndianLayouts) {
  Bytes out;
  AppendU32(out, 0x01020304);
  AppendLengthPrefixed(out, AsBytes("ab"));
  EXPECT_EQ(HexEncode(out), "01020304000000026162");
}

TEST(TimeTest, ParsesIsoForms) {
  EXPECT_EQ(*ParseIsoTime("1970-01-01"), 0);
  EXPECT_EQ(*ParseIsoTime("2026-04-01T00:00:00Z"), 1775001600000);
  EXPECT_EQ(*ParseIsoTime("2026-04-01T02:00:00+02:00"), 1775001600000);
  EXPECT_EQ(*ParseIsoTime("2026-04-01T00:00:00.250Z"), 1775001600250);
  EXPECT_EQ(FormatIsoUtc(1775001600250), "2026-04-01T00:00:00.250Z");
}

TEST(TimeTest, RejectsMalformedDates) {
  for (const char* bad : {"2026-02-30", "2026-13-01", "26-01-01", "2026-01-01T25:00",
                          "2026-01-01Txx", "2026-01-01T10:00Zjunk", ""}) {
    auto r = ParseIsoTime(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "bad_date") << bad;
  }
}

TEST(ClockTest, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(1000);
  EXPECT_EQ(clock.NowMs(), 1000);
  clock.Advance(kMsPerHour);
  EXPECT_EQ(clock.NowMs(), 1000 + kMsPerHour);
}

TEST(CrashPointTest, ArmsOnlyKnownPointsWithAPositiveCount) {
  EXPECT_TRUE(ArmCrashPoint("in_commit").has_value());
  EXPECT_TRUE(ArmCrashPoint("during_delivery:7").has_value());
  for (const char* bad :
       {"in_comit", "in_commit:0", "in_commit:-1", "in_commit:x", "in_commit:3x", ":2"}) {
    auto st = ArmCrashPoint(bad);
    ASSERT_FALSE(st.has_value()) << bad;
    EXPECT_EQ(st.error().code, "bad_crash_point");
  }
  EXPECT_TRUE(ArmCrashPoint("").has_value());
  ReachCrashPoint("in_commit");  // disarmed: nothing happens
}

TEST(CrashPointDeathTest, AbortsOnTheArmedPassageWithAMarker) {
  EXPECT_DEATH(
      {
        (void)ArmCrashPoint("after_verify:3");
        ReachCrashPoint("after_receive");
        ReachCrashPoint("after_verify");
        ReachCrashPoint("after_verify");
        ReachCrashPoint("after_verify");
      },
      "crash point after_verify reached");
  (void)ArmCrashPoint("after_verify:2");
  ReachCrashPoint("after_verify");  // the first passage of two: survives
  (void)ArmCrashPoint("");
}

// Lines logged during a LogBatch reach stderr when it ends, together and in order; without a
// batch each line is written at once.
TEST(LogTest, ABatchWritesItsLinesWhenItEnds) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_GE(dup2(fileno(file), STDERR_FILENO), 0);
  auto written = [&] {
    std::fflush(stderr);
    std::string text;
    std::rewind(file);
    for (int c = std::fgetc(file); c != EOF; c = std::fgetc(file))
      text.push_back(static_cast<char>(c));
    return text;
  };
  LogInfo("alone", {{"n", 1}});
  const std::string before = written();
  std::string during;
  {
    LogBatch batch;
    LogInfo("first", {{"n", 2}});
    {
      LogBatch inner;  // does not take over: the outer batch still holds the lines
      LogInfo("second", {{"n", 3}});
    }
    during = written();
  }
  const std::string after = written();
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::fclose(file);
  EXPECT_NE(before.find(" info alone n=1\n"), std::string::npos);
  EXPECT_EQ(during, before);
  ASSERT_GT(after.size(), before.size());
  const std::string batch_lines = after.substr(before.size());
  const size_t first = batch_lines.find(" info first n=2\n");
  const size_t second = batch_lines.find(" info second n=3\n");
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  EXPECT_LT(first, second);
}

}  // namespace
}  // namespace relais::base
