/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The two decisions of SPEC §3: stamp (packets leaving a container) and enforce
 * (packets entering it). Entry points in wiretag.bpf.c only call these.
 */
#ifndef WT_BPF_VERDICT_H
#define WT_BPF_VERDICT_H

#include <linux/pkt_cls.h>
#include "../maps.h"
#include "config.h"
#include "endpoint.h"
#include "parse.h"
#include "policy.h"
#include "flow.h"
#include "related.h"
#include "observe.h"
#include "trace.h"

/* Applies the endpoint's mode to a reason, counts it, reports drops. Returns a TC action. */
static __always_inline int wt_finish(__u32 ifindex, __u32 slot, __u32 src_tag, __u8 dir,
				     __u8 mode, __u32 reason, const struct wt_packet *p,
				     struct wt_trace *tr)
{
	__u8 verdict = WT_VERDICT_PASS;

	if (wt_unlikely(wt_reason_is_drop(reason))) {
		if (mode != WT_MODE_AUDIT)
			verdict = WT_VERDICT_DROP;
		wt_event(ifindex, src_tag, dir, reason, verdict, mode, p);
	}
	wt_count(ifindex, slot, dir, reason, verdict, p->len);
	if (tr) {
		tr->reason = reason;
		tr->verdict = verdict;
		tr->mode = mode;
	}
	return verdict == WT_VERDICT_DROP ? TC_ACT_SHOT : TC_ACT_OK;
}

static __always_inline int wt_spoofed(const struct wt_endpoint *ep, const struct wt_packet *p)
{
	if (p->family == 4 && (ep->flags & WT_EP_ANTISPOOF_V4))
		return !wt_ip_equal(p->saddr, (const __u8 *)&ep->ipv4, 4);
	if (p->family == 6 && (ep->flags & WT_EP_ANTISPOOF_V6)) {
		/* Neighbour discovery and DAD use link-local and unspecified sources. */
		if (wt_icmp6_is_ndp(p) &&
		    ((p->saddr[0] == 0xfe && (p->saddr[1] & 0xc0) == 0x80) ||
		     wt_ip_equal(p->saddr, (const __u8 *)"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16)))
			return 0;
		return !wt_ip_equal(p->saddr, ep->ipv6, 16);
	}
	return 0;
}

/*
 * The trace's own state (flows, caches, counters: maps of its own) holds one endpoint, at
 * slot 0; the live slot goes into the record. Compiled out of the live programs (tr null).
 */
#define WT_TRACE_OWN_SLOT(tr, field)                                                           \
	do {                                                                                   \
		if (tr) {                                                                      \
			(tr)->slot = (field);                                                  \
			(field) = 0;                                                           \
		}                                                                              \
	} while (0)

#ifndef WT_CTX_XDP /* the TC decisions: skb->mark carries the tag */
static __always_inline int wt_stamp(struct __sk_buff *skb, struct wt_trace *tr)
{
	struct wt_packet p = {};
	struct wt_endpoint epv, *ep = &epv;
	__u32 ifindex = skb->ifindex, reason;

	wt_packet_in_memory(&p);
	if (wt_unlikely(!wt_endpoint_load(ifindex, ep))) {
		p.len = skb->len;
		return wt_finish(ifindex, 0, 0, WT_DIR_STAMP, WT_MODE_ENFORCE,
				 WT_REASON_DROP_NO_ENDPOINT, &p, tr);
	}
	WT_TRACE_OWN_SLOT(tr, ep->slot);
	skb->mark = ep->tag;
	if (wt_unlikely(ep->mode == WT_MODE_BYPASS)) {
		p.len = skb->len;
		return wt_finish(ifindex, ep->slot, ep->tag, WT_DIR_STAMP, ep->mode,
				 WT_REASON_ALLOW_BYPASS, &p, tr);
	}
	reason = wt_parse(skb, &p);
	if (wt_unlikely(reason != WT_PARSED))
		return wt_finish(ifindex, ep->slot, ep->tag, WT_DIR_STAMP, ep->mode, reason, &p, tr);
	if (wt_unlikely(wt_spoofed(ep, &p)))
		return wt_finish(ifindex, ep->slot, ep->tag, WT_DIR_STAMP, ep->mode,
				 WT_REASON_DROP_SPOOFED, &p, tr);
	if (wt_likely(p.frag != WT_FRAG_LATER))
		wt_flow_record(ifindex, ep->slot, &p);
	return wt_finish(ifindex, ep->slot, ep->tag, WT_DIR_STAMP, ep->mode, WT_REASON_STAMPED,
			 &p, tr);
}


#endif

/* An untagged packet that is no reply: the endpoint's untagged setting decides. */
static __always_inline __u32 wt_untagged_reason(const struct wt_ep_state *st)
{
	return st->untagged == WT_UNTAGGED_ALLOW ? WT_REASON_ALLOW_UNTAGGED : WT_REASON_DROP_UNTAGGED;
}

static __always_inline __u32 wt_enforce_reason(struct wt_ctx *ctx, const struct wt_ep_state *st,
					       __u32 ifindex, __u32 src_tag,
					       const struct wt_packet *p, struct wt_trace *tr)
{
	if (wt_unlikely(wt_icmp6_is_ndp(p)))
		return WT_REASON_ALLOW_NDP;
	if (wt_unlikely(p->frag == WT_FRAG_LATER))
		return wt_fragment_admitted(ifindex, p) ? WT_REASON_ALLOW_FRAGMENT
							 : WT_REASON_DROP_FRAGMENT;
	if (wt_flow_is_reply(ifindex, st->slot, p))
		return WT_REASON_ALLOW_REPLY;
	if (wt_unlikely(wt_icmp_is_error(p)) && wt_icmp_error_is_reply(ctx, ifindex, st->slot, p))
		return WT_REASON_ALLOW_REPLY; /* related.h */
	if (wt_unlikely(!src_tag))
		return wt_untagged_reason(st);
	return wt_rules_verdict(st, ifindex, src_tag, p, tr);
}

#ifndef WT_CTX_XDP
static __always_inline int wt_enforce(struct __sk_buff *skb, struct wt_trace *tr)
{
	struct wt_packet p = {};
	struct wt_ep_state st;
	__u32 ifindex = skb->ifindex, reason;
	__u32 src_tag = skb->mark & wt_cfg.tag_mask;

	wt_packet_in_memory(&p);
	if (wt_unlikely(!wt_endpoint_state(ifindex, &st))) {
		p.len = skb->len;
		return wt_finish(ifindex, 0, src_tag, WT_DIR_ENFORCE, WT_MODE_ENFORCE,
				 WT_REASON_DROP_NO_ENDPOINT, &p, tr);
	}
	WT_TRACE_OWN_SLOT(tr, st.slot);
	if (wt_unlikely(st.mode == WT_MODE_BYPASS)) {
		p.len = skb->len;
		return wt_finish(ifindex, st.slot, src_tag, WT_DIR_ENFORCE, st.mode,
				 WT_REASON_ALLOW_BYPASS, &p, tr);
	}
	reason = wt_parse(skb, &p);
	if (wt_likely(reason == WT_PARSED)) {
		reason = wt_enforce_reason(skb, &st, ifindex, src_tag, &p, tr);
		if (wt_unlikely(p.frag == WT_FRAG_FIRST) && !wt_reason_is_drop(reason))
			wt_fragment_admit(ifindex, &p);
	}
	return wt_finish(ifindex, st.slot, src_tag, WT_DIR_ENFORCE, st.mode, reason, &p, tr);
}

#endif /* WT_CTX_XDP */

#endif
