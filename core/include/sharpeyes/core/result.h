#pragma once
// Result<T>: the error-as-value type used at every module boundary (see docs/architecture.md).
// Exceptions are reserved for start-up (configuration); nothing on a data path throws.

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace sharpeyes::core {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kUnavailable,
  kIo,
  kCorrupt,
  kTimeout,
  kPermissionDenied,
  kResourceExhausted,
  kUnsupported,
  kCancelled,
  kInternal,
};

std::string_view toString(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // "not_found: camera cam07 is not configured"
  std::string describe() const;
};

inline Error makeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, Error>, "Result<Error> is meaningless");

 public:
  // Implicit on purpose: `return value;` and `return makeError(...);` both read naturally.
  Result(T value)
      : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error)
      : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  // On a temporary Result the value is moved out, not referred to: `for (x : *f())` and
  // `const auto& v = *f();` then hold the value itself instead of a reference into a
  // temporary that dies at the end of the statement.
  T value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }

  const Error& error() const { return std::get<1>(v_); }

  T valueOr(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error)
      : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Result<void> okResult() {
  return {};
}

}  // namespace sharpeyes::core
