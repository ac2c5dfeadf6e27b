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
		return wt_cfg.flow_timeout_tcp_ns;
	if (proto == IPPROTO_UDP)
		return wt_cfg.flow_timeout_udp_ns;
	return wt_cfg.flow_timeout_other_ns;
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
 * with a compare-and-swap): it writes the tuple, then the stamp. BUSY has proto 0xff, so
 * no reader takes it for a flow's stamp, and a reader that reads the same stamp before and
 * after the tuple read a tuple no writer touched in between.
 */
#define WT_FLOW_CACHE_BUSY (~0ULL)

struct wt_flow_tuple {
	__u64 remote_hi, remote_lo, local_hi, local_lo, ports, mix;
	__u8 proto;
};

/* The flow as the endpoint in `slot` sent it: both addresses and ports (abi.h). */
static __always_inline void wt_flow_tuple(struct wt_flow_tuple *t, const __u8 *remote,
					  const __u8 *local, const struct wt_packet *p,
					  __u16 remote_port, __u16 local_port, __u32 slot)
{
	if (p->family == 4) {
		t->remote_hi = 0;
		t->remote_lo = *(const __u32 *)remote;
		t->local_hi = 0;
		t->local_lo = *(const __u32 *)local;
	} else {
		t->remote_hi = *(const __u64 *)remote;
		t->remote_lo = *(const __u64 *)(remote + 8);
		t->local_hi = *(const __u64 *)local;
		t->local_lo = *(const __u64 *)(local + 8);
	}
	t->ports = wt_flow_cache_ports(p->family, remote_port, local_port, slot);
	t->proto = p->proto;
	t->mix = wt_flow_cache_mix(t->remote_hi, t->remote_lo, t->local_hi, t->local_lo, t->ports,
				   t->proto);
}

/* The flow cache's clock: the verifier inlines bpf_jiffies64() into a load, no call. */
static __always_inline __u64 wt_jiffies(void)
{
	return bpf_jiffies64();
}

static __always_inline __u64 wt_flow_cache_age(__u64 jiffies, __u64 stamp)
{
	__u64 t = jiffies & WT_FLOW_CACHE_TIME_MASK;
	__u64 then = stamp & WT_FLOW_CACHE_TIME_MASK;

	return t > then ? t - then : 0;
}

static __always_inline int wt_flow_cache_live(__u64 jiffies, __u64 stamp, __u8 proto)
{
	__u64 timeout = proto == IPPROTO_TCP   ? wt_cfg.flow_timeout_tcp_jiffies
			: proto == IPPROTO_UDP ? wt_cfg.flow_timeout_udp_jiffies
					       : wt_cfg.flow_timeout_other_jiffies;

	return wt_flow_cache_age(jiffies, stamp) <= timeout;
}

/*
 * The tuple's set, in the region of the endpoint in `slot` (abi.h): both ways, or NULL (a
 * cache smaller than the shift says: none).
 */
struct wt_flow_cache_set {
	struct wt_flow_cache_entry *way[WT_FLOW_CACHE_WAYS];
};

static __always_inline int wt_flow_cache_set(struct wt_flow_cache_set *set, __u64 mix, __u32 slot)
{
	__u32 index = wt_flow_cache_set_entry(mix, wt_cfg.flow_cache_shift, slot);

	set->way[0] = bpf_map_lookup_elem(&flow_cache, &index);
	index++;
	set->way[1] = bpf_map_lookup_elem(&flow_cache, &index);
	return set->way[0] && set->way[1];
}

/* The entry's stamp if it holds this flow (read consistently), else 0. */
static __always_inline __u64 wt_flow_cache_holds(struct wt_flow_cache_entry *e,
						 const struct wt_flow_tuple *t)
{
	__u64 stamp = *(volatile __u64 *)&e->stamp;

	if (*(volatile __u64 *)&e->remote_lo != t->remote_lo ||
	    *(volatile __u64 *)&e->ports != t->ports ||
	    *(volatile __u64 *)&e->remote_hi != t->remote_hi ||
	    *(volatile __u64 *)&e->local_lo != t->local_lo ||
	    *(volatile __u64 *)&e->local_hi != t->local_hi)
		return 0;
	if (*(volatile __u64 *)&e->stamp != stamp || !wt_flow_cache_stamp_of(stamp, t->mix, t->proto))
		return 0;
	return stamp;
}

