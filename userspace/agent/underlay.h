// The cell's underlay (agent flag --underlay): the XDP gate attached to its device, the
// cell's own VTEP addresses (reported in PDP_STATUS vtepAddresses) and the set of every
// cell's VTEPs the server hands back, which the gate believes (docs/datapath.md "The XDP gate").
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "datapath/datapath.h"
#include "wiretag/result.h"

namespace wiretag::agent {

// The IPv4 and IPv6 addresses of a device (link-local IPv6 left out), as text.
Result<std::vector<std::string>> device_addresses(const datapath::Device& device);

class Underlay {
 public:
  // Attaches the gate to `device` (replacing a previous agent's) and learns the cell's VTEP
  // addresses: `vteps` when given, else the device's own addresses. A VTEP leaves the gate's
  // set only once the server's answers have left it out for `grace` (a restarted server
  // hands out a partial set until every cell has beaten once); the set pinned by a previous
  // agent counts as just heard.
  static Result<std::unique_ptr<Underlay>> open(datapath::Datapath& dp,
                                                const datapath::Device& device,
                                                std::vector<std::string> vteps,
                                                std::chrono::milliseconds grace);

  // The VTEP bookkeeping alone, over what `dp` holds (no attach): open's second half, tests.
  static std::unique_ptr<Underlay> over(datapath::Datapath& dp, std::vector<std::string> own,
                                        std::chrono::milliseconds grace);

  const std::vector<std::string>& own_vteps() const { return own_; }
  // The server's set of every cell's VTEPs: additions go to the gate at once, departures
  // after `grace`. `now` for tests.
  Result<void> learn(const std::vector<std::string>& vteps,
                     std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  std::vector<std::string> believed() const;

 private:
  Underlay(datapath::Datapath& dp, std::vector<std::string> own, std::chrono::milliseconds grace)
      : dp_(dp), own_(std::move(own)), grace_(grace) {}
  datapath::Datapath& dp_;
  std::vector<std::string> own_;
  std::chrono::milliseconds grace_;
  mutable std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> heard_;  // last named by the server
  std::vector<std::string> believed_;                                   // what the gate holds
  bool written_ = false;
};

}  // namespace wiretag::agent
