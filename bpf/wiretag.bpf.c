// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* wiretag TC programs; both attach to the host-side veth of a container. Logic: lib/. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lib/fastpath.h"

/* TC ingress: packets leaving the container get its tag. */
SEC("tc")
int wt_stamp_prog(struct __sk_buff *skb)
{
	int action = wt_stamp_fast(skb);

	if (wt_likely(action != WT_FAST_PATH_NONE))
		return action;
	return wt_stamp(skb, 0); /* 0: no trace record, compiled out */
}

/* TC egress: packets entering the container must be allowed. */
SEC("tc")
int wt_enforce_prog(struct __sk_buff *skb)
{
	int action = wt_enforce_fast(skb);

	if (wt_likely(action != WT_FAST_PATH_NONE))
		return action;
	return wt_enforce(skb, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
