// MLLP (Minimal Lower Layer Protocol) framing: each message travels as
// 0x0B <message bytes> 0x1C 0x0D.
//
// MllpDecoder turns a TCP byte stream into frames. It is lenient where senders differ and strict
// where a frame would be lost silently: bytes between frames (a stray CR/LF, junk) are skipped and
// counted; a 0x1C ends the frame whether or not 0x0D follows; a new 0x0B inside a frame reports
// the unfinished frame as an error and starts over; a frame over `max_frame_bytes` is reported
// once and discarded up to its end. Not thread-safe: one decoder per connection.
#ifndef RELAIS_ADAPTERS_HOSPITAL_MLLP_H_
#define RELAIS_ADAPTERS_HOSPITAL_MLLP_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace relais::hospital {

inline constexpr char kMllpStart = 0x0B;
inline constexpr char kMllpEnd = 0x1C;
inline constexpr char kMllpTrailer = 0x0D;

// 0x0B + message + 0x1C 0x0D.
std::string MllpFrame(std::string_view message);

class MllpDecoder {
 public:
  explicit MllpDecoder(size_t max_frame_bytes = 1 << 20) : max_frame_bytes_(max_frame_bytes) {}

  // Consumes `bytes`; appends every frame completed by them to `out`, in order: the payload, or a
  // kInvalidInput error "mllp_truncated" (a start byte inside a frame) or "mllp_too_large".
  void Feed(std::string_view bytes, std::vector<base::Result<std::string>>& out);

  // True when a frame has started and not ended.
  bool InFrame() const { return state_ != State::kIdle; }
  size_t skipped_bytes() const { return skipped_bytes_; }

 private:
  enum class State { kIdle, kInFrame, kDiscarding };
  size_t max_frame_bytes_;
  State state_ = State::kIdle;
  std::string current_;
  size_t skipped_bytes_ = 0;
};

}  // namespace relais::hospital

#endif  // RELAIS_ADAPTERS_HOSPITAL_MLLP_H_
