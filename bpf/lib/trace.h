/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The record of a trace run (userspace/datapath/trace.cc, docs/datapath.md "Trace"). The
 * decisions take a `struct wt_trace *`: the live entry points pass a constant null, so
 * every `if (tr)` is removed when they are compiled and their instructions are exactly those
 * of a build without tracing; the trace entry points pass a record and copy it into skb->cb.
 */
#ifndef WT_BPF_TRACE_H
#define WT_BPF_TRACE_H

#include <linux/bpf.h>
#include "wiretag/abi.h"

struct wt_trace {
	__u32 reason;
	__u32 src_tag; /* of the matched entry: the packet's tag, or 0 for "*" */
	__u32 slot;    /* the endpoint's live slot */
	__u16 port;    /* WT_TRACE_MATCH_PORT: the prefix, host order */
	__u8 match;    /* enum wt_trace_match */
	__u8 proto;
	__u8 plen;
	__u8 verdict;
	__u8 mode;
	__u8 pad;
};

static __always_inline void wt_trace_match(struct wt_trace *tr, __u8 match, __u32 src_tag,
					   __u8 proto, __u16 port, __u8 plen)
{
	if (!tr)
		return;
	tr->match = match;
	tr->src_tag = src_tag;
	tr->proto = proto;
	tr->port = port;
	tr->plen = plen;
}

static __always_inline void wt_trace_out(struct __sk_buff *skb, const struct wt_trace *tr)
{
	skb->cb[WT_TRACE_CB_REASON] = tr->reason | (__u32)tr->verdict << 8 | (__u32)tr->mode << 16 |
				      WT_TRACE_RAN;
	skb->cb[WT_TRACE_CB_SOURCE] = tr->src_tag;
	skb->cb[WT_TRACE_CB_MATCH] = tr->match | (__u32)tr->proto << 8 | (__u32)tr->plen << 16;
	skb->cb[WT_TRACE_CB_PORT] = tr->port;
	skb->cb[WT_TRACE_CB_SLOT] = tr->slot;
}

#endif
