/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading an endpoint's config. Stamp needs all of it (tag, anti-spoof addresses) and reads
 * the endpoints hash; enforce needs one word of it and reads the endpoint_index array, with
 * the hash as the fallback for an ifindex that does not own its index entry.
 */
#ifndef WT_BPF_ENDPOINT_H
#define WT_BPF_ENDPOINT_H

#include "../maps.h"
#include "config.h"

/* What enforce needs of an endpoint: one consistent copy per packet. */
struct wt_ep_state {
	__u64 epoch; /* rule epoch, read before the config: what cached verdicts must match */
	__u32 slot;
	__u8 generation;
	__u8 mode;
	__u8 untagged;
	__u8 flags;
};

/*
 * What stamp needs of the endpoint from its slot's stamp_config entry (abi.h), found through
 * its endpoint_index word: two inlined array loads. 0 when that does not give one
 * consistent copy of this endpoint's config; the caller then reads the hash.
 */
static __always_inline int wt_endpoint_load_by_slot(__u32 ifindex, struct wt_endpoint *ep)
{
	__u32 index = ifindex & wt_cfg.endpoint_index_mask, slot;
	struct wt_stamp_config *c;
	__u64 *entry, word, seq, id, config, hi, lo;

	entry = bpf_map_lookup_elem(&endpoint_index, &index);
	if (wt_unlikely(!entry))
		return 0;
	word = *(volatile __u64 *)entry;
	if (wt_unlikely(WT_EPW_IFINDEX(word) != ifindex))
		return 0;
	slot = WT_EPW_SLOT(word);
	c = bpf_map_lookup_elem(&stamp_config, &slot);
	if (wt_unlikely(!c))
		return 0;
	seq = *(volatile __u64 *)&c->seq;
	id = *(volatile __u64 *)&c->id;
	config = *(volatile __u64 *)&c->config;
	hi = *(volatile __u64 *)&c->ipv6_hi;
	lo = *(volatile __u64 *)&c->ipv6_lo;
	if (wt_unlikely((seq & 1) || *(volatile __u64 *)&c->seq != seq || (__u32)id != ifindex))
		return 0;
	ep->tag = (__u32)(id >> 32);
	ep->mode = (__u8)config;
	ep->flags = (__u8)(config >> 8);
	ep->ipv4 = (__u32)(config >> 32);
	__builtin_memcpy(ep->ipv6, &hi, 8);
	__builtin_memcpy(ep->ipv6 + 8, &lo, 8);
	ep->slot = (__u16)slot;
	ep->untagged = 0; /* enforce's, not read by stamp */
	ep->generation = 0;
	ep->pad = 0;
	return 1;
}

/*
 * One read of the endpoint's config: every decision of this packet uses the same copy,
 * and the window in which a freed map element could be recycled under us is the copy.
 * Stamp's fields (tag, mode, flags, anti-spoof addresses, slot) come from the slot's
 * stamp_config entry when it is consistent, else from the hash.
 */
static __always_inline int wt_endpoint_load(__u32 ifindex, struct wt_endpoint *ep)
{
	struct wt_endpoint *cur;

	if (wt_likely(wt_endpoint_load_by_slot(ifindex, ep)))
		return 1;
	cur = bpf_map_lookup_elem(&endpoints, &ifindex);

	if (!cur)
		return 0;
	__builtin_memcpy(ep, cur, sizeof(*ep));
	return 1;
}

static __always_inline int wt_endpoint_state(__u32 ifindex, struct wt_ep_state *st)
{
	__u32 index = ifindex & wt_cfg.endpoint_index_mask;
	struct wt_endpoint *ep;
	__u64 *entry, word;

	/*
	 * The epoch first: the owner stores it after the config, so a packet that sees the new
	 * epoch sees the new config (and rules) too.
	 */
	st->epoch = 0;
	if (wt_cfg.verdict_cache_on) { /* only cached verdicts need it */
		entry = bpf_map_lookup_elem(&rule_epochs, &index);
		if (wt_likely(entry))
			st->epoch = *(volatile __u64 *)entry;
	}
	entry = bpf_map_lookup_elem(&endpoint_index, &index);
	if (wt_likely(entry != 0)) {
		word = *(volatile __u64 *)entry; /* one load: userspace stores the word atomically */
		if (wt_likely(WT_EPW_IFINDEX(word) == ifindex)) {
			st->slot = WT_EPW_SLOT(word);
			st->generation = WT_EPW_GENERATION(word);
			st->mode = WT_EPW_MODE(word);
			st->untagged = WT_EPW_UNTAGGED(word);
			st->flags = WT_EPW_FLAGS(word);
			return 1;
		}
	}
	ep = bpf_map_lookup_elem(&endpoints, &ifindex);
	if (!ep)
		return 0;
	/* The hash element is replaced as a whole under RCU: these fields belong together. */
	st->slot = ep->slot;
	st->generation = ep->generation & 1;
	st->mode = ep->mode;
	st->untagged = ep->untagged;
	st->flags = ep->flags;
	return 1;
}

#endif
