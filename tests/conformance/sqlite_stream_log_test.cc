// What only the embedded engine promises beyond the shared contract: one process per file,
// the file's mode, and de-duplication without a window.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "broker/journal/sqlite_stream_log.h"
#include "tests/harness/harness.h"

namespace relais::journal {
namespace {

broker::LogMessage Msg(const std::string& id) {
  return {id, "relais.test.t75.referral", {}, base::ToBytes("sealed")};
}

TEST(SqliteStreamLog, OneOpenerPerFileAndOwnerOnlyMode) {
  testing::TempDir dir;
  const auto path = dir.path() / "stream.db";
  auto first = OpenSqliteStreamLog({path});
  ASSERT_TRUE(first) << first.error().ToString();
  auto second = OpenSqliteStreamLog({path});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, base::ErrorKind::kRetryLater);
  EXPECT_EQ(second.error().code, "stream_unavailable");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  first->reset();
  auto third = OpenSqliteStreamLog({path});
  EXPECT_TRUE(third) << third.error().ToString();
}

TEST(SqliteStreamLog, DeduplicatesForeverAndStampsWithItsClock) {
  testing::TempDir dir;
  base::ManualClock clock(1'000'000);
  auto log = OpenSqliteStreamLog({dir.path() / "stream.db", &clock});
  ASSERT_TRUE(log);
  ASSERT_TRUE((*log)->Append(Msg("ev-1")));
  clock.Advance(365 * base::kMsPerDay);
  auto again = (*log)->Append(Msg("ev-1"));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->seq, 1u);
  auto read = (*log)->Read(1, 1);
  ASSERT_TRUE(read);
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ(read->front().stored_at, 1'000'000);
}

// ack_wait runs on the injected clock: no redelivery until it moves.
TEST(SqliteStreamLog, AckWaitFollowsTheInjectedClock) {
  testing::TempDir dir;
  base::ManualClock clock(1'000'000);
  auto log = OpenSqliteStreamLog({dir.path() / "stream.db", &clock});
  ASSERT_TRUE(log);
  ASSERT_TRUE((*log)->Append(Msg("ev-1")));
  auto cursor = (*log)->OpenCursor({"siao", "", std::chrono::seconds(30), 5});
  ASSERT_TRUE(cursor);
  auto first = (*cursor)->Fetch(10, std::chrono::milliseconds(0));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 1u);
  auto none = (*cursor)->Fetch(10, std::chrono::milliseconds(0));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  clock.Advance(30'000);
  auto again = (*cursor)->Fetch(10, std::chrono::milliseconds(0));
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->front().delivery_count, 2u);
}

}  // namespace
}  // namespace relais::journal
