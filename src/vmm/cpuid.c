// SPDX-License-Identifier: MIT
/*
 * Per-vCPU CPUID (specs/vmm-x86.md §2.3-§2.8): the supported table is copied,
 * the topology leaves are replaced by synthesized ones, and the AMD leaves a
 * TOPOEXT-less host (QEMU's qemu64, family 6) lacks are added (D5, D6).
 */
#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "vmm/cpuid.h"

/* Leaf 0 vendor strings as EBX, EDX, ECX. */
#define VENDOR_INTEL_EBX 0x756E6547u /* "Genu" */
#define VENDOR_INTEL_EDX 0x49656E69u /* "ineI" */
#define VENDOR_INTEL_ECX 0x6C65746Eu /* "ntel" */
#define VENDOR_AMD_EBX	 0x68747541u /* "Auth" */
#define VENDOR_AMD_EDX	 0x69746E65u /* "enti" */
#define VENDOR_AMD_ECX	 0x444D4163u /* "cAMD" */
#define VENDOR_HYGON_EBX 0x6F677948u /* "Hygo" */
#define VENDOR_HYGON_EDX 0x6E65476Eu /* "nGen" */
#define VENDOR_HYGON_ECX 0x656E6975u /* "uine" */

/* Leaf 1 bits. */
#define L1_EDX_HTT	   (1u << 28)
#define L1_ECX_TSCDEADLINE (1u << 24)
#define L1_ECX_OSXSAVE	   (1u << 27)
#define L1_ECX_HYPERVISOR  (1u << 31)
/* Leaf 7.0 EDX: hybrid part (6.1 picks another domain table when set). */
#define L7_EDX_HYBRID (1u << 15)
/* 0x80000001 ECX. */
#define EXT1_ECX_CMPLEGACY (1u << 1)
#define EXT1_ECX_TOPOEXT   (1u << 22)

/* Hypervisor leaves (§2.8; arch/x86/include/uapi/asm/kvm_para.h). */
#define KVM_SIG_EBX		 0x4B4D564Bu /* "KVMK" */
#define KVM_SIG_ECX		 0x564B4D56u /* "VMKV" */
#define KVM_SIG_EDX		 0x0000004Du /* "M\0\0\0" */
#define KVM_FEAT_MSI_EXT_DEST_ID (1u << 15)
#define KVM_HINT_REALTIME	 (1u << 0)

/* The AMD extended leaf range our synthesized leaves need (D5). */
#define EXT_MAX_NEEDED 0x8000001Eu

/*
 * Synthesized caches (§2.4): 32 KiB 8-way L1d/L1i, 512 KiB 8-way L2 per core,
 * 16 MiB 16-way L3 per LLC, 64-byte lines. Only the sharing fields carry
 * topology; sizes are plausible constants.
 */
#define CACHE_LINE   64u
#define L3_SIZE_KIB  16384u
#define L3_ASSOC_16W 0x8u

struct tbl {
	struct kvm_cpuid_entry2 *e;
	unsigned n;
	unsigned max;
	int err;
};

bool cpuid_leaf_is_indexed(uint32_t f)
{
	switch (f) {
	case 0x4:
	case 0x7:
	case 0xB:
	case 0xD:
	case 0xF:
	case 0x10:
	case 0x12:
	case 0x14:
	case 0x17:
	case 0x18:
	case 0x1D:
	case 0x1E:
	case 0x1F:
	case 0x24:
	case 0x8000001D:
		return true;
	default:
		return false;
	}
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t function,
				    uint32_t index)
{
	bool indexed = cpuid_leaf_is_indexed(function);

	for (unsigned i = 0; i < n; i++)
		if (e[i].function == function && (!indexed || e[i].index == index))
			return &e[i];
	return NULL;
}

static const struct kvm_cpuid_entry2 *find_c(const struct kvm_cpuid_entry2 *e, unsigned n,
					     uint32_t function, uint32_t index)
{
	return cpuid_find((struct kvm_cpuid_entry2 *)e, n, function, index);
}

