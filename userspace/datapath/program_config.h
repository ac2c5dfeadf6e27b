// The programs' load-time settings (include/wiretag/abi.h struct wt_config, bpf/lib/config.h
// wt_cfg), built in one place from the datapath's options and copied whole into the .rodata of
// every object loaded from bpf/lib: the TC programs, the XDP gate, the trace programs.
#pragma once

#include <cstdint>

#include "datapath/datapath.h"
#include "wiretag/abi.h"
#include "wiretag/result.h"

namespace wiretag::datapath {

// The tags a tag_length of 1-4 bytes holds: their mask.
uint32_t tag_mask_of(unsigned tag_length);

// hz: the kernel's CONFIG_HZ (kernel_hz()), the flow cache's clock.
wt_config program_config(const Options& options, uint32_t hz);

// The wt_cfg a loaded program runs with, read back from its object's .rodata map (found by
// the map's BTF). CONFIG_NOT_FOUND when the program has no wt_cfg.
Result<wt_config> loaded_program_config(int prog_fd);

}  // namespace wiretag::datapath
