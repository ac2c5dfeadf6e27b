/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for the TC programs and the XDP gate (the context: ctx.h). Reads headers
 * directly from linear data, falling back to the context's load-bytes helper, so non-linear
 * skbs parse the same; every failure is a named reason. The gate parses the outer headers
 * at offset 0 and the inner frame of a VXLAN packet at its offset (wt_parse_at).
 */
#ifndef WT_BPF_PARSE_H
#define WT_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "wiretag/abi.h"
#include "ctx.h"
#include "compiler.h"

#define WT_PARSED WT_REASON_MAX /* parse succeeded, no verdict yet */

enum wt_frag_kind {
	WT_FRAG_NONE = 0,
	WT_FRAG_FIRST = 1, /* offset 0, more fragments follow: has the L4 header */
	WT_FRAG_LATER = 2, /* offset > 0: no L4 header */
};

#define WT_ICMP_ECHOREPLY 0
#define WT_ICMP_ECHO 8

#define WT_TCP_FIN 0x01
#define WT_TCP_SYN 0x02
#define WT_TCP_RST 0x04
#define WT_TCP_ACK 0x10

struct wt_packet {
	__u32 len;
	__u8 family;    /* 4, 6, or 0 for ARP */
	__u8 proto;     /* final L4 protocol */
	__u8 frag;      /* enum wt_frag_kind */
	__u8 l4_known;  /* ports/type were read */
	__u8 icmp_type;
	__u8 tcp_flags;
	__u16 sport;    /* network order; ICMP echo: identifier */
	__u16 dport;    /* network order; ICMP echo: 0 */
	__u16 l4_off;   /* where L4 starts: set for ICMP, and in the gate for all (ctx.h) */
	__u32 frag_id;
	__u32 pad2;
	__u8 saddr[16]; /* 8-byte aligned: the flow cache reads addresses as words */
	__u8 daddr[16];
} __attribute__((aligned(8)));

/*
 * Keeps a packet's parse state in its stack slot. Without this clang splits the struct
 * into one value per field and, on every early exit of the inlined parse and verdict code,
 * materialises each field's value (mostly zeros) into a spill slot: two dozen instructions
 * per header check, on the hot path. An address that escapes into an (empty) asm cannot be
 * split; the fields are then read from the struct where they are needed.
 */
static __always_inline void wt_packet_in_memory(struct wt_packet *p)
{
	asm volatile("" : : "r"(p) : "memory");
}

#define WT_DIRECT_MAX_OFF 512 /* headers past this offset are read with ctx_load_bytes */

/*
 * Copies len bytes at off: straight from the linear packet data when they are there (no
 * helper call), else with the context's load-bytes helper (non-linear skbs). Nonzero past
 * the packet's end.
 */
static __always_inline int wt_load(struct wt_ctx *ctx, __u32 off, void *to, const __u32 len)
{
	void *data = ctx_data(ctx);
	void *data_end = ctx_data_end(ctx);

	if (wt_likely(off <= WT_DIRECT_MAX_OFF)) {
		void *from = data + off;

		if (wt_likely(from + len <= data_end)) {
			/*
			 * Word loads, not byte loads: the verifier allows unaligned packet reads
			 * on the architectures that do them efficiently (x86, arm64), which is
			 * where we run; without the hint clang copies a byte at a time.
			 */
			__builtin_memcpy(to, __builtin_assume_aligned(from, 8), len);
			return 0;
		}
	}
	return ctx_load_bytes(ctx, off, to, len);
}

static __always_inline int wt_ipv6_is_exthdr(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_AH ||
	       nexthdr == 135 /* mobility */;
}

static __always_inline int wt_icmp_is_echo_request(const struct wt_packet *p)
{
	return (p->proto == IPPROTO_ICMP && p->icmp_type == WT_ICMP_ECHO) ||
	       (p->proto == IPPROTO_ICMPV6 && p->icmp_type == ICMPV6_ECHO_REQUEST);
}

static __always_inline int wt_icmp_is_echo_reply(const struct wt_packet *p)
{
	return (p->proto == IPPROTO_ICMP && p->icmp_type == WT_ICMP_ECHOREPLY) ||
	       (p->proto == IPPROTO_ICMPV6 && p->icmp_type == ICMPV6_ECHO_REPLY);
}

/* Router/neighbour solicitation and advertisement, redirect, MLD: IPv6 cannot work without them. */
static __always_inline int wt_icmp6_is_ndp(const struct wt_packet *p)
{
	if (p->family != 6 || p->proto != IPPROTO_ICMPV6 || !p->l4_known)
		return 0;
	return (p->icmp_type >= 130 && p->icmp_type <= 137) || p->icmp_type == 143;
}

