// libFuzzer target: the disclosure receipt read from the broker's `caseReceipt` admin reply
// (adapters/sdk/receipt.h ParseReceipt; the reply lines come from the network). The input is
// split at '\n' into reply lines. Besides not crashing and failing only with kInvalidInput
// "bad_receipt", checks the receipt's invariants, that FormatReceipt runs and that
// ReceiptToJson writes JSON (PrettyJson accepts it).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapters/sdk/json.h"
#include "adapters/sdk/receipt.h"
#include "tests/fuzz/fuzz_die.h"

using relais::fuzz::Die;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  schema::AdminReply reply;
  reply.ok = true;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    reply.lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  auto receipt = sdk::ParseReceipt("case-1", reply);
  if (!receipt) {
    if (receipt.error().code != "bad_receipt") Die("unexpected error code");
    return 0;
  }
  if (receipt->deliveries.size() > reply.lines.size()) Die("more deliveries than lines");
  for (const auto& p : receipt->purges) {
    if (p.requested_at == 0) Die("a purge without a request");
  }
  if (receipt->unconfirmed_purges() > receipt->purges.size()) Die("unconfirmed > purges");
  std::string table = sdk::FormatReceipt(*receipt);
  if (table.find("case-1") == std::string::npos) Die("table does not name the case");
  if (!sdk::PrettyJson(sdk::ReceiptToJson(*receipt))) Die("ReceiptToJson output is not JSON");
  return 0;
}
