// Progress of a long audit run on stderr (rows done, rows/s, ETA), only when stderr is a
// terminal; silent otherwise, so logs and test output stay clean. Updates at most every 250 ms.
#ifndef RELAIS_TOOLS_AUDIT_PROGRESS_H_
#define RELAIS_TOOLS_AUDIT_PROGRESS_H_

#include <cstdint>
#include <string>

namespace relais::tools {

class AuditProgress {
 public:
  explicit AuditProgress(std::string what);
  ~AuditProgress();  // clears the line
  AuditProgress(const AuditProgress&) = delete;
  AuditProgress& operator=(const AuditProgress&) = delete;

  // `done` of `total` rows so far.
  void Update(uint64_t done, uint64_t total);
  bool enabled() const { return enabled_; }

 private:
  std::string what_;
  bool enabled_;
  int64_t started_us_;
  int64_t last_us_ = 0;
  bool printed_ = false;
};

}  // namespace relais::tools

#endif  // RELAIS_TOOLS_AUDIT_PROGRESS_H_
