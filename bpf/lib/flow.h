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

/* Marks a local port (network order) as having a flow that only `flows` holds. */
static __always_inline void wt_flow_spill(__u32 slot, __u16 port)
{
	__u16 host = bpf_ntohs(port);
	__u32 index = slot * WT_FLOW_SPILL_WORDS + ((host & 4095) >> 6);
	__u64 bit = 1ULL << (host & 63), *word = bpf_map_lookup_elem(&flow_spill, &index);

	if (word && !(*word & bit))
		__sync_fetch_and_or(word, bit);
}

static __always_inline int wt_flow_spilled(__u32 slot, __u16 port)
{
	__u16 host = bpf_ntohs(port);
	__u32 index = slot * WT_FLOW_SPILL_WORDS + ((host & 4095) >> 6);
	__u64 *word = bpf_map_lookup_elem(&flow_spill, &index);

	return !word || (*word & (1ULL << (host & 63)));
}

/*
 * flow_cache (abi.h). A writer owns an entry while its stamp is WT_FLOW_CACHE_BUSY (taken
 * with a compare-and-swap), writes the tuple, then the stamp. BUSY has proto 0xff, so no
 * reader ever takes it for a flow's stamp.
 */
#define WT_FLOW_CACHE_BUSY (~0ULL)

static __always_inline __u64 wt_flow_cache_age(__u64 now, __u64 stamp)
{
	__u64 t = (now >> WT_FLOW_CACHE_TIME_SHIFT) & WT_FLOW_CACHE_TIME_MASK;
	__u64 then = stamp & WT_FLOW_CACHE_TIME_MASK;

	return t > then ? t - then : 0;
}

static __always_inline int wt_flow_cache_live(__u64 now, __u64 stamp, __u8 proto)
{
	return wt_flow_cache_age(now, stamp) <= wt_flow_timeout(proto) >> WT_FLOW_CACHE_TIME_SHIFT;
}

static __always_inline struct wt_flow_cache_entry *wt_flow_cache_entry(__u32 slot, __u64 mix)
{
	__u32 index = wt_flow_cache_index(slot, mix);

	return bpf_map_lookup_elem(&flow_cache, &index);
}

/* A flow recorded in `flows` moves into its cache entry, spilling what the entry held. */
static __always_inline void wt_flow_cache_take(struct wt_flow_cache_entry *e, __u64 tuple,
					       __u64 mix, __u32 slot, __u64 now,
					       const struct wt_packet *p)
{
	/* The stamp first: the tuple read after it belongs to it unless the CAS below fails. */
	__u64 old_stamp = *(volatile __u64 *)&e->stamp;
	__u64 old_tuple = *(volatile __u64 *)&e->tuple;
	__u8 old_proto = (__u8)(old_stamp >> 40);

	if (old_stamp == WT_FLOW_CACHE_BUSY)
		goto lost;
	/*
	 * A flow that may still be live keeps working from `flows`: its port's spill bit is
	 * set before the entry changes hands, so a reader that misses it finds the bit.
	 */
	if (old_stamp && !(wt_flow_cache_stamp_of(old_stamp, wt_flow_cache_mix(old_tuple, old_proto),
						  old_proto) &&
			   !wt_flow_cache_live(now - (2ULL << WT_FLOW_CACHE_TIME_SHIFT), old_stamp,
					       old_proto)))
		wt_flow_spill(slot, (__u16)(old_tuple >> 48));
	if (__sync_val_compare_and_swap(&e->stamp, old_stamp, WT_FLOW_CACHE_BUSY) != old_stamp)
		goto lost;
	*(volatile __u64 *)&e->tuple = tuple;
	*(volatile __u64 *)&e->stamp = wt_flow_cache_stamp(now, mix, p->proto);
	return;
lost:
	/* Another CPU is writing the entry: `flows` alone holds this flow. */
	if (wt_has_ports(p))
		wt_flow_spill(slot, p->sport);
}

