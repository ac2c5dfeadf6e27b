// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Probes for wiretag-bench-peers (--only probe-...): TC programs that do one kind of work
 * the datapath does, to read in situ (--prog-stats) what that kind of work costs once the
 * rest of the network stack has run between two packets. Not a filter: they pass everything.
 * docs/benchmarks.md reads them.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define WORDS(name, flags, n)                                                                  \
	struct {                                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                              \
		__uint(map_flags, flags);                                                      \
		__uint(max_entries, n);                                                        \
		__type(key, __u32);                                                            \
		__type(value, __u64);                                                          \
	} name SEC(".maps")

/* Mmapable arrays are vmalloc'ed (4 KiB pages), like the datapath's hot arrays. */
WORDS(vm1, BPF_F_MMAPABLE, 8192);
WORDS(vm2, BPF_F_MMAPABLE, 8192);
WORDS(vm3, BPF_F_MMAPABLE, 8192);
WORDS(vm4, BPF_F_MMAPABLE, 8192);
/* Small plain arrays (8 KiB) are kmalloc'ed: the kernel's direct map, large pages. */
WORDS(km1, 0, 1024);
WORDS(km2, 0, 1024);
WORDS(km3, 0, 1024);
WORDS(km4, 0, 1024);

struct four_words {
	__u64 a, b, c, d;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct four_words);
} lines SEC(".maps");

#define READ(map, k)                                                                           \
	({                                                                                     \
		__u64 *v_ = bpf_map_lookup_elem(&map, &k);                                     \
		v_ ? *(volatile __u64 *)v_ : 0;                                                \
	})

/* The maps hold zeros: no probe ever returns SHOT; the compare keeps the loads alive. */
#define PASS_UNLESS(x) ((x) == 12345 ? TC_ACT_SHOT : TC_ACT_OK)

/* Four map values, independent of each other: the CPU overlaps their misses. */
SEC("tc")
int wt_probe_independent(struct __sk_buff *skb)
{
	__u32 k = (skb->ifindex * 37) & 8191;

	return PASS_UNLESS(READ(vm1, k) + READ(vm2, k) + READ(vm3, k) + READ(vm4, k));
}

/* The same four reads from kmalloc'ed arrays: what large pages change. */
SEC("tc")
int wt_probe_kmalloc(struct __sk_buff *skb)
{
	__u32 k = (skb->ifindex * 37) & 1023;

	return PASS_UNLESS(READ(km1, k) + READ(km2, k) + READ(km3, k) + READ(km4, k));
}

/* Four map values, each index depending on the previous value (as endpoint -> slot -> ...). */
SEC("tc")
int wt_probe_dependent(struct __sk_buff *skb)
{
	__u32 k = (skb->ifindex * 37) & 8191;

	k ^= (__u32)READ(vm1, k) & 8191;
	k ^= (__u32)READ(vm2, k) & 8191;
	k ^= (__u32)READ(vm3, k) & 8191;
	return PASS_UNLESS(READ(vm4, k));
}

/* Four words of one map value (one cache line). */
SEC("tc")
int wt_probe_line(struct __sk_buff *skb)
{
	__u32 k = (skb->ifindex * 37) & 1023;
	struct four_words *w = bpf_map_lookup_elem(&lines, &k);

	if (!w)
		return TC_ACT_OK;
	return PASS_UNLESS(*(volatile __u64 *)&w->a + *(volatile __u64 *)&w->b +
			   *(volatile __u64 *)&w->c + *(volatile __u64 *)&w->d);
}

/* What stamp's one store costs on its own. */
SEC("tc")
int wt_probe_mark(struct __sk_buff *skb)
{
	skb->mark = 11;
	return TC_ACT_OK;
}

/*
 * ~1.9 KB of straight-line code (8 independent chains of adds, no memory): what running code
 * costs when its lines come cold, beside its warm BPF_PROG_TEST_RUN figure.
 */
SEC("tc")
int wt_probe_code(struct __sk_buff *skb)
{
	__u64 a0 = skb->ifindex, a1 = skb->len, a2 = skb->mark, a3 = skb->protocol;
	__u64 a4 = skb->priority, a5 = skb->hash, a6 = skb->tc_index, a7 = skb->queue_mapping;

	/* The barrier keeps each step's adds: the compiler cannot fold them into one. */
#define STEP(i)                                                                                \
	a0 += 1000003 + 8 * (i); a1 += 1000004 + 8 * (i); a2 += 1000005 + 8 * (i);             \
	a3 += 1000006 + 8 * (i); a4 += 1000007 + 8 * (i); a5 += 1000008 + 8 * (i);             \
	a6 += 1000009 + 8 * (i); a7 += 1000010 + 8 * (i);                                      \
	asm volatile("" : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), "+r"(a4), "+r"(a5), "+r"(a6), \
		     "+r"(a7));
#define STEP4(i) STEP(i) STEP(i + 1) STEP(i + 2) STEP(i + 3)
#define STEP16(i) STEP4(i) STEP4(i + 4) STEP4(i + 8) STEP4(i + 12)
	STEP16(0)
	STEP16(16)
	return PASS_UNLESS(a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
