// Runs the real stamp and enforce programs through BPF_PROG_TEST_RUN against a private,
// unpinned datapath, and reads each packet's reason and verdict back from the counters.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/policy_compiler.h"
#include "datapath/datapath.h"
#include "datapath/packet_builder.h"
#include "wiretag/abi.h"

namespace wiretag::test {

using namespace wiretag::datapath;  // PacketBuilder and its constants

// A test-run skb with no ctx ifindex belongs to the loopback device of the current netns.
constexpr uint32_t kTestIfindex = 1;

enum class Program { Stamp, Enforce };

struct EndpointSetup {
  bool present = true;  // false: no endpoint config at all
  uint32_t tag = 9;
  uint8_t mode = WT_MODE_ENFORCE;
  uint8_t untagged = WT_UNTAGGED_ALLOW;
  uint8_t flags = 0;  // WT_EP_ANTISPOOF_*
  std::string ipv4;   // anti-spoof source, text
  std::string ipv6;
};

// What one program run did: its TC action, the mark it left, and the one counter it bumped.
struct Outcome {
  int retval = -1;
  uint32_t mark = 0;
  uint32_t reason = WT_REASON_MAX;
  uint8_t verdict = 0xff;
  uint8_t direction = 0xff;
  uint32_t ifindex = 0;  // of the counter row
  int counter_rows_changed = 0;
  std::string error;  // the test run itself failed
};
std::ostream& operator<<(std::ostream& os, const Outcome& o);
std::string reason_text(uint32_t reason);

datapath::Options test_options();

class ProgRunner {
 public:
  // Empty on failure; `error` says why.
  static std::unique_ptr<ProgRunner> open(const datapath::Options& options, std::string* error);

  // Writes the endpoint config, then its rules (which flips the generation). "" = done.
  std::string configure(const EndpointSetup& endpoint, const std::vector<Rule>& rules,
                        uint32_t ifindex = kTestIfindex);

  // One run, with its counter delta. ifindex 0: the skb's device is the loopback. gso_size
  // nonzero: the skb is a GSO packet of segments that size (BIG TCP).
  Outcome run(Program prog, const std::vector<uint8_t>& frame, uint32_t mark, uint32_t ifindex = 0,
              uint32_t gso_size = 0);
  // One run, TC action only (for hot loops); -errno when the test run fails.
  int run_action(Program prog, const std::vector<uint8_t>& frame, uint32_t mark,
                 uint32_t* mark_out = nullptr, uint32_t ifindex = 0, uint32_t gso_size = 0) const;

  datapath::Datapath& datapath() { return *dp_; }

 private:
  explicit ProgRunner(std::unique_ptr<datapath::Datapath> dp) : dp_(std::move(dp)) {}
  std::unique_ptr<datapath::Datapath> dp_;
};

// ProgRunner::open for a test: failing to open fails the test (and returns empty).
std::unique_ptr<ProgRunner> open_runner(const datapath::Options& options = test_options());

}  // namespace wiretag::test
