// Server-rendered HTML of the inbox's web page, in French: small inline CSS, no external
// resource, no framework; a tiny inline script refreshes countdowns (the page works without it).
// Every value is HTML-escaped. Pure functions.
#ifndef RELAIS_ADAPTERS_INBOX_WEB_PAGES_H_
#define RELAIS_ADAPTERS_INBOX_WEB_PAGES_H_

#include <string>
#include <vector>

#include "adapters/inbox/case_view.h"
#include "adapters/inbox/store.h"
#include "base/clock.h"
#include "base/html.h"

namespace relais::inbox {

using base::HtmlEscape;

struct PageContext {
  std::string agency_name;
  std::string login;  // empty on the login page
  std::string csrf;
  bool coordinator = false;
  base::TimeMs now = 0;
};

std::string LoginPage(const std::string& error);
std::string ListPage(const PageContext& ctx, const std::vector<CaseView>& cases,
                     const std::vector<PurgeTrace>& purges);
std::string CasePage(const PageContext& ctx, const CaseView& c);
// The result of an action: the broker's acknowledgement (seq) or the refusal, then a link back.
std::string ActionResultPage(const PageContext& ctx, const std::string& case_ref,
                             const std::string& action_label, bool ok, uint64_t seq,
                             const std::string& error_text);
std::string MessagePage(const PageContext& ctx, const std::string& title, const std::string& text);

// "urgent" (< 24 h or past), "soon" (< 48 h), "" otherwise: the row's colour class.
const char* UrgencyClass(base::TimeMs deadline, base::TimeMs now);

}  // namespace relais::inbox

#endif  // RELAIS_ADAPTERS_INBOX_WEB_PAGES_H_
