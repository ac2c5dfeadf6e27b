/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The packet context, as Cilium's ctx: the parse and policy helpers take a `struct wt_ctx *`
 * and read the packet through these accessors, so the same code serves the TC programs
 * (struct __sk_buff) and the XDP gate (struct xdp_md). An object picks its context at
 * compile time: wiretag_gate.bpf.c defines WT_CTX_XDP before including lib/; the TC
 * objects define nothing. Everything is inlined, so each object holds one version.
 */
#ifndef WT_BPF_CTX_H
#define WT_BPF_CTX_H

#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>

#ifdef WT_CTX_XDP

#define wt_ctx xdp_md
/* The gate reads past the outer UDP header: parse.h records where L4 starts. */
#define WT_CTX_KEEPS_L4_OFF 1

static __always_inline void *ctx_data(const struct wt_ctx *ctx) { return (void *)(long)ctx->data; }

static __always_inline void *ctx_data_end(const struct wt_ctx *ctx)
{
	return (void *)(long)ctx->data_end;
}

/* The gate is not frags-aware (SEC("xdp")): its packets are linear. */
static __always_inline __u32 ctx_full_len(const struct wt_ctx *ctx)
{
	return ctx->data_end - ctx->data;
}

static __always_inline int ctx_load_bytes(struct wt_ctx *ctx, __u32 off, void *to, __u32 len)
{
	return bpf_xdp_load_bytes(ctx, off, to, len);
}

static __always_inline __u32 ctx_ifindex(const struct wt_ctx *ctx) { return ctx->ingress_ifindex; }

/* XDP frames are never GSO packets. */
static __always_inline __u32 ctx_gso_size(const struct wt_ctx *ctx __attribute__((unused)))
{
	return 0;
}

#else /* TC */

#define wt_ctx __sk_buff
/* TC reads nothing past L4: no store, the programs' instructions stay as they were. */
#define WT_CTX_KEEPS_L4_OFF 0

static __always_inline void *ctx_data(const struct wt_ctx *ctx) { return (void *)(long)ctx->data; }

static __always_inline void *ctx_data_end(const struct wt_ctx *ctx)
{
	return (void *)(long)ctx->data_end;
}

static __always_inline __u32 ctx_full_len(const struct wt_ctx *ctx) { return ctx->len; }

static __always_inline int ctx_load_bytes(struct wt_ctx *ctx, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes(ctx, off, to, len);
}

static __always_inline __u32 ctx_ifindex(const struct wt_ctx *ctx) { return ctx->ifindex; }

/* Nonzero for a GSO packet: the size of the segments it stands for. */
static __always_inline __u32 ctx_gso_size(const struct wt_ctx *ctx) { return ctx->gso_size; }

#endif

#endif
