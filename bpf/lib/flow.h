/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Flows an endpoint originated (recorded by stamp) and the replies they admit (enforce). */
#ifndef WT_BPF_FLOW_H
#define WT_BPF_FLOW_H

#include "../maps.h"
#include "config.h"
#include "parse.h"

/* Only these have a reply we can recognise: TCP, UDP, ICMP/ICMPv6 echo. */
static __always_inline int wt_flow_trackable(const struct wt_packet *p)
{
	if (!p->l4_known)
		return 0;
	return p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP || wt_icmp_is_echo_request(p) ||
	       wt_icmp_is_echo_reply(p);
}

/*
 * Flow and fragment clocks. Timeouts of seconds need no more than the coarse clock (tick
 * precision), which is a load; bpf_ktime_get_ns() reads the clocksource, tens of ns in a VM.
 * The coarse clock can be a tick behind a time an older build stored: such an age is 0.
 */
static __always_inline __u64 wt_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

static __always_inline __u64 wt_age(__u64 now, __u64 then)
{
	return now > then ? now - then : 0;
}

static __always_inline __u64 wt_flow_timeout(__u8 proto)
{
	if (proto == IPPROTO_TCP)
		return wt_flow_timeout_tcp_ns;
	if (proto == IPPROTO_UDP)
		return wt_flow_timeout_udp_ns;
	return wt_flow_timeout_other_ns;
}

/* The flow as the endpoint sent it. ICMP echo request and reply map to one key. */
static __always_inline void wt_flow_key_sent(struct wt_flow_key *k, __u32 ifindex,
					     const struct wt_packet *p)
{
	k->ifindex = ifindex;
	k->family = p->family;
	k->proto = p->proto;
	k->sport = p->sport;
	k->dport = p->dport;
	__builtin_memcpy(k->saddr, p->saddr, 16);
	__builtin_memcpy(k->daddr, p->daddr, 16);
}

static __always_inline void wt_flow_key_reply(struct wt_flow_key *k, __u32 ifindex,
					      const struct wt_packet *p)
{
	k->ifindex = ifindex;
	k->family = p->family;
	k->proto = p->proto;
	k->sport = p->dport;
	k->dport = p->sport;
	__builtin_memcpy(k->saddr, p->daddr, 16);
	__builtin_memcpy(k->daddr, p->saddr, 16);
	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
		k->sport = p->sport; /* echo identifier */
		k->dport = 0;
	}
}

/* The reply_ports word holding an endpoint's bit for a port (host order), and the bit. */
static __always_inline __u64 *wt_reply_port_word(__u32 slot, __u16 port, __u64 *bit)
{
	__u32 index = slot * WT_REPLY_PORT_WORDS + (port >> 6);

	*bit = 1ULL << (port & 63);
	return bpf_map_lookup_elem(&reply_ports, &index);
}

/* stamp: remember that the endpoint sent this flow; rewrite at most once per refresh period. */
static __always_inline void wt_flow_record(__u32 ifindex, __u32 slot, const struct wt_packet *p)
{
	struct wt_flow_key key = {};
	struct wt_flow *f, nf;
	__u64 now;

	if (!wt_flow_trackable(p) || wt_icmp_is_echo_reply(p))
		return;
	if (wt_has_ports(p)) {
		/* Before the flow exists, so enforce never sees a flow whose bit is clear. */
		__u64 bit, *word = wt_reply_port_word(slot, bpf_ntohs(p->sport), &bit);

		if (word && !(*word & bit))
			__sync_fetch_and_or(word, bit);
	}
	wt_flow_key_sent(&key, ifindex, p);
	now = wt_now();
	f = bpf_map_lookup_elem(&flows, &key);
	if (f) {
		if (wt_age(now, f->last_seen_ns) >= wt_flow_refresh_ns)
			f->last_seen_ns = now;
		return;
	}
	nf.last_seen_ns = now;
	bpf_map_update_elem(&flows, &key, &nf, BPF_ANY);
}

/* enforce: is this packet a reply to a live flow the endpoint originated? */
static __always_inline int wt_flow_is_reply(__u32 ifindex, __u32 slot, const struct wt_packet *p)
{
	struct wt_flow_key key = {};
	struct wt_flow *f;

	if (!wt_flow_trackable(p) || wt_icmp_is_echo_request(p))
		return 0;
	/* A bare SYN opens a connection: it can never be a reply. */
	if (p->proto == IPPROTO_TCP && (p->tcp_flags & (WT_TCP_SYN | WT_TCP_ACK)) == WT_TCP_SYN)
		return 0;
	if (wt_has_ports(p)) {
		/* No flow of this endpoint ever used this port: no lookup. */
		__u64 bit, *word = wt_reply_port_word(slot, bpf_ntohs(p->dport), &bit);

		if (!word || !(*word & bit))
			return 0;
	}
	wt_flow_key_reply(&key, ifindex, p);
	f = bpf_map_lookup_elem(&flows, &key);
	if (!f)
		return 0;
	return wt_age(wt_now(), f->last_seen_ns) <= wt_flow_timeout(p->proto);
}

static __always_inline void wt_frag_key(struct wt_frag_key *k, __u32 ifindex,
					const struct wt_packet *p)
{
	k->ifindex = ifindex;
	k->id = p->frag_id;
	k->family = p->family;
	/* IPv6: a later fragment cannot know the L4 protocol behind headers in the first one */
	k->proto = p->family == 4 ? p->proto : 0;
	__builtin_memcpy(k->saddr, p->saddr, 16);
	__builtin_memcpy(k->daddr, p->daddr, 16);
}

/* enforce: a first fragment passed, so the rest of its datagram may follow. */
static __always_inline void wt_fragment_admit(__u32 ifindex, const struct wt_packet *p)
{
	struct wt_frag_key key = {};
	struct wt_frag v = { .first_seen_ns = wt_now() };

	wt_frag_key(&key, ifindex, p);
	bpf_map_update_elem(&fragments, &key, &v, BPF_ANY);
}

static __always_inline int wt_fragment_admitted(__u32 ifindex, const struct wt_packet *p)
{
	struct wt_frag_key key = {};
	struct wt_frag *f;

	wt_frag_key(&key, ifindex, p);
	f = bpf_map_lookup_elem(&fragments, &key);
	return f && wt_age(wt_now(), f->first_seen_ns) <= wt_fragment_timeout_ns;
}

#endif
