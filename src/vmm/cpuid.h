/* SPDX-License-Identifier: MIT */
/*
 * Per-vCPU CPUID for KVM_SET_CPUID2 (specs/vmm-x86.md §2): start from the
 * KVM_GET_SUPPORTED_CPUID table and make the guest see the requested topology
 * with the APIC-ID layout of topo/topo.h (D4): leaves 1, 4, 0xB, 0x1F,
 * 0x80000001/6/8, 0x8000001D/1E synthesized where KVM or the host lacks them
 * (D5, D6), hypervisor leaves (D11, D10), and an XSAVE leaf 0xD consistent
 * with the features left visible (§2.7).
 *
 * Pure table work: the input is a plain array (a captured host table in the
 * unit tests), nothing here opens /dev/kvm.
 */
#ifndef KTSTR_VMM_CPUID_H
#define KTSTR_VMM_CPUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "topo/topo.h"

/* Upper bound of a generated table (KVM accepts up to KVM_MAX_CPUID_ENTRIES = 256). */
#define CPUID_MAX_ENTRIES 256u

enum cpuid_vendor {
	CPUID_VENDOR_OTHER = 0,
	CPUID_VENDOR_INTEL,
	CPUID_VENDOR_AMD,
	CPUID_VENDOR_HYGON,
};

/* Facts about the CPU the supported table describes (leaf 0, 1, 0x80000000). */
struct cpuid_host {
	enum cpuid_vendor vendor;
	unsigned family; /* display family (base + extended) */
	unsigned model;	 /* display model */
	unsigned stepping;
	uint32_t max_basic;
	uint32_t max_ext;
};

void cpuid_host_info(const struct kvm_cpuid_entry2 *sup, unsigned nsup, struct cpuid_host *h);

/* True for AMD and Hygon: the guest is given the AMD topology leaves (0x8000001D/1E, TOPOEXT). */
static inline bool cpuid_host_is_amd(const struct cpuid_host *h)
{
	return h->vendor == CPUID_VENDOR_AMD || h->vendor == CPUID_VENDOR_HYGON;
}

/*
 * Minimum LLC shift the guest CPU model forces (§2.6): 3 on AMD family 0x17
 * model <= 0x1F and on Hygon (Linux takes llc_id = apicid >> 3 there), 0
 * otherwise.
 */
unsigned cpuid_min_llc_shift(const struct cpuid_host *h);

/*
 * APIC-ID layout for this host and topology: topo_layout_init() with
 * cpuid_min_llc_shift(). -EINVAL + message when the topology cannot be shown
 * on this CPU model (e.g. more than 8 threads per LLC on Zen 1).
 * The VMM must create vCPU n with id topo_apic_id(l, n) (D3).
 */
int cpuid_plan_layout(const struct kvm_cpuid_entry2 *sup, unsigned nsup, const struct topo *t,
		      struct topo_layout *l, char *err, size_t errlen);

struct cpuid_opts {
	bool realtime_hint; /* 0x40000001 EDX bit 0 KVM_HINTS_REALTIME (pinned mode) */
	bool allow_amx;	    /* the process obtained ARCH_REQ_XCOMP_GUEST_PERM for AMX */
	bool keep_pmu;	    /* pass leaf 0xA through (default: zeroed, no guest PMU) */
};

/*
 * The table for guest CPU `cpu` (< l->nr_cpus). `opts` may be NULL (all
 * false). MSI_EXT_DEST_ID is advertised when l->x2apic. Returns 0 and the
 * entry count in *nout, -E2BIG when `max` entries are not enough, -EINVAL
 * (+ message) for an unusable input table (no leaf 0 / leaf 1).
 */
int cpuid_build_vcpu(const struct kvm_cpuid_entry2 *sup, unsigned nsup, const struct topo_layout *l,
		     unsigned cpu, const struct cpuid_opts *opts, struct kvm_cpuid_entry2 *out,
		     unsigned max, unsigned *nout, char *err, size_t errlen);

/* First entry with this function (and index, for indexed leaves); NULL if none. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t function,
				    uint32_t index);

/* True for the leaves whose subleaf index is significant (cpuid_function_is_indexed()). */
bool cpuid_leaf_is_indexed(uint32_t function);

/* ---- XSAVE (leaf 0xD) consistency, §2.7 ---- */

/* XCR0 component bits. */
#define CPUID_XFEATURE_X87    (1ull << 0)
#define CPUID_XFEATURE_SSE    (1ull << 1)
#define CPUID_XFEATURE_YMM    (1ull << 2)
#define CPUID_XFEATURE_AVX512 (7ull << 5) /* opmask, ZMM_Hi256, Hi16_ZMM */
#define CPUID_XFEATURE_PKRU   (1ull << 9)
#define CPUID_XFEATURE_AMX    (3ull << 17) /* XTILECFG, XTILEDATA */
/* The legacy region + XSAVE header: the smallest standard-format area. */
#define CPUID_XSAVE_LEGACY_SIZE 576u

/*
 * Hide XCR0 components `mask` (bits 0/1 are never hidden): clear them in
 * 0xD.0 EAX/EDX, delete their 0xD subleaves (compacting the array, *n
 * updated) and recompute 0xD.0 ECX. Also clears the CPUID feature bits tied
 * to them (AVX, AVX512F, PKU, AMX-TILE) so both sides agree.
 */
void cpuid_xsave_hide(struct kvm_cpuid_entry2 *e, unsigned *n, uint64_t mask);

/*
 * Make features and components agree both ways (YMM <-> AVX, AVX-512 <->
 * AVX512F, PKRU <-> PKU, AMX <-> AMX-TILE): a component whose feature is off
 * is hidden, a feature whose component is missing is cleared; AMX is hidden
 * unless allow_amx; without XSAVE (1.ECX[26] = 0) 0xD.0 becomes
 * {0, 576, 576, 0}.
 */
void cpuid_xsave_repair(struct kvm_cpuid_entry2 *e, unsigned *n, bool allow_amx);

#endif
