// status.h — errors as values inside the library.
//
// Library functions that can fail on expected conditions (an unreadable file,
// malformed input, no overlap between trace and energy log) return
// Result<T> or Status; the CLI turns an Error into a message and an exit code.
//
//   Result<EnergyLog> log = ReadEnergy(path, options);
//   if (!log.ok()) return log.error();          // propagate
//   SMG_ASSIGN_OR_RETURN(Trace trace, ReadTrace(path, {}));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace smaragdine {

// Values double as the process exit status (DESIGN §8).
enum class ErrorCode : int {
  kUsage = 1,              // the command line is wrong
  kBadInput = 2,           // a file cannot be read as what it claims to be
  kNothingMeasurable = 3,  // no energy could be attributed (no overlap, no domain)
  kInternal = 4,           // a broken invariant, e.g. the conservation check: a bug
};

struct Error {
  ErrorCode code = ErrorCode::kBadInput;
  std::string message;
  std::string file;          // empty when the error is not about a file
  int64_t line = -1;         // 1-based, -1 when unknown
  int64_t byte_offset = -1;  // 0-based, -1 when unknown

  // "FILE:LINE: message" or "FILE: at byte N: message" or just "message".
  std::string ToString() const;
  int ExitCode() const { return static_cast<int>(code); }
};

Error BadInput(std::string file, std::string message, int64_t line = -1,
               int64_t byte_offset = -1);
Error UsageError(std::string message);
Error Nothing(std::string message);
Error Internal(std::string message);

// [[nodiscard]]: a Status or Result dropped on the floor is an error nobody
// sees; the compiler says so (cast to void where ignoring one is meant).
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  bool ok() const { return !error_.has_value(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}    // NOLINT: implicit by design
  bool ok() const { return v_.index() == 0; }
  const Error& error() const { return std::get<1>(v_); }
  Status status() const { return ok() ? Status() : Status(error()); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace smaragdine

#define SMG_CONCAT_INNER_(a, b) a##b
#define SMG_CONCAT_(a, b) SMG_CONCAT_INNER_(a, b)

#define SMG_RETURN_IF_ERROR(expr)                                 \
  do {                                                            \
    auto smg_status_ = (expr);                                    \
    if (!smg_status_.ok()) return smg_status_.error();            \
  } while (0)

#define SMG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.error();               \
  lhs = std::move(tmp).value()

#define SMG_ASSIGN_OR_RETURN(lhs, expr) \
  SMG_ASSIGN_OR_RETURN_IMPL_(SMG_CONCAT_(smg_result_, __LINE__), lhs, expr)
