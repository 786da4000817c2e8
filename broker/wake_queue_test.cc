#include "broker/wake_queue.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <thread>
#include <vector>

namespace relais::broker {
namespace {

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

TEST(WakeQueueTest, APushFromAnotherThreadWakesThePollerAndItemsComeInOrder) {
  WakeQueue<int> q;
  EXPECT_FALSE(Readable(q.Fd()));
  std::thread producer([&q] {
    for (int i = 0; i < 500; ++i) q.Push(i);
  });
  std::vector<int> got, batch;
  while (got.size() < 500) {
    pollfd p{q.Fd(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1) << "no wake-up after " << got.size() << " items";
    q.DrainInto(batch);
    got.insert(got.end(), batch.begin(), batch.end());
  }
  producer.join();
  for (int i = 0; i < 500; ++i) ASSERT_EQ(got[i], i);
  // A push racing a drain may leave one spurious wake-up; the drain after it clears it.
  q.DrainInto(batch);
  EXPECT_TRUE(batch.empty());
  EXPECT_FALSE(Readable(q.Fd()));
  q.Push(7);
  EXPECT_TRUE(Readable(q.Fd()));
  EXPECT_EQ(q.Drain(), std::vector<int>{7});
}

TEST(WakeQueueTest, TheDrainedBufferComesBackForLaterPushes) {
  WakeQueue<int> q;
  std::vector<int> out;
  for (int i = 0; i < 3; ++i) q.Push(i);
  q.DrainInto(out);
  ASSERT_EQ(out, (std::vector<int>{0, 1, 2}));
  const int* first = out.data();
  for (int i = 3; i < 6; ++i) q.Push(i);
  q.DrainInto(out);  // the queue now fills `first` again, without allocating
  ASSERT_EQ(out, (std::vector<int>{3, 4, 5}));
  for (int i = 6; i < 9; ++i) q.Push(i);
  q.DrainInto(out);
  EXPECT_EQ(out, (std::vector<int>{6, 7, 8}));
  EXPECT_EQ(out.data(), first);
}

TEST(WakeQueueTest, ABufferGrownByABurstIsGivenBack) {
  WakeQueue<int> q;
  std::vector<int> out;
  for (int i = 0; i < 5000; ++i) q.Push(i);
  q.DrainInto(out);
  ASSERT_EQ(out.size(), 5000u);
  q.Push(1);
  q.DrainInto(out);  // the burst's buffer is released, not handed to the queue
  ASSERT_EQ(out, std::vector<int>{1});
  q.Push(2);
  q.DrainInto(out);
  ASSERT_EQ(out, std::vector<int>{2});
  EXPECT_LT(out.capacity(), 5000u);
}

}  // namespace
}  // namespace relais::broker
