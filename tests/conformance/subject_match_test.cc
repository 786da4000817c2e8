// NATS subject filter semantics, implemented for the SQLite engine (broker/stream_log.cc).
#include <gtest/gtest.h>

#include "broker/stream_log.h"

namespace relais::broker {
namespace {

TEST(SubjectMatch, NatsWildcards) {
  EXPECT_TRUE(SubjectMatches("", "relais.a.b"));
  EXPECT_TRUE(SubjectMatches("relais.a.b", "relais.a.b"));
  EXPECT_FALSE(SubjectMatches("relais.a.b", "relais.a.c"));
  EXPECT_FALSE(SubjectMatches("relais.a", "relais.a.b"));
  EXPECT_TRUE(SubjectMatches("relais.*.b", "relais.a.b"));
  EXPECT_FALSE(SubjectMatches("relais.*.b", "relais.a.x.b"));
  EXPECT_FALSE(SubjectMatches("relais.*", "relais"));
  EXPECT_TRUE(SubjectMatches("relais.>", "relais.a"));
  EXPECT_TRUE(SubjectMatches("relais.>", "relais.a.b.c"));
  EXPECT_FALSE(SubjectMatches("relais.>", "relais"));
  EXPECT_TRUE(SubjectMatches("*.*.>", "x.y.z"));
  EXPECT_FALSE(SubjectMatches("*.*.>", "x.y"));
  EXPECT_TRUE(SubjectMatches(">", "x"));
}

TEST(SubjectMatch, Validation) {
  LogMessage m{"id-1", "relais.a.b", {{"Relais-Kind", "referral"}}, {}};
  EXPECT_TRUE(ValidateMessage(m));
  m.subject = "relais.a.";
  EXPECT_FALSE(ValidateMessage(m));
  m.subject = "relais.a b";
  EXPECT_FALSE(ValidateMessage(m));
  m.subject = "relais.a";
  m.headers = {{"nats-expected-stream", "x"}};
  EXPECT_FALSE(ValidateMessage(m));
  m.headers = {{"Relais-Kind", "a\r\nb"}};
  EXPECT_FALSE(ValidateMessage(m));
  CursorOptions c;
  c.durable = "siao-75";
  c.filter = "relais.*.>";
  EXPECT_TRUE(ValidateCursorOptions(c));
  c.filter = "relais.>.a";
  EXPECT_FALSE(ValidateCursorOptions(c));
  c.filter = "";
  c.max_deliver = 0;
  EXPECT_FALSE(ValidateCursorOptions(c));
}

}  // namespace
}  // namespace relais::broker
