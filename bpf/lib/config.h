/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Load-time settings (abi.h struct wt_config): set whole through skel->rodata before load. */
#ifndef WT_BPF_CONFIG_H
#define WT_BPF_CONFIG_H

#include <linux/types.h>
#include "wiretag/abi.h"
#include "compiler.h"

const volatile struct wt_config wt_cfg = {
	.flow_timeout_tcp_ns = WT_FLOW_TIMEOUT_TCP_NS,
	.flow_timeout_udp_ns = WT_FLOW_TIMEOUT_UDP_NS,
	.flow_timeout_other_ns = WT_FLOW_TIMEOUT_OTHER_NS,
	.flow_refresh_ns = WT_FLOW_REFRESH_NS,
	.fragment_timeout_ns = WT_FRAGMENT_TIMEOUT_NS,
	/* The owner converts the timeouts above with CONFIG_HZ. */
	.flow_timeout_tcp_jiffies = 7200ULL * 250,
	.flow_timeout_udp_jiffies = 120ULL * 250,
	.flow_timeout_other_jiffies = 30ULL * 250,
	.flow_refresh_jiffies = 250,
	.tag_mask = 0xffff,
	.flow_cache_shift = 64 - 16, /* the owner sets it from the map's size (abi.h) */
	.events_per_sec = 1000,
	.endpoint_index_mask = WT_ENDPOINT_INDEX_SIZE - 1,
	.vxlan_port = WT_VXLAN_PORT,
	.verdict_cache_on = 1,
};

#endif
