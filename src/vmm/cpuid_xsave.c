// SPDX-License-Identifier: MIT
/*
 * XSAVE leaf 0xD kept consistent with the feature bits (specs/vmm-x86.md
 * §2.7). Linux masks every XSAVE component whose feature bit is off
 * (xsave_cpuid_features in arch/x86/kernel/fpu/xstate.c) and then
 * cross-checks its size computation against CPUID, so a component without its
 * feature, or a feature without its component, costs a warning or the
 * feature. Both directions are repaired here.
 */
#include <string.h>

#include "base/compiler.h"
#include "vmm/cpuid.h"

#define L1_ECX_FMA   (1u << 12)
#define L1_ECX_XSAVE (1u << 26)
#define L1_ECX_AVX   (1u << 28)

#define L7_EBX_AVX2    (1u << 5)
#define L7_EBX_AVX512F (1u << 16)
/* AVX512 DQ, IFMA, PF, ER, CD, BW, VL: meaningless without AVX512F. */
#define L7_EBX_AVX512_ALL                                                                   \
	(L7_EBX_AVX512F | 1u << 17 | 1u << 21 | 1u << 26 | 1u << 27 | 1u << 28 | 1u << 30 | \
	 1u << 31)
/* VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ. */
#define L7_ECX_AVX512_ALL (1u << 1 | 1u << 6 | 1u << 11 | 1u << 12 | 1u << 14)
#define L7_ECX_PKU	  (1u << 3)
#define L7_ECX_OSPKE	  (1u << 4)
/* 4VNNIW, 4FMAPS, VP2INTERSECT, FP16. */
#define L7_EDX_AVX512_ALL (1u << 2 | 1u << 3 | 1u << 8 | 1u << 23)
#define L7_EDX_AMX_BF16	  (1u << 22)
#define L7_EDX_AMX_TILE	  (1u << 24)
#define L7_EDX_AMX_INT8	  (1u << 25)
#define L7_EDX_AMX_ALL	  (L7_EDX_AMX_BF16 | L7_EDX_AMX_TILE | L7_EDX_AMX_INT8)
/* Leaf 7.1 EAX: AVX512_BF16. */
#define L71_EAX_AVX512_BF16 (1u << 5)

static struct kvm_cpuid_entry2 *leaf(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t f, uint32_t i)
{
	return cpuid_find(e, n, f, i);
}

/* Remove the entries of `function` (all, or the indexes in index_mask), keeping the order. */
static void remove_entries(struct kvm_cpuid_entry2 *e, unsigned *n, uint32_t function,
			   uint64_t index_mask, bool all_indexes)
{
	unsigned w = 0;

	for (unsigned r = 0; r < *n; r++) {
		bool drop = e[r].function == function &&
			    (all_indexes || (e[r].index < 64 && (index_mask >> e[r].index) & 1));

		if (!drop)
			e[w++] = e[r];
	}
	*n = w;
}

static uint64_t xcr0_of(struct kvm_cpuid_entry2 *d0)
{
	return d0 ? (uint64_t)d0->eax | (uint64_t)d0->edx << 32 : 0;
}

/* 0xD.0 ECX: the standard-format size for every component still enabled. */
static void recompute_size(struct kvm_cpuid_entry2 *e, unsigned n)
{
	struct kvm_cpuid_entry2 *d0 = leaf(e, n, 0xD, 0);
	uint64_t xcr0 = xcr0_of(d0);
	uint32_t size = CPUID_XSAVE_LEGACY_SIZE;

	if (!d0)
		return;
	for (unsigned i = 0; i < n; i++) {
		if (e[i].function != 0xD || e[i].index < 2 || e[i].index >= 64 ||
		    !((xcr0 >> e[i].index) & 1))
			continue;
		size = MAX(size, e[i].ebx + e[i].eax);
	}
	d0->ecx = size;
}

static void clear_bits(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t f, uint32_t idx,
		       uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *x = leaf(e, n, f, idx);

	if (!x)
		return;
	x->eax &= ~eax;
	x->ebx &= ~ebx;
	x->ecx &= ~ecx;
	x->edx &= ~edx;
}

