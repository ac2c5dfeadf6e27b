// libbpf's messages into the one logging facade (common/log.h), for the programs that load or
// read BPF objects: the agent, the CLI, tests and benches. The server links no libbpf.
#pragma once

namespace wiretag {

// Warnings at warn, info at debug, the rest at trace; the expected ones (an existing clsact,
// detaching a filter that is not there) at debug.
void route_libbpf_logs();

}  // namespace wiretag
