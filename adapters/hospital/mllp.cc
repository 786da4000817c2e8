#include "adapters/hospital/mllp.h"

namespace relais::hospital {

std::string MllpFrame(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 3);
  out += kMllpStart;
  out.append(message);
  out += kMllpEnd;
  out += kMllpTrailer;
  return out;
}

void MllpDecoder::Feed(std::string_view bytes, std::vector<base::Result<std::string>>& out) {
  size_t i = 0;
  while (i < bytes.size()) {
    switch (state_) {
      case State::kIdle: {
        size_t start = bytes.find(kMllpStart, i);
        if (start == std::string_view::npos) {
          skipped_bytes_ += bytes.size() - i;
          return;
        }
        skipped_bytes_ += start - i;
        i = start + 1;
        state_ = State::kInFrame;
        current_.clear();
        break;
      }
      case State::kInFrame: {
        size_t stop = bytes.find_first_of(std::string_view("\x0b\x1c", 2), i);
        size_t take = (stop == std::string_view::npos ? bytes.size() : stop) - i;
        if (current_.size() + take > max_frame_bytes_) {
          out.push_back(base::InvalidInput(
              "mllp_too_large",
              "MLLP frame larger than " + std::to_string(max_frame_bytes_) + " bytes"));
          current_.clear();
          current_.shrink_to_fit();
          state_ = State::kDiscarding;
          break;
        }
        current_.append(bytes.substr(i, take));
        if (stop == std::string_view::npos) return;
        i = stop + 1;
        if (bytes[stop] == kMllpEnd) {
          out.push_back(std::move(current_));
          current_ = std::string();
          state_ = State::kIdle;
        } else {  // a new start byte: the previous frame never ended
          out.push_back(base::InvalidInput(
              "mllp_truncated", "MLLP frame interrupted by a new start byte before its end byte"));
          current_.clear();
        }
        break;
      }
      case State::kDiscarding: {
        size_t stop = bytes.find_first_of(std::string_view("\x0b\x1c", 2), i);
        if (stop == std::string_view::npos) return;
        i = stop + 1;
        if (bytes[stop] == kMllpEnd) {
          state_ = State::kIdle;
        } else {
          state_ = State::kInFrame;
          current_.clear();
        }
        break;
      }
    }
  }
}

}  // namespace relais::hospital