void cpuid_xsave_hide(struct kvm_cpuid_entry2 *e, unsigned *n, uint64_t mask)
{
	struct kvm_cpuid_entry2 *d0;

	mask &= ~(CPUID_XFEATURE_X87 | CPUID_XFEATURE_SSE);
	/* AVX-512 state extends the YMM registers: it cannot stay without them. */
	if (mask & CPUID_XFEATURE_YMM)
		mask |= CPUID_XFEATURE_AVX512;
	/* The three AVX-512 components only make sense together, likewise the two AMX ones. */
	if (mask & CPUID_XFEATURE_AVX512)
		mask |= CPUID_XFEATURE_AVX512;
	if (mask & CPUID_XFEATURE_AMX)
		mask |= CPUID_XFEATURE_AMX;

	d0 = leaf(e, *n, 0xD, 0);
	if (d0) {
		d0->eax &= ~(uint32_t)mask;
		d0->edx &= ~(uint32_t)(mask >> 32);
	}
	remove_entries(e, n, 0xD, mask, false);

	if (mask & CPUID_XFEATURE_YMM) {
		clear_bits(e, *n, 1, 0, 0, 0, L1_ECX_AVX | L1_ECX_FMA, 0);
		clear_bits(e, *n, 7, 0, 0, L7_EBX_AVX2, 0, 0);
	}
	if (mask & CPUID_XFEATURE_AVX512) {
		clear_bits(e, *n, 7, 0, 0, L7_EBX_AVX512_ALL, L7_ECX_AVX512_ALL, L7_EDX_AVX512_ALL);
		clear_bits(e, *n, 7, 1, L71_EAX_AVX512_BF16, 0, 0, 0);
	}
	if (mask & CPUID_XFEATURE_PKRU)
		clear_bits(e, *n, 7, 0, 0, 0, L7_ECX_PKU | L7_ECX_OSPKE, 0);
	if (mask & CPUID_XFEATURE_AMX) {
		clear_bits(e, *n, 7, 0, 0, 0, 0, L7_EDX_AMX_ALL);
		/* Tile information leaves describe AMX only. */
		remove_entries(e, n, 0x1D, 0, true);
		remove_entries(e, n, 0x1E, 0, true);
	}
	recompute_size(e, *n);
}

static bool has(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t f, uint32_t idx, int reg,
		uint32_t bit)
{
	struct kvm_cpuid_entry2 *x = leaf(e, n, f, idx);
	uint32_t v;

	if (!x)
		return false;
	v = reg == 0 ? x->eax : reg == 1 ? x->ebx : reg == 2 ? x->ecx : x->edx;
	return v & bit;
}

enum { EAX, EBX, ECX, EDX };

/* True when every component of `mask` is in XCR0 and has its 0xD subleaf. */
static bool components_present(struct kvm_cpuid_entry2 *e, unsigned n, uint64_t mask)
{
	uint64_t xcr0 = xcr0_of(leaf(e, n, 0xD, 0));

	if ((xcr0 & mask) != mask)
		return false;
	for (unsigned i = 2; i < 64; i++)
		if (((mask >> i) & 1) && !leaf(e, n, 0xD, i))
			return false;
	return true;
}

void cpuid_xsave_repair(struct kvm_cpuid_entry2 *e, unsigned *n, bool allow_amx)
{
	static const struct {
		uint64_t comp;
		uint32_t f, idx;
		int reg;
		uint32_t bit;
	} pairs[] = {
		{CPUID_XFEATURE_YMM, 1, 0, ECX, L1_ECX_AVX},
		{CPUID_XFEATURE_AVX512, 7, 0, EBX, L7_EBX_AVX512F},
		{CPUID_XFEATURE_PKRU, 7, 0, ECX, L7_ECX_PKU},
		{CPUID_XFEATURE_AMX, 7, 0, EDX, L7_EDX_AMX_TILE},
	};
	struct kvm_cpuid_entry2 *d0;
	uint64_t hide = 0, xcr0;

	if (!has(e, *n, 1, 0, ECX, L1_ECX_XSAVE)) {
		/* No XSAVE: the guest uses FXSAVE; nothing may depend on XSAVE state. */
		cpuid_xsave_hide(e, n, ~0ull);
		remove_entries(e, n, 0xD, ~1ull, false);
		d0 = leaf(e, *n, 0xD, 0);
		if (d0) {
			d0->eax = 0;
			d0->edx = 0;
			d0->ebx = CPUID_XSAVE_LEGACY_SIZE;
			d0->ecx = CPUID_XSAVE_LEGACY_SIZE;
		}
		return;
	}
	xcr0 = xcr0_of(leaf(e, *n, 0xD, 0));
	for (unsigned i = 0; i < ARRAY_SIZE(pairs); i++) {
		bool feat = has(e, *n, pairs[i].f, pairs[i].idx, pairs[i].reg, pairs[i].bit);
		bool comp = components_present(e, *n, pairs[i].comp);

		/* Either side missing: hide both (hide() clears the feature bits too). */
		if (!feat || !comp)
			hide |= pairs[i].comp;
		else if (pairs[i].comp == CPUID_XFEATURE_AMX && !allow_amx)
			hide |= pairs[i].comp; /* KVM_SET_CPUID2 fails without the permission */
	}
	/* Any other enabled component lacking its subleaf cannot be sized: drop it. */
	for (unsigned i = 2; i < 64; i++)
		if (((xcr0 >> i) & 1) && !leaf(e, *n, 0xD, i))
			hide |= 1ull << i;
	cpuid_xsave_hide(e, n, hide);
}
