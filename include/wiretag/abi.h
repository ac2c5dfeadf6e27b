/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wiretag datapath ABI: every BPF map key and value, the ring-buffer event, verdicts
 * and reasons. Included by the BPF programs (bpf/) and by C++ (userspace/); the only
 * definition. Plain C, <linux/types.h> types, explicit padding, no bool/bitfields.
 */
#ifndef WIRETAG_ABI_H
#define WIRETAG_ABI_H

#include <linux/types.h>

#define WT_ABI_VERSION 2

/*
 * The pinned ABI: what a pin dir's maps hold. Bump WT_PIN_ABI_VERSION whenever a pinned map's
 * key or value layout changes, or what the programs expect of a map's contents; then register
 * a converter from the previous version for every map that changed
 * (userspace/datapath/pin_upgrade.cc), or make it a cache that is recreated empty. Adding a
 * map needs no bump (an older pin dir lacks it: it is created). The owner pins the version as
 * <pin_dir>/pin_abi (array, 1 entry, __u32); a pin dir without it is version 0, whose maps
 * have version 1's layouts. docs/datapath.md, "Upgrades".
 */
#define WT_PIN_ABI_VERSION 3
#define WT_MAP_PIN_ABI "pin_abi"

/* Endpoint modes, from the cell's PAP state (SPEC §3). */
enum wt_mode {
	WT_MODE_ENFORCE = 0, /* ACTIVE and SAFE */
	WT_MODE_AUDIT = 1,   /* TEST: count and report would-drops, drop nothing */
	WT_MODE_BYPASS = 2,  /* PASSIVE: pass everything, still counting */
	WT_MODE_MAX,
};

/* What an endpoint does with untagged (tag 0) packets: host and router traffic. */
enum wt_untagged {
	WT_UNTAGGED_ALLOW = 0,
	WT_UNTAGGED_DENY = 1,
};

/* wt_endpoint.flags */
#define WT_EP_ANTISPOOF_V4 0x01 /* stamp drops IPv4 whose source is not ep->ipv4 */
#define WT_EP_ANTISPOOF_V6 0x02 /* stamp drops IPv6 whose source is not ep->ipv6 */
/*
 * What the rules in force hold, so enforce skips lookups that cannot hit. Written with the
 * generation they describe (one config write), so a packet never sees flags of another.
 */
#define WT_EP_HAS_SRC_POLICY 0x04      /* src_policy entries for specific source tags */
#define WT_EP_HAS_WILDCARD_PORTS 0x08  /* exact-port port_policy entries with source "*" */
#define WT_EP_HAS_WILDCARD_SRC 0x10    /* a src_policy entry for source "*" */
#define WT_EP_RULE_FLAGS (WT_EP_HAS_SRC_POLICY | WT_EP_HAS_WILDCARD_PORTS | WT_EP_HAS_WILDCARD_SRC)

enum wt_direction {
	WT_DIR_STAMP = 0,   /* TC ingress on the host-side veth: leaving the container */
	WT_DIR_ENFORCE = 1, /* TC egress on the host-side veth: entering the container */
	WT_DIR_MAX,
};

/*
 * The XDP gate on the cell's underlay device (bpf/wiretag_gate.bpf.c): VXLAN-GBP packets
 * before the stack decapsulates them. Not an endpoint direction (no slot): its drops are
 * counted in the counters hash under the underlay device's ifindex.
 */
#define WT_DIR_GATE 2

enum wt_verdict {
	WT_VERDICT_PASS = 0,
	WT_VERDICT_DROP = 1,
};

/*
 * Why a packet got its verdict. Keep wt_reason_name() in userspace in sync (a test
 * checks that every value has a name).
 */