void cpuid_host_info(const struct kvm_cpuid_entry2 *sup, unsigned nsup, struct cpuid_host *h)
{
	const struct kvm_cpuid_entry2 *l0 = find_c(sup, nsup, 0, 0);
	const struct kvm_cpuid_entry2 *l1 = find_c(sup, nsup, 1, 0);
	const struct kvm_cpuid_entry2 *e0 = find_c(sup, nsup, 0x80000000, 0);
	unsigned base_fam;

	memset(h, 0, sizeof(*h));
	if (l0) {
		h->max_basic = l0->eax;
		if (l0->ebx == VENDOR_INTEL_EBX && l0->edx == VENDOR_INTEL_EDX &&
		    l0->ecx == VENDOR_INTEL_ECX)
			h->vendor = CPUID_VENDOR_INTEL;
		else if (l0->ebx == VENDOR_AMD_EBX && l0->edx == VENDOR_AMD_EDX &&
			 l0->ecx == VENDOR_AMD_ECX)
			h->vendor = CPUID_VENDOR_AMD;
		else if (l0->ebx == VENDOR_HYGON_EBX && l0->edx == VENDOR_HYGON_EDX &&
			 l0->ecx == VENDOR_HYGON_ECX)
			h->vendor = CPUID_VENDOR_HYGON;
	}
	if (l1) {
		base_fam = (l1->eax >> 8) & 0xF;
		h->family = base_fam == 0xF ? base_fam + ((l1->eax >> 20) & 0xFF) : base_fam;
		h->model = (l1->eax >> 4) & 0xF;
		if (base_fam == 0x6 || base_fam == 0xF)
			h->model |= ((l1->eax >> 16) & 0xF) << 4;
		h->stepping = l1->eax & 0xF;
	}
	if (e0)
		h->max_ext = e0->eax;
}

unsigned cpuid_min_llc_shift(const struct cpuid_host *h)
{
	/* Zen/Zen+ and Hygon: Linux computes llc_id = apicid >> 3 whatever the leaves say. */
	if (h->vendor == CPUID_VENDOR_HYGON ||
	    (h->vendor == CPUID_VENDOR_AMD && h->family == 0x17 && h->model <= 0x1F))
		return 3;
	return 0;
}

int cpuid_plan_layout(const struct kvm_cpuid_entry2 *sup, unsigned nsup, const struct topo *t,
		      struct topo_layout *l, char *err, size_t errlen)
{
	struct cpuid_host h;
	char s[TOPO_STR_LEN];
	int ret;

	cpuid_host_info(sup, nsup, &h);
	ret = topo_layout_init(l, t, cpuid_min_llc_shift(&h), err, errlen);
	if (ret)
		return ret;
	/* Pre-Zen AMD takes the LLC id from the 8-bit node field of 0x8000001E (D6). */
	if (cpuid_host_is_amd(&h) && h.family < 0x17 && t->llcs > 256) {
		topo_errf(err, errlen,
			  "topology '%s' is not representable on this CPU model: more than 256 "
			  "LLCs",
			  topo_format(t, s, sizeof(s)));
		return -EINVAL;
	}
	return 0;
}

/* Append a zeroed entry; on overflow the table is marked -E2BIG and a scratch entry returned. */
static struct kvm_cpuid_entry2 *tbl_add(struct tbl *t, uint32_t function, uint32_t index)
{
	static _Thread_local struct kvm_cpuid_entry2 scratch;
	struct kvm_cpuid_entry2 *e;

	if (t->n >= t->max) {
		t->err = -E2BIG;
		memset(&scratch, 0, sizeof(scratch));
		return &scratch;
	}
	e = &t->e[t->n++];
	memset(e, 0, sizeof(*e));
	e->function = function;
	e->index = index;
	return e;
}

/* Existing entry (index 0 for plain leaves) or a new zeroed one. */
static struct kvm_cpuid_entry2 *tbl_get(struct tbl *t, uint32_t function, uint32_t index)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(t->e, t->n, function, index);

	return e ? e : tbl_add(t, function, index);
}

/* Leaves we always rebuild (or must not pass on), §2.4/§2.5. */
static bool leaf_replaced(uint32_t f)
{
	return f == 0xB || f == 0x1F || f == 0x1A || f == 0x8000001D || f == 0x8000001E ||
	       f == 0x80000026;
}

struct vcpu_topo {
	const struct topo_layout *l;
	struct cpuid_host host;
	struct topo_cpu cpu;
	uint32_t apic;
	unsigned threads_per_pkg;
};

static void patch_leaf1(struct tbl *t, const struct vcpu_topo *v)
{
	struct kvm_cpuid_entry2 *e = tbl_get(t, 1, 0);
	unsigned logical = MIN(1u << v->l->pkg_shift, 255u);

	e->ebx = (e->ebx & 0x0000FFFFu) | (v->apic & 0xFF) << 24 | logical << 16;
	if (v->threads_per_pkg > 1)
		e->edx |= L1_EDX_HTT;
	else
		e->edx &= ~L1_EDX_HTT;
	/* Without the hypervisor bit Linux never looks for kvmclock (D11). */
	e->ecx |= L1_ECX_HYPERVISOR | L1_ECX_TSCDEADLINE;
	e->ecx &= ~L1_ECX_OSXSAVE; /* KVM mirrors CR4.OSXSAVE at run time */
}

