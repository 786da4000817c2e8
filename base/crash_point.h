// Named crash points (issue 11, tests/fault/crash_points_test.cc): RELAIS_CRASH_POINT("name")
// marks a step of the publish path where a test may make the process die. Compiled in only where
// RELAIS_CRASH_POINTS is defined (the test-only relaisd_test_hooks binary, never the installed
// relaisd); elsewhere the macro expands to nothing.
//
// When compiled in, the process arms at most one point at start (ArmCrashPoint, from main) with
// the value of RELAIS_CRASH_AT, "<point>[:<n>]": the n-th time (default 1st, counted over every
// thread) that point is reached, the process writes "crash point <point> reached\n" to stderr
// and calls std::abort() (SIGABRT, no core file). Points (kCrashPoints):
//   after_receive            a publish frame decoded, before verification (broker I/O thread)
//   after_verify             its signature verified, before admission (broker I/O thread)
//   in_commit                inside the journal transaction, after the inserts, before COMMIT
//   after_commit_before_ack  the commit done, before the deliveries and the publisher's ack
//   during_delivery          a delivery sent to a subscriber, before it is recorded in flight
//   during_cursor_update     inside the transaction recording a subscriber's ack, before COMMIT
#ifndef RELAIS_BASE_CRASH_POINT_H_
#define RELAIS_BASE_CRASH_POINT_H_

#include <string_view>

#include "base/status.h"

namespace relais::base {

inline constexpr std::string_view kCrashPoints[] = {"after_receive",   "after_verify",
                                                    "in_commit",       "after_commit_before_ack",
                                                    "during_delivery", "during_cursor_update"};

// Arms the point named by `spec` ("<point>[:<n>]", n >= 1); an empty spec disarms.
// kInvalidInput "bad_crash_point" for an unknown point or a bad count. Call once, from main,
// before any thread reaches a point.
Status ArmCrashPoint(std::string_view spec);

// Counts one passage through `point`; aborts the process on the armed passage. Thread-safe.
void ReachCrashPoint(std::string_view point);

}  // namespace relais::base

#ifdef RELAIS_CRASH_POINTS
#define RELAIS_CRASH_POINT(point) ::relais::base::ReachCrashPoint(point)
#else
#define RELAIS_CRASH_POINT(point) ((void)0)
#endif

#endif  // RELAIS_BASE_CRASH_POINT_H_