enum wt_reason {
	WT_REASON_STAMPED = 0,       /* stamp: tagged and passed */
	WT_REASON_ALLOW_REPLY,       /* reply to a flow the endpoint originated */
	WT_REASON_ALLOW_RULE,        /* a rule for (src tag, proto, port) */
	WT_REASON_ALLOW_WILDCARD,    /* a rule with source "*" */
	WT_REASON_ALLOW_UNTAGGED,    /* tag 0 and the endpoint allows untagged */
	WT_REASON_ALLOW_BYPASS,      /* endpoint in bypass mode */
	WT_REASON_ALLOW_ARP,         /* ARP: link-layer resolution */
	WT_REASON_ALLOW_NDP,         /* ICMPv6 neighbour discovery / MLD */
	WT_REASON_ALLOW_FRAGMENT,    /* later fragment of an allowed first fragment */
	WT_REASON_DROP_POLICY,       /* tagged, no rule allows it; first drop reason */
	WT_REASON_DROP_UNTAGGED,     /* tag 0 and the endpoint denies untagged */
	WT_REASON_DROP_NO_ENDPOINT,  /* program runs on a device without endpoint config */
	WT_REASON_DROP_L2_TRUNCATED, /* shorter than an Ethernet (+VLAN) header */
	WT_REASON_DROP_L3_UNKNOWN,   /* ethertype neither IPv4, IPv6 nor ARP */
	WT_REASON_DROP_L3_TRUNCATED, /* IP header extends past the packet */
	WT_REASON_DROP_IPV4_IHL,     /* IPv4 IHL < 5 or version != 4 */
	WT_REASON_DROP_IPV6_VERSION, /* IPv6 version != 6 */
	WT_REASON_DROP_EXTHDR_LIMIT, /* more IPv6 extension headers than WT_MAX_EXTHDRS */
	WT_REASON_DROP_EXTHDR_BAD,   /* truncated or unparseable IPv6 extension header */
	WT_REASON_DROP_L4_TRUNCATED, /* TCP/UDP/ICMP header extends past the packet */
	WT_REASON_DROP_TCP_DOFF,     /* TCP data offset < 5 or past the packet's end */
	WT_REASON_DROP_FRAGMENT,     /* non-first fragment of no allowed datagram */
	WT_REASON_DROP_SPOOFED,      /* stamp: source address is not the endpoint's */
	WT_REASON_DROP_UNKNOWN_VTEP, /* gate: VXLAN from an outer source that is no known cell */
	WT_REASON_MAX,
};

/*
 * Reasons an endpoint counts in slot_counters: every reason before the gate's. The gate
 * counts per underlay device in the counters hash, so adding it left slot_counters' layout
 * (and pinned maps of older builds) as it was.
 */
#define WT_SLOT_REASONS WT_REASON_DROP_UNKNOWN_VTEP

/* Pass reasons (< WT_REASON_DROP_POLICY) only ever have verdict PASS. */
#define WT_PASS_REASONS WT_REASON_DROP_POLICY

#define WT_MAX_EXTHDRS 6  /* IPv6 extension headers parsed before WT_REASON_DROP_EXTHDR_LIMIT */
#define WT_PORT_PLEN_MAX 16

/* Map names, as pinned under <pin-dir>/ (the skeleton's names; see docs/datapath.md). */
#define WT_MAP_ENDPOINTS "endpoints"
#define WT_MAP_SRC_POLICY "src_policy"
#define WT_MAP_PORT_POLICY "port_policy"
#define WT_MAP_FLOWS "flows"
#define WT_MAP_FRAGMENTS "fragments"
#define WT_MAP_COUNTERS "counters"
#define WT_MAP_EVENTS "events"
#define WT_MAP_EVENT_RATELIMIT "event_ratelimit"
#define WT_MAP_DEVICES "devices"
#define WT_MAP_ENDPOINT_INDEX "endpoint_index"
#define WT_MAP_SLOT_COUNTERS "slot_counters"
#define WT_MAP_REPLY_PORTS "reply_ports"
#define WT_MAP_FLOW_CACHE "flow_cache"
#define WT_MAP_FLOW_SPILL "flow_spill"
#define WT_MAP_VERDICT_CACHE "verdict_cache"
#define WT_MAP_RULE_EPOCHS "rule_epochs"
#define WT_MAP_STAMP_CONFIG "stamp_config"
#define WT_MAP_VTEPS "vteps"
#define WT_MAP_ENDPOINT_ADDRS "endpoint_addrs"

#define WT_MAX_SLOTS 65536 /* endpoint slots: max_endpoints is at most this */

