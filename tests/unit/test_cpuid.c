// SPDX-License-Identifier: MIT
/* Per-vCPU CPUID (specs/vmm-x86.md §2, §5 #18-#21). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test_cpuid.h"
#include "vmm/cpuid.h"

static const char *const topos[] = {"1n1l1c1t", "1n2l2c2t", "2n2l2c1t", "1n4l8c2t", "1n14l9c2t"};
#define NTOPOS (sizeof(topos) / sizeof(topos[0]))

/* §2.9 worked values per topology (same order as topos[]). */
static const struct {
	uint32_t ext8_ecx;
	uint32_t leaf1_logical;
	uint32_t l4_l12, l4_l3, l4_cores;
	uint32_t e1e_nodes_field; /* 0x8000001E ECX[10:8] on family < 0x17 */
} worked[] = {
	{0x0000, 1, 0, 0, 0, 0},    {0x3007, 8, 1, 3, 3, 1},	 {0x1001, 2, 0, 1, 1, 0},
	{0x603F, 64, 1, 15, 31, 3}, {0x90FB, 255, 1, 31, 63, 7},
};

struct vm_tables {
	struct topo_layout l;
	struct host_table host;
	struct cpuid_host hi;
	struct kvm_cpuid_entry2 *t[TOPO_MAX_CPUS];
	unsigned n[TOPO_MAX_CPUS];
};

static struct vm_tables *build_vm(enum test_host h, const char *topo, unsigned min_shift_override,
				  const struct cpuid_opts *o)
{
	struct vm_tables *v = calloc(1, sizeof(*v));
	char err[TOPO_ERR_LEN] = "";
	struct topo t;

	cr_assert_not_null(v);
	host_table_init(&v->host, h);
	cpuid_host_info(v->host.e, v->host.n, &v->hi);
	cr_assert_eq(topo_parse(topo, &t, err, sizeof(err)), 0);
	if (min_shift_override != ~0u)
		cr_assert_eq(topo_layout_init(&v->l, &t, min_shift_override, err, sizeof(err)), 0);
	else
		cr_assert_eq(cpuid_plan_layout(v->host.e, v->host.n, &t, &v->l, err, sizeof(err)),
			     0, "%s", err);
	for (unsigned c = 0; c < v->l.nr_cpus; c++) {
		v->t[c] = calloc(CPUID_MAX_ENTRIES, sizeof(struct kvm_cpuid_entry2));
		cr_assert_eq(cpuid_build_vcpu(v->host.e, v->host.n, &v->l, c, o, v->t[c],
					      CPUID_MAX_ENTRIES, &v->n[c], err, sizeof(err)),
			     0, "%s %s cpu %u: %s", v->host.name, topo, c, err);
	}
	return v;
}

static void free_vm(struct vm_tables *v)
{
	for (unsigned c = 0; c < v->l.nr_cpus; c++)
		free(v->t[c]);
	free(v);
}

static struct kvm_cpuid_entry2 *get(struct vm_tables *v, unsigned cpu, uint32_t fn, uint32_t idx)
{
	return cpuid_find(v->t[cpu], v->n[cpu], fn, idx);
}

static unsigned count_leaf(struct vm_tables *v, unsigned cpu, uint32_t fn)
{
	unsigned k = 0;

	for (unsigned i = 0; i < v->n[cpu]; i++)
		k += v->t[cpu][i].function == fn;
	return k;
}

static void check_ext_topology(struct vm_tables *v, unsigned c, uint32_t leaf, uint32_t apic)
{
	struct kvm_cpuid_entry2 *e;
	unsigned tpp = v->l.nr_cpus / v->l.topo.nodes;

	cr_assert_eq(count_leaf(v, c, leaf), 3, "leaf 0x%x: exactly subleaves 0-2", leaf);
	e = get(v, c, leaf, 0);
	cr_assert(e && e->eax == v->l.smt_shift && e->ebx == v->l.topo.threads && e->ecx == 0x100 &&
		  e->edx == apic);
	e = get(v, c, leaf, 1);
	cr_assert(e && e->eax == v->l.pkg_shift && e->ebx == tpp && e->ecx == 0x201 &&
		  e->edx == apic);
	e = get(v, c, leaf, 2);
	cr_assert(e && e->eax == 0 && e->ebx == 0 && e->ecx == 0x002 && e->edx == apic);
}