/* The way of the set holding the tuple, its stamp in *stamp; NULL (and 0) if none does. */
static __always_inline struct wt_flow_cache_entry *
wt_flow_cache_find(const struct wt_flow_cache_set *set, const struct wt_flow_tuple *t, __u64 *stamp)
{
	*stamp = wt_flow_cache_holds(set->way[0], t);
	if (wt_likely(*stamp != 0))
		return set->way[0];
	*stamp = wt_flow_cache_holds(set->way[1], t);
	return *stamp ? set->way[1] : NULL;
}

/*
 * The way a new flow takes: an empty one, else one whose flow is over, else the one seen
 * least recently unless both are active (then NULL); a busy way: the other; both busy: the
 * first, which take() then loses.
 */
static __always_inline struct wt_flow_cache_entry *
wt_flow_cache_victim(const struct wt_flow_cache_set *set, __u64 jiffies)
{
	__u64 s0 = *(volatile __u64 *)&set->way[0]->stamp;
	__u64 s1 = *(volatile __u64 *)&set->way[1]->stamp;
	__u64 a0, a1;

	if (!s0 || s1 == WT_FLOW_CACHE_BUSY)
		return set->way[0];
	if (!s1 || s0 == WT_FLOW_CACHE_BUSY)
		return set->way[1];
	if (!wt_flow_cache_live(jiffies, s0, (__u8)(s0 >> 40)))
		return set->way[0];
	if (!wt_flow_cache_live(jiffies, s1, (__u8)(s1 >> 40)))
		return set->way[1];
	a0 = wt_flow_cache_age(jiffies, s0);
	a1 = wt_flow_cache_age(jiffies, s1);
	/*
	 * Both ways active (refreshed within two refresh periods): neither is taken. With more
	 * active flows than ways in a set, the newcomers live in `flows` alone (a hash lookup
	 * per packet) while the incumbents keep hitting; taking turns instead made every flow
	 * of the set miss on every packet.
	 */
	if (a0 < 2 * wt_cfg.flow_refresh_jiffies && a1 < 2 * wt_cfg.flow_refresh_jiffies)
		return NULL;
	return a0 >= a1 ? set->way[0] : set->way[1];
}

/*
 * A flow recorded in `flows` moves into a cache entry, spilling what the entry held into the
 * spill bits of the endpoint that sent it (any endpoint's: the cache is shared).
 */
static __always_inline void wt_flow_cache_take(struct wt_flow_cache_entry *e,
					       const struct wt_flow_tuple *t, __u32 slot,
					       __u64 jiffies, const struct wt_packet *p)
{
	/* The stamp first: the tuple read after it is its own unless the CAS below fails. */
	__u64 old_stamp = *(volatile __u64 *)&e->stamp;
	__u64 old_hi = *(volatile __u64 *)&e->remote_hi;
	__u64 old_lo = *(volatile __u64 *)&e->remote_lo;
	__u64 old_local_hi = *(volatile __u64 *)&e->local_hi;
	__u64 old_local_lo = *(volatile __u64 *)&e->local_lo;
	__u64 old_ports = *(volatile __u64 *)&e->ports;
	__u8 old_proto = (__u8)(old_stamp >> 40);

	if (old_stamp == WT_FLOW_CACHE_BUSY)
		goto lost;
	/*
	 * A TCP/UDP flow that may still be live keeps working from `flows`: its port's spill
	 * bit is set before the entry changes hands, so a reader that misses it finds the bit.
	 * Only a stamp that is certainly the old tuple's, and two time units past its timeout,
	 * or an ICMP one (their misses always read `flows`), needs none.
	 */
	if (old_stamp &&
	    !(wt_flow_cache_stamp_of(old_stamp, wt_flow_cache_mix(old_hi, old_lo, old_local_hi, old_local_lo,
							       old_ports, old_proto),
				     old_proto) &&
	      (old_proto == IPPROTO_ICMP || old_proto == IPPROTO_ICMPV6 ||
	       !wt_flow_cache_live(jiffies - 2, old_stamp, old_proto))))
		wt_flow_spill(wt_flow_cache_slot(old_ports), (__u16)(old_ports >> 16));
	if (__sync_val_compare_and_swap(&e->stamp, old_stamp, WT_FLOW_CACHE_BUSY) != old_stamp)
		goto lost;
	*(volatile __u64 *)&e->remote_hi = t->remote_hi;
	*(volatile __u64 *)&e->remote_lo = t->remote_lo;
	*(volatile __u64 *)&e->local_hi = t->local_hi;
	*(volatile __u64 *)&e->local_lo = t->local_lo;
	*(volatile __u64 *)&e->ports = t->ports;
	*(volatile __u64 *)&e->stamp = wt_flow_cache_stamp(jiffies, t->mix, t->proto);
	return;
lost:
	/* Another CPU is writing the entry: `flows` alone holds this flow. */
	if (wt_has_ports(p))
		wt_flow_spill(slot, p->sport);
}