/* endpoints: key = __u32 ifindex of the host-side veth (unique within a cell). */
struct wt_endpoint {
	__u32 tag;        /* the endpoint's own wire tag, stamped on what it sends */
	__u8 mode;        /* enum wt_mode */
	__u8 untagged;    /* enum wt_untagged */
	__u8 generation;  /* 0 or 1: which rule generation enforce reads */
	__u8 flags;       /* WT_EP_* */
	__u32 ipv4;       /* network order; anti-spoof source (0 = none) */
	__u8 ipv6[16];    /* anti-spoof source (all zero = none) */
	__u16 slot;       /* 0..max_endpoints-1, unique per endpoint: slot_counters, reply_ports */
	__u16 pad;
};

/*
 * endpoint_index: what enforce needs of an endpoint in one 64-bit word, in an array
 * direct-mapped by ifindex & (entries - 1), so the per-packet read is an
 * array load instead of a hash lookup. WT_ENDPOINT_INDEX_SIZE entries by default (a power of
 * two; the datapath's endpoint_index_size option). Userspace writes a word with one atomic 8-byte store
 * (the map is mmapped), so a packet sees the old word or the new one. An entry holding
 * another ifindex (two endpoints on one entry) or 0 sends enforce to the endpoints hash.
 */
#define WT_ENDPOINT_INDEX_SIZE 65536
#define WT_EPW_IFINDEX(w) ((__u32)(w))
#define WT_EPW_SLOT(w) ((__u16)((w) >> 32))
#define WT_EPW_GENERATION(w) ((__u8)(((w) >> 48) & 1))
#define WT_EPW_MODE(w) ((__u8)(((w) >> 49) & 3))
#define WT_EPW_UNTAGGED(w) ((__u8)(((w) >> 51) & 1))
#define WT_EPW_FLAGS(w) ((__u8)((w) >> 52))

static inline __u64 wt_endpoint_word(__u32 ifindex, const struct wt_endpoint *ep)
{
	return (__u64)ifindex | (__u64)ep->slot << 32 | (__u64)(ep->generation & 1) << 48 |
	       (__u64)(ep->mode & 3) << 49 | (__u64)(ep->untagged & 1) << 51 |
	       (__u64)ep->flags << 52;
}

/*
 * stamp_config: what stamp needs of an endpoint, by slot, so that stamp reads two array
 * entries (its endpoint_index word for the slot, then this) instead of looking the
 * endpoints hash up, a function call that hashes the key. Written by userspace through an
 * mmap, as a sequence count: seq odd while it writes (it stores seq + 1, the fields, seq + 2,
 * each store in order). A reader copies the fields between two reads of seq; an odd seq,
 * two different reads, or an ifindex that is not the packet's (a slot handed to another
 * endpoint since) send it to the endpoints hash, which stays the truth.
 *   id = ifindex | tag << 32; config = mode | flags << 8 | ipv4 << 32;
 *   ipv6_hi, ipv6_lo = the anti-spoof IPv6 address's bytes as two words, as in memory.
 */
struct wt_stamp_config {
	__u64 seq;
	__u64 id;
	__u64 config;
	__u64 ipv6_hi;
	__u64 ipv6_lo;
};

/*
 * reply_ports: per endpoint slot, a 65536-bit set of the TCP/UDP source ports its flows
 * used (1024 words of 64 bits). Stamp sets a port's bit before recording the flow, so a
 * clear bit means no flow: enforce skips the flow lookup for packets that cannot be
 * replies (the common case for a server's inbound packets). Bits are never cleared while
 * the slot lives; a stale bit costs one lookup, never a verdict.
 */
#define WT_REPLY_PORT_WORDS 1024

/*
 * flow_cache: one cache shared by every endpoint of the cell, two-way set-associative, of the
 * flows the endpoints originated, so a reply (and stamp's refresh of a flow it sent) costs
 * inlined array loads and a few compares instead of a `flows` hash lookup. `flows` stays
 * the truth: stamp records every flow there, and a flow the cache does not hold (evicted
 * from its set, or recorded by an older build) has its local port's bit in its endpoint's
 * `flow_spill` words, which send enforce to `flows` after a cache miss. A clear bit after a
 * miss proves there is no flow. Shared, so an endpoint with thousands of flows keeps them
 * all cached while idle endpoints cost nothing (a per-endpoint cache of 512 entries was
 * missed by every packet of a sender with 4,096 flows).
 *
 * The owner sizes it: 2 * sets entries, sets a power of two of at most WT_FLOW_CACHE_MAX_SETS
 * (the index bits must not reach the stamp's check bits), and tells the programs
 * wt_cfg.flow_cache_shift = 64 - log2(sets). Set s holds entries 2s and 2s + 1; s = the top bits
 * of wt_flow_cache_mix(). The tuple is the flow as the endpoint sent it, as on the wire: the
 * remote and the local address (IPv6: two words each, as loaded; IPv4: the high word 0, the
 * address in the low 32 bits of the low word) and `ports` (remote port | local port << 16 |
 * family << 32 | endpoint slot << 40, ports in network order; ICMP echo: remote port 0, local
 * port = identifier). stamp: last seen (jiffies, 40 bits) | proto << 40 | check << 48, check
 * = bits 32..47 of the mix; stamp 0 = empty. A reader reads stamp, tuple, stamp; a writer
 * owns the entry while its stamp is busy (bpf/lib/flow.h), so equal stamp reads around the
 * tuple mean the tuple is the stamp's. A new endpoint's slot starts with none of its
 * predecessor's entries (userspace empties them).
 */
