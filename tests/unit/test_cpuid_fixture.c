// SPDX-License-Identifier: MIT
/*
 * Host tables and the Linux topology model for the CPUID tests; see
 * test_cpuid.h. The model follows specs/vmm-x86.md §2.1 (6.1 and 6.9+ rules,
 * Intel and AMD, with the AMD family rules for the LLC).
 */
#include <string.h>

#include "test_cpuid.h"
#include "vmm/cpuid.h"

struct kvm_cpuid_entry2 *host_table_add(struct host_table *t, uint32_t fn, uint32_t idx,
					uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *e = &t->e[t->n++];

	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->index = idx;
	e->eax = eax;
	e->ebx = ebx;
	e->ecx = ecx;
	e->edx = edx;
	if (cpuid_leaf_is_indexed(fn))
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	return e;
}

#define INTEL 0x756E6547u, 0x6C65746Eu, 0x49656E69u /* ebx, ecx, edx */
#define AMD   0x68747541u, 0x444D4163u, 0x69746E65u

/* Leaf 1 ECX/EDX pieces. */
#define X2APIC	(1u << 21)
#define XSAVE	(1u << 26)
#define OSXSAVE (1u << 27)
#define AVX	(1u << 28)
#define HTT	(1u << 28)

static void hypervisor_leaves(struct host_table *t)
{
	host_table_add(t, 0x40000000, 0, 0x40000001, 0x4B4D564B, 0x564B4D56, 0x4D);
	/* What KVM reports: CLOCKSOURCE(2), NOP_IO_DELAY, ASYNC_PF, STEAL_TIME, PV_EOI, PV_UNHALT... */
	host_table_add(t, 0x40000001, 0, 0x01007AFB, 0, 0, 0);
}

/* Host L1/L2/L3 leaf 4 as a 2-socket, 56-core part would report it. */
static void intel_leaf4(struct host_table *t)
{
	host_table_add(t, 4, 0, 0xFC004121, 0x02C0003F, 0x3F, 0);
	host_table_add(t, 4, 1, 0xFC004122, 0x01C0003F, 0x3F, 0);
	host_table_add(t, 4, 2, 0xFC004143, 0x03C0003F, 0x7FF, 0);
	host_table_add(t, 4, 3, 0xFC1FC163, 0x03C0003F, 0x1DFFF, 4);
	host_table_add(t, 4, 4, 0, 0, 0, 0);
}

/* x87, SSE, YMM, opmask, ZMM_Hi256, Hi16_ZMM in standard format (2688 bytes). */
static void xsave_avx512(struct host_table *t)
{
	host_table_add(t, 0xD, 0, 0xE7, 0x240, 2688, 0);
	host_table_add(t, 0xD, 1, 0xF, 0x240, 0, 0);
	host_table_add(t, 0xD, 2, 256, 576, 0, 0);
	host_table_add(t, 0xD, 5, 64, 1088, 0, 0);
	host_table_add(t, 0xD, 6, 512, 1152, 0, 0);
	host_table_add(t, 0xD, 7, 1024, 1664, 0, 0);
}

static void host_intel(struct host_table *t)
{
	t->name = "intel";
	host_table_add(t, 0, 0, 0x1F, INTEL);
	host_table_add(t, 1, 0, 0x000806F8, 0x00000800, 1 | X2APIC | XSAVE | OSXSAVE | AVX,
		       0x178BFBFF);
	intel_leaf4(t);
	host_table_add(t, 6, 0, 0x4, 0, 0, 0);
	/* AVX2, AVX512F; EDX bit 15 "hybrid" set to see it cleared. */
	host_table_add(t, 7, 0, 1, (1u << 5) | (1u << 16), 0, 1u << 15);
	host_table_add(t, 7, 1, 0, 0, 0, 0);
	host_table_add(t, 0xA, 0, 0x08300805, 0, 0, 0x8603);
	host_table_add(t, 0xB, 0, 0, 0, 0, 0);
	xsave_avx512(t);
	host_table_add(t, 0x1A, 0, 0x40000001, 0, 0, 0);
	host_table_add(t, 0x1F, 0, 0, 0, 0, 0);
	hypervisor_leaves(t);
	host_table_add(t, 0x80000000, 0, 0x80000008, 0, 0, 0);
	host_table_add(t, 0x80000001, 0, 0, 0, 0x121, 0x2C100800);
	host_table_add(t, 0x80000006, 0, 0, 0, 0x08007040, 0);
	host_table_add(t, 0x80000007, 0, 0, 0, 0, 0x100);
	host_table_add(t, 0x80000008, 0, 0x3030, 0, 0, 0);
}

