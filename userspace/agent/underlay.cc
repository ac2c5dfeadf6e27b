#include "agent/underlay.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>

#include "datapath/netns.h"

namespace wiretag::agent {
namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

}  // namespace

Result<std::vector<std::string>> device_addresses(const datapath::Device& device) {
  auto scope = datapath::NetnsScope::enter(device.netns);
  if (!scope) return scope.error();
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return Error::from_errno("UNDERLAY_FAILED", "getifaddrs", errno);
  std::vector<std::string> out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || device.ifname != a->ifa_name) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const in6_addr& v6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr;
      if (IN6_IS_ADDR_LINKLOCAL(&v6)) continue;
      inet_ntop(AF_INET6, &v6, text, sizeof text);
    } else {
      continue;
    }
    out.push_back(text);
  }
  freeifaddrs(list);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::unique_ptr<Underlay>> Underlay::open(datapath::Datapath& dp,
                                                 const datapath::Device& device,
                                                 std::vector<std::string> vteps,
                                                 std::chrono::milliseconds grace) {
  if (auto r = dp.attach_gate(device); !r) return r.error();
  if (vteps.empty()) {
    WT_TRY(found, device_addresses(device));
    vteps = std::move(*found);
  }
  if (vteps.empty())
    spdlog::warn("underlay {}: no address to report as this cell's VTEP (--vtep)", device.ifname);
  spdlog::info("underlay {}: gate attached; this cell's VTEP address(es): {}", device.ifname,
               joined(vteps));
  return over(dp, std::move(vteps), grace);
}

std::unique_ptr<Underlay> Underlay::over(datapath::Datapath& dp, std::vector<std::string> own,
                                         std::chrono::milliseconds grace) {
  std::unique_ptr<Underlay> u(new Underlay(dp, std::move(own), grace));
  const auto now = std::chrono::steady_clock::now();
  for (const auto& a : dp.vteps()) u->heard_[a] = now;  // a previous agent's set
  u->believed_ = dp.vteps();
  return u;
}

Result<void> Underlay::learn(const std::vector<std::string>& vteps,
                             std::chrono::steady_clock::time_point now) {
  for (const auto& a : vteps) {  // all or nothing: a bad answer changes nothing
    unsigned char bytes[16];
    if (inet_pton(AF_INET, a.c_str(), bytes) != 1 && inet_pton(AF_INET6, a.c_str(), bytes) != 1)
      return Error{"INVALID_VTEP", "the server's vteps hold \"" + a + "\""};
  }
  std::lock_guard lock(mu_);
  for (const auto& a : vteps) heard_[a] = now;
  std::vector<std::string> keep;
  for (auto it = heard_.begin(); it != heard_.end();) {
    if (now - it->second > grace_) {
      it = heard_.erase(it);
    } else {
      keep.push_back(it->first);
      ++it;
    }
  }
  if (written_ && keep == believed_) return Ok();
  if (auto r = dp_.set_vteps(keep); !r) return r;
  believed_ = std::move(keep);
  written_ = true;
  spdlog::info("gate: {} cell VTEP(s) believed: {}", believed_.size(), joined(believed_));
  return Ok();
}

std::vector<std::string> Underlay::believed() const {
  std::lock_guard lock(mu_);
  return believed_;
}

}  // namespace wiretag::agent
