// The cell's underlay (agent flag --underlay): the XDP gate attached to its device, the
// cell's own VTEP addresses (reported in PDP_STATUS vtepAddresses) and the set of every
// cell's VTEPs the server hands back, which the gate believes (docs/datapath.md "The XDP gate").
#pragma once

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
  // addresses: `vteps` when given, else the device's own addresses.
  static Result<std::unique_ptr<Underlay>> open(datapath::Datapath& dp,
                                                const datapath::Device& device,
                                                std::vector<std::string> vteps);

  const std::vector<std::string>& own_vteps() const { return own_; }
  // The server's set of every cell's VTEPs: written to the gate when it changed.
  Result<void> learn(const std::vector<std::string>& vteps);

 private:
  Underlay(datapath::Datapath& dp, std::vector<std::string> own) : dp_(dp), own_(std::move(own)) {}
  datapath::Datapath& dp_;
  std::vector<std::string> own_;
  std::mutex mu_;
  std::vector<std::string> learned_;
  bool learned_any_ = false;
};

}  // namespace wiretag::agent
