#include "smaragdine/status.h"

#include <fmt/format.h>

namespace smaragdine {

std::string Error::ToString() const {
  if (file.empty()) return message;
  if (line >= 0) return fmt::format("{}:{}: {}", file, line, message);
  if (byte_offset >= 0) return fmt::format("{}: at byte {}: {}", file, byte_offset, message);
  return fmt::format("{}: {}", file, message);
}

Error BadInput(std::string file, std::string message, int64_t line, int64_t byte_offset) {
  return Error{ErrorCode::kBadInput, std::move(message), std::move(file), line, byte_offset};
}
Error UsageError(std::string message) { return Error{ErrorCode::kUsage, std::move(message)}; }
Error Nothing(std::string message) {
  return Error{ErrorCode::kNothingMeasurable, std::move(message)};
}
Error Internal(std::string message) { return Error{ErrorCode::kInternal, std::move(message)}; }

}  // namespace smaragdine
