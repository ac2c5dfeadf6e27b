/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The XDP gate on the cell's underlay device (SPEC §3, docs/datapath.md "The XDP gate"):
 * VXLAN-GBP packets before the stack decapsulates them. Drops those whose outer source is
 * not a known cell (drop_unknown_vtep) and those the destination endpoint's enforce would
 * certainly drop for their (GBP tag, protocol, port) (drop_policy); passes everything else.
 * TC enforce stays the authority. The outer headers and the inner frame are parsed by
 * parse.h, the inner packet decided by enforce's own wt_enforce_reason (verdict.h), through
 * the XDP context (ctx.h).
 */
#ifndef WT_BPF_GATE_H
#define WT_BPF_GATE_H

#include "verdict.h"
#include <linux/bpf.h>
#include <linux/udp.h>

struct wt_vxlan_hdr {
	__u8 flags;  /* WT_VXLAN_FLAG_G | WT_VXLAN_FLAG_I */
	__u8 flags2; /* GBP: D and A bits */
	__u16 gbp;   /* Group Policy ID, network order */
	__u32 vni;   /* VNI << 8, network order */
};

/* Is the outer source a cell's VTEP? Yes for every source while no set is in force. */
static __always_inline int wt_vtep_known(const struct wt_packet *outer)
{
	struct wt_vtep_key key = {.family = outer->family};

	__builtin_memcpy(key.addr, outer->saddr, 16);
	if (bpf_map_lookup_elem(&vteps, &key))
		return 1;
	__builtin_memset(&key, 0, sizeof(key)); /* the marker: family 0 */
	return !bpf_map_lookup_elem(&vteps, &key);
}

/* The endpoint an inner destination address is, or 0. */
static __always_inline __u32 wt_endpoint_of_addr(const struct wt_packet *inner)
{
	struct wt_addr_key key = {.family = inner->family};
	__u32 *ifindex;

	__builtin_memcpy(key.addr, inner->daddr, 16);
	ifindex = bpf_map_lookup_elem(&endpoint_addrs, &key);
	return ifindex ? *ifindex : 0;
}

/* p: the packet the event shows (outer for an unknown VTEP, inner for policy). */
static __always_inline int wt_gate_drop(__u32 ifindex, __u32 tag, __u32 reason,
					const struct wt_packet *p, const struct wt_packet *outer)
{
	wt_event_from(ifindex, tag, WT_DIR_GATE, reason, WT_VERDICT_DROP, WT_MODE_ENFORCE, p, outer);
	wt_count_keyed(ifindex, WT_DIR_GATE, reason, WT_VERDICT_DROP, p->len);
	return XDP_DROP;
}

static __always_inline int wt_gate(struct wt_ctx *ctx)
{
	struct wt_packet outer = {}, inner = {};
	struct wt_vxlan_hdr vh;
	struct wt_ep_state st;
	__u32 ifindex = ctx_ifindex(ctx), tag, ep, off;

	wt_packet_in_memory(&outer);
	/* Not IP, or malformed outer headers: the stack's business, not the gate's. */
	if (wt_parse(ctx, &outer) != WT_PARSED)
		return XDP_PASS;
	if (outer.proto != IPPROTO_UDP || !outer.l4_known || outer.frag != WT_FRAG_NONE ||
	    outer.dport != bpf_htons(wt_cfg.vxlan_port))
		return XDP_PASS;
	off = outer.l4_off + sizeof(struct udphdr);
	/* Too short for VXLAN, or no valid VNI: the vxlan driver drops it. */
	if (wt_load(ctx, off, &vh, sizeof(vh)) || !(vh.flags & WT_VXLAN_FLAG_I))
		return XDP_PASS;
	tag = vh.flags & WT_VXLAN_FLAG_G ? bpf_ntohs(vh.gbp) & wt_cfg.tag_mask : 0;
	if (!wt_vtep_known(&outer))
		return wt_gate_drop(ifindex, tag, WT_REASON_DROP_UNKNOWN_VTEP, &outer, &outer);
	if (!tag) /* untagged: the endpoint's untagged setting, at TC */
		return XDP_PASS;

	wt_packet_in_memory(&inner);
	if (wt_parse_at(ctx, &inner, off + sizeof(vh)) != WT_PARSED)
		return XDP_PASS;
	ep = wt_endpoint_of_addr(&inner);
	if (!ep || !wt_endpoint_state(ep, &st) || st.mode != WT_MODE_ENFORCE)
		return XDP_PASS; /* unknown destination, audit or bypass: TC decides and counts */
	if (wt_enforce_reason(ctx, &st, ep, tag, &inner, 0) != WT_REASON_DROP_POLICY)
		return XDP_PASS;
	return wt_gate_drop(ifindex, tag, WT_REASON_DROP_POLICY, &inner, &outer);
}

#endif
