/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* BTF map definitions. Sizes are defaults; userspace sets max_entries before load. */
#ifndef WT_BPF_MAPS_H
#define WT_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "wiretag/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	/*
	 * An update swaps in a new element under RCU, so a reader sees the old config or the
	 * new one. No prealloc: a freed element is not put straight back on a preallocated
	 * free list; programs copy the config right after lookup (see docs/datapath.md).
	 */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct wt_endpoint);
} endpoints SEC(".maps");

/* Direct-mapped by ifindex: the word enforce reads per packet (abi.h, docs/datapath.md). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, WT_ENDPOINT_INDEX_SIZE);
	__type(key, __u32);
	__type(value, __u64);
} endpoint_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 21);
	__type(key, struct wt_src_key);
	__type(value, struct wt_src_policy);
} src_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 21);
	__type(key, struct wt_port_key);
	__type(value, struct wt_port_rule);
} port_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 18);
	__type(key, struct wt_flow_key);
	__type(value, struct wt_flow);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct wt_frag_key);
	__type(value, struct wt_frag);
} fragments SEC(".maps");

/* Drops of packets without an endpoint, by ifindex; and what older builds counted here. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 16);
	__type(key, struct wt_counter_key);
	__type(value, struct wt_counter);
} counters SEC(".maps");

/* Every reason of an endpoint, by slot (wt_slot_counter_index): an inlined array lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4096 * WT_DIR_MAX * WT_SLOT_COLUMNS);
	__type(key, __u32);
	__type(value, struct wt_counter);
} slot_counters SEC(".maps");

/*
 * Per endpoint slot: source ports its TCP/UDP flows used (WT_REPLY_PORT_WORDS words).
 * Mmapped by userspace, which sets bits with atomic ORs (adoption) and clears a new slot.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4096 * WT_REPLY_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} reply_ports SEC(".maps");

/* What stamp needs of each endpoint, by slot (abi.h: a sequence count guards each entry). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct wt_stamp_config);
} stamp_config SEC(".maps");

/*
 * The cell's flow cache (two-way sets, sized by the owner: wt_cfg.flow_cache_shift) and, per
 * endpoint slot, the local ports of flows that only `flows` holds (WT_FLOW_SPILL_WORDS
 * words). abi.h says how they are read and written; userspace empties a new slot's entries
 * and spill words.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, WT_FLOW_CACHE_WAYS * WT_FLOW_CACHE_MAX_SETS);
	__type(key, __u32);
	__type(value, struct wt_flow_cache_entry);
} flow_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4096 * WT_FLOW_SPILL_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} flow_spill SEC(".maps");

/* Per endpoint slot: the rules' cached answers; and the rule epochs they are valid under. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4096 * WT_VERDICT_CACHE_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} verdict_cache SEC(".maps");

/* By ifindex & (entries - 1), like endpoint_index; written by userspace only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, WT_ENDPOINT_INDEX_SIZE);
	__type(key, __u32);
	__type(value, __u64);
} rule_epochs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wt_ratelimit);
} event_ratelimit SEC(".maps");

/* Written and read by userspace only: which device each endpoint is, for re-attach. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct wt_device);
} devices SEC(".maps");

/* The gate's believed outer sources (abi.h wt_vtep_key; the marker: the set is in force). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, struct wt_vtep_key);
	__type(value, struct wt_vtep);
} vteps SEC(".maps");

/* Inner destination address -> the endpoint's ifindex, for the gate's policy check. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 8192);
	__type(key, struct wt_addr_key);
	__type(value, __u32);
} endpoint_addrs SEC(".maps");

#endif