#define WT_FLOW_CACHE_WAYS 2
#define WT_FLOW_CACHE_MAX_SETS (1u << 16)
#define WT_FLOW_CACHE_MIN_SETS (1u << 12)
#define WT_FLOW_CACHE_TIME_MASK ((1ULL << 40) - 1) /* jiffies: 34 years at HZ=1000 */
/* flow_spill: per slot 4096 bits (64 words), bit = local port (host order) & 4095. */
#define WT_FLOW_SPILL_WORDS 64

struct wt_flow_cache_entry {
	__u64 stamp;
	__u64 remote_hi;
	__u64 remote_lo;
	__u64 local_hi;
	__u64 local_lo;
	__u64 ports;
};

static inline __u64 wt_flow_cache_ports(__u8 family, __u16 remote_port, __u16 local_port,
					__u32 slot)
{
	return (__u64)remote_port | (__u64)local_port << 16 | (__u64)family << 32 |
	       (__u64)(slot & 0xffff) << 40;
}

/* The endpoint slot a cached tuple's `ports` word belongs to. */
static inline __u32 wt_flow_cache_slot(__u64 ports)
{
	return (__u32)(ports >> 40) & 0xffff;
}

static inline __u64 wt_flow_cache_mix(__u64 remote_hi, __u64 remote_lo, __u64 local_hi,
				      __u64 local_lo, __u64 ports, __u8 proto)
{
	const __u64 k = 0x9E3779B97F4A7C15ULL; /* multiplicative (Fibonacci) hashing */

	return (((remote_hi ^ ports ^ proto) * k + remote_lo) * k + (local_hi ^ local_lo)) * k;
}

/*
 * The first entry of the mix's set (the other is the next one); shift = 64 - log2(sets).
 * An endpoint's flows fall in a region of at most WT_FLOW_CACHE_REGION_SETS consecutive sets
 * (wrapping), which starts at a place its slot picks: a sender's thousands of flows then
 * touch 768 KiB of the cache, not all of it. On this kind of machine one sender's 4,096
 * flows scattered over 6 MiB made stamp cost half as much again (docs/datapath.md). Regions
 * of different endpoints overlap, so the cell's flows still spread over the whole cache.
 */
#define WT_FLOW_CACHE_REGION_BITS 13
#define WT_FLOW_CACHE_REGION_SETS (1u << WT_FLOW_CACHE_REGION_BITS)

static inline __u32 wt_flow_cache_set_entry(__u64 mix, __u32 shift, __u32 slot)
{
	__u32 set_bits = 64 - shift;
	__u32 bits = set_bits < WT_FLOW_CACHE_REGION_BITS ? set_bits : WT_FLOW_CACHE_REGION_BITS;
	__u32 base = (__u32)((slot + 1) * 0x9E3779B1u) >> (32 - set_bits);

	return ((base + (__u32)(mix >> (64 - bits))) & ((1u << set_bits) - 1)) * WT_FLOW_CACHE_WAYS;
}

static inline __u64 wt_flow_cache_stamp(__u64 jiffies, __u64 mix, __u8 proto)
{
	return (jiffies & WT_FLOW_CACHE_TIME_MASK) |
	       (__u64)proto << 40 | ((mix >> 32) & 0xffff) << 48;
}