static __always_inline void wt_flow_hash_record(struct wt_flow_key *key, __u64 now, int refresh)
{
	struct wt_flow *f = bpf_map_lookup_elem(&flows, key), nf;

	if (f) {
		if (refresh || wt_age(now, f->last_seen_ns) >= wt_flow_refresh_ns)
			f->last_seen_ns = now;
		return;
	}
	nf.last_seen_ns = now;
	bpf_map_update_elem(&flows, key, &nf, BPF_ANY);
}

/*
 * stamp: remember that the endpoint sent this flow, in `flows` and, for IPv4, in the
 * slot's flow_cache; rewrite either at most once per refresh period. A packet of a cached
 * flow between refreshes touches the cache entry only.
 */
static __always_inline void wt_flow_record(__u32 ifindex, __u32 slot, const struct wt_packet *p)
{
	struct wt_flow_cache_entry *e = 0;
	struct wt_flow_key key = {};
	__u64 now, tuple = 0, mix = 0;

	if (!wt_flow_trackable(p) || wt_icmp_is_echo_reply(p))
		return;
	if (wt_has_ports(p)) {
		/* Before the flow exists, so enforce never sees a flow whose bit is clear. */
		__u64 bit, *word = wt_reply_port_word(slot, bpf_ntohs(p->sport), &bit);

		if (word && !(*word & bit))
			__sync_fetch_and_or(word, bit);
	}
	now = wt_now();
	if (p->family == 4) {
		tuple = wt_flow_cache_tuple(*(const __u32 *)p->daddr, p->dport, p->sport);
		mix = wt_flow_cache_mix(tuple, p->proto);
		e = wt_flow_cache_entry(slot, mix);
	}
	if (e) {
		__u64 t = *(volatile __u64 *)&e->tuple;
		__u64 s = *(volatile __u64 *)&e->stamp;

		if (t == tuple && wt_flow_cache_stamp_of(s, mix, p->proto)) {
			if (wt_flow_cache_age(now, s) <
			    (wt_flow_refresh_ns >> WT_FLOW_CACHE_TIME_SHIFT))
				return;
			/* A CAS: a plain store could land on an entry another CPU just took. */
			__sync_val_compare_and_swap(&e->stamp, s,
						    wt_flow_cache_stamp(now, mix, p->proto));
			wt_flow_key_sent(&key, ifindex, p);
			wt_flow_hash_record(&key, now, 1);
			return;
		}
	} else if (wt_has_ports(p)) {
		wt_flow_spill(slot, p->sport); /* IPv6: `flows` alone holds it */
	}
	wt_flow_key_sent(&key, ifindex, p);
	wt_flow_hash_record(&key, now, 0);
	if (e)
		wt_flow_cache_take(e, tuple, mix, slot, now, p);
}

/*
 * enforce: is this packet a reply to a live flow the endpoint originated? In order: the
 * reply-port bit (clear: no flow used this port), the IPv4 cache entry (the common reply),
 * the spill bit (clear: no flow of this port is outside the cache), then `flows`.
 */
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
	if (p->family == 4) {
		/* As sent: remote = our source, local port = our destination (ICMP: the id). */
		__u16 local = wt_has_ports(p) ? p->dport : p->sport;
		__u16 remote = wt_has_ports(p) ? p->sport : 0;
		__u64 tuple = wt_flow_cache_tuple(*(const __u32 *)p->saddr, remote, local);
		__u64 mix = wt_flow_cache_mix(tuple, p->proto);
		struct wt_flow_cache_entry *e = wt_flow_cache_entry(slot, mix);

		if (e) {
			/* The tuple first: a stamp read after it is its own or fails the check. */
			__u64 t = *(volatile __u64 *)&e->tuple;
			__u64 s = *(volatile __u64 *)&e->stamp;

			/* `flows` is never fresher than the cache: an aged entry is the answer. */
			if (t == tuple && wt_flow_cache_stamp_of(s, mix, p->proto))
				return wt_flow_cache_live(wt_now(), s, p->proto);
		}
		if (wt_has_ports(p) && !wt_flow_spilled(slot, local))
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
