// JSON form of the disclosure receipt (adapters/sdk/receipt.h).
#include <nlohmann/json.hpp>

#include "adapters/sdk/receipt.h"
#include "base/bytes.h"

namespace relais::sdk {

namespace {
nlohmann::json Time(base::TimeMs t) {
  return t == 0 ? nlohmann::json(nullptr) : nlohmann::json(base::FormatIsoUtc(t));
}
}  // namespace

std::string ReceiptToJson(const DisclosureReceipt& r) {
  nlohmann::json j;
  j["case_ref"] = r.case_ref;
  j["withdrawn"] = r.withdrawn;
  j["deliveries"] = nlohmann::json::array();
  for (const auto& d : r.deliveries) {
    j["deliveries"].push_back({{"seq", d.seq},
                               {"kind", schema::EventKindName(d.kind)},
                               {"emitter", d.emitter},
                               {"agency", d.agency},
                               {"sent_at", Time(d.sent_at)},
                               {"acked_at", Time(d.acked_at)},
                               {"state", d.state},
                               {"reason", d.reason}});
  }
  j["purges"] = nlohmann::json::array();
  for (const auto& p : r.purges) {
    j["purges"].push_back({{"agency", p.agency},
                           {"requested_at", Time(p.requested_at)},
                           {"confirmed_at", Time(p.confirmed_at)}});
  }
  j["unconfirmed_purges"] = r.unconfirmed_purges();
  // The reply's texts come from the network: invalid UTF-8 is replaced (U+FFFD), not thrown
  // (found by fuzz_receipt).
  return j.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace relais::sdk
