// The person's disclosure receipt for one case: who was sent what about them and when, whether
// each recipient's system acknowledged it, and, after a withdrawal, which purges are confirmed.
// Built from the broker's answer to the `caseReceipt` admin request (docs/protocol.md §7), which
// only the agency that referred the case or recorded its consent may ask for. Metadata only: the
// receipt never contains what was said about the person.
//
// Thread-safety: pure functions.
#ifndef RELAIS_ADAPTERS_SDK_RECEIPT_H_
#define RELAIS_ADAPTERS_SDK_RECEIPT_H_

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "schema/envelope.h"
#include "schema/wire.h"

namespace relais::sdk {

struct ReceiptDelivery {
  uint64_t seq = 0;
  schema::EventKind kind = schema::EventKind::kUnknown;
  std::string emitter;
  std::string agency;         // recipient
  base::TimeMs sent_at = 0;   // journaled, hence made available to the recipient
  base::TimeMs acked_at = 0;  // 0: not acknowledged (yet, or ever: see state)
  std::string state;          // "acked", "pending" or "dead"
  std::string reason;         // why a delivery was stopped ("consent_withdrawn", ...)
};

struct ReceiptPurge {
  std::string agency;
  base::TimeMs requested_at = 0;
  base::TimeMs confirmed_at = 0;  // 0 while unconfirmed
};

struct DisclosureReceipt {
  std::string case_ref;
  std::vector<ReceiptDelivery> deliveries;  // seq, then agency order
  std::vector<ReceiptPurge> purges;         // one per agency asked to purge, agency order
  bool withdrawn = false;                   // a consent of the case was withdrawn
  size_t unconfirmed_purges() const;
};

// Parses the reply lines (kInvalidInput "bad_receipt" naming the line on anything unexpected).
base::Result<DisclosureReceipt> ParseReceipt(const std::string& case_ref,
                                             const schema::AdminReply& reply);
// A table for a person or their social worker to read (French-friendly times in UTC).
std::string FormatReceipt(const DisclosureReceipt& receipt);
// One JSON object: {"case_ref", "withdrawn", "deliveries": [...], "purges": [...]}.
std::string ReceiptToJson(const DisclosureReceipt& receipt);

}  // namespace relais::sdk

#endif  // RELAIS_ADAPTERS_SDK_RECEIPT_H_