static __always_inline int wt_ip_equal(const __u8 *a, const __u8 *b, int n)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	if (n == 4)
		return x[0] == y[0];
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* TCP or UDP with its ports read. */
static __always_inline int wt_has_ports(const struct wt_packet *p)
{
	return p->l4_known && (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP);
}

static __always_inline __u32 wt_parse_l4(struct wt_ctx *ctx, struct wt_packet *p, __u32 off,
					 __u32 l3_end)
{
	if (WT_CTX_KEEPS_L4_OFF)
		p->l4_off = off;
	if (wt_unlikely(p->frag == WT_FRAG_LATER))
		return WT_PARSED;

	switch (p->proto) {
	case IPPROTO_TCP: {
		struct tcphdr th;

		if (wt_unlikely(off + sizeof(th) > l3_end || wt_load(ctx, off, &th, sizeof(th))))
			return WT_REASON_DROP_L4_TRUNCATED;
		if (wt_unlikely(th.doff < 5 || off + th.doff * 4 > l3_end))
			return WT_REASON_DROP_TCP_DOFF;
		p->sport = th.source;
		p->dport = th.dest;
		p->tcp_flags = ((__u8 *)&th)[13];
		p->l4_known = 1;
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr uh;

		if (wt_unlikely(off + sizeof(uh) > l3_end || wt_load(ctx, off, &uh, sizeof(uh))))
			return WT_REASON_DROP_L4_TRUNCATED;
		p->sport = uh.source;
		p->dport = uh.dest;
		p->l4_known = 1;
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		struct {
			__u8 type;
			__u8 code;
			__u16 csum;
			__u16 id;
			__u16 seq;
		} ih;

		if (off + sizeof(ih) > l3_end || wt_load(ctx, off, &ih, sizeof(ih)))
			return WT_REASON_DROP_L4_TRUNCATED;
		p->icmp_type = ih.type;
		p->l4_known = 1;
		p->l4_off = off; /* an error's quoted packet follows (related.h) */
		if (wt_icmp_is_echo_request(p) || wt_icmp_is_echo_reply(p))
			p->sport = ih.id;
		break;
	}
	default:
		break;
	}
	return WT_PARSED;
}

static __always_inline __u32 wt_parse_ipv4(struct wt_ctx *ctx, struct wt_packet *p, __u32 l2_off)
{
	struct iphdr iph;
	__u32 off = l2_off + ETH_HLEN, hlen, l3_end, tot_len;
	__u16 frag_off;

	if (wt_unlikely(wt_load(ctx, off, &iph, sizeof(iph))))
		return WT_REASON_DROP_L3_TRUNCATED;
	if (wt_unlikely(iph.version != 4 || iph.ihl < 5))
		return WT_REASON_DROP_IPV4_IHL;
	hlen = iph.ihl * 4;
	tot_len = bpf_ntohs(iph.tot_len);
	/*
	 * BIG TCP: a TCP GSO packet larger than 64 KiB has total length 0 and is as long as the
	 * skb, as the kernel's iph_totlen() reads it. Any other length 0 stays truncated.
	 */
	if (wt_unlikely(!tot_len) && iph.protocol == IPPROTO_TCP && ctx_gso_size(ctx))
		tot_len = p->len - off;
	l3_end = off + tot_len;
	if (wt_unlikely(tot_len < hlen || l3_end > p->len))
		return WT_REASON_DROP_L3_TRUNCATED;

	p->family = 4;
	p->proto = iph.protocol;
	__builtin_memcpy(p->saddr, &iph.saddr, 4);
	__builtin_memcpy(p->daddr, &iph.daddr, 4);
	frag_off = bpf_ntohs(iph.frag_off);
	if (wt_unlikely(frag_off & 0x1fff))
		p->frag = WT_FRAG_LATER;
	else if (frag_off & 0x2000)
		p->frag = WT_FRAG_FIRST;
	p->frag_id = bpf_ntohs(iph.id);
	return wt_parse_l4(ctx, p, off + hlen, l3_end);
}

#define WT_IPV6_TLV_JUMBO 0xc2

/*
 * BIG TCP over IPv6: a TCP GSO packet larger than 64 KiB has payload length 0 and a
 * hop-by-hop header of 8 bytes holding only the Jumbo Payload option (RFC 2675), whose
 * value is the length after the IPv6 header, as the kernel builds it (ip6_xmit(),
 * ipv6_gro_complete()) and accepts it (ipv6_has_hopopt_jumbo()). Returns that length, or 0
 * when the header at off is not such a one or the length exceeds the packet.
 */
