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
                                                 std::vector<std::string> vteps) {
  if (auto r = dp.attach_gate(device); !r) return r.error();
  if (vteps.empty()) {
    WT_TRY(found, device_addresses(device));
    vteps = std::move(*found);
  }
  if (vteps.empty())
    spdlog::warn("underlay {}: no address to report as this cell's VTEP (--vtep)", device.ifname);
  spdlog::info("underlay {}: gate attached; this cell's VTEP address(es): {}", device.ifname,
               joined(vteps));
  return std::unique_ptr<Underlay>(new Underlay(dp, std::move(vteps)));
}

Result<void> Underlay::learn(const std::vector<std::string>& vteps) {
  std::vector<std::string> sorted = vteps;
  std::sort(sorted.begin(), sorted.end());
  std::lock_guard lock(mu_);
  if (learned_any_ && sorted == learned_) return Ok();
  if (auto r = dp_.set_vteps(sorted); !r) return r;
  learned_ = std::move(sorted);
  learned_any_ = true;
  spdlog::info("gate: {} cell VTEP(s) believed: {}", learned_.size(), joined(learned_));
  return Ok();
}

}  // namespace wiretag::agent
