/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP errors about a flow the endpoint originated are replies to it (a stateful firewall's
 * RELATED): destination unreachable (port unreachable, fragmentation needed), time exceeded
 * and parameter problem; ICMPv6 destination unreachable, packet too big, time exceeded and
 * parameter problem. Without this, path MTU discovery and port-unreachable answers die at
 * enforce whenever the rules do not allow ICMP from their sender. An error quotes the packet
 * that caused it (its IP header and at least 8 bytes of L4, RFC 792 / RFC 4443): it is a
 * reply when it is sent to the quoted packet's source and the quoted packet belongs to a
 * flow this endpoint recorded, looked up exactly as a reply to that packet would be.
 */
#ifndef WT_BPF_RELATED_H
#define WT_BPF_RELATED_H

#include "ctx.h"
#include "flow.h"
#include "parse.h"

#define WT_ICMP_DEST_UNREACH 3
#define WT_ICMP_TIME_EXCEEDED 11
#define WT_ICMP_PARAMETERPROB 12
#define WT_ICMP_HDR_LEN 8

static __always_inline int wt_icmp_is_error(const struct wt_packet *p)
{
	if (!p->l4_known)
		return 0;
	if (p->proto == IPPROTO_ICMP)
		return p->family == 4 &&
		       (p->icmp_type == WT_ICMP_DEST_UNREACH || p->icmp_type == WT_ICMP_TIME_EXCEEDED ||
			p->icmp_type == WT_ICMP_PARAMETERPROB);
	/* ICMPV6_DEST_UNREACH 1, ICMPV6_PKT_TOOBIG 2, ICMPV6_TIME_EXCEED 3, ICMPV6_PARAMPROB 4 */
	return p->proto == IPPROTO_ICMPV6 && p->family == 6 && p->icmp_type >= 1 &&
	       p->icmp_type <= 4;
}

/*
 * The packet an ICMP error quotes, turned around: the reply to it, which is what
 * wt_flow_is_reply looks up. 0 when the quote cannot be read whole or is not a packet of a
 * flow (a later fragment, an IPv6 extension header first other than one hop-by-hop header,
 * an ICMP other than an echo request), or when the error is not sent to the quoted packet's
 * source. A hop-by-hop header is skipped: a BIG TCP packet's (its Jumbo Payload option,
 * parse.h) is quoted by a router's Packet Too Big. The quote is read
 * with the load-bytes helper, which checks the bounds itself: with direct packet access the
 * verifier could not bound its offset (l4_off plus headers), as clang checks one copy of the
 * offset and adds another. Only ICMP errors come here.
 */
static __always_inline int wt_icmp_quoted_reply(struct wt_ctx *ctx, const struct wt_packet *p,
						struct wt_packet *q)
{
	__u32 off = p->l4_off + WT_ICMP_HDR_LEN, l4;
	__u8 echo_request, proto;

	if (p->family == 4) {
		struct iphdr iph;

		if (ctx_load_bytes(ctx, off, &iph, sizeof(iph)) || iph.version != 4 || iph.ihl < 5 ||
		    (bpf_ntohs(iph.frag_off) & 0x1fff))
			return 0;
		proto = iph.protocol;
		__builtin_memcpy(q->saddr, &iph.daddr, 4);
		__builtin_memcpy(q->daddr, &iph.saddr, 4);
		l4 = off + iph.ihl * 4;
		echo_request = WT_ICMP_ECHO;
		q->icmp_type = WT_ICMP_ECHOREPLY;
		if (!wt_ip_equal(q->daddr, p->daddr, 4))
			return 0;
	} else {
		struct ipv6hdr ip6h;

		if (ctx_load_bytes(ctx, off, &ip6h, sizeof(ip6h)) || ip6h.version != 6)
			return 0;
		proto = ip6h.nexthdr;
		__builtin_memcpy(q->saddr, &ip6h.daddr, 16);
		__builtin_memcpy(q->daddr, &ip6h.saddr, 16);
		l4 = off + sizeof(ip6h);
		if (proto == IPPROTO_HOPOPTS) {
			__u8 hop[2]; /* next header, length in 8 bytes beyond the first 8 */

			if (ctx_load_bytes(ctx, l4, hop, sizeof(hop)))
				return 0;
			proto = hop[0];
			l4 += (hop[1] + 1) * 8;
		}
		echo_request = ICMPV6_ECHO_REQUEST;
		q->icmp_type = ICMPV6_ECHO_REPLY;
		if (!wt_ip_equal(q->daddr, p->daddr, 16))
			return 0;
	}
	q->family = p->family;
	q->proto = proto;
	q->len = p->len;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		__u16 ports[2];

		if (ctx_load_bytes(ctx, l4, ports, sizeof(ports)))
			return 0;
		q->sport = ports[1];
		q->dport = ports[0];
		q->tcp_flags = WT_TCP_ACK; /* looked up as a reply: never a bare SYN */
		q->l4_known = 1;
		return 1;
	}
	if (proto == p->proto) { /* ICMP in ICMP: only an echo request has a flow */
		struct {
			__u8 type;
			__u8 code;
			__u16 csum;
			__u16 id;
		} ih;

		if (ctx_load_bytes(ctx, l4, &ih, sizeof(ih)) || ih.type != echo_request)
			return 0;
		q->sport = ih.id;
		q->l4_known = 1;
		return 1;
	}
	return 0;
}

#ifdef WT_CTX_XDP
/*
 * The gate drops only what is certainly denied, and an ICMP error may be a reply TC passes:
 * the gate passes them all to TC (its stack has no room for the quote's lookup).
 */
static __always_inline int wt_icmp_error_is_reply(struct wt_ctx *ctx __attribute__((unused)),
						  __u32 ifindex __attribute__((unused)),
						  __u32 slot __attribute__((unused)),
						  const struct wt_packet *p __attribute__((unused)))
{
	return 1;
}
#else
/*
 * Is ICMP error p a reply to one of the endpoint's flows? A function of its own (a BPF-to-BPF
 * call), not inlined: enforce's hot path keeps its code as it was, one check of p's type
 * longer, and the second flow lookup's code is out of its way.
 */
static __noinline int wt_icmp_error_is_reply(struct wt_ctx *ctx, __u32 ifindex, __u32 slot,
					     const struct wt_packet *p)
{
	struct wt_packet q = {};

	wt_packet_in_memory(&q);
	return wt_icmp_quoted_reply(ctx, p, &q) && wt_flow_is_reply(ifindex, slot, &q);
}
#endif

#endif
