// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The XDP gate on the cell's underlay device (lib/gate.h). An object of its own: lib/ reads
 * the packet through the XDP context here (ctx.h), the TC context in wiretag.bpf.c. The
 * owner loads it over the live datapath's maps (userspace/datapath/gate.cc).
 */
#define WT_CTX_XDP 1
#include "lib/gate.h"
#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>

SEC("xdp")
int wt_gate_prog(struct xdp_md *ctx) { return wt_gate(ctx); }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
