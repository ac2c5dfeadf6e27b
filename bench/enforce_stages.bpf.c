// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The enforce program cut into cumulative stages, for the datapath bench to show where the
 * time goes. Built from the same bpf/lib helpers; the bench points its maps at the datapath's.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lib/verdict.h"

/* Stage 1: parse Ethernet, IP and L4 headers. */
SEC("tc")
int wt_stage_parse(struct __sk_buff *skb)
{
	struct wt_packet p = {};

	wt_packet_in_memory(&p);
	return wt_parse(skb, &p) == WT_PARSED ? TC_ACT_OK : TC_ACT_SHOT;
}

/* Stage 2: + reading the endpoint's state (endpoint_index, else the endpoints hash). */
SEC("tc")
int wt_stage_endpoint(struct __sk_buff *skb)
{
	struct wt_packet p = {};
	struct wt_ep_state st;
	__u32 ifindex = skb->ifindex;

	wt_packet_in_memory(&p);
	if (!wt_endpoint_state(ifindex, &st))
		return TC_ACT_SHOT;
	return wt_parse(skb, &p) == WT_PARSED ? TC_ACT_OK : TC_ACT_SHOT;
}

/* Stage 3: + the verdict (flow, rules); no counter, no event. */
SEC("tc")
int wt_stage_verdict(struct __sk_buff *skb)
{
	struct wt_packet p = {};
	struct wt_ep_state st;
	__u32 ifindex = skb->ifindex, reason;
	__u32 src_tag = skb->mark & wt_cfg.tag_mask;

	wt_packet_in_memory(&p);
	if (!wt_endpoint_state(ifindex, &st))
		return TC_ACT_SHOT;
	reason = wt_parse(skb, &p);
	if (reason == WT_PARSED)
		reason = wt_enforce_reason(skb, &st, ifindex, src_tag, &p, 0);
	return wt_reason_is_drop(reason) ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
