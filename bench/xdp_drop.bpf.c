// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The ceiling the gate bench compares the XDP gate with: an XDP program that counts a packet
 * (a per-CPU array, as the gate counts) and drops it, without looking at it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

SEC("xdp")
int wt_xdp_drop_prog(struct xdp_md *ctx __attribute__((unused)))
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &key);

	if (n)
		(*n)++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
