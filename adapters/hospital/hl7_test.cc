#include "adapters/hospital/hl7.h"

#include <gtest/gtest.h>

namespace relais::hospital::hl7 {
namespace {

constexpr const char* kA16 =
    "MSH|^~\\&|SIH|CHU-NORD|RELAIS|CHU-NORD|20300101120000||ADT^A16^ADT_A16|MSG001|P|2.5\r"
    "EVN|A16|20300101120000\r"
    "PID|1||12345^^^CHU-NORD^PI~1234567890123^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||"
    "DUPONT^Jean^^^^^L~MARTIN^Jean^^^^^D||19700102|M\r"
    "PV1|1|I|CARDIO^101^A^CHU-NORD||||||||||||||||V9876\r"
    "PV2|||||||||20300105\r"
    "ZBE|MVT1|20300101120000||INSERT|N\r";

TEST(Hl7Parse, ReadsFieldsComponentsRepetitionsAndZSegments) {
  auto m = Parse(kA16);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->segments().size(), 6u);
  EXPECT_EQ(m->Get("MSH", 1), "|");
  EXPECT_EQ(m->Get("MSH", 2), "^~\\&");
  EXPECT_EQ(m->Get("MSH", 9, 2), "A16");
  EXPECT_EQ(m->Get("MSH", 10), "MSG001");
  EXPECT_EQ(m->Repetitions("PID", 3), 2u);
  EXPECT_EQ(m->Get("PID", 3, 1, 1, 1), "1234567890123");
  EXPECT_EQ(m->Get("PID", 3, 4, 2, 1), "1.2.250.1.213.1.4.8");
  EXPECT_EQ(m->Get("PID", 5, 1, 1, 1), "MARTIN");
  EXPECT_EQ(m->Get("PV1", 19), "V9876");
  EXPECT_EQ(m->Get("PV2", 9), "20300105");
  EXPECT_EQ(m->Get("ZBE", 4), "INSERT");
  EXPECT_EQ(m->Get("ZBE", 40), "");
  EXPECT_EQ(m->Get("ZFM", 1), "");
  EXPECT_EQ(m->Get("PID", 3, 9, 9, 9), "");
}

TEST(Hl7Parse, AcceptsLfAndCrlfTerminatorsAndTrailingSeparators) {
  std::string text = kA16;
  std::string lf, crlf;
  for (char c : text) {
    lf += c == '\r' ? '\n' : c;
    crlf += c == '\r' ? std::string("\r\n") : std::string(1, c);
  }
  for (const std::string& t : {lf, crlf, "\n" + text + "\r\n\r\n"}) {
    auto m = Parse(t);
    ASSERT_TRUE(m) << m.error().ToString();
    EXPECT_EQ(m->segments().size(), 6u);
    EXPECT_EQ(m->Get("PV2", 9), "20300105");
  }
  auto trailing = Parse("MSH|^~\\&|A|B|||||ADT^A01|1|P|2.4|||||\rPID|||42||||||||\r");
  ASSERT_TRUE(trailing);
  EXPECT_EQ(trailing->Find("PID")->fields.size(), 3u);
  EXPECT_EQ(trailing->Get("PID", 3), "42");
}

TEST(Hl7Parse, UsesTheSeparatorsDeclaredInMsh) {
  auto m = Parse("MSH#*@!%#APP#FAC#####ADT*A03#7#P#2.3\rPID###A*B@C%D!E!#\r");
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->separators().field, '#');
  EXPECT_EQ(m->Get("MSH", 9, 2), "A03");
  EXPECT_EQ(m->Get("PID", 3, 1), "A");
  EXPECT_EQ(m->Get("PID", 3, 2), "B");
  EXPECT_EQ(m->Repetitions("PID", 3), 2u);
  EXPECT_EQ(m->Get("PID", 3, 1, 1, 1), "C");
  EXPECT_EQ(m->Get("PID", 3, 1, 2, 1), "D!");  // !E! is the escape character itself
}

TEST(Hl7Unescape, DecodesEverySequence) {
  Separators s;
  EXPECT_EQ(Unescape("A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\", s), "A|B^C&D~E\\");
  EXPECT_EQ(Unescape("l1\\.br\\l2", s), "l1\nl2");
  EXPECT_EQ(Unescape("\\X4142\\", s), "AB");
  EXPECT_EQ(Unescape("\\H\\bold\\N\\", s), "bold");
  EXPECT_EQ(Unescape("open\\F", s), "open\\F");  // unterminated: literal
  EXPECT_EQ(Unescape("\\Xzz\\", s), "");
}

TEST(Hl7Escape, RoundTripsThroughUnescape) {
  Separators s;
  std::string nasty = "O'Brien | Smith^Jr & co ~ \\ line\r\nnext";
  std::string escaped = Escape(nasty, s);
  EXPECT_EQ(escaped.find('|'), std::string::npos);
  EXPECT_EQ(escaped.find('\r'), std::string::npos);
  EXPECT_EQ(Unescape(escaped, s), nasty);
}

TEST(Hl7Parse, EscapedSeparatorsStayInsideTheirField) {
  auto m = Parse("MSH|^~\\&|A|B|||||ADT^A08|1|P|2.5\rPID|||1||DUPONT\\S\\DURAND^Marie\\T\\Anne\r");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->Get("PID", 5, 1), "DUPONT^DURAND");
  EXPECT_EQ(m->Get("PID", 5, 2), "Marie&Anne");
}

TEST(Hl7Parse, RefusesWhatIsNotHl7WithoutEchoingIt) {
  for (std::string_view bad : {"", "\r\n", "hello world", "PID|1|2\r", "MSH", "MSH|\r",
                               "MSH|^^\\&|A\r", "MSH|^~\\&|A\rpid|x\r", "MSH|^~\\&|A\rPI|x\r",
                               "MSH|^~\\&|A\rMSH|^~\\&|B\r", "MSHa^~\\&|A\r"}) {
    auto m = Parse(bad);
    ASSERT_FALSE(m) << "accepted: " << bad;
    EXPECT_TRUE(m.error().code == "not_hl7" || m.error().code == "bad_segment") << m.error().code;
  }
  auto m = Parse("MSH|^~\\&|A\rPID|||SECRETNAME\rzz1|x\r");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message.find("SECRETNAME"), std::string::npos);
  EXPECT_NE(m.error().message.find("segment 3"), std::string::npos) << m.error().message;
}

TEST(Hl7Parse, EnforcesLimits) {
  ParseLimits limits;
  limits.max_bytes = 100;
  EXPECT_EQ(Parse(std::string("MSH|^~\\&|") + std::string(200, 'x'), limits).error().code,
            "too_large");
  ParseLimits small;
  small.max_segments = 2;
  EXPECT_EQ(Parse("MSH|^~\\&|A\rPID|1\rPV1|1\r", small).error().code, "too_many");
  small = {};
  small.max_repetitions = 3;
  EXPECT_EQ(Parse("MSH|^~\\&|A\rPID|1~2~3~4\r", small).error().code, "too_many");
  small = {};
  small.max_fields = 3;
  EXPECT_EQ(Parse("MSH|^~\\&|A\rPID|1|2|3|4\r", small).error().code, "too_many");
  small = {};
  small.max_components = 2;
  EXPECT_EQ(Parse("MSH|^~\\&|A\rPID|1^2^3\r", small).error().code, "too_many");
}

}  // namespace
}  // namespace relais::hospital::hl7
