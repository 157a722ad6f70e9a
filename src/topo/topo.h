/* SPDX-License-Identifier: MIT */
/*
 * Guest CPU topology: the ktstr notation `NnLlCcTt` (N NUMA nodes, L LLCs in
 * total, C cores per LLC, T threads per core; `1n2l4c2t` = 16 CPUs), the
 * named presets of specs/ktstr-survey.md §1.8, the guest CPU numbering and the
 * APIC-ID bit layout of specs/vmm-x86.md §2.3 (decision D4).
 *
 * Pure data and arithmetic: nothing here touches KVM, so the VMM, the CLI and
 * the unit tests share one definition of "CPU n".
 */
#ifndef KTSTR_TOPO_TOPO_H
#define KTSTR_TOPO_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Limits. Nodes: every node is one KVM memory slot (two if it straddles the
 * 3-4 GiB hole) and the guest-memory gateway holds 16 regions. CPUs: the
 * ACPI window below 1 MiB holds about 3000 CPUs, KVM allows 4096 vCPU ids;
 * 1024 keeps both far away.
 */
#define TOPO_MAX_NODES 8u
#define TOPO_MAX_CPUS  1024u
/* KVM_MAX_VCPU_ID on current kernels; a layout whose max APIC ID reaches it is refused. */
#define TOPO_MAX_APIC_ID 4095u
/* Room for "ktstr: " + a message naming the bad value. */
#define TOPO_ERR_LEN 160u
/* Longest string topo_format() produces, NUL included (four 10-digit fields + letters). */
#define TOPO_STR_LEN 48u

struct topo {
	uint32_t nodes;	  /* N >= 1 */
	uint32_t llcs;	  /* L, total over all nodes, a multiple of N */
	uint32_t cores;	  /* C, cores per LLC */
	uint32_t threads; /* T, threads per core */
};

/*
 * Parse a topology: either the notation `NnLlCcTt` (decimal fields, in this
 * order, lower-case letters, nothing else) or a preset name (`tiny-2llc`).
 * Rejected: zero fields, L not a multiple of N, more than TOPO_MAX_NODES
 * nodes or TOPO_MAX_CPUS CPUs, overflow, trailing garbage.
 * Returns 0, or -EINVAL with a one-line message in err (no trailing newline,
 * names the bad input, e.g. "invalid topology '1n1l0c1t': cores per LLC must
 * be at least 1"). err may be NULL.
 */
int topo_parse(const char *s, struct topo *out, char *err, size_t errlen);

/* Same checks for a topology built in code; 0 or -EINVAL (+ message). */
int topo_validate(const struct topo *t, char *err, size_t errlen);

/* `NnLlCcTt` into buf (at least TOPO_STR_LEN bytes is always enough); returns buf. */
char *topo_format(const struct topo *t, char *buf, size_t len);

/* N * L * C * T would overflow for garbage; only call on a validated topology. */
unsigned topo_nr_cpus(const struct topo *t);
static inline unsigned topo_llcs_per_node(const struct topo *t)
{
	return t->llcs / t->nodes;
}
static inline unsigned topo_cpus_per_llc(const struct topo *t)
{
	return t->cores * t->threads;
}

/*
 * Guest CPU index decomposition (§2.3): thread varies fastest, then core,
 * then LLC, then node. `llc` is the global LLC index, `llc_in_node` the index
 * inside the node.
 */
struct topo_cpu {
	unsigned node;
	unsigned llc;
	unsigned llc_in_node;
	unsigned core;
	unsigned thread;
};
void topo_cpu_decompose(const struct topo *t, unsigned cpu, struct topo_cpu *out);

/* ---- presets (survey §1.8, 0.4.9 names, x86 set) ---- */

struct topo_preset {
	const char *name;
	struct topo topo;
	bool default_eligible; /* part of the default gauntlet */
};

/* The preset table (24 entries); *n receives the count. */
const struct topo_preset *topo_presets(size_t *n);
/* Exact, case-sensitive name lookup; NULL if unknown. */
const struct topo_preset *topo_preset_find(const char *name);

/* ---- APIC-ID layout (§2.3, D4) ---- */

/*
 * apic(node, llc_in_node, core, thread) =
 *     node << pkg_shift | llc_in_node << llc_shift | core << smt_shift | thread
 * with smt_shift = ceil_log2(T), llc_shift = smt_shift + ceil_log2(C) (padded
 * up to a floor some AMD families need, see cpuid_plan_layout()), pkg_shift =
 * llc_shift + ceil_log2(L / N). One package per NUMA node; every LLC and
 * every package is a naturally aligned power-of-two block of IDs.
 *
 * The VMM creates vCPU n with KVM vCPU id = topo_apic_id(layout, n) (D3); the
 * BSP is CPU 0 = APIC ID 0.
 */
struct topo_layout {
	struct topo topo;
	unsigned smt_shift;
	unsigned llc_shift;
	unsigned pkg_shift;
	unsigned nr_cpus;
	uint32_t max_apic_id;
	/* max_apic_id >= 255: x2APIC pre-enable, MADT type 9, X2APIC_API, MSI_EXT_DEST_ID (D10) */
	bool x2apic;
};

/*
 * Compute the layout. min_llc_shift pads the LLC field (0 = no padding; 3 for
 * AMD family 0x17 model <= 0x1F and Hygon, §2.6). Fails with -EINVAL (+
 * message) when the topology is invalid, when padding cannot hold the LLC
 * (T*C > 1 << min_llc_shift with a non-zero floor: "not representable") or
 * when the max APIC ID exceeds TOPO_MAX_APIC_ID.
 */
int topo_layout_init(struct topo_layout *l, const struct topo *t, unsigned min_llc_shift, char *err,
		     size_t errlen);

/* APIC ID (= KVM vCPU id) of guest CPU `cpu` (< nr_cpus). */
uint32_t topo_apic_id(const struct topo_layout *l, unsigned cpu);

/*
 * Format a one-line error message into err (nothing when err is NULL or
 * errlen is 0). Shared by the topology, memory-size and VMM builders' parse
 * functions, whose callers print the message.
 */
void topo_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ceil(log2(x)) for x >= 1 (0 for x = 1). */
unsigned topo_order(uint32_t x);

#endif
