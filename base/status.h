// Error values for expected failures, and Result<T> whose member names mirror std::expected.
//
// Every expected failure (bad signature, unknown agency, consent missing, disk full, malformed
// input) is an Error value carrying:
//   - kind: what the caller should do about it (fix the input, stop trying, retry later, ...);
//   - code: a stable snake_case identifier (e.g. "bad_signature"), part of the wire protocol and
//     of the CLI's exit messages, never renamed once released;
//   - message: text for humans. It never contains case data, body plaintext or key material.
#ifndef RELAIS_BASE_STATUS_H_
#define RELAIS_BASE_STATUS_H_

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "base/check.h"

namespace relais::base {

// Grouped by what the caller should do.
enum class ErrorKind {
  kInvalidInput,     // malformed or out-of-range input: fix the input, never retry as is
  kUnauthenticated,  // a signature, MAC or key did not verify: never retry
  kNotAuthorised,    // authenticated but not allowed (registry, consent): never retry as is
  kRetryLater,       // overload, disk full, peer unreachable: retry with the same event id
  kCorruption,       // stored data failed verification: stop and alert an operator
  kNotFound,         // the thing asked for does not exist
  kFailStop,         // an I/O error after which the process must not continue (fsync failure)
};

const char* ErrorKindName(ErrorKind kind);

struct Error {
  ErrorKind kind;
  std::string code;
  std::string message;

  // "code: message", for logs and CLI output.
  std::string ToString() const;
};

inline Error MakeError(ErrorKind kind, std::string code, std::string message) {
  return Error{kind, std::move(code), std::move(message)};
}
inline Error InvalidInput(std::string code, std::string message) {
  return MakeError(ErrorKind::kInvalidInput, std::move(code), std::move(message));
}
inline Error Unauthenticated(std::string code, std::string message) {
  return MakeError(ErrorKind::kUnauthenticated, std::move(code), std::move(message));
}
inline Error NotAuthorised(std::string code, std::string message) {
  return MakeError(ErrorKind::kNotAuthorised, std::move(code), std::move(message));
}
inline Error RetryLater(std::string code, std::string message) {
  return MakeError(ErrorKind::kRetryLater, std::move(code), std::move(message));
}
inline Error Corruption(std::string code, std::string message) {
  return MakeError(ErrorKind::kCorruption, std::move(code), std::move(message));
}
inline Error NotFound(std::string code, std::string message) {
  return MakeError(ErrorKind::kNotFound, std::move(code), std::move(message));
}
inline Error FailStop(std::string code, std::string message) {
  return MakeError(ErrorKind::kFailStop, std::move(code), std::move(message));
}

// Wraps an Error to construct a failed Result, as std::unexpected does.
class Unexpected {
 public:
  explicit Unexpected(Error error) : error_(std::move(error)) {}
  Error& error() & { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit
  Result(Unexpected u) : state_(std::in_place_index<1>, std::move(u).error()) {}  // NOLINT

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    RELAIS_CHECK_MSG(has_value(), "Result::value() on an error");
    return std::get<0>(state_);
  }
  const T& value() const& {
    RELAIS_CHECK_MSG(has_value(), "Result::value() on an error");
    return std::get<0>(state_);
  }
  T&& value() && {
    RELAIS_CHECK_MSG(has_value(), "Result::value() on an error");
    return std::get<0>(std::move(state_));
  }
  const Error& error() const& {
    RELAIS_CHECK_MSG(!has_value(), "Result::error() on a value");
    return std::get<1>(state_);
  }
  Error&& error() && {
    RELAIS_CHECK_MSG(!has_value(), "Result::error() on a value");
    return std::get<1>(std::move(state_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}       // NOLINT: implicit
  Result(Unexpected u) : error_(std::move(u).error()) {}  // NOLINT: implicit

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Error& error() const& {
    RELAIS_CHECK_MSG(error_.has_value(), "Status::error() on success");
    return *error_;
  }
  Error&& error() && {
    RELAIS_CHECK_MSG(error_.has_value(), "Status::error() on success");
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status Ok() { return Status(); }

}  // namespace relais::base

// Propagates a failed Status/Result from the enclosing function.
#define RELAIS_RETURN_IF_ERROR(expr)                               \
  do {                                                             \
    auto relais_status_ = (expr);                                  \
    if (!relais_status_) return std::move(relais_status_).error(); \
  } while (0)

#define RELAIS_CONCAT_INNER_(a, b) a##b
#define RELAIS_CONCAT_(a, b) RELAIS_CONCAT_INNER_(a, b)
// RELAIS_ASSIGN_OR_RETURN(auto x, MakeX()); declares x from a Result or returns its error.
#define RELAIS_ASSIGN_OR_RETURN(decl, expr)                             \
  auto RELAIS_CONCAT_(relais_result_, __LINE__) = (expr);               \
  if (!RELAIS_CONCAT_(relais_result_, __LINE__))                        \
    return std::move(RELAIS_CONCAT_(relais_result_, __LINE__)).error(); \
  decl = std::move(RELAIS_CONCAT_(relais_result_, __LINE__)).value()

#endif  // RELAIS_BASE_STATUS_H_
