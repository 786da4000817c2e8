#include "adapters/hospital/adt.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <map>

namespace relais::hospital {
namespace {

std::string Msh(std::string_view type, std::string_view version = "2.5",
                std::string_view control = "C1") {
  return "MSH|^~\\&|SIH|CHU|RELAIS|CHU|20300101120000||" + std::string(type) + "|" +
         std::string(control) + "|P|" + std::string(version) + "\r";
}

// A segment with `values` at their field numbers.
std::string Seg(std::string name, std::map<int, std::string> values) {
  int last = values.empty() ? 0 : values.rbegin()->first;
  for (int i = 1; i <= last; ++i) name += "|" + (values.count(i) ? values[i] : std::string());
  return name + "\r";
}

const std::string kPid = Seg(
    "PID", {{1, "1"},
            {3, "IPP123^^^CHU^PI~2700102123456^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"},
            {5, "DUPONT^Jean^Pierre^^^^L~MARTIN^Jean^^^^^D"},
            {7, "19700102"},
            {8, "M"},
            {18, "V1"},
            {32, "VALI"}});

TEST(Hl7Time, ParsesEveryPrecisionAndOffset) {
  auto t = ParseHl7Time("20300105143000+0100");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->ms, 1'893'850'200'000);  // 2030-01-05T13:30:00Z
  EXPECT_FALSE(t->date_only);
  auto frac = ParseHl7Time("20300105143000.25-0000");
  ASSERT_TRUE(frac);
  EXPECT_EQ(frac->ms, 1'893'853'800'250);
  auto day = ParseHl7Time("20300105+0000");
  ASSERT_TRUE(day);
  EXPECT_TRUE(day->date_only);
  EXPECT_EQ(day->ms, 1'893'844'800'000);  // noon UTC
  EXPECT_EQ(day->EndMs(), 1'893'887'999'999);
  EXPECT_TRUE(ParseHl7Time("2030"));
  EXPECT_TRUE(ParseHl7Time("203001051430"));
}

TEST(Hl7Time, WithoutOffsetUsesTheLocalTimeZone) {
  setenv("TZ", "Europe/Paris", 1);
  tzset();
  auto winter = ParseHl7Time("203001051430");
  auto summer = ParseHl7Time("203007051430");
  setenv("TZ", "UTC", 1);
  tzset();
  ASSERT_TRUE(winter && summer);
  EXPECT_EQ(winter->ms, ParseHl7Time("203001051430+0100")->ms);
  EXPECT_EQ(summer->ms, ParseHl7Time("203007051430+0200")->ms);
}

TEST(Hl7Time, RefusesMalformedOrImpossibleDates) {
  for (std::string_view bad :
       {"", "2030-01-05", "20301305", "20300230", "20300105250000", "203001051", "20300105+01",
        "20300105143000.", "2030010514300a", "abcd", "20300105+2500", "20290229"}) {
    EXPECT_FALSE(ParseHl7Time(bad)) << bad;
  }
  EXPECT_TRUE(ParseHl7Time("20280229"));
}

TEST(ReadAdt, MapsAPendingDischargeWithIdentityAndAValidatedIns) {
  auto r = ReadAdtText(Msh("ADT^A16^ADT_A16") + "EVN|A16|20300101\r" + kPid +
                       Seg("PV1", {{2, "I"},
                                   {3, "CARDIO^101^A^CHU Nord"},
                                   {19, "V1"},
                                   {36, "01"},
                                   {37, "DOM"},
                                   {45, "20300106"}}) +
                       "PV2|||||||||20300105+0000\rZBE|M1|20300101||INSERT|N\r");
  ASSERT_FALSE(r.error) << r.error->text;
  const AdtMessage& m = r.message;
  EXPECT_EQ(m.action, AdtAction::kPendingDischarge);
  EXPECT_EQ(m.context.control_id, "C1");
  EXPECT_EQ(m.context.trigger, "A16");
  EXPECT_EQ(m.patient_id, "IPP123");
  EXPECT_EQ(m.visit_number, "V1");
  EXPECT_EQ(m.person.family_name, "DUPONT");
  EXPECT_EQ(m.person.given_names, "Jean");
  EXPECT_EQ(m.person.used_name, "MARTIN");
  EXPECT_EQ(m.person.birth_date, "1970-01-02");
  EXPECT_EQ(m.person.sex, "M");
  EXPECT_EQ(m.person.ins, "2700102123456");
  ASSERT_EQ(m.person.identifiers.size(), 1u);  // the INS is not repeated as a plain identifier
  EXPECT_EQ(m.person.identifiers[0].system, "CHU");
  ASSERT_TRUE(m.expected_discharge);
  EXPECT_EQ(m.expected_discharge->ms, ParseHl7Time("20300105+0000")->ms);
  EXPECT_EQ(m.ward, "CARDIO");
  EXPECT_EQ(m.facility_name, "CHU Nord");
  EXPECT_EQ(m.disposition, "01");
  EXPECT_EQ(m.discharged_to, "DOM");
}

TEST(ReadAdt, AProvisionalIdentityKeepsItsInsOut) {
  std::string pid = kPid;
  pid.replace(pid.find("VALI"), 4, "PROV");
  auto r = ReadAdtText(Msh("ADT^A16") + pid + "PV2|||||||||20300105\r");
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.message.person.ins, "");
  EXPECT_EQ(r.message.person.identifiers.size(), 1u);
  EXPECT_EQ(r.message.identity_status, "PROV");
}

