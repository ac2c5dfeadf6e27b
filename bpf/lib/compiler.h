/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Branch hints, as Cilium's bpf/include/bpf/compiler.h. clang lays a hinted branch's
 * likely side out as the fall-through and moves the other side away, so the instructions a
 * packet of the common case runs (a known endpoint, a parsed header, a cached answer) sit
 * together in a few cache lines instead of between every error path. They change no
 * decision: only where the code is.
 */
#ifndef WT_BPF_COMPILER_H
#define WT_BPF_COMPILER_H

#define wt_likely(x) __builtin_expect(!!(x), 1)
#define wt_unlikely(x) __builtin_expect(!!(x), 0)

#endif