/* `flows`: record the flow as sent, or refresh it (refresh: whatever its age). */
static __always_inline void wt_flow_hash_record(__u32 ifindex, const struct wt_packet *p,
						int refresh)
{
	struct wt_flow_key key = {};
	struct wt_flow *f, nf;
	__u64 now = wt_now();

	wt_flow_key_sent(&key, ifindex, p);
	f = bpf_map_lookup_elem(&flows, &key);
	if (f) {
		if (refresh || wt_age(now, f->last_seen_ns) >= wt_cfg.flow_refresh_ns)
			f->last_seen_ns = now;
		return;
	}
	nf.last_seen_ns = now;
	bpf_map_update_elem(&flows, &key, &nf, BPF_ANY);
}

/* `flows`: is this packet a reply to a live flow recorded there? */
static __always_inline int wt_flow_hash_is_reply(__u32 ifindex, const struct wt_packet *p)
{
	struct wt_flow_key key = {};
	struct wt_flow *f;

	wt_flow_key_reply(&key, ifindex, p);
	f = bpf_map_lookup_elem(&flows, &key);
	return f && wt_age(wt_now(), f->last_seen_ns) <= wt_flow_timeout(p->proto);
}

/*
 * stamp: remember that the endpoint sent this flow, in `flows` and in the flow cache;
 * rewrite either at most once per refresh period. A packet of a cached flow
 * between refreshes touches the cache entry only.
 */
static __always_inline void wt_flow_record(__u32 ifindex, __u32 slot, const struct wt_packet *p)
{
	struct wt_flow_cache_entry *e;
	struct wt_flow_cache_set set;
	struct wt_flow_tuple t;
	__u64 jiffies, stamp;
	int cached;

	if (wt_unlikely(!wt_flow_trackable(p) || wt_icmp_is_echo_reply(p)))
		return;
	if (wt_has_ports(p)) {
		/* Before the flow exists, so enforce never sees a flow whose bit is clear. */
		__u64 bit, *word = wt_reply_port_word(slot, bpf_ntohs(p->sport), &bit);

		if (wt_unlikely(word && !(*word & bit)))
			__sync_fetch_and_or(word, bit);
	}
	jiffies = wt_jiffies();
	wt_flow_tuple(&t, p->daddr, p->saddr, p, p->dport, p->sport, slot);
	cached = wt_flow_cache_set(&set, t.mix, slot);
	if (wt_likely(cached)) {
		e = wt_flow_cache_find(&set, &t, &stamp);
		if (wt_likely(e != 0)) {
			if (wt_likely(wt_flow_cache_age(jiffies, stamp) < wt_cfg.flow_refresh_jiffies))
				return; /* the common case: no clock helper, no `flows` */
			/* A CAS: a plain store could land on an entry another CPU just took. */
			__sync_val_compare_and_swap(&e->stamp, stamp,
						    wt_flow_cache_stamp(jiffies, t.mix, t.proto));
			wt_flow_hash_record(ifindex, p, 1);
			return;
		}
	} else if (wt_has_ports(p)) {
		wt_flow_spill(slot, p->sport); /* no cache for this slot: `flows` alone holds it */
	}
	wt_flow_hash_record(ifindex, p, 0);
	if (!cached)
		return;
	e = wt_flow_cache_victim(&set, jiffies);
	if (e)
		wt_flow_cache_take(e, &t, slot, jiffies, p);
	else if (wt_has_ports(p))
		wt_flow_spill(slot, p->sport); /* the set is busy: `flows` alone holds it */
}