static void amd_common(struct host_table *t)
{
	host_table_add(t, 0, 0, 0x10, AMD);
	host_table_add(t, 7, 0, 0, 1u << 5, 1u << 3 /* PKU */, 0);
	host_table_add(t, 0xB, 0, 0, 0, 0, 0);
	host_table_add(t, 0xD, 0, 0x207, 0x240, 0x988, 0); /* x87 SSE YMM PKRU */
	host_table_add(t, 0xD, 1, 0xF, 0x240, 0, 0);
	host_table_add(t, 0xD, 2, 256, 576, 0, 0);
	host_table_add(t, 0xD, 9, 8, 2432, 0, 0);
	hypervisor_leaves(t);
	host_table_add(t, 0x80000000, 0, 0x80000026, AMD);
	host_table_add(t, 0x80000001, 0, 0x00A00F11, 0, 0x75C237FF | (1u << 22), 0x2FD3FBFF);
	host_table_add(t, 0x80000006, 0, 0, 0, 0x02006140, 0x08009140);
	host_table_add(t, 0x80000008, 0, 0x3030, 0, 0x0000700F, 0);
	/* Host cache topology: must not leak into the guest. */
	host_table_add(t, 0x8000001D, 0, 0x00004121, 0x01C0003F, 0x3F, 0);
	host_table_add(t, 0x8000001D, 1, 0x00004122, 0x01C0003F, 0x3F, 0);
	host_table_add(t, 0x8000001D, 2, 0x00004143, 0x01C0003F, 0x3FF, 2);
	host_table_add(t, 0x8000001D, 3, 0x0003C163, 0x03C0003F, 0x7FFF, 1);
	host_table_add(t, 0x8000001D, 4, 0, 0, 0, 0);
	host_table_add(t, 0x8000001E, 0, 0, 0, 0, 0);
	host_table_add(t, 0x80000026, 0, 1, 2, 0x100, 0);
	host_table_add(t, 0x80000026, 1, 4, 16, 0x201, 0);
}

static void host_zen(struct host_table *t, uint32_t leaf1_eax, const char *name)
{
	t->name = name;
	amd_common(t);
	host_table_add(t, 1, 0, leaf1_eax, 0x00000800, 1 | X2APIC | XSAVE | AVX, 0x178BFBFF);
}

/* QEMU qemu64 (target/i386/cpu.c): AMD family 6 model 6 stepping 3, no XSAVE/TOPOEXT. */
static void host_qemu64(struct host_table *t)
{
	t->name = "qemu64";
	host_table_add(t, 0, 0, 0xD, AMD);
	host_table_add(t, 1, 0, 0x00000663, 0x00000800, 0x80802001 | X2APIC, 0x078BFBFD);
	host_table_add(t, 0xD, 0, 0, 0, 0, 0);
	hypervisor_leaves(t);
	host_table_add(t, 0x80000000, 0, 0x8000000A, AMD);
	host_table_add(t, 0x80000001, 0, 0x00000663, 0, 0x1, 0x20100800);
	host_table_add(t, 0x80000005, 0, 0x01FF01FF, 0x01FF01FF, 0x40020140, 0x40020140);
	host_table_add(t, 0x80000006, 0, 0, 0x42004200, 0x02008140, 0);
	host_table_add(t, 0x80000008, 0, 0x3028, 0, 0, 0);
	host_table_add(t, 0x8000000A, 0, 1, 0x10, 0, 0);
}

void host_table_init(struct host_table *t, enum test_host h)
{
	memset(t, 0, sizeof(*t));
	switch (h) {
	case HOST_INTEL:
		host_intel(t);
		break;
	case HOST_ZEN3:
		host_zen(t, 0x00A00F11, "zen3"); /* family 0x19 model 1 */
		break;
	case HOST_QEMU64:
		host_qemu64(t);
		break;
	case HOST_ZEN1:
		host_zen(t, 0x00800F11, "zen1"); /* family 0x17 model 1 */
		break;
	default:
		break;
	}
}

