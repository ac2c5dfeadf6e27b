#include "common/acting_principal.h"

namespace wiretag {
namespace {

thread_local const ActingPrincipal* t_innermost = nullptr;

}  // namespace

ActingPrincipal::ActingPrincipal(std::shared_ptr<const std::string> who)
    : who_(std::move(who)), outer_(t_innermost) {
  t_innermost = this;
}

ActingPrincipal::~ActingPrincipal() { t_innermost = outer_; }

std::string ActingPrincipal::current() {
  return t_innermost && t_innermost->who_ ? *t_innermost->who_ : std::string();
}

}  // namespace wiretag
