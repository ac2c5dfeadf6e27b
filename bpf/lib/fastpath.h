/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The common case of stamp and enforce in few instructions: a TCP or UDP packet over IPv4
 * without options or IPv6 without extension headers, unfragmented, its headers in the linear
 * data, of a known endpoint; for stamp a flow the cache holds fresh, for enforce a reply the
 * flow cache answers for, an untagged packet, or a tagged one whose verdict is cached. The
 * answer is the one wt_stamp()/wt_enforce() give (verdict.h): the same helpers decide, on a
 * packet the full parse would have filled in the same way. Anything else returns
 * WT_FAST_PATH_NONE, with no state written, and the full decision runs from the start.
 * docs/datapath.md, "What a packet costs, and why".
 *
 * What it saves is code, not lookups: it touches the same map entries, but the packet's
 * parse state stays in registers (no wt_packet_in_memory()), one bounds check covers each
 * header, and none of the uncommon cases sits between its instructions.
 */
#ifndef WT_BPF_FASTPATH_H
#define WT_BPF_FASTPATH_H

#include "verdict.h"

#define WT_FAST_PATH_NONE (-1)

/*
 * The common packet, read straight from the linear data. Returns 1 having filled p as
 * wt_parse() fills it for such a packet (it returns WT_PARSED for it); 0 for every other
 * packet, which includes every one wt_parse() rejects.
 */
static __always_inline int wt_parse_common(struct __sk_buff *skb, struct wt_packet *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u32 l4_off, l3_end;
	void *l4;

	p->len = skb->len;
	if ((void *)(eth + 1) > data_end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return 0;
		/* Version 4, no options, neither a later fragment nor a first one. */
		if (*(__u8 *)iph != 0x45 || (iph->frag_off & bpf_htons(0x3fff)))
			return 0;
		l3_end = ETH_HLEN + bpf_ntohs(iph->tot_len);
		if (bpf_ntohs(iph->tot_len) < sizeof(*iph) || l3_end > p->len)
			return 0;
		p->family = 4;
		p->proto = iph->protocol;
		p->frag_id = bpf_ntohs(iph->id);
		__builtin_memcpy(p->saddr, &iph->saddr, 4);
		__builtin_memcpy(p->daddr, &iph->daddr, 4);
		l4 = iph + 1;
		l4_off = ETH_HLEN + sizeof(*iph);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end || ip6h->version != 6)
			return 0;
		l3_end = ETH_HLEN + sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len);
		if (l3_end > p->len)
			return 0;
		p->family = 6;
		p->proto = ip6h->nexthdr; /* TCP or UDP below: no extension header */
		__builtin_memcpy(p->saddr, &ip6h->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6h->daddr, 16);
		l4 = ip6h + 1;
		l4_off = ETH_HLEN + sizeof(*ip6h);
	} else {
		return 0;
	}
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end || l4_off + sizeof(*th) > l3_end || th->doff < 5 ||
		    l4_off + th->doff * 4 > l3_end)
			return 0;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end || l4_off + sizeof(*uh) > l3_end)
			return 0;
		p->sport = uh->source;
		p->dport = uh->dest;
	} else {
		return 0;
	}
	p->l4_known = 1;
	return 1;
}

/* wt_stamp() for a packet of a flow the cache holds fresh: tag it and count it. */
static __always_inline int wt_stamp_fast(struct __sk_buff *skb)
{
	struct wt_packet p = {};
	struct wt_endpoint ep;
	__u32 ifindex = skb->ifindex;

	if (!wt_endpoint_load_by_slot(ifindex, &ep) || ep.mode == WT_MODE_BYPASS)
		return WT_FAST_PATH_NONE;
	if (!wt_parse_common(skb, &p) || wt_spoofed(&ep, &p) || !wt_flow_fresh(ep.slot, &p))
		return WT_FAST_PATH_NONE;
	skb->mark = ep.tag;
	return wt_finish(ifindex, ep.slot, ep.tag, WT_DIR_STAMP, ep.mode, WT_REASON_STAMPED, &p, 0);
}

/* wt_enforce() for a reply the flow cache knows, an untagged packet, or a cached verdict. */
static __always_inline int wt_enforce_fast(struct __sk_buff *skb)
{
	struct wt_packet p = {};
	struct wt_ep_state st;
	__u32 ifindex = skb->ifindex, reason;
	__u32 src_tag = skb->mark & wt_cfg.tag_mask;
	__u64 key = 0, *entry;
	int reply;

	if (!wt_endpoint_state(ifindex, &st) || st.mode == WT_MODE_BYPASS || !wt_parse_common(skb, &p))
		return WT_FAST_PATH_NONE;
	if (wt_flow_reply_possible(st.slot, &p)) {
		reply = wt_flow_cache_reply(st.slot, &p);
		if (reply == WT_FLOW_ASK_FLOWS)
			return WT_FAST_PATH_NONE;
		if (reply)
			return wt_finish(ifindex, st.slot, src_tag, WT_DIR_ENFORCE, st.mode,
					 WT_REASON_ALLOW_REPLY, &p, 0);
	}
	if (!src_tag)
		return wt_finish(ifindex, st.slot, 0, WT_DIR_ENFORCE, st.mode, wt_untagged_reason(&st),
				 &p, 0);
	entry = wt_verdict_entry(&st, src_tag, &p, &key);
	if (!entry)
		return WT_FAST_PATH_NONE;
	reason = wt_verdict_cached(entry, key, &st);
	if (reason == WT_REASON_MAX)
		return WT_FAST_PATH_NONE;
	/* An allow is counted; a denial also applies the mode and reports, as wt_enforce(). */
	return wt_finish(ifindex, st.slot, src_tag, WT_DIR_ENFORCE, st.mode, reason, &p, 0);
}

#endif