/* ---- Linux model (§2.1) ---- */

struct regs {
	uint32_t eax, ebx, ecx, edx;
};

/* What the guest reads: the matching entry, or zeros (KVM's answer below the maximum). */
static struct regs cpuid(struct kvm_cpuid_entry2 *t, unsigned n, uint32_t fn, uint32_t idx)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(t, n, fn, idx);
	struct regs r = {0};

	if (e) {
		r = (struct regs){e->eax, e->ebx, e->ecx, e->edx};
		/* An indexed leaf without the flag answers every subleaf with one entry. */
		if (cpuid_leaf_is_indexed(fn) && !(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX))
			r.eax = r.ebx = r.ecx = r.edx = 0xDEAD;
	}
	return r;
}

static unsigned order(uint32_t x)
{
	return topo_order(x);
}

/* Shifts from an extended topology leaf; false if Linux would ignore the leaf. */
static bool parse_ext_leaf(struct kvm_cpuid_entry2 *t, unsigned n, uint32_t leaf, unsigned *smt,
			   unsigned *pkg, uint32_t *apic)
{
	struct regs r = cpuid(t, n, leaf, 0);

	if (!r.ebx || ((r.ecx >> 8) & 0xFF) != 1)
		return false;
	*smt = r.eax & 0x1F;
	*apic = r.edx;
	*pkg = *smt;
	for (uint32_t i = 0; i < 8; i++) {
		r = cpuid(t, n, leaf, i);
		if (!((r.ecx >> 8) & 0xFF))
			break;
		*pkg = r.eax & 0x1F; /* 6.1: shift of the last valid level; 6.9+: propagated up */
	}
	return true;
}

static bool model_cpu(struct kvm_cpuid_entry2 *t, unsigned n, uint32_t real_apic,
		      enum linux_rules rules, struct linux_cpu_topo *o, const char **why)
{
	struct regs l0 = cpuid(t, n, 0, 0), l1 = cpuid(t, n, 1, 0);
	struct regs x0 = cpuid(t, n, 0x80000000, 0), x1 = cpuid(t, n, 0x80000001, 0);
	bool amd = l0.ebx == 0x68747541u;
	unsigned fam = (l1.eax >> 8) & 0xF, model = (l1.eax >> 4) & 0xF, smt, pkg;
	uint32_t apic = 0;
	bool ok = false;

	if (fam == 0xF)
		fam += (l1.eax >> 20) & 0xFF;
	if (fam == 6 || fam >= 0xF)
		model |= ((l1.eax >> 16) & 0xF) << 4;
	if ((l1.ebx >> 24) != (real_apic & 0xFF)) {
		*why = "leaf 1 initial APIC ID differs from the real one";
		return false;
	}
	if (amd && !(x1.ecx & (1u << 22))) {
		*why = "AMD guest without TOPOEXT";
		return false;
	}
	if (l0.eax >= 0x1F)
		ok = parse_ext_leaf(t, n, 0x1F, &smt, &pkg, &apic);
	if (!ok && amd && rules == LINUX_6_9 && x0.eax >= 0x80000026)
		ok = parse_ext_leaf(t, n, 0x80000026, &smt, &pkg, &apic);
	if (!ok)
		ok = parse_ext_leaf(t, n, 0xB, &smt, &pkg, &apic);
	if (!ok) {
		*why = "no usable extended topology leaf";
		return false;
	}
	if (apic != real_apic) {
		*why = "0xB/0x1F x2APIC ID differs from the real APIC ID";
		return false;
	}
	o->apicid = apic;
	o->pkg_id = apic >> pkg;
	o->die_id = o->pkg_id;
	o->core_id = rules == LINUX_6_1 ? (apic >> smt) & ((1u << (pkg - smt)) - 1)
					: (apic & ((1u << pkg) - 1)) >> smt;
	o->llc_known = false;
	o->llc_id = o->pkg_id;