/* Intel deterministic cache parameters: who shares each cache (§2.4). */
static void patch_leaf4(struct tbl *t, const struct vcpu_topo *v)
{
	const struct topo_layout *l = v->l;
	uint32_t cores = MIN(63u, (1u << (l->pkg_shift - l->smt_shift)) - 1);

	for (unsigned i = 0; i < t->n; i++) {
		struct kvm_cpuid_entry2 *e = &t->e[i];
		unsigned level, share;

		if (e->function != 4 || !(e->eax & 0x1F))
			continue;
		level = (e->eax >> 5) & 7;
		share = level >= 3 ? (1u << l->llc_shift) - 1 : (1u << l->smt_shift) - 1;
		e->eax = (e->eax & 0x00003FFFu) | (share & 0xFFF) << 14 | cores << 26;
	}
}

/* Leaf 0xB (and 0x1F): SMT level, then the package level, then the terminator. */
static void add_ext_topology(struct tbl *t, uint32_t leaf, const struct vcpu_topo *v)
{
	struct kvm_cpuid_entry2 *e;

	e = tbl_add(t, leaf, 0);
	e->eax = v->l->smt_shift;
	e->ebx = v->l->topo.threads;
	e->ecx = 1u << 8 | 0;
	e->edx = v->apic;
	e = tbl_add(t, leaf, 1);
	e->eax = v->l->pkg_shift;
	e->ebx = v->threads_per_pkg;
	e->ecx = 2u << 8 | 1;
	e->edx = v->apic;
	e = tbl_add(t, leaf, 2);
	e->ecx = 2;
	e->edx = v->apic;
}

static void patch_hypervisor(struct tbl *t, const struct vcpu_topo *v, const struct cpuid_opts *o)
{
	struct kvm_cpuid_entry2 *e = tbl_get(t, 0x40000000, 0);

	e->eax = MAX(e->eax, 0x40000001u);
	e->ebx = KVM_SIG_EBX;
	e->ecx = KVM_SIG_ECX;
	e->edx = KVM_SIG_EDX;
	e = tbl_get(t, 0x40000001, 0);
	/* KVM never offers MSI_EXT_DEST_ID itself: only the VMM knows its IOAPIC (D10). */
	if (v->l->x2apic)
		e->eax |= KVM_FEAT_MSI_EXT_DEST_ID;
	if (o->realtime_hint)
		e->edx |= KVM_HINT_REALTIME;
	else
		e->edx &= ~KVM_HINT_REALTIME;
}

/* One 0x8000001D subleaf: type (1 data, 2 instr, 3 unified), level, sharing, geometry. */
static void add_amd_cache(struct tbl *t, uint32_t idx, unsigned type, unsigned level,
			  unsigned share_shift, unsigned size_kib, unsigned ways)
{
	struct kvm_cpuid_entry2 *e = tbl_add(t, 0x8000001D, idx);
	unsigned sets = size_kib * 1024 / (CACHE_LINE * ways);

	e->eax = type | level << 5 | 1u << 8 /* self-initialising */ |
		 ((1u << share_shift) - 1) << 14;
	e->ebx = (CACHE_LINE - 1) | (ways - 1) << 22;
	e->ecx = sets - 1;
	e->edx = level == 3 ? 1u << 1 : 0; /* L3 inclusive: informational */
}