TEST(ReadAdt, TakesTheExpectedDateFromEvn3WhenPv29IsAbsent) {
  auto r = ReadAdtText(Msh("ADT^A16", "2.3") + "EVN|A16|20300101|20300107\r" + kPid);
  ASSERT_FALSE(r.error);
  ASSERT_TRUE(r.message.expected_discharge);
  EXPECT_EQ(r.message.expected_discharge->ms, ParseHl7Time("20300107")->ms);
}

TEST(ReadAdt, MapsTriggers) {
  struct Case {
    std::string type;
    std::string extra;
    AdtAction action;
  } cases[] = {
      {"ADT^A25", "", AdtAction::kCancelPendingDischarge},
      {"ADT^A03", Seg("PV1", {{19, "V1"}}), AdtAction::kDischarge},
      {"ADT^A13", "", AdtAction::kCancelDischarge},
      {"ADT^A08", "", AdtAction::kUpdate},
      {"ADT^Z99", "ZBE|M1|20300101||UPDATE|N|A16\r", AdtAction::kUpdate},
      {"ADT^Z99", "ZBE|M1|20300101||UPDATE|N|A02\r", AdtAction::kIgnore},
      {"ADT^A01", "", AdtAction::kIgnore},
      {"ADT^A21", "", AdtAction::kIgnore},
      {"ADT^A22", "", AdtAction::kIgnore},
      {"ADT^A02", "", AdtAction::kIgnore},
      {"ADT^Z80", "", AdtAction::kIgnore},
  };
  for (const auto& c : cases) {
    auto r = ReadAdtText(Msh(c.type) + kPid + c.extra);
    ASSERT_FALSE(r.error) << c.type << ": " << r.error->text;
    EXPECT_EQ(r.message.action, c.action) << c.type << " " << c.extra;
  }
}

TEST(ReadAdt, TriggerFromEvn1WhenMsh9HasNone) {
  auto r = ReadAdtText(Msh("ADT", "2.3") + "EVN|A25|20300101\r" + kPid);
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.message.action, AdtAction::kCancelPendingDischarge);
}