/*
 * stamp, for a TCP/UDP packet: is there nothing to write? Its port's reply bit is set and
 * the flow cache holds its flow, refreshed within the refresh period: what wt_flow_record()
 * then does is nothing.
 */
static __always_inline int wt_flow_fresh(__u32 slot, const struct wt_packet *p)
{
	struct wt_flow_cache_set set;
	struct wt_flow_tuple t;
	__u64 bit, *word, stamp;

	word = wt_reply_port_word(slot, bpf_ntohs(p->sport), &bit);
	if (!word || !(*word & bit))
		return 0;
	wt_flow_tuple(&t, p->daddr, p->saddr, p, p->dport, p->sport, slot);
	return wt_flow_cache_set(&set, t.mix, slot) && wt_flow_cache_find(&set, &t, &stamp) &&
	       wt_flow_cache_age(wt_jiffies(), stamp) < wt_cfg.flow_refresh_jiffies;
}

/*
 * enforce, for a TCP/UDP packet: could it be a reply? Not a bare SYN (that opens a
 * connection), and a flow of the endpoint used its destination port (the reply-port bit).
 */
static __always_inline int wt_flow_reply_possible(__u32 slot, const struct wt_packet *p)
{
	__u64 bit, *word;

	if (p->proto == IPPROTO_TCP && (p->tcp_flags & (WT_TCP_SYN | WT_TCP_ACK)) == WT_TCP_SYN)
		return 0;
	word = wt_reply_port_word(slot, bpf_ntohs(p->dport), &bit);
	return word && (*word & bit);
}

#define WT_FLOW_ASK_FLOWS (-1)

/*
 * The answer short of `flows` for a packet that may be a reply (TCP/UDP: its reply-port bit
 * is set): 1 a reply, 0 not one, WT_FLOW_ASK_FLOWS when only `flows` can say.
 */
static __always_inline int wt_flow_cache_reply(__u32 slot, const struct wt_packet *p)
{
	struct wt_flow_cache_set set;
	struct wt_flow_tuple t;
	__u16 local;
	__u64 stamp;

	if (wt_has_ports(p)) {
		local = p->dport;
		wt_flow_tuple(&t, p->saddr, p->daddr, p, p->sport, local, slot);
	} else {
		local = p->sport; /* ICMP echo: the identifier */
		wt_flow_tuple(&t, p->saddr, p->daddr, p, 0, local, slot);
	}
	/* `flows` is never fresher than the cache: an aged entry is the answer. */
	if (wt_flow_cache_set(&set, t.mix, slot) && wt_flow_cache_find(&set, &t, &stamp))
		return wt_flow_cache_live(wt_jiffies(), stamp, p->proto);
	if (wt_has_ports(p) && !wt_flow_spilled(slot, local))
		return 0;
	return WT_FLOW_ASK_FLOWS;
}

/*
 * enforce: is this packet a reply to a live flow the endpoint originated? In order: the
 * reply-port bit (clear: no flow used this port), the cache entry (the common reply), the
 * spill bit (clear: no flow of this port is outside the cache), then `flows`.
 */
static __always_inline int wt_flow_is_reply(__u32 ifindex, __u32 slot, const struct wt_packet *p)
{
	int answer;

	if (!wt_flow_trackable(p) || wt_icmp_is_echo_request(p))
		return 0;
	if (wt_has_ports(p) && !wt_flow_reply_possible(slot, p))
		return 0;
	answer = wt_flow_cache_reply(slot, p);
	if (answer != WT_FLOW_ASK_FLOWS)
		return answer;
	return wt_flow_hash_is_reply(ifindex, p);
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
	return f && wt_age(wt_now(), f->first_seen_ns) <= wt_cfg.fragment_timeout_ns;
}

#endif