/* Does this stamp belong to a tuple with this mix and proto? */
static inline int wt_flow_cache_stamp_of(__u64 stamp, __u64 mix, __u8 proto)
{
	return (stamp >> 40) == ((__u64)proto | ((mix >> 32) & 0xffff) << 8);
}

/*
 * verdict_cache: per endpoint slot, the rules' last answers (WT_VERDICT_CACHE_ENTRIES words),
 * so a packet of a (source tag, protocol class, port) the endpoint saw before costs an
 * inlined array load instead of a policy hash lookup. A word is valid only while the
 * endpoint's rule epoch (rule_epochs, by the same index as endpoint_index) has the value it
 * was written under: the owner stores a new, never used epoch after every change of an
 * endpoint's rules or config, and enforce reads the epoch before the endpoint word, so a
 * word computed from rules that changed is never read back. Used only with tags of at most
 * 16 bits (tag_length <= 2, the VXLAN-GBP case).
 *
 * Word: tag (16) | port (16, host order; 0 for ICMP and other protocols) << 16 | class
 * (2) << 32 | verdict (2: WT_VERDICT_CODE_*, never 0) << 34 | epoch (low 28 bits) << 36.
 * 0 = empty. Entry = slot * WT_VERDICT_CACHE_ENTRIES + top bits of key * golden ratio.
 */
#define WT_VERDICT_CACHE_BITS 9
#define WT_VERDICT_CACHE_ENTRIES (1u << WT_VERDICT_CACHE_BITS)
#define WT_VERDICT_EPOCH_BITS 28
#define WT_VERDICT_EPOCH_MASK ((1ULL << WT_VERDICT_EPOCH_BITS) - 1)
#define WT_VERDICT_KEY_MASK ((1ULL << 34) - 1)

enum wt_verdict_class {
	WT_CLASS_TCP = 0,
	WT_CLASS_UDP = 1,
	WT_CLASS_ICMP = 2,  /* ICMP and ICMPv6: the `icmp` rule */
	WT_CLASS_OTHER = 3, /* any other protocol: only `any` rules */
};

enum wt_verdict_code {
	WT_VERDICT_CODE_RULE = 1,     /* WT_REASON_ALLOW_RULE */
	WT_VERDICT_CODE_WILDCARD = 2, /* WT_REASON_ALLOW_WILDCARD */
	WT_VERDICT_CODE_DENIED = 3,   /* WT_REASON_DROP_POLICY */
};

static inline __u64 wt_verdict_key(__u32 tag, __u16 port, __u8 cls)
{
	return (__u64)(tag & 0xffff) | (__u64)port << 16 | (__u64)(cls & 3) << 32;
}

static inline __u32 wt_verdict_index(__u32 slot, __u64 key)
{
	return slot * WT_VERDICT_CACHE_ENTRIES +
	       (__u32)((key * 0x9E3779B97F4A7C15ULL) >> (64 - WT_VERDICT_CACHE_BITS));
}

static inline __u64 wt_verdict_word(__u64 key, __u8 code, __u64 epoch)
{
	return key | (__u64)(code & 3) << 34 | (epoch & WT_VERDICT_EPOCH_MASK) << 36;
}

/* src_policy: what one source tag (0 = "*", any tagged source) may reach on one endpoint. */
struct wt_src_key {
	__u32 ifindex;
	__u32 src_tag;    /* 0 = wildcard source */
	__u8 generation;
	__u8 pad[3];
};

#define WT_PROTO_SLOT_TCP 0
#define WT_PROTO_SLOT_UDP 1

struct wt_src_policy {
	__u8 any_proto;   /* every protocol, every port */
	__u8 icmp;        /* ICMP and ICMPv6 */
	__u8 pad[2];
	/* per WT_PROTO_SLOT_*: bit p set = port_policy holds prefixes of length p; bit 0 = all ports */
	__u32 port_plens[2];
};

/* port_policy: one port prefix (from a port range's prefix decomposition) of a source. */
struct wt_port_key {
	__u32 ifindex;
	__u32 src_tag;    /* 0 = wildcard source */
	__u16 port;       /* host order, masked to plen bits */
	__u8 proto;       /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 plen_gen;    /* prefix length << 1 | generation */
};

struct wt_port_rule {
	__u32 flags; /* reserved, 0 */
};

