// RELAIS_CHECK: broken invariants abort loudly; they are never "handled".
#ifndef RELAIS_BASE_CHECK_H_
#define RELAIS_BASE_CHECK_H_

namespace relais::base {
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition, const char* msg);
}  // namespace relais::base

#define RELAIS_CHECK(cond) \
  ((cond) ? (void)0 : ::relais::base::CheckFailed(__FILE__, __LINE__, #cond, nullptr))
#define RELAIS_CHECK_MSG(cond, msg) \
  ((cond) ? (void)0 : ::relais::base::CheckFailed(__FILE__, __LINE__, #cond, msg))

#endif  // RELAIS_BASE_CHECK_H_
