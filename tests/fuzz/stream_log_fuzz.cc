// libFuzzer target: the stream log's shared validation and subject matching
// (broker/stream_log.h ValidateMessage, ValidateCursorOptions, SubjectMatches) on arbitrary ids,
// subjects, headers, durable names and filters. Besides not crashing and failing only with
// "bad_message" / "bad_cursor", checks NATS semantics on a valid subject: the empty filter,
// `>`, the subject itself and the subject with every token replaced by `*` all match it.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "broker/stream_log.h"
#include "tests/fuzz/fuzz_die.h"

using relais::fuzz::Die;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais::broker;
  FuzzedDataProvider in(data, size);
  LogMessage msg;
  msg.id = in.ConsumeRandomLengthString(200);
  msg.subject = in.ConsumeRandomLengthString(200);
  for (int n = in.ConsumeIntegralInRange(0, 4); n > 0; --n) {
    std::string name = in.ConsumeRandomLengthString(40);
    msg.headers.emplace_back(std::move(name), in.ConsumeRandomLengthString(80));
  }
  CursorOptions options;
  options.durable = in.ConsumeRandomLengthString(80);
  options.filter = in.ConsumeRandomLengthString(200);
  options.ack_wait = std::chrono::milliseconds(in.ConsumeIntegral<int32_t>());
  options.max_deliver = in.ConsumeIntegral<int32_t>();
  std::string rest = in.ConsumeRemainingBytesAsString();
  msg.data.assign(rest.begin(), rest.end());

  auto valid = ValidateMessage(msg);
  if (!valid && valid.error().code != "bad_message") Die("unexpected ValidateMessage error");
  auto cursor = ValidateCursorOptions(options);
  if (!cursor && cursor.error().code != "bad_cursor") Die("unexpected cursor error");
  bool matched = SubjectMatches(options.filter, msg.subject);
  (void)matched;
  if (valid) {
    const std::string& s = msg.subject;
    if (!SubjectMatches("", s)) Die("empty filter does not match");
    if (!SubjectMatches(">", s)) Die("'>' does not match");
    if (!SubjectMatches(s, s)) Die("a subject does not match itself");
    std::string stars = "*";
    for (char c : s) {
      if (c == '.') stars += ".*";
    }
    if (!SubjectMatches(stars, s)) Die("one '*' per token does not match");
    if (SubjectMatches(stars + ".*", s)) Die("one '*' too many matches");
  }
  return 0;
}
