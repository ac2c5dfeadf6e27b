// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The trace programs (userspace/datapath/trace.cc, docs/datapath.md "Trace"): the decisions
 * of wiretag.bpf.c, run through BPF_PROG_TEST_RUN in an instance whose state maps are its
 * own, leaving a record of what matched in skb->cb. Never attached. An object of their own,
 * so that compiling them leaves the live programs' instructions exactly as they were.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lib/verdict.h"

SEC("tc")
int wt_trace_stamp_prog(struct __sk_buff *skb)
{
	struct wt_trace tr = {};
	int action = wt_stamp(skb, &tr);

	wt_trace_out(skb, &tr);
	return action;
}

SEC("tc")
int wt_trace_enforce_prog(struct __sk_buff *skb)
{
	struct wt_trace tr = {};
	int action = wt_enforce(skb, &tr);

	wt_trace_out(skb, &tr);
	return action;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