	if (!amd) {
		/* init_intel_cacheinfo: L3 sharing, else L2. */
		uint32_t l2 = 0, l3 = 0;

		for (uint32_t i = 0; i < 16; i++) {
			struct regs r = cpuid(t, n, 4, i);

			if (!(r.eax & 0x1F))
				break;
			if (((r.eax >> 5) & 7) == 2)
				l2 = ((r.eax >> 14) & 0xFFF) + 1;
			if (((r.eax >> 5) & 7) == 3)
				l3 = ((r.eax >> 14) & 0xFFF) + 1;
		}
		if (l3 || l2) {
			o->llc_id = apic & ~((1u << order(l3 ? l3 : l2)) - 1);
			o->llc_known = true;
		}
		return true;
	}

	/* AMD with TOPOEXT. */
	{
		struct regs e = cpuid(t, n, 0x8000001E, 0), l6 = cpuid(t, n, 0x80000006, 0);
		unsigned nodes = ((e.ecx >> 8) & 7) + 1;
		uint32_t node_id = e.ecx & 0xFF;

		if (e.eax != apic) {
			*why = "0x8000001E EAX differs from the APIC ID";
			return false;
		}
		o->die_id = rules == LINUX_6_1 ? node_id : o->pkg_id;
		if (nodes > 1 && fam < 0x17) {
			struct regs s0 = cpuid(t, n, 0xB, 0), s1 = cpuid(t, n, 0xB, 1);
			unsigned tpp = s1.ebx & 0xFFFF, tpc = s0.ebx & 0xFFFF;
			/* 6.1: cores per socket / nodes; 6.9+: threads per package / nodes. */
			unsigned mod = rules == LINUX_6_1 ? tpp / tpc / nodes : tpp / nodes;

			if (!mod) {
				*why = "core_id modulus is zero";
				return false;
			}
			o->core_id %= mod;
		}
		/* cacheinfo_amd_init_llc_id */
		if (l6.edx) {
			o->llc_known = true;
			if (fam < 0x17) {
				o->llc_id = node_id;
			} else if (fam == 0x17 && model <= 0x1F) {
				o->llc_id = apic >> 3;
			} else {
				uint32_t last = 0, share;

				while (last < 16 && (cpuid(t, n, 0x8000001D, last).eax & 0x1F))
					last++;
				if (!last) {
					*why = "no 0x8000001D cache leaves";
					return false;
				}
				share = ((cpuid(t, n, 0x8000001D, last - 1).eax >> 14) & 0xFFF) + 1;
				o->llc_id = apic >> order(share);
			}
		}
		/* match_smt with TOPOEXT also compares the node: fold it into the die. */
		o->die_id = o->die_id << 8 | node_id;
	}
	return true;
}

bool linux_model_matches(const struct topo_layout *l, struct kvm_cpuid_entry2 *const *tables,
			 const unsigned *counts, enum linux_rules rules, const char **why)
{
	static struct linux_cpu_topo m[TOPO_MAX_CPUS];
	static struct topo_cpu want[TOPO_MAX_CPUS];

	for (unsigned c = 0; c < l->nr_cpus; c++) {
		topo_cpu_decompose(&l->topo, c, &want[c]);
		if (!model_cpu(tables[c], counts[c], topo_apic_id(l, c), rules, &m[c], why))
			return false;
		if (!m[c].llc_known) {
			*why = "Linux finds no LLC information";
			return false;
		}
	}
	for (unsigned a = 0; a < l->nr_cpus; a++) {
		for (unsigned b = a + 1; b < l->nr_cpus; b++) {
			bool same_core = want[a].llc == want[b].llc && want[a].core == want[b].core;
			bool smt = m[a].pkg_id == m[b].pkg_id && m[a].die_id == m[b].die_id &&
				   m[a].llc_id == m[b].llc_id && m[a].core_id == m[b].core_id;

			if (smt != same_core) {
				*why = "SMT sibling groups differ from the requested cores";
				return false;
			}
			if ((m[a].llc_id == m[b].llc_id) != (want[a].llc == want[b].llc)) {
				*why = "LLC groups differ from the requested LLCs";
				return false;
			}
			if ((m[a].pkg_id == m[b].pkg_id) != (want[a].node == want[b].node)) {
				*why = "packages differ from the NUMA nodes";
				return false;
			}
		}
	}
	return true;
}
