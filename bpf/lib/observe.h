/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-endpoint counters and rate-limited drop/audit events. */
#ifndef WT_BPF_OBSERVE_H
#define WT_BPF_OBSERVE_H

#include "../maps.h"
#include "config.h"
#include "parse.h"

/*
 * A device without an endpoint has no slot: its drops are counted by key in the hash; so
 * are the gate's, under the underlay device (WT_DIR_GATE).
 */
static __always_inline void wt_count_keyed(__u32 ifindex, __u8 dir, __u32 reason, __u8 verdict,
					   __u32 len)
{
	struct wt_counter_key key = {
		.ifindex = ifindex,
		.direction = dir,
		.reason = reason,
		.verdict = verdict,
	};
	struct wt_counter *c, init = { .packets = 1, .bytes = len };

	c = bpf_map_lookup_elem(&counters, &key);
	if (c) {
		c->packets++;
		c->bytes += len;
		return;
	}
	bpf_map_update_elem(&counters, &key, &init, BPF_NOEXIST);
}

static __always_inline void wt_count(__u32 ifindex, __u32 slot, __u8 dir, __u32 reason,
				     __u8 verdict, __u32 len)
{
	__u32 index = wt_slot_counter_index(slot, dir, reason, verdict);
	struct wt_counter *c;

	/* The one reason without an endpoint, so without a slot. */
	if (wt_unlikely(reason == WT_REASON_DROP_NO_ENDPOINT)) {
		wt_count_keyed(ifindex, dir, WT_REASON_DROP_NO_ENDPOINT, verdict, len);
		return;
	}
	c = bpf_map_lookup_elem(&slot_counters, &index);
	if (wt_likely(c != 0)) {
		c->packets++;
		c->bytes += len;
	}
}

/*
 * Once a window's budget is spent, only every WT_EVENT_CLOCK_EVERY-th suppressed event reads
 * the clock, so a flood of drops costs no helper call per packet. The price: the next window
 * opens up to WT_EVENT_CLOCK_EVERY - 1 events of that CPU late, however long they take.
 */
#define WT_EVENT_CLOCK_EVERY 64

/* The CPU's rate-limit state when an event may be sent now, else NULL. */
static __always_inline struct wt_ratelimit *wt_event_allowed(void)
{
	__u32 zero = 0;
	struct wt_ratelimit *rl = bpf_map_lookup_elem(&event_ratelimit, &zero);
	__u64 now;

	if (!rl)
		return NULL;
	if (rl->sent >= wt_cfg.events_per_sec && ++rl->suppressed % WT_EVENT_CLOCK_EVERY)
		return NULL;
	now = bpf_ktime_get_coarse_ns(); /* a one-second window needs no precision */
	if (now - rl->window_start_ns >= 1000000000ULL) {
		if (rl->sent >= wt_cfg.events_per_sec)
			rl->suppressed--; /* counted above, but it opens the new window: sent */
		rl->window_start_ns = now;
		rl->sent = 0;
	}
	if (rl->sent >= wt_cfg.events_per_sec)
		return NULL;
	rl->sent++;
	return rl;
}

/* outer: the gate's outer packet (its source is the VTEP the packet came from), else NULL. */
static __always_inline void wt_event_from(__u32 ifindex, __u32 src_tag, __u8 dir, __u32 reason,
					  __u8 verdict, __u8 mode, const struct wt_packet *p,
					  const struct wt_packet *outer)
{
	struct wt_ratelimit *rl = wt_event_allowed();
	struct wt_event *ev;

	if (!rl)
		return;
	/*
	 * Written in place in the ring buffer, not built on the stack and copied: the programs'
	 * stack (512 bytes for a program and the functions it calls) holds no event.
	 * A full ring buffer (no reader, or one that fell behind) loses the event: counted too.
	 */
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		rl->suppressed++;
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->timestamp_ns = bpf_ktime_get_ns();
	ev->ifindex = ifindex;
	ev->src_tag = src_tag;
	ev->direction = dir;
	ev->reason = (__u8)reason;
	ev->verdict = verdict;
	ev->mode = mode;
	ev->family = p->family;
	ev->proto = p->proto;
	ev->len = p->len > 0xffff ? 0xffff : (__u16)p->len;
	ev->sport = p->sport;
	ev->dport = p->dport;
	__builtin_memcpy(ev->saddr, p->saddr, 16);
	__builtin_memcpy(ev->daddr, p->daddr, 16);
	if (outer) {
		ev->outer_family = outer->family;
		__builtin_memcpy(ev->outer_saddr, outer->saddr, 16);
	}
	bpf_ringbuf_submit(ev, 0);
}

static __always_inline void wt_event(__u32 ifindex, __u32 src_tag, __u8 dir, __u32 reason,
				     __u8 verdict, __u8 mode, const struct wt_packet *p)
{
	wt_event_from(ifindex, src_tag, dir, reason, verdict, mode, p, 0);
}

static __always_inline int wt_reason_is_drop(__u32 reason)
{
	return reason >= WT_REASON_DROP_POLICY;
}

#endif