/* spec §5 #19: register values of §2.9 for every vCPU of every host and topology. */
static void check_vm(enum test_host h, unsigned ti)
{
	struct vm_tables *v = build_vm(h, topos[ti], ~0u, NULL);
	bool amd = cpuid_host_is_amd(&v->hi);
	unsigned tpp = v->l.nr_cpus / v->l.topo.nodes;

	for (unsigned c = 0; c < v->l.nr_cpus; c++) {
		uint32_t apic = topo_apic_id(&v->l, c);
		struct topo_cpu tc;
		struct kvm_cpuid_entry2 *e;

		topo_cpu_decompose(&v->l.topo, c, &tc);
		cr_assert_leq(v->n[c], 256u);
		for (unsigned i = 0; i < v->n[c]; i++)
			if (cpuid_leaf_is_indexed(v->t[c][i].function))
				cr_assert(v->t[c][i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
					  "leaf 0x%x.%u unflagged", v->t[c][i].function,
					  v->t[c][i].index);
		e = get(v, c, 1, 0);
		cr_assert_eq(e->ebx >> 24, apic & 0xFF);
		cr_assert_eq((e->ebx >> 16) & 0xFF, worked[ti].leaf1_logical);
		cr_assert_eq((e->ebx >> 8) & 0xFF, 8, "CLFLUSH size kept");
		cr_assert_eq(!!(e->edx & (1u << 28)), tpp > 1, "HTT");
		cr_assert(e->ecx & (1u << 31), "hypervisor bit");
		cr_assert(e->ecx & (1u << 24), "TSC-deadline");
		cr_assert_not(e->ecx & (1u << 27), "OSXSAVE never set");
		cr_assert(e->ecx & (1u << 21), "x2APIC kept");

		check_ext_topology(v, c, 0xB, apic);
		if (v->hi.max_basic >= 0x1F)
			check_ext_topology(v, c, 0x1F, apic);
		else
			cr_assert_eq(count_leaf(v, c, 0x1F), 0);

		e = get(v, c, 0x40000000, 0);
		cr_assert(e && e->eax >= 0x40000001 && e->ebx == 0x4B4D564B &&
			  e->ecx == 0x564B4D56 && e->edx == 0x4D);
		e = get(v, c, 0x40000001, 0);
		cr_assert_not_null(e);
		cr_assert_eq(!!(e->eax & (1u << 15)), v->l.x2apic, "MSI_EXT_DEST_ID iff > 254 IDs");
		cr_assert_eq(count_leaf(v, c, 0x80000026), 0);
		cr_assert_eq(count_leaf(v, c, 0x1A), 0, "hybrid leaf dropped");
		e = get(v, c, 0x80000008, 0);
		if (e)
			cr_assert_eq(e->ecx, worked[ti].ext8_ecx, "0x80000008 ECX 0x%x", e->ecx);

		if (!amd) {
			unsigned seen = 0;

			cr_assert_eq(get(v, c, 7, 0)->edx & (1u << 15), 0, "hybrid cleared");
			for (uint32_t i = 0; i < 4; i++) {
				e = get(v, c, 4, i);
				cr_assert_not_null(e);
				cr_assert_eq((e->eax >> 14) & 0xFFF,
					     i < 3 ? worked[ti].l4_l12 : worked[ti].l4_l3);
				cr_assert_eq(e->eax >> 26, worked[ti].l4_cores);
				cr_assert_eq(e->eax & 0x3FFF, v->host.e[1 + 1 + i].eax & 0x3FFF);
				seen++;
			}
			cr_assert_eq(seen, 4);
			cr_assert_eq(count_leaf(v, c, 0x8000001D), 0);
			cr_assert_eq(count_leaf(v, c, 0x8000001E), 0);
			cr_assert_eq(get(v, c, 0xA, 0)->eax, 0, "PMU hidden by default");
			continue;
		}
		/* AMD guests. */
		cr_assert_geq(get(v, c, 0x80000000, 0)->eax, 0x8000001E);
		e = get(v, c, 0x80000001, 0);
		cr_assert(e->ecx & (1u << 22), "TOPOEXT");
		cr_assert_eq(!!(e->ecx & (1u << 1)), tpp > 1, "CmpLegacy");
		cr_assert_neq(get(v, c, 0x80000006, 0)->edx, 0, "L3 reported");
		cr_assert_eq(count_leaf(v, c, 0x8000001D), 5);
		for (uint32_t i = 0; i < 5; i++) {
			e = get(v, c, 0x8000001D, i);
			cr_assert_not_null(e);
			if (i == 4) {
				cr_assert_eq(e->eax & 0x1F, 0, "terminator");
				continue;
			}
			cr_assert_eq(e->eax & 0x1F, i == 0 ? 1u : i == 1 ? 2u : 3u);
			cr_assert_eq((e->eax >> 5) & 7, i < 2 ? 1u : i == 2 ? 2u : 3u);
			cr_assert_eq((e->eax >> 14) & 0xFFF, i < 3 ? (1u << v->l.smt_shift) - 1
								   : (1u << v->l.llc_shift) - 1);
			cr_assert_eq(e->eax >> 26, 0);
			/* size = line * ways * partitions * sets */
			cr_assert_gt(((e->ebx & 0xFFF) + 1) * ((e->ebx >> 22) + 1) * (e->ecx + 1),
				     0);
		}
		e = get(v, c, 0x8000001E, 0);
		cr_assert_eq(count_leaf(v, c, 0x8000001E), 1);
		cr_assert_eq(e->eax, apic);
		cr_assert_eq(
			e->ebx,
			(v->l.topo.threads - 1) << 8 |
				(((apic & ((1u << v->l.pkg_shift) - 1)) >> v->l.smt_shift) & 0xFF));
		if (v->hi.family < 0x17)
			cr_assert_eq(e->ecx, worked[ti].e1e_nodes_field << 8 | tc.llc);
		else
			cr_assert_eq(e->ecx, tc.node);
		cr_assert_eq(e->edx, 0);
	}
	free_vm(v);
}

/* spec §5 #19 */
Test(cpuid, intel_host_all_topologies)
{
	for (unsigned i = 0; i < NTOPOS; i++)
		check_vm(HOST_INTEL, i);
}

/* spec §5 #19 */
Test(cpuid, zen3_host_all_topologies)
{
	for (unsigned i = 0; i < NTOPOS; i++)
		check_vm(HOST_ZEN3, i);
}

/* spec §5 #19 */
Test(cpuid, qemu64_host_all_topologies)
{
	for (unsigned i = 0; i < NTOPOS; i++)
		check_vm(HOST_QEMU64, i);
}

Test(cpuid, host_info_decodes_vendor_family_model)
{
	struct host_table t;
	struct cpuid_host h;

	host_table_init(&t, HOST_INTEL);
	cpuid_host_info(t.e, t.n, &h);
	cr_assert(h.vendor == CPUID_VENDOR_INTEL && h.family == 6 && h.model == 0x8F);
	cr_assert_eq(h.max_basic, 0x1F);
	host_table_init(&t, HOST_ZEN3);
	cpuid_host_info(t.e, t.n, &h);
	cr_assert(h.vendor == CPUID_VENDOR_AMD && h.family == 0x19 && h.model == 1);
	cr_assert_eq(h.max_ext, 0x80000026);
	host_table_init(&t, HOST_QEMU64);
	cpuid_host_info(t.e, t.n, &h);
	cr_assert(h.vendor == CPUID_VENDOR_AMD && h.family == 6 && h.model == 6 && h.stepping == 3);
	cr_assert_eq(h.max_basic, 0xD);
	cr_assert_eq(h.max_ext, 0x8000000A);
	cr_assert_eq(cpuid_min_llc_shift(&h), 0);
	host_table_init(&t, HOST_ZEN1);
	cpuid_host_info(t.e, t.n, &h);
	cr_assert(h.family == 0x17 && h.model == 1);
	cr_assert_eq(cpuid_min_llc_shift(&h), 3);
}

/* spec §5 #19 */
Test(cpuid, qemu64_gets_synthesized_amd_leaves_and_fxsave_only)
{
	struct vm_tables *v = build_vm(HOST_QEMU64, "1n2l2c2t", ~0u, NULL);
	struct kvm_cpuid_entry2 *d0 = get(v, 5, 0xD, 0);

	/* D5 on a host with no 0x8000001D/1E at all: CPU 5 example of §2.9. */
	cr_assert_eq(get(v, 5, 0x8000001E, 0)->eax, 5);
	cr_assert_eq(get(v, 5, 0x8000001E, 0)->ebx, 0x0102);
	cr_assert_eq(get(v, 5, 0x8000001E, 0)->ecx, 0x101);
	cr_assert_eq(get(v, 5, 0x80000000, 0)->eax, 0x8000001E);
	/* No XSAVE: 0xD.0 = {0, 576, 576, 0}, nothing like AVX added. */
	cr_assert(d0 && d0->eax == 0 && d0->ebx == 576 && d0->ecx == 576 && d0->edx == 0);
	cr_assert_eq(get(v, 5, 1, 0)->ecx & ((1u << 28) | (1u << 26)), 0);
	free_vm(v);
}

/* spec §5 #19 */
Test(cpuid, max_cpu_example_values)
{
	struct vm_tables *v = build_vm(HOST_QEMU64, "1n14l9c2t", ~0u, NULL);

	cr_assert_eq(get(v, 251, 1, 0)->ebx >> 24, 0xB1);
	cr_assert_eq(get(v, 251, 0x8000001E, 0)->eax, 0x1B1);
	cr_assert_eq(get(v, 251, 0x8000001E, 0)->ebx, 0x01D8);
	cr_assert_eq(get(v, 251, 0xB, 0)->edx, 0x1B1);
	cr_assert(get(v, 0, 0x40000001, 0)->eax & (1u << 15));
	free_vm(v);
}

Test(cpuid, options_realtime_hint_and_pmu)
{
	const struct cpuid_opts o = {.realtime_hint = true, .keep_pmu = true};
	struct vm_tables *v = build_vm(HOST_INTEL, "1n2l2c2t", ~0u, &o);

	cr_assert_eq(get(v, 0, 0x40000001, 0)->edx & 1, 1);
	cr_assert_eq(get(v, 0, 0xA, 0)->eax, 0x08300805);
	free_vm(v);
	v = build_vm(HOST_INTEL, "1n2l2c2t", ~0u, NULL);
	cr_assert_eq(get(v, 0, 0x40000001, 0)->edx & 1, 0);
	free_vm(v);
}

Test(cpuid, hypervisor_leaves_added_when_missing)
{
	struct host_table t;
	struct topo_layout l;
	struct topo tp = {1, 1, 1, 1};
	struct kvm_cpuid_entry2 out[CPUID_MAX_ENTRIES];
	unsigned n, w = 0;
	char err[TOPO_ERR_LEN];

	host_table_init(&t, HOST_INTEL);
	for (unsigned i = 0; i < t.n; i++)
		if (t.e[i].function != 0x40000000 && t.e[i].function != 0x40000001)
			t.e[w++] = t.e[i];
	t.n = w;
	cr_assert_eq(topo_layout_init(&l, &tp, 0, err, sizeof(err)), 0);
	cr_assert_eq(cpuid_build_vcpu(t.e, t.n, &l, 0, NULL, out, CPUID_MAX_ENTRIES, &n, err,
				      sizeof(err)),
		     0);
	cr_assert_eq(cpuid_find(out, n, 0x40000000, 0)->ebx, 0x4B4D564B);
	cr_assert_eq(cpuid_find(out, n, 0x40000000, 0)->eax, 0x40000001);
	cr_assert_not_null(cpuid_find(out, n, 0x40000001, 0));
}

Test(cpuid, build_errors)
{
	struct host_table t;
	struct topo_layout l;
	struct topo tp = {1, 2, 2, 2};
	struct kvm_cpuid_entry2 out[CPUID_MAX_ENTRIES];
	unsigned n = 99;
	char err[TOPO_ERR_LEN] = "";

	host_table_init(&t, HOST_ZEN3);
	cr_assert_eq(topo_layout_init(&l, &tp, 0, err, sizeof(err)), 0);
	cr_assert_eq(cpuid_build_vcpu(t.e, t.n, &l, 0, NULL, out, 20, &n, err, sizeof(err)),
		     -E2BIG);
	cr_assert(strstr(err, "20"), "%s", err);
	cr_assert_eq(n, 0);
	cr_assert_eq(cpuid_build_vcpu(t.e, t.n, &l, 8, NULL, out, CPUID_MAX_ENTRIES, &n, err,
				      sizeof(err)),
		     -EINVAL);
	cr_assert_eq(cpuid_build_vcpu(t.e + 1, t.n - 1, &l, 0, NULL, out, CPUID_MAX_ENTRIES, &n,
				      err, sizeof(err)),
		     -EINVAL, "no leaf 0");
	cr_assert(strstr(err, "leaf 0"), "%s", err);
}

/* spec §5 #20: the Linux model reproduces the requested topology for every input of #19. */
Test(cpuid, linux_model_round_trip)
{
	const enum test_host hosts[] = {HOST_INTEL, HOST_ZEN3, HOST_QEMU64};
	const enum linux_rules rules[] = {LINUX_6_1, LINUX_6_9};

	for (unsigned h = 0; h < 3; h++) {
		for (unsigned ti = 0; ti < NTOPOS; ti++) {
			struct vm_tables *v = build_vm(hosts[h], topos[ti], ~0u, NULL);

			for (unsigned r = 0; r < 2; r++) {
				const char *why = "";

				cr_assert(linux_model_matches(&v->l, v->t, v->n, rules[r], &why),
					  "%s %s rules %u: %s", v->host.name, topos[ti], r, why);
			}
			free_vm(v);
		}
	}
}

Test(cpuid, linux_model_round_trip_numa_presets)
{
	const char *const more[] = {"numa4-12llc", "numa2-8llc", "2n6l5c3t", "odd-5llc",
				    "4n8l4c1t"};

	for (unsigned h = 0; h < 3; h++) {
		for (unsigned ti = 0; ti < 5; ti++) {
			struct vm_tables *v = build_vm((enum test_host)h, more[ti], ~0u, NULL);

			for (unsigned r = 0; r < 2; r++) {
				const char *why = "";

				cr_assert(linux_model_matches(&v->l, v->t, v->n,
							      (enum linux_rules)r, &why),
					  "%s %s rules %u: %s", v->host.name, more[ti], r, why);
			}
			free_vm(v);
		}
	}
}

/* spec §5 #20: Zen 1 refuses what it cannot show and needs the bit-3 padding. */
Test(cpuid, zen1_not_representable_and_padding)
{
	struct host_table t;
	struct topo tp;
	struct topo_layout l;
	char err[TOPO_ERR_LEN] = "";
	struct vm_tables *v;
	const char *why = "";

	host_table_init(&t, HOST_ZEN1);
	cr_assert_eq(topo_parse("1n4l8c2t", &tp, err, sizeof(err)), 0);
	cr_assert_eq(cpuid_plan_layout(t.e, t.n, &tp, &l, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "not representable"), "%s", err);
	/* Padded (what cpuid_plan_layout picks): the model agrees. */
	v = build_vm(HOST_ZEN1, "1n2l2c2t", ~0u, NULL);
	cr_assert_eq(v->l.llc_shift, 3);
	cr_assert(linux_model_matches(&v->l, v->t, v->n, LINUX_6_1, &why), "%s", why);
	cr_assert(linux_model_matches(&v->l, v->t, v->n, LINUX_6_9, &why), "%s", why);
	free_vm(v);
	/* Unpadded: LLCs of 4 IDs are merged by apicid >> 3. */
	v = build_vm(HOST_ZEN1, "1n2l2c2t", 0, NULL);
	cr_assert_eq(v->l.llc_shift, 2);
	cr_assert_not(linux_model_matches(&v->l, v->t, v->n, LINUX_6_9, &why));
	cr_assert(strstr(why, "LLC"), "%s", why);
	free_vm(v);
}

/* The model is strict enough to notice a broken table. */
Test(cpuid, linux_model_detects_broken_tables)
{
	struct vm_tables *v = build_vm(HOST_QEMU64, "1n2l2c2t", ~0u, NULL);
	const char *why = "";
	struct kvm_cpuid_entry2 *e = get(v, 3, 0xB, 0);

	e->edx ^= 1;
	cr_assert_not(linux_model_matches(&v->l, v->t, v->n, LINUX_6_9, &why));
	e->edx ^= 1;
	e = get(v, 2, 0x8000001E, 0);
	e->ecx ^= 1; /* wrong LLC index on a family-6 guest */
	cr_assert_not(linux_model_matches(&v->l, v->t, v->n, LINUX_6_1, &why));
	e->ecx ^= 1;
	get(v, 0, 0x80000001, 0)->ecx &= ~(1u << 22);
	cr_assert_not(linux_model_matches(&v->l, v->t, v->n, LINUX_6_1, &why));
	cr_assert(strstr(why, "TOPOEXT"), "%s", why);
	free_vm(v);
}

/* ---- XSAVE ---- */

static struct host_table xsave_table(void)
{
	struct host_table t;

	host_table_init(&t, HOST_INTEL);
	return t;
}

static struct kvm_cpuid_entry2 *xf(struct host_table *t, uint32_t fn, uint32_t idx)
{
	return cpuid_find(t->e, t->n, fn, idx);
}

/* spec §5 #21 */
Test(cpuid, xsave_hide_avx512_then_avx)
{
	struct host_table t = xsave_table();

	cpuid_xsave_hide(t.e, &t.n, CPUID_XFEATURE_AVX512);
	cr_assert_eq(xf(&t, 0xD, 0)->eax, 0x07);
	cr_assert_null(xf(&t, 0xD, 5));
	cr_assert_null(xf(&t, 0xD, 6));
	cr_assert_null(xf(&t, 0xD, 7));
	cr_assert_not_null(xf(&t, 0xD, 2));
	cr_assert_eq(xf(&t, 0xD, 0)->ecx, 832);
	cr_assert_eq(xf(&t, 7, 0)->ebx & (1u << 16), 0, "AVX512F cleared");
	cr_assert_neq(xf(&t, 7, 0)->ebx & (1u << 5), 0, "AVX2 kept");
	cpuid_xsave_hide(t.e, &t.n, CPUID_XFEATURE_YMM);
	cr_assert_eq(xf(&t, 0xD, 0)->eax, 0x03);
	cr_assert_null(xf(&t, 0xD, 2));
	cr_assert_eq(xf(&t, 0xD, 0)->ecx, 576);
	cr_assert_eq(xf(&t, 1, 0)->ecx & (1u << 28), 0, "AVX cleared");
	cr_assert_eq(xf(&t, 7, 0)->ebx & (1u << 5), 0, "AVX2 cleared");
	/* x87/SSE can never be hidden. */
	cpuid_xsave_hide(t.e, &t.n, ~0ull);
	cr_assert_eq(xf(&t, 0xD, 0)->eax, 0x03);
	cr_assert_not_null(xf(&t, 0xD, 1));
}

/* spec §5 #21 */
Test(cpuid, xsave_repair_feature_without_component)
{
	struct host_table t = xsave_table();
	unsigned w = 0;

	/* AVX512F advertised, but KVM dropped the AVX-512 state components. */
	xf(&t, 0xD, 0)->eax = 0x07;
	for (unsigned i = 0; i < t.n; i++)
		if (!(t.e[i].function == 0xD && t.e[i].index >= 5))
			t.e[w++] = t.e[i];
	t.n = w;
	cpuid_xsave_repair(t.e, &t.n, false);
	cr_assert_eq(xf(&t, 7, 0)->ebx & (1u << 16), 0);
	cr_assert_eq(xf(&t, 0xD, 0)->ecx, 832);
}

/* spec §5 #21 */
Test(cpuid, xsave_repair_component_without_feature)
{
	struct host_table t = xsave_table();

	xf(&t, 7, 0)->ebx &= ~(1u << 16); /* AVX512F off, components still there */
	xf(&t, 0xD, 0)->ecx = 0;
	cpuid_xsave_repair(t.e, &t.n, false);
	cr_assert_eq(xf(&t, 0xD, 0)->eax, 0x07);
	cr_assert_null(xf(&t, 0xD, 6));
	cr_assert_eq(xf(&t, 0xD, 0)->ecx, 832);
	/* AVX off too: YMM goes. */
	t = xsave_table();
	xf(&t, 1, 0)->ecx &= ~(1u << 28);
	cpuid_xsave_repair(t.e, &t.n, false);
	cr_assert_eq(xf(&t, 0xD, 0)->eax, 0x03);
	cr_assert_eq(xf(&t, 0xD, 0)->ecx, 576);
}

Test(cpuid, xsave_consistent_table_is_left_alone)
{
	struct host_table t = xsave_table(), ref = xsave_table();

	cpuid_xsave_repair(t.e, &t.n, false);
	cr_assert_eq(t.n, ref.n);
	cr_assert_eq(memcmp(t.e, ref.e, t.n * sizeof(t.e[0])), 0);
}

static void add_amx(struct host_table *t)
{
	xf(t, 0xD, 0)->eax |= 3u << 17;
	xf(t, 0xD, 0)->ecx = 2816 + 8192;
	host_table_add(t, 0xD, 17, 64, 2752, 0, 0);
	host_table_add(t, 0xD, 18, 8192, 2816, 0, 0);
	host_table_add(t, 0x1D, 0, 1, 0, 0, 0);
	host_table_add(t, 0x1E, 0, 0, 0x4010, 0, 0);
	xf(t, 7, 0)->edx |= (1u << 24) | (1u << 22) | (1u << 25);
}

/* spec §5 #21 */
Test(cpuid, xsave_amx_stripped_without_permission)
{
	struct host_table t = xsave_table();

	add_amx(&t);
	cpuid_xsave_repair(t.e, &t.n, false);
	cr_assert_eq(xf(&t, 0xD, 0)->eax & (3u << 17), 0);
	cr_assert_null(xf(&t, 0xD, 17));
	cr_assert_null(xf(&t, 0xD, 18));
	cr_assert_null(xf(&t, 0x1D, 0));
	cr_assert_null(xf(&t, 0x1E, 0));
	cr_assert_eq(xf(&t, 7, 0)->edx & (7u << 22), 0);
	cr_assert_eq(xf(&t, 0xD, 0)->ecx, 2688);

	t = xsave_table();
	add_amx(&t);
	cpuid_xsave_repair(t.e, &t.n, true);
	cr_assert_eq(xf(&t, 0xD, 0)->eax & (3u << 17), 3u << 17);
	cr_assert_not_null(xf(&t, 0xD, 18));
	cr_assert_eq(xf(&t, 0xD, 0)->ecx, 2816 + 8192);
}

/* spec §5 #21 */
Test(cpuid, xsave_pkru_pairs_with_pku)
{
	struct host_table t;

	host_table_init(&t, HOST_ZEN3);
	xf(&t, 7, 0)->ecx &= ~(1u << 3);
	cpuid_xsave_repair(t.e, &t.n, false);
	cr_assert_eq(xf(&t, 0xD, 0)->eax, 0x07);
	cr_assert_null(xf(&t, 0xD, 9));
	cr_assert_eq(xf(&t, 0xD, 0)->ecx, 832);
}

/* A vCPU table built end to end keeps the XSAVE leaf consistent. */
/* spec §5 #21 */
Test(cpuid, built_tables_have_consistent_xsave)
{
	struct vm_tables *v = build_vm(HOST_ZEN3, "1n2l2c2t", ~0u, NULL);
	struct kvm_cpuid_entry2 *d0 = get(v, 0, 0xD, 0);

	cr_assert_eq(d0->eax, 0x207);
	cr_assert_eq(d0->ecx, 2440);
	cr_assert_not_null(get(v, 0, 0xD, 9));
	free_vm(v);
}
