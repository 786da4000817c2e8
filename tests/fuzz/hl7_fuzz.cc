// libFuzzer target: the hospital adapter's HL7 v2 parser (adapters/hospital/hl7.h) and the ADT
// reader and ACK writer on top of it (adt.h). Besides not crashing, checks that every parsed value
// survives Escape/Unescape and that every ACK written for the input parses again.
#include <cstdlib>
#include <string_view>

#include "adapters/hospital/adt.h"
#include "adapters/hospital/hl7.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais::hospital;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = hl7::Parse(text);
  AdtResult read;
  if (parsed) {
    const auto& s = parsed->separators();
    bool full_escape = s.escape != '\0' && s.subcomponent != '\0';
    for (const auto& seg : parsed->segments()) {
      for (const auto& field : seg.fields)
        for (const auto& rep : field.repetitions)
          for (const auto& comp : rep)
            for (const auto& value : comp)
              if (full_escape && hl7::Unescape(hl7::Escape(value, s), s) != value) std::abort();
    }
    read = ReadAdt(*parsed);
  } else {
    read = ReadAdtText(text);
    if (!read.error) std::abort();  // a message that does not parse is never accepted
  }
  AckCode code = read.error ? read.error->ack : AckCode::kAccept;
  std::string ack =
      BuildAck(read.message.context, code, read.error ? &*read.error : nullptr, 0, "ACK1");
  auto back = hl7::Parse(ack);
  if (!back) std::abort();
  if (back->Get("MSA", 1) != AckCodeText(code)) std::abort();
  if (back->Get("MSA", 2) != read.message.context.control_id) std::abort();
  return 0;
}