TEST(ReadAdt, RefusesWithPreciseCodes) {
  struct Case {
    std::string text;
    AckCode ack;
    int hl7;
    std::string code;
  } cases[] = {
      {"not hl7 at all", AckCode::kReject, 100, "not_hl7"},
      {Msh("ORU^R01") + kPid, AckCode::kReject, 200, "unsupported_message_type"},
      {Msh("ADT^A99") + kPid, AckCode::kReject, 201, "unknown_trigger"},
      {Msh("ADT^XYZ") + kPid, AckCode::kReject, 201, "unknown_trigger"},
      {Msh("ADT^A16", "2.2") + kPid, AckCode::kReject, 203, "unsupported_version"},
      {Msh("ADT^A16", "2.5", "") + kPid, AckCode::kReject, 101, "missing_control_id"},
      {Msh("") + kPid, AckCode::kReject, 101, "missing_message_type"},
      {Msh("ADT^A16") + kPid + "PV2|||||||||2030-01-05\r", AckCode::kError, 102, "malformed_date"},
      {Msh("ADT^A03") + kPid + Seg("PV1", {{45, "20301341"}}), AckCode::kError, 102,
       "malformed_date"},
      {Msh("ADT^A16") + "EVN|A16\r", AckCode::kError, 100, "missing_pid"},
  };
  for (const auto& c : cases) {
    auto r = ReadAdtText(c.text);
    ASSERT_TRUE(r.error) << c.code;
    EXPECT_EQ(r.error->ack, c.ack) << c.code;
    EXPECT_EQ(r.error->hl7_code, c.hl7) << c.code;
    EXPECT_EQ(r.error->code, c.code);
    EXPECT_EQ(r.error->text.find("DUPONT"), std::string::npos);
  }
  auto bad_birth = ReadAdtText(Msh("ADT^A16") + "PID|1||X^^^CHU^PI||DOE^J||1970130\r");
  ASSERT_TRUE(bad_birth.error);
  EXPECT_EQ(bad_birth.error->location, "PID-7");
}

TEST(BuildAck, AnswersWithSwappedSendersTheControlIdAndAVersionedErr) {
  auto r = ReadAdtText(Msh("ADT^A16", "2.5", "CTRL-9") + kPid + "PV2|||||||||bad\r");
  ASSERT_TRUE(r.error);
  std::string ack = BuildAck(r.message.context, r.error->ack, &*r.error, 0, "ACK1");
  auto parsed = hl7::Parse(ack);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->Get("MSH", 3), "RELAIS");
  EXPECT_EQ(parsed->Get("MSH", 5), "SIH");
  EXPECT_EQ(parsed->Get("MSH", 6), "CHU");
  EXPECT_EQ(parsed->Get("MSH", 9, 1), "ACK");
  EXPECT_EQ(parsed->Get("MSH", 9, 2), "A16");
  EXPECT_EQ(parsed->Get("MSH", 10), "ACK1");
  EXPECT_EQ(parsed->Get("MSH", 12), "2.5");
  EXPECT_EQ(parsed->Get("MSA", 1), "AE");
  EXPECT_EQ(parsed->Get("MSA", 2), "CTRL-9");
  EXPECT_EQ(parsed->Get("ERR", 2, 1), "PV2");
  EXPECT_EQ(parsed->Get("ERR", 2, 3), "9");
  EXPECT_EQ(parsed->Get("ERR", 3, 1), "102");
  EXPECT_EQ(parsed->Get("ERR", 4), "E");
  EXPECT_NE(parsed->Get("ERR", 8).find("PV2-9"), std::string::npos);

  auto old = ReadAdtText(Msh("ADT^A16", "2.3", "C23") + kPid + "PV2|||||||||bad\r");
  std::string ack23 = BuildAck(old.message.context, old.error->ack, &*old.error, 0, "A2");
  auto p23 = hl7::Parse(ack23);
  ASSERT_TRUE(p23);
  EXPECT_EQ(p23->Get("ERR", 1, 1), "PV2");
  EXPECT_EQ(p23->Get("ERR", 1, 4, 1), "102");

  auto ok = ReadAdtText(Msh("ADT^A01") + kPid);
  std::string aa = BuildAck(ok.message.context, AckCode::kAccept, nullptr, 0, "A3");
  auto pa = hl7::Parse(aa);
  ASSERT_TRUE(pa);
  EXPECT_EQ(pa->Get("MSA", 1), "AA");
  EXPECT_EQ(pa->Find("ERR"), nullptr);
}

}  // namespace
}  // namespace relais::hospital
