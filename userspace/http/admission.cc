// Router admission: the early gates on a request's head, and the finishing touches on every
// answer under a prefix (see router.h).
#include <string>
#include <string_view>
#include <vector>

#include "http/router.h"

namespace wiretag::http {
namespace {

// Empty segments are skipped: "//app" is covered by a gate on "/app" whatever the routes make
// of it, so a gate errs on the side of checking.
std::vector<std::string_view> segments_of(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::vector<std::string> prefix_of(std::string_view p) {
  std::vector<std::string> prefix;
  for (std::string_view s : segments_of(p)) prefix.emplace_back(s);
  return prefix;
}

bool covers(const std::vector<std::string>& prefix, const std::vector<std::string_view>& path) {
  if (prefix.size() > path.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (prefix[i][0] != ':' && prefix[i] != path[i]) return false;
  return true;
}

}  // namespace

Router& Router::admit_by(std::initializer_list<std::string_view> prefixes, Handler gate) {
  for (std::string_view p : prefixes) gates_.push_back(Gate{prefix_of(p), gate});
  return *this;
}

Router& Router::dress(std::initializer_list<std::string_view> prefixes, Dresser dresser) {
  for (std::string_view p : prefixes) dressings_.push_back(Dressing{prefix_of(p), dresser});
  return *this;
}

void Router::finish(const Request& head, Reply& reply) const {
  if (dressings_.empty()) return;
  const std::vector<std::string_view> path = segments_of(head.path);
  for (const Dressing& d : dressings_)
    if (covers(d.prefix, path)) d.dress(head, reply);
}

std::optional<Reply> Router::admission(const Request& head) const {
  if (gates_.empty()) return std::nullopt;
  const auto started = std::chrono::steady_clock::now();
  const std::vector<std::string_view> path = segments_of(head.path);
  for (const Gate& g : gates_) {
    if (!covers(g.prefix, path)) continue;
    Result<Reply> answer = g.check(head);
    std::optional<Reply> refusal;
    if (!answer)
      refusal = error_reply(answer.error());
    else if (answer.value().status / 100 != 2)
      refusal = std::move(answer).value();
    if (!refusal) continue;
    finish(head, *refusal);
    if (!observers_.empty()) report(route_for(head), head, *refusal, started);
    return refusal;
  }
  return std::nullopt;
}

}  // namespace wiretag::http
