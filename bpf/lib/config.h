/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Load-time settings: set through skel->rodata between open and load. */
#ifndef WT_BPF_CONFIG_H
#define WT_BPF_CONFIG_H

#include <linux/types.h>
#include "wiretag/abi.h"

const volatile __u32 wt_tag_mask = 0xffff;            /* from tag_length */
const volatile __u64 wt_flow_timeout_tcp_ns = 7200ULL * 1000000000ULL;
const volatile __u64 wt_flow_timeout_udp_ns = 120ULL * 1000000000ULL;
const volatile __u64 wt_flow_timeout_other_ns = 30ULL * 1000000000ULL;
const volatile __u64 wt_flow_refresh_ns = 1000000000ULL; /* stamp rewrites last_seen at most this often */
const volatile __u64 wt_fragment_timeout_ns = 30ULL * 1000000000ULL;
/* The flow cache's clock is jiffies: the owner converts the timeouts above with CONFIG_HZ. */
const volatile __u64 wt_flow_timeout_tcp_jiffies = 7200ULL * 250;
const volatile __u64 wt_flow_timeout_udp_jiffies = 120ULL * 250;
const volatile __u64 wt_flow_timeout_other_jiffies = 30ULL * 250;
const volatile __u64 wt_flow_refresh_jiffies = 250;
/* 64 - log2(the flow cache's sets): the owner sets it from the map's size (abi.h). */
const volatile __u32 wt_flow_cache_shift = 64 - 16;
const volatile __u32 wt_events_per_sec = 1000;         /* per CPU */
const volatile __u8 wt_verdict_cache_on = 1; /* tags of at most 16 bits (abi.h) */
const volatile __u32 wt_endpoint_index_mask = WT_ENDPOINT_INDEX_SIZE - 1; /* entries - 1 */

#endif