static void patch_amd(struct tbl *t, const struct vcpu_topo *v)
{
	const struct topo_layout *l = v->l;
	struct kvm_cpuid_entry2 *e;
	uint32_t core_in_pkg, llcs_per_pkg;

	/* D5: the synthesized leaves must be below the reported maximum. */
	e = tbl_get(t, 0x80000000, 0);
	e->eax = MAX(e->eax, EXT_MAX_NEEDED);

	e = tbl_get(t, 0x80000001, 0);
	e->ecx |= EXT1_ECX_TOPOEXT;
	if (v->threads_per_pkg > 1)
		e->ecx |= EXT1_ECX_CMPLEGACY;
	else
		e->ecx &= ~EXT1_ECX_CMPLEGACY;

	/* Linux ignores the AMD LLC id unless an L3 is reported here. */
	e = tbl_get(t, 0x80000006, 0);
	if (!e->edx)
		e->edx = (L3_SIZE_KIB / 512) << 18 | L3_ASSOC_16W << 12 | 1u << 8 | CACHE_LINE;

	add_amd_cache(t, 0, 1, 1, l->smt_shift, 32, 8);
	add_amd_cache(t, 1, 2, 1, l->smt_shift, 32, 8);
	add_amd_cache(t, 2, 3, 2, l->smt_shift, 512, 8);
	add_amd_cache(t, 3, 3, 3, l->llc_shift, L3_SIZE_KIB, 16);
	tbl_add(t, 0x8000001D, 4); /* type 0: end of the list */

	e = tbl_add(t, 0x8000001E, 0);
	e->eax = v->apic;
	core_in_pkg = (v->apic & ((1u << l->pkg_shift) - 1)) >> l->smt_shift;
	e->ebx = (l->topo.threads - 1) << 8 | (core_in_pkg & 0xFF);
	llcs_per_pkg = topo_llcs_per_node(&l->topo);
	/* D6: before Zen the "node id" is what Linux uses as the LLC id. */
	if (v->host.family < 0x17)
		e->ecx = (MIN(llcs_per_pkg, 8u) - 1) << 8 | (v->cpu.llc & 0xFF);
	else
		e->ecx = v->cpu.node & 0xFF;
}

static void patch_ext8(struct tbl *t, const struct vcpu_topo *v, bool add)
{
	struct kvm_cpuid_entry2 *e =
		add ? tbl_get(t, 0x80000008, 0) : cpuid_find(t->e, t->n, 0x80000008, 0);

	if (!e)
		return;
	e->ecx = (e->ecx & ~0xF0FFu) | (v->l->pkg_shift & 0xF) << 12 |
		 (MIN(v->threads_per_pkg, 256u) - 1);
}

int cpuid_build_vcpu(const struct kvm_cpuid_entry2 *sup, unsigned nsup, const struct topo_layout *l,
		     unsigned cpu, const struct cpuid_opts *opts, struct kvm_cpuid_entry2 *out,
		     unsigned max, unsigned *nout, char *err, size_t errlen)
{
	static const struct cpuid_opts no_opts;
	struct tbl t = {.e = out, .max = max};
	struct kvm_cpuid_entry2 *e;
	struct vcpu_topo v = {.l = l};
	bool amd;

	if (!opts)
		opts = &no_opts;
	*nout = 0;
	if (!find_c(sup, nsup, 0, 0) || !find_c(sup, nsup, 1, 0)) {
		topo_errf(err, errlen, "CPUID: the supported table has no leaf 0 or leaf 1");
		return -EINVAL;
	}
	if (cpu >= l->nr_cpus) {
		topo_errf(err, errlen, "CPUID: CPU %u out of range (%u CPUs)", cpu, l->nr_cpus);
		return -EINVAL;
	}
	cpuid_host_info(sup, nsup, &v.host);
	amd = cpuid_host_is_amd(&v.host);
	topo_cpu_decompose(&l->topo, cpu, &v.cpu);
	v.apic = topo_apic_id(l, cpu);
	v.threads_per_pkg = l->nr_cpus / l->topo.nodes;

	for (unsigned i = 0; i < nsup; i++)
		if (!leaf_replaced(sup[i].function))
			*tbl_add(&t, sup[i].function, sup[i].index) = sup[i];
	if (t.err)
		goto too_big;
	cpuid_xsave_repair(t.e, &t.n, opts->allow_amx);

	e = tbl_get(&t, 0, 0);
	e->eax = MAX(e->eax, 0xBu);
	patch_leaf1(&t, &v);
	if (!amd)
		patch_leaf4(&t, &v);
	e = cpuid_find(t.e, t.n, 7, 0);
	if (e)
		e->edx &= ~L7_EDX_HYBRID;
	e = cpuid_find(t.e, t.n, 0xA, 0);
	if (e && !opts->keep_pmu)
		e->eax = e->ebx = e->ecx = e->edx = 0;
	add_ext_topology(&t, 0xB, &v);
	/* Linux tries 0x1F first when the maximum basic leaf allows it; keep both identical. */
	if (v.host.max_basic >= 0x1F)
		add_ext_topology(&t, 0x1F, &v);
	patch_hypervisor(&t, &v, opts);
	if (amd)
		patch_amd(&t, &v);
	patch_ext8(&t, &v, amd);

	for (unsigned i = 0; i < t.n; i++) {
		if (cpuid_leaf_is_indexed(t.e[i].function))
			t.e[i].flags |= KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		else
			t.e[i].flags &= ~KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	}
	if (t.err)
		goto too_big;
	*nout = t.n;
	return 0;
too_big:
	topo_errf(err, errlen, "CPUID: more than %u entries needed", max);
	return -E2BIG;
}