/* flows: flows an endpoint originated, seen from the endpoint (saddr = endpoint). */
struct wt_flow_key {
	__u32 ifindex;
	__u8 family;      /* 4 or 6 */
	__u8 proto;       /* IPPROTO_*; ICMP echo uses sport = identifier, dport = 0 */
	__u16 sport;      /* network order */
	__u16 dport;      /* network order */
	__u16 pad;
	__u8 saddr[16];   /* IPv4 in the first 4 bytes, rest zero */
	__u8 daddr[16];
};

struct wt_flow {
	__u64 last_seen_ns; /* CLOCK_MONOTONIC_COARSE ns of the endpoint's last packet on it */
};

/* fragments: datagrams whose first fragment was allowed, so later fragments pass. */
struct wt_frag_key {
	__u32 ifindex;
	__u32 id;         /* IPv4 id (16 bits) or IPv6 fragment identification */
	__u8 family;
	__u8 proto;       /* IPv4 protocol; 0 for IPv6 (a later fragment cannot see it) */
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct wt_frag {
	__u64 first_seen_ns;
};

/*
 * Packets and bytes per endpoint, direction, reason and verdict. An endpoint counts every
 * reason in slot_counters (per-CPU array) at wt_slot_counter_index(); the counters hash,
 * keyed by wt_counter_key, holds WT_REASON_DROP_NO_ENDPOINT (no endpoint, no slot) and
 * what a build before slot_counters counted there.
 */
struct wt_counter_key {
	__u32 ifindex;
	__u8 direction;   /* enum wt_direction */
	__u8 reason;      /* enum wt_reason */
	__u8 verdict;     /* enum wt_verdict; a drop reason with PASS = audited would-drop */
	__u8 pad;
};

struct wt_counter {
	__u64 packets;
	__u64 bytes;
};

/*
 * slot_counters columns of one slot and direction: a pass reason has one (verdict PASS), a
 * drop reason two (PASS = an audited would-drop, DROP).
 */
#define WT_SLOT_COLUMNS (WT_PASS_REASONS + (WT_SLOT_REASONS - WT_PASS_REASONS) * 2)

static inline __u32 wt_slot_column(__u32 reason, __u32 verdict)
{
	if (reason < WT_PASS_REASONS)
		return reason;
	return WT_PASS_REASONS + (reason - WT_PASS_REASONS) * 2 + verdict;
}

static inline __u32 wt_slot_counter_index(__u32 slot, __u32 dir, __u32 reason, __u32 verdict)
{
	return (slot * WT_DIR_MAX + dir) * WT_SLOT_COLUMNS + wt_slot_column(reason, verdict);
}

/* devices: the userspace name of each endpoint device, so a restart can re-attach. */
#define WT_NETNS_PATH_MAX 104
#define WT_IFNAME_MAX 16
struct wt_device {
	char netns[WT_NETNS_PATH_MAX]; /* path to a netns file; "" = the agent's own */
	char ifname[WT_IFNAME_MAX];
	__u32 attached;                /* bit 0 stamp, bit 1 enforce */
	__u32 pad;
};

/*
 * vteps: the outer source addresses the gate believes (the cells' VTEPs, from the server).
 * The key with family 0 (address all zero) is the marker "the set is in force": without it
 * (a cell that has not heard the set yet) the gate checks no outer source.
 */
struct wt_vtep_key {
	__u8 family;   /* 4 or 6; 0 = the marker */
	__u8 pad[3];
	__u8 addr[16]; /* IPv4 in the first 4 bytes, rest zero */
};

struct wt_vtep {
	__u32 flags; /* reserved, 0 */
};

/*
 * endpoint_addrs: which endpoint an inner destination address is (its anti-spoof
 * addresses), so the gate can ask the endpoint's rules. Same key layout as vteps.
 */
struct wt_addr_key {
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

#define WT_VXLAN_PORT 4789
/* VXLAN-GBP header (draft-smith-vxlan-group-policy): flags, then the Group Policy ID. */
#define WT_VXLAN_FLAG_I 0x08 /* byte 0: the VNI is valid */
#define WT_VXLAN_FLAG_G 0x80 /* byte 0: the Group Policy ID is set */

/* Ring-buffer event for drops and audited would-drops. */
struct wt_event {
	__u64 timestamp_ns;
	__u32 ifindex;
	__u32 src_tag;
	__u8 direction;
	__u8 reason;
	__u8 verdict;
	__u8 mode;
	__u8 family;
	__u8 proto;
	__u16 len;        /* skb->len, truncated to 65535 */
	__u16 sport;      /* network order */
	__u16 dport;
	__u32 pad;
	__u8 saddr[16];
	__u8 daddr[16];
	/*
	 * The gate's events (direction gate): the outer source of the VXLAN packet, the VTEP it
	 * came from (4 or 6; 0 in every other event). Records of builds before these fields are
	 * WT_EVENT_V1_SIZE bytes: readers take them with these fields zero.
	 */
	__u8 outer_family;
	__u8 pad2[7];
	__u8 outer_saddr[16];
};
#define WT_EVENT_V1_SIZE 64

/*
 * Event rate limit state, per CPU (docs/datapath.md). Older builds had one __u64 sent here:
 * on a little-endian CPU a value adopted from them reads as that sent, none suppressed.
 */
struct wt_ratelimit {
	__u64 window_start_ns; /* CLOCK_MONOTONIC_COARSE */
	__u32 sent;            /* events sent in the window */
	__u32 suppressed;      /* events lost on this CPU, ever (over budget or ring buffer
				* full): never reset, so a reader's deltas count every loss */
};

/*
 * Trace runs (userspace/datapath/trace.cc): wt_trace_stamp_prog and wt_trace_enforce_prog,
 * never attached, run through BPF_PROG_TEST_RUN and leave what they decided in the test
 * run's skb->cb[] (ctx_out), at these indexes. The live programs record nothing.
 */
enum wt_trace_match {
	WT_TRACE_MATCH_NONE = 0,   /* no rule: the reason says why */
	WT_TRACE_MATCH_PORT = 1,   /* a port_policy entry: source, proto, port prefix */
	WT_TRACE_MATCH_ANY = 2,    /* a src_policy entry with any_proto: every protocol and port */
	WT_TRACE_MATCH_ICMP = 3,   /* a src_policy entry with icmp */
	WT_TRACE_MATCH_ALL_PORTS = 4, /* a src_policy entry with every port of the protocol */
};

#define WT_TRACE_CB_REASON 0 /* enum wt_reason | verdict << 8 | mode << 16 | 1 << 24 (ran) */
#define WT_TRACE_CB_SOURCE 1 /* source tag of the matched entry (0 = "*") */
#define WT_TRACE_CB_MATCH 2  /* enum wt_trace_match | proto << 8 | prefix length << 16 */
#define WT_TRACE_CB_PORT 3   /* port prefix of a WT_TRACE_MATCH_PORT entry, host order */
#define WT_TRACE_CB_SLOT 4   /* the endpoint's live slot (the trace's own state uses slot 0) */
#define WT_TRACE_RAN (1u << 24)

/*
 * The programs' load-time settings: one `const volatile struct wt_config wt_cfg` in each
 * object's .rodata (bpf/lib/config.h), written whole by the owner between open and load
 * (userspace/datapath/program_config.h builds it once from the datapath's options for the TC
 * programs, the XDP gate and the trace programs), so the verifier knows every field as a
 * constant and prunes what a setting turns off. .rodata belongs to one load: never pinned.
 */
#define WT_FLOW_TIMEOUT_TCP_NS (7200ULL * 1000000000ULL)
#define WT_FLOW_TIMEOUT_UDP_NS (120ULL * 1000000000ULL)
#define WT_FLOW_TIMEOUT_OTHER_NS (30ULL * 1000000000ULL)
#define WT_FLOW_REFRESH_NS 1000000000ULL /* stamp rewrites last_seen at most this often */
#define WT_FRAGMENT_TIMEOUT_NS (30ULL * 1000000000ULL)

struct wt_config {
	__u64 flow_timeout_tcp_ns;
	__u64 flow_timeout_udp_ns;
	__u64 flow_timeout_other_ns;
	__u64 flow_refresh_ns;
	__u64 fragment_timeout_ns;
	/* The flow cache's clock is jiffies: the timeouts above at CONFIG_HZ. */
	__u64 flow_timeout_tcp_jiffies;
	__u64 flow_timeout_udp_jiffies;
	__u64 flow_timeout_other_jiffies;
	__u64 flow_refresh_jiffies;
	__u32 tag_mask;            /* from tag_length */
	__u32 flow_cache_shift;    /* 64 - log2(the flow cache's sets) */
	__u32 events_per_sec;      /* per CPU */
	__u32 endpoint_index_mask; /* endpoint_index entries - 1 */
	__u16 vxlan_port;          /* the gate's VXLAN UDP port, host order */
	__u8 verdict_cache_on;     /* tags of at most 16 bits (the cache's words hold 16) */
	__u8 pad[5];
};

#ifdef __cplusplus
#define WT_ABI_ASSERT(e, m) static_assert(e, m)
#else
#define WT_ABI_ASSERT(e, m) _Static_assert(e, m)
#endif
#define WT_ABI_OFFSET(t, f) __builtin_offsetof(t, f)

WT_ABI_ASSERT(sizeof(struct wt_endpoint) == 32, "wt_endpoint size");
WT_ABI_ASSERT(WT_ABI_OFFSET(struct wt_endpoint, ipv6) == 12, "wt_endpoint.ipv6");
WT_ABI_ASSERT(sizeof(struct wt_src_key) == 12, "wt_src_key size");
WT_ABI_ASSERT(sizeof(struct wt_src_policy) == 12, "wt_src_policy size");
WT_ABI_ASSERT(WT_ABI_OFFSET(struct wt_src_policy, port_plens) == 4, "wt_src_policy.port_plens");
WT_ABI_ASSERT(sizeof(struct wt_port_key) == 12, "wt_port_key size");
WT_ABI_ASSERT(WT_ABI_OFFSET(struct wt_port_key, plen_gen) == 11, "wt_port_key.plen_gen");
WT_ABI_ASSERT(sizeof(struct wt_port_rule) == 4, "wt_port_rule size");
WT_ABI_ASSERT(sizeof(struct wt_flow_key) == 44, "wt_flow_key size");
WT_ABI_ASSERT(WT_ABI_OFFSET(struct wt_flow_key, saddr) == 12, "wt_flow_key.saddr");
WT_ABI_ASSERT(sizeof(struct wt_flow) == 8, "wt_flow size");
WT_ABI_ASSERT(sizeof(struct wt_flow_cache_entry) == 48, "wt_flow_cache_entry size");
WT_ABI_ASSERT(sizeof(struct wt_frag_key) == 44, "wt_frag_key size");
WT_ABI_ASSERT(sizeof(struct wt_counter_key) == 8, "wt_counter_key size");
WT_ABI_ASSERT(sizeof(struct wt_counter) == 16, "wt_counter size");
WT_ABI_ASSERT(sizeof(struct wt_device) == 128, "wt_device size");
WT_ABI_ASSERT(sizeof(struct wt_event) == 88, "wt_event size");
WT_ABI_ASSERT(WT_ABI_OFFSET(struct wt_event, outer_family) == WT_EVENT_V1_SIZE, "wt_event v1");
WT_ABI_ASSERT(sizeof(struct wt_ratelimit) == 16, "wt_ratelimit size");
WT_ABI_ASSERT(WT_ABI_OFFSET(struct wt_event, saddr) == 32, "wt_event.saddr");
WT_ABI_ASSERT(WT_ABI_OFFSET(struct wt_endpoint, slot) == 28, "wt_endpoint.slot");
WT_ABI_ASSERT(sizeof(struct wt_vtep_key) == 20, "wt_vtep_key size");
WT_ABI_ASSERT(sizeof(struct wt_addr_key) == 20, "wt_addr_key size");
WT_ABI_ASSERT(sizeof(struct wt_config) == 96, "wt_config size");
WT_ABI_ASSERT(WT_ABI_OFFSET(struct wt_config, tag_mask) == 72, "wt_config.tag_mask");
WT_ABI_ASSERT(WT_ABI_OFFSET(struct wt_config, vxlan_port) == 88, "wt_config.vxlan_port");
WT_ABI_ASSERT(WT_SLOT_COLUMNS == 37, "slot_counters layout of pinned maps");
WT_ABI_ASSERT(WT_REASON_MAX <= 32, "reasons fit a u32 mask");
WT_ABI_ASSERT((__u64)WT_MAX_SLOTS * WT_DIR_MAX * WT_SLOT_COLUMNS <= 0xffffffffu,
	      "slot_counters indexes fit a u32");

#endif /* WIRETAG_ABI_H */