static __always_inline __u32 wt_ipv6_jumbo_len(struct wt_ctx *ctx, const struct wt_packet *p,
					       __u32 off)
{
	struct {
		__u8 nexthdr;
		__u8 hdrlen;
		__u8 tlv_type;
		__u8 tlv_len;
		__u32 jumbo_len;
	} hop;
	__u32 len;

	if (wt_load(ctx, off, &hop, sizeof(hop)) || hop.nexthdr != IPPROTO_TCP || hop.hdrlen ||
	    hop.tlv_type != WT_IPV6_TLV_JUMBO || hop.tlv_len != 4)
		return 0;
	len = bpf_ntohl(hop.jumbo_len);
	return len > p->len ? 0 : len;
}

static __always_inline __u32 wt_parse_ipv6(struct wt_ctx *ctx, struct wt_packet *p, __u32 l2_off)
{
	struct ipv6hdr ip6h;
	__u32 off = l2_off + ETH_HLEN, l3_end, payload_len;
	__u8 nexthdr;
	int i;

	if (wt_unlikely(wt_load(ctx, off, &ip6h, sizeof(ip6h))))
		return WT_REASON_DROP_L3_TRUNCATED;
	if (wt_unlikely(ip6h.version != 6))
		return WT_REASON_DROP_IPV6_VERSION;
	payload_len = bpf_ntohs(ip6h.payload_len);
	if (wt_unlikely(!payload_len) && ip6h.nexthdr == IPPROTO_HOPOPTS && ctx_gso_size(ctx))
		payload_len = wt_ipv6_jumbo_len(ctx, p, off + sizeof(ip6h));
	l3_end = off + sizeof(ip6h) + payload_len;
	if (wt_unlikely(l3_end > p->len))
		return WT_REASON_DROP_L3_TRUNCATED;

	p->family = 6;
	__builtin_memcpy(p->saddr, &ip6h.saddr, 16);
	__builtin_memcpy(p->daddr, &ip6h.daddr, 16);
	off += sizeof(ip6h);
	nexthdr = ip6h.nexthdr;

#pragma unroll
	for (i = 0; i < WT_MAX_EXTHDRS; i++) {
		struct {
			__u8 nexthdr;
			__u8 hdrlen;
			__u16 frag_off; /* fragment header only */
			__u32 id;       /* fragment header only */
		} eh;

		if (wt_likely(!wt_ipv6_is_exthdr(nexthdr)))
			break;
		if (off + sizeof(eh) > l3_end || wt_load(ctx, off, &eh, sizeof(eh)))
			return WT_REASON_DROP_EXTHDR_BAD;
		if (nexthdr == IPPROTO_FRAGMENT) {
			__u16 fo = bpf_ntohs(eh.frag_off);

			p->frag_id = bpf_ntohl(eh.id);
			if (fo & 0xfff8)
				p->frag = WT_FRAG_LATER;
			else if (fo & 0x1)
				p->frag = WT_FRAG_FIRST;
			off += 8;
		} else if (nexthdr == IPPROTO_AH) {
			off += (eh.hdrlen + 2) * 4;
		} else {
			off += (eh.hdrlen + 1) * 8;
		}
		nexthdr = eh.nexthdr;
		if (p->frag == WT_FRAG_LATER)
			break;
	}
	if (p->frag != WT_FRAG_LATER && wt_ipv6_is_exthdr(nexthdr))
		return WT_REASON_DROP_EXTHDR_LIMIT;
	if (off > l3_end)
		return WT_REASON_DROP_EXTHDR_BAD;
	p->proto = nexthdr;
	return wt_parse_l4(ctx, p, off, l3_end);
}

/*
 * The Ethernet frame that starts at l2_off (0, or the gate's inner frame). Returns
 * WT_PARSED, WT_REASON_ALLOW_ARP, or a drop reason. p->len is the whole packet's length.
 */
static __always_inline __u32 wt_parse_at(struct wt_ctx *ctx, struct wt_packet *p, __u32 l2_off)
{
	__u16 eth_proto;

	p->len = ctx_full_len(ctx);
	if (wt_unlikely(p->len < l2_off + ETH_HLEN))
		return WT_REASON_DROP_L2_TRUNCATED;
	if (wt_unlikely(wt_load(ctx, l2_off + 12, &eth_proto, sizeof(eth_proto))))
		return WT_REASON_DROP_L2_TRUNCATED;
	switch (bpf_ntohs(eth_proto)) {
	case ETH_P_IP:
		return wt_parse_ipv4(ctx, p, l2_off);
	case ETH_P_IPV6:
		return wt_parse_ipv6(ctx, p, l2_off);
	case ETH_P_ARP:
		return WT_REASON_ALLOW_ARP;
	default:
		return WT_REASON_DROP_L3_UNKNOWN;
	}
}

static __always_inline __u32 wt_parse(struct wt_ctx *ctx, struct wt_packet *p)
{
	return wt_parse_at(ctx, p, 0);
}

#endif
