/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rule lookup: O(1) in the number of rules. One src_policy lookup per candidate source
 * (the packet's tag, then "*"), then one port_policy lookup per port-prefix length that
 * source actually uses (exact ports: one). See docs/datapath.md.
 */
#ifndef WT_BPF_POLICY_H
#define WT_BPF_POLICY_H

#include "../maps.h"
#include "parse.h"
#include "endpoint.h"
#include "trace.h"

static __always_inline int wt_port_allowed(__u32 ifindex, __u32 src_tag, __u8 gen, __u8 proto,
					   __u16 port, __u32 plens, struct wt_trace *tr)
{
	struct wt_port_key key = {
		.ifindex = ifindex,
		.src_tag = src_tag,
		.proto = proto,
	};
	int plen;

	/* Longest prefixes first: exact ports are the common case. */
#pragma unroll
	for (plen = WT_PORT_PLEN_MAX; plen > 0; plen--) {
		if (!(plens & (1u << plen)))
			continue;
		key.port = port & (__u16)(0xffff << (WT_PORT_PLEN_MAX - plen));
		key.plen_gen = (__u8)(plen << 1 | gen);
		if (bpf_map_lookup_elem(&port_policy, &key)) {
			wt_trace_match(tr, WT_TRACE_MATCH_PORT, src_tag, proto, key.port, plen);
			return 1;
		}
	}
	return 0;
}

/* Exact-port rules are the common case: one lookup, without src_policy. */
static __always_inline int wt_exact_port_allowed(__u32 ifindex, __u32 src_tag, __u8 gen,
						 const struct wt_packet *p, struct wt_trace *tr)
{
	struct wt_port_key key = {
		.ifindex = ifindex,
		.src_tag = src_tag,
		.port = bpf_ntohs(p->dport),
		.proto = p->proto,
		.plen_gen = (__u8)(WT_PORT_PLEN_MAX << 1 | gen),
	};

	int hit = bpf_map_lookup_elem(&port_policy, &key) != 0;

	if (tr && hit)
		wt_trace_match(tr, WT_TRACE_MATCH_PORT, src_tag, p->proto, key.port, WT_PORT_PLEN_MAX);
	return hit;
}

static __always_inline int wt_source_allowed(__u32 ifindex, __u32 src_tag, __u8 gen,
					     const struct wt_packet *p, struct wt_trace *tr)
{
	struct wt_src_key key = { .ifindex = ifindex, .src_tag = src_tag, .generation = gen };
	struct wt_src_policy *sp;
	__u32 plens;

	sp = bpf_map_lookup_elem(&src_policy, &key);
	if (!sp)
		return 0;
	if (sp->any_proto) {
		wt_trace_match(tr, WT_TRACE_MATCH_ANY, src_tag, 0, 0, 0);
		return 1;
	}
	switch (p->proto) {
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (tr && sp->icmp)
			wt_trace_match(tr, WT_TRACE_MATCH_ICMP, src_tag, p->proto, 0, 0);
		return sp->icmp;
	case IPPROTO_TCP:
		plens = sp->port_plens[WT_PROTO_SLOT_TCP];
		break;
	case IPPROTO_UDP:
		plens = sp->port_plens[WT_PROTO_SLOT_UDP];
		break;
	default:
		return 0;
	}
	if (plens & 1) {
		wt_trace_match(tr, WT_TRACE_MATCH_ALL_PORTS, src_tag, p->proto, 0, 0);
		return 1;
	}
	plens &= ~(1u << WT_PORT_PLEN_MAX); /* wt_exact_port_allowed() looked already */
	if (!plens || !p->l4_known)
		return 0;
	return wt_port_allowed(ifindex, src_tag, gen, p->proto, bpf_ntohs(p->dport), plens, tr);
}

/*
 * Returns WT_REASON_ALLOW_RULE, WT_REASON_ALLOW_WILDCARD or WT_REASON_DROP_POLICY. The
 * endpoint's WT_EP_HAS_* flags (of the generation in force) skip lookups that cannot hit.
 */
static __always_inline __u32 wt_rules_lookup(const struct wt_ep_state *st, __u32 ifindex,
					     __u32 src_tag, const struct wt_packet *p,
					     struct wt_trace *tr)
{
	__u8 gen = st->generation;

	if (wt_has_ports(p) && wt_exact_port_allowed(ifindex, src_tag, gen, p, tr))
		return WT_REASON_ALLOW_RULE;
	if ((st->flags & WT_EP_HAS_SRC_POLICY) && wt_source_allowed(ifindex, src_tag, gen, p, tr))
		return WT_REASON_ALLOW_RULE;
	if ((st->flags & WT_EP_HAS_WILDCARD_PORTS) && wt_has_ports(p) &&
	    wt_exact_port_allowed(ifindex, 0, gen, p, tr))
		return WT_REASON_ALLOW_WILDCARD;
	if ((st->flags & WT_EP_HAS_WILDCARD_SRC) && wt_source_allowed(ifindex, 0, gen, p, tr))
		return WT_REASON_ALLOW_WILDCARD;
	return WT_REASON_DROP_POLICY;
}

/*
 * What the rules' answer depends on besides the endpoint: the tag, the protocol class and,
 * for TCP/UDP, the port. 0 when the packet's answer is not cached (TCP/UDP without ports).
 */
static __always_inline int wt_verdict_key_of(__u32 src_tag, const struct wt_packet *p, __u64 *key)
{
	switch (p->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (!wt_has_ports(p))
			return 0;
		*key = wt_verdict_key(src_tag, bpf_ntohs(p->dport),
				      p->proto == IPPROTO_TCP ? WT_CLASS_TCP : WT_CLASS_UDP);
		return 1;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		*key = wt_verdict_key(src_tag, 0, WT_CLASS_ICMP);
		return 1;
	default:
		*key = wt_verdict_key(src_tag, 0, WT_CLASS_OTHER);
		return 1;
	}
}

static __always_inline __u32 wt_verdict_reason(__u64 word)
{
	__u8 code = (word >> 34) & 3;

	return code == WT_VERDICT_CODE_RULE	  ? WT_REASON_ALLOW_RULE
	       : code == WT_VERDICT_CODE_WILDCARD ? WT_REASON_ALLOW_WILDCARD
						  : WT_REASON_DROP_POLICY;
}

static __always_inline __u8 wt_verdict_code(__u32 reason)
{
	return reason == WT_REASON_ALLOW_RULE	  ? WT_VERDICT_CODE_RULE
	       : reason == WT_REASON_ALLOW_WILDCARD ? WT_VERDICT_CODE_WILDCARD
						    : WT_VERDICT_CODE_DENIED;
}

/* The slot's verdict cache entry for this packet's key (set in *key), or NULL. */
static __always_inline __u64 *wt_verdict_entry(const struct wt_ep_state *st, __u32 src_tag,
					       const struct wt_packet *p, __u64 *key)
{
	__u32 index;

	if (!wt_cfg.verdict_cache_on || !wt_verdict_key_of(src_tag, p, key))
		return 0;
	index = wt_verdict_index(st->slot, *key);
	return bpf_map_lookup_elem(&verdict_cache, &index);
}

/* The answer the entry holds for key in the endpoint's current epoch, else WT_REASON_MAX. */
static __always_inline __u32 wt_verdict_cached(const __u64 *entry, __u64 key,
					       const struct wt_ep_state *st)
{
	__u64 word = *(volatile __u64 *)entry;

	if (wt_likely((word & WT_VERDICT_KEY_MASK) == key && (word >> 34) & 3 &&
		      (word >> 36) == (st->epoch & WT_VERDICT_EPOCH_MASK)))
		return wt_verdict_reason(word);
	return WT_REASON_MAX;
}

/* The rules' answer for a tagged packet: from the slot's verdict cache, else the maps. */
static __always_inline __u32 wt_rules_verdict(const struct wt_ep_state *st, __u32 ifindex,
					      __u32 src_tag, const struct wt_packet *p,
					      struct wt_trace *tr)
{
	__u64 key = 0, *entry = wt_verdict_entry(st, src_tag, p, &key);
	__u32 reason;

	if (wt_likely(entry != 0)) {
		reason = wt_verdict_cached(entry, key, st);
		if (wt_likely(reason != WT_REASON_MAX))
			return reason;
	}
	reason = wt_rules_lookup(st, ifindex, src_tag, p, tr);
	if (entry)
		*(volatile __u64 *)entry = wt_verdict_word(key, wt_verdict_code(reason), st->epoch);
	return reason;
}

#endif
