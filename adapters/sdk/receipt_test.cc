#include "adapters/sdk/receipt.h"

#include <gtest/gtest.h>

namespace relais::sdk {
namespace {

schema::AdminReply Reply(std::vector<std::string> lines) {
  schema::AdminReply r;
  r.ok = true;
  r.lines = std::move(lines);
  return r;
}

TEST(ReceiptTest, PairsPurgeRequestsWithTheirReceipts) {
  auto r = ParseReceipt("c-1", Reply({
                                   "entry\t1\tconsent_granted\thospital\t1000",
                                   "entry\t2\treferral\thospital\t2000",
                                   "delivery\t2\tassoc-a\tacked\t2100\t",
                                   "delivery\t2\tassoc-b\tpending\t0\t",
                                   "entry\t3\tconsent_withdrawn\thospital\t3000",
                                   "entry\t4\tpurge_request\tbroker\t3001",
                                   "delivery\t4\tassoc-a\tacked\t3050\t",
                                   "delivery\t4\tassoc-b\tpending\t0\t",
                                   "entry\t5\tpurge_receipt\tassoc-a\t3100",
                               }));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->withdrawn);
  ASSERT_EQ(r->deliveries.size(), 4u);
  EXPECT_EQ(r->deliveries[0].agency, "assoc-a");
  EXPECT_EQ(r->deliveries[0].kind, schema::EventKind::kReferral);
  EXPECT_EQ(r->deliveries[0].sent_at, 2000);
  EXPECT_EQ(r->deliveries[0].acked_at, 2100);
  ASSERT_EQ(r->purges.size(), 2u);
  EXPECT_EQ(r->purges[0].agency, "assoc-a");
  EXPECT_EQ(r->purges[0].requested_at, 3001);
  EXPECT_EQ(r->purges[0].confirmed_at, 3100);
  EXPECT_EQ(r->purges[1].confirmed_at, 0);
  EXPECT_EQ(r->unconfirmed_purges(), 1u);
  EXPECT_NE(FormatReceipt(*r).find("NOT CONFIRMED YET"), std::string::npos);
  EXPECT_NE(ReceiptToJson(*r).find(R"("unconfirmed_purges":1)"), std::string::npos);
}

TEST(ReceiptTest, ACaseNeverSharedSaysSo) {
  auto r = ParseReceipt("c-2", Reply({"entry\t1\tconsent_granted\thospital\t1000"}));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->withdrawn);
  EXPECT_TRUE(r->deliveries.empty());
  EXPECT_NE(FormatReceipt(*r).find("nothing was sent"), std::string::npos);
}

// Found by fuzz_receipt: invalid UTF-8 in a reply line made ReceiptToJson throw.
TEST(ReceiptTest, JsonReplacesInvalidUtf8FromTheReply) {
  auto r = ParseReceipt("c-4", Reply({"entry\t1\treferral\thosp\xff\t1000",
                                      "delivery\t1\tassoc-a\tdead\t0\tstopped\xac"}));
  ASSERT_TRUE(r) << r.error().ToString();
  std::string json = ReceiptToJson(*r);
  EXPECT_NE(json.find("hosp\xEF\xBF\xBD"), std::string::npos) << json;
  EXPECT_NE(json.find("stopped\xEF\xBF\xBD"), std::string::npos) << json;
}

TEST(ReceiptTest, RejectsMalformedLinesNamingTheLine) {
  for (const auto& lines : std::vector<std::vector<std::string>>{
           {"entry\tx\treferral\thospital\t1"},
           {"entry\t1\tno_such_kind\thospital\t1"},
           {"delivery\t9\tassoc-a\tacked\t1\t"},
           {"entry\t1\treferral\thospital\t1", "delivery\t1\tassoc-a\tacked"},
           {"gossip"},
       }) {
    auto r = ParseReceipt("c-3", Reply(lines));
    ASSERT_FALSE(r) << lines.back();
    EXPECT_EQ(r.error().code, "bad_receipt");
    EXPECT_NE(r.error().message.find("line " + std::to_string(lines.size())), std::string::npos)
        << r.error().message;
  }
}

}  // namespace
}  // namespace relais::sdk
