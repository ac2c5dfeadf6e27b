// Errors as values at OS and parse boundaries: Result<T> holds a T or an Error.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace wiretag {

struct Error {
  std::string code;     // stable, machine-readable: "DEVICE_NOT_FOUND", "MAP_FULL", ...
  std::string message;  // for humans, with context
  int sys_errno = 0;    // the OS error behind it, if any
  // For UNAUTHORIZED: the WWW-Authenticate challenge; empty means a bearer token's.
  std::string challenge = {};

  static Error from_errno(std::string code, std::string what, int err) {
    if (err < 0) err = -err;
    return Error{std::move(code), what + ": " + std::strerror(err), err};
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Result<void> Ok() { return {}; }

// Binds VAR to the Result of EXPR, or returns its error from the enclosing function.
#define WT_TRY(var, expr) \
  auto var = (expr);      \
  if (!var) return var.error()

}  // namespace wiretag
