#include "adapters/inbox/web_pages.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "adapters/inbox/notifier.h"
#include "adapters/inbox/test_events.h"
#include "crypto/secret.h"

namespace relais::inbox {
namespace {

using testing::kT0;
using testing::MakeEvent;
using testing::MakeReferral;

constexpr base::TimeMs kHour = base::kMsPerHour;

PageContext Ctx() { return PageContext{"Assoc <A>", "marie", "tok123", false, kT0}; }

TEST(WebPagesTest, EscapesEverythingItShows) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  crypto::Init();
  auto cases = BuildCases({MakeReferral("c-one", 1, kT0 + 100 * kHour)});
  std::string page = CasePage(Ctx(), cases[0]);
  EXPECT_EQ(page.find("Hôpital <Nord>"), std::string::npos);
  EXPECT_NE(page.find("Hôpital &lt;Nord&gt;"), std::string::npos);
  EXPECT_NE(page.find("Assoc &lt;A&gt;"), std::string::npos);
}

TEST(WebPagesTest, EveryPostFormCarriesTheCsrfTokenAndLabels) {
  crypto::Init();
  auto cases = BuildCases({MakeReferral("c-one", 1, kT0 + 100 * kHour)});
  std::string page = CasePage(Ctx(), cases[0]);
  size_t forms = 0, tokens = 0;
  for (size_t p = page.find("method=\"post\""); p != std::string::npos;
       p = page.find("method=\"post\"", p + 1)) {
    ++forms;
  }
  for (size_t p = page.find("name=\"csrf\" value=\"tok123\""); p != std::string::npos;
       p = page.find("name=\"csrf\" value=\"tok123\"", p + 1)) {
    ++tokens;
  }
  EXPECT_EQ(forms, 3u);  // logout, accept, decline
  EXPECT_EQ(tokens, forms);
  EXPECT_NE(page.find("<label for=\"decline-reason\">"), std::string::npos);
  EXPECT_NE(page.find("<html lang=\"fr\">"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);  // no external resource
  EXPECT_EQ(page.find("https://"), std::string::npos);
}

TEST(WebPagesTest, ListColoursNearDeadlinesAndShowsPurgeTraces) {
  crypto::Init();
  auto cases = BuildCases({MakeReferral("c-soon", 1, kT0 + 80 * kHour),
                           MakeReferral("c-urgent", 2, kT0 + 60 * kHour),
                           MakeReferral("c-later", 3, kT0 + 200 * kHour)});
  std::string page = ListPage(Ctx(), cases, {PurgeTrace{"c-gone", kT0, 2, 9}});
  EXPECT_NE(page.find("<tr class=\"urgent\"><td data-label=\"Personne\"><a href=\"/case/c-urgent"),
            std::string::npos);
  EXPECT_NE(page.find("<tr class=\"soon\"><td data-label=\"Personne\"><a href=\"/case/c-soon"),
            std::string::npos);
  EXPECT_NE(page.find("<tr class=\"\"><td data-label=\"Personne\"><a href=\"/case/c-later"),
            std::string::npos);
  EXPECT_LT(page.find("c-urgent"), page.find("c-soon"));  // by exit date
  EXPECT_NE(page.find("données supprimées à la demande de la personne"), std::string::npos);
  EXPECT_EQ(page.find("Situations à risque"), std::string::npos);  // not a coordinator
}

TEST(WebPagesTest, CoordinatorSeesTerritoryAlerts) {
  crypto::Init();
  auto esc = MakeEvent(schema::EventKind::kRupture, "c-far", 5, kT0);
  auto ctx = Ctx();
  ctx.coordinator = true;
  std::string page = ListPage(ctx, BuildCases({esc}), {});
  EXPECT_NE(page.find("Situations à risque sur le territoire"), std::string::npos);
  EXPECT_NE(page.find("c-far"), std::string::npos);
  EXPECT_NE(page.find("Rupture"), std::string::npos);
}

TEST(WebPagesTest, AcknowledgementShowsTheBrokerSeq) {
  std::string ok = ActionResultPage(Ctx(), "c-one", "Acceptation", true, 42, "");
  EXPECT_NE(ok.find("Accusé de réception n° 42"), std::string::npos);
  std::string refused =
      ActionResultPage(Ctx(), "c-one", "Acceptation", false, 0, "already_accepted <x>");
  EXPECT_NE(refused.find("Non transmis"), std::string::npos);
  EXPECT_NE(refused.find("already_accepted &lt;x&gt;"), std::string::npos);
}

TEST(NotifierTest, TextIsCountsOnly) {
  EXPECT_EQ(NotificationText(2, 1), "2 nouvelles orientations, 1 échéance < 48 h");
  EXPECT_EQ(NotificationText(1, 0), "1 nouvelle orientation");
  EXPECT_EQ(NotificationText(0, 3, 1), "3 échéances < 48 h, 1 alerte territoriale");
  EXPECT_EQ(NotificationText(0, 0), "");
}

TEST(NotifierTest, RunsTheConfiguredCommandWithTheTextAsLastArgument) {
  std::string out = (std::filesystem::path(::testing::TempDir()) / "notified.txt").string();
  std::filesystem::remove(out);
  Notifier n(NotifierConfig{{"sh", "-c", "printf '%s' \"$1\" > " + out, "sh"}, "", false});
  ASSERT_TRUE(n.Notify("1 nouvelle orientation"));
  std::string got;
  for (int i = 0; i < 100 && got.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream in(out);
    std::getline(in, got);
  }
  EXPECT_EQ(got, "1 nouvelle orientation");
  Notifier missing(NotifierConfig{{"/nonexistent/notify"}, "", false});
  auto st = missing.Notify("x");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "notify_failed");
}

}  // namespace
}  // namespace relais::inbox
