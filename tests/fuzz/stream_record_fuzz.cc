// libFuzzer target: the decoders every relaisd runs on records read from the stream in JetStream
// mode (broker/stream_payload.h): DecodeStreamPayload (an event's "RSP1" payload, without and
// with a case key) and DecodeAckMessage (a delivery acknowledgement record). Besides not crashing
// and failing only with their documented codes: an ack record made by AckToMessage decodes back to
// its agency and event id, and an opened payload's envelope re-encodes within the payload.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>

#include "broker/stream_payload.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "tests/fuzz/fuzz_die.h"

using relais::fuzz::Die;

namespace {

bool PayloadCode(const std::string& code) {
  // The payload's own code, the envelope and header codecs' code, a wrong key.
  return code == "bad_stream_payload" || code == "malformed" || code == "malformed_header" ||
         code == "at_rest_auth_failed";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  using namespace relais::broker;
  static const crypto::AtRestKey key = [] {
    crypto::Init();
    return crypto::AtRestKey(crypto::Secret::Copy(base::Bytes(crypto::kAtRestKeySize, 0x5a)));
  }();
  FuzzedDataProvider in(data, size);
  LogMessage m;
  m.id = in.ConsumeRandomLengthString(64);
  m.subject = "relais.fuzz.t75.referral";
  for (int n = in.ConsumeIntegralInRange(0, 4); n > 0; --n) {
    const int which = in.ConsumeIntegralInRange(0, 3);
    const char* name = which == 0   ? kHeaderRecord
                       : which == 1 ? kHeaderAgency
                       : which == 2 ? kHeaderEvent
                                    : kHeaderOrigin;
    m.headers.emplace_back(name, in.ConsumeRandomLengthString(80));
  }
  const bool with_key = in.ConsumeBool();
  const std::string rest = in.ConsumeRemainingBytesAsString();
  m.data.assign(rest.begin(), rest.end());

  auto ack = DecodeAckMessage(m);
  if (!ack && ack.error().code != "bad_stream_payload") Die("unexpected DecodeAckMessage error");
  if (ack && *ack) {
    auto again = AckToMessage((*ack)->agency, (*ack)->event_id, {"fuzz", "t75", "r1"});
    if (again) {
      auto back = DecodeAckMessage(*again);
      if (!back || !*back || (*back)->agency != (*ack)->agency ||
          (*back)->event_id != (*ack)->event_id) {
        Die("an ack record does not decode back to its agency and event");
      }
    } else if (again.error().code != "bad_message") {
      Die("unexpected AckToMessage error");
    }
  }
  auto payload = DecodeStreamPayload(m.data, with_key ? &key : nullptr);
  if (!payload) {
    if (!PayloadCode(payload.error().code)) Die("unexpected DecodeStreamPayload error");
    return 0;
  }
  if (payload->opened && !with_key) Die("opened without a key");
  if (payload->opened && !payload->had_sealed) Die("opened without a sealed part");
  return 0;
}
