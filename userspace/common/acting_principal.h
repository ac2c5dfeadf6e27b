// Who the work on this thread acts for, while a request's handler runs: the router sets it to
// the request's principal (which the auth layer fills in), and the store records it with every
// change a write queued meanwhile appends (the change log's "principal").
#pragma once

#include <memory>
#include <string>

namespace wiretag {

class ActingPrincipal {
 public:
  // For the scope of this object, the thread acts for *who (read when current() is called,
  // so a name noted after the scope began counts).
  explicit ActingPrincipal(std::shared_ptr<const std::string> who);
  ~ActingPrincipal();
  ActingPrincipal(const ActingPrincipal&) = delete;
  ActingPrincipal& operator=(const ActingPrincipal&) = delete;

  // Empty outside any scope (the process's own work: retention, expiry).
  static std::string current();

 private:
  std::shared_ptr<const std::string> who_;
  const ActingPrincipal* outer_;
};

}  // namespace wiretag
