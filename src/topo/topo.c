// SPDX-License-Identifier: MIT
/*
 * Topology notation, presets and APIC-ID layout (specs/vmm-x86.md §2.3,
 * specs/ktstr-survey.md §1.8).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "topo/topo.h"

void topo_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * The 0.4.9 x86 preset set, in survey order. `default_eligible` mirrors the
 * gauntlet's default constraints (one node, <= 12 LLCs, <= 192 CPUs).
 */
static const struct topo_preset presets[] = {
	{"tiny-1llc", {1, 1, 4, 1}, true},	   {"tiny-2llc", {1, 2, 2, 1}, true},
	{"odd-3llc", {1, 3, 3, 1}, true},	   {"odd-5llc", {1, 5, 3, 1}, true},
	{"odd-7llc", {1, 7, 2, 1}, true},	   {"smt-2llc", {1, 2, 2, 2}, true},
	{"smt-3llc", {1, 3, 2, 2}, true},	   {"medium-4llc", {1, 4, 4, 2}, true},
	{"medium-8llc", {1, 8, 4, 2}, true},	   {"large-4llc", {1, 4, 16, 2}, true},
	{"large-8llc", {1, 8, 8, 2}, true},	   {"near-max-llc", {1, 15, 8, 2}, false},
	{"max-cpu", {1, 14, 9, 2}, false},	   {"medium-4llc-nosmt", {1, 4, 8, 1}, true},
	{"medium-8llc-nosmt", {1, 8, 8, 1}, true}, {"large-4llc-nosmt", {1, 4, 32, 1}, true},
	{"large-8llc-nosmt", {1, 8, 16, 1}, true}, {"near-max-llc-nosmt", {1, 15, 16, 1}, false},
	{"max-cpu-nosmt", {1, 14, 18, 1}, false},  {"numa2-4llc", {2, 4, 4, 1}, false},
	{"numa2-8llc", {2, 8, 8, 2}, false},	   {"numa2-8llc-nosmt", {2, 8, 16, 1}, false},
	{"numa4-8llc", {4, 8, 4, 1}, false},	   {"numa4-12llc", {4, 12, 8, 2}, false},
};

const struct topo_preset *topo_presets(size_t *n)
{
	if (n)
		*n = ARRAY_SIZE(presets);
	return presets;
}

const struct topo_preset *topo_preset_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(presets); i++)
		if (!strcmp(presets[i].name, name))
			return &presets[i];
	return NULL;
}

unsigned topo_nr_cpus(const struct topo *t)
{
	return t->llcs * t->cores * t->threads;
}

int topo_validate(const struct topo *t, char *err, size_t errlen)
{
	char s[TOPO_STR_LEN];
	uint64_t cpus;

	topo_format(t, s, sizeof(s));
	if (!t->nodes) {
		topo_errf(err, errlen, "invalid topology '%s': NUMA nodes must be at least 1", s);
		return -EINVAL;
	}
	if (!t->llcs) {
		topo_errf(err, errlen, "invalid topology '%s': LLCs must be at least 1", s);
		return -EINVAL;
	}
	if (!t->cores) {
		topo_errf(err, errlen, "invalid topology '%s': cores per LLC must be at least 1",
			  s);
		return -EINVAL;
	}
	if (!t->threads) {
		topo_errf(err, errlen, "invalid topology '%s': threads per core must be at least 1",
			  s);
		return -EINVAL;
	}
	if (t->nodes > TOPO_MAX_NODES) {
		topo_errf(err, errlen, "invalid topology '%s': at most %u NUMA nodes are supported",
			  s, TOPO_MAX_NODES);
		return -EINVAL;
	}
	if (t->llcs % t->nodes) {
		topo_errf(
			err, errlen,
			"invalid topology '%s': %u LLCs cannot be split evenly over %u NUMA nodes",
			s, t->llcs, t->nodes);
		return -EINVAL;
	}
	/* 64-bit product of three 32-bit fields bounded below: no overflow. */
	cpus = (uint64_t)t->llcs * t->cores;
	if (cpus > TOPO_MAX_CPUS || cpus * t->threads > TOPO_MAX_CPUS) {
		topo_errf(err, errlen, "invalid topology '%s': more than %u CPUs", s,
			  TOPO_MAX_CPUS);
		return -EINVAL;
	}
	return 0;
}

char *topo_format(const struct topo *t, char *buf, size_t len)
{
	if (buf && len)
		snprintf(buf, len, "%un%ul%uc%ut", t->nodes, t->llcs, t->cores, t->threads);
	return buf;
}

/* One decimal field followed by its letter; rejects signs, spaces and overflow. */
static int parse_field(const char **p, char letter, uint32_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -ERANGE;
		s++;
	}
	if (*s != letter)
		return -EINVAL;
	*out = (uint32_t)v;
	*p = s + 1;
	return 0;
}

int topo_parse(const char *s, struct topo *out, char *err, size_t errlen)
{
	static const char letters[4] = {'n', 'l', 'c', 't'};
	const struct topo_preset *p;
	uint32_t f[4];
	const char *c;
	struct topo t;
	int ret;

	if (!s || !*s) {
		topo_errf(err, errlen,
			  "invalid topology '': expected NnLlCcTt (e.g. 1n2l4c2t) "
			  "or a preset name");
		return -EINVAL;
	}
	p = topo_preset_find(s);
	if (p) {
		*out = p->topo;
		return 0;
	}
	c = s;
	for (unsigned i = 0; i < 4; i++) {
		ret = parse_field(&c, letters[i], &f[i]);
		if (ret == -ERANGE) {
			topo_errf(err, errlen, "invalid topology '%.64s': number too large", s);
			return -EINVAL;
		}
		if (ret)
			goto garbage;
	}
	if (*c)
		goto garbage;
	t = (struct topo){.nodes = f[0], .llcs = f[1], .cores = f[2], .threads = f[3]};
	ret = topo_validate(&t, err, errlen);
	if (ret)
		return ret;
	*out = t;
	return 0;
garbage:
	topo_errf(err, errlen,
		  "invalid topology '%.64s': expected NnLlCcTt (e.g. 1n2l4c2t) or a preset name",
		  s);
	return -EINVAL;
}

void topo_cpu_decompose(const struct topo *t, unsigned cpu, struct topo_cpu *out)
{
	unsigned per_llc = t->cores * t->threads;

	out->thread = cpu % t->threads;
	out->core = (cpu / t->threads) % t->cores;
	out->llc = cpu / per_llc;
	out->llc_in_node = out->llc % topo_llcs_per_node(t);
	out->node = out->llc / topo_llcs_per_node(t);
}

unsigned topo_order(uint32_t x)
{
	unsigned o = 0;

	while (o < 32 && (1ull << o) < x)
		o++;
	return o;
}

int topo_layout_init(struct topo_layout *l, const struct topo *t, unsigned min_llc_shift, char *err,
		     size_t errlen)
{
	char s[TOPO_STR_LEN];
	unsigned llc_bits;
	int ret;

	ret = topo_validate(t, err, errlen);
	if (ret)
		return ret;
	memset(l, 0, sizeof(*l));
	l->topo = *t;
	l->nr_cpus = topo_nr_cpus(t);
	l->smt_shift = topo_order(t->threads);
	llc_bits = l->smt_shift + topo_order(t->cores);
	if (min_llc_shift && llc_bits > min_llc_shift) {
		/*
		 * The guest CPU model fixes the LLC boundary at this bit
		 * (Zen 1 / Hygon: apicid >> 3); an LLC with more threads
		 * would be split in two by Linux (§2.6).
		 */
		topo_errf(err, errlen,
			  "topology '%s' is not representable on this CPU model: %u threads per "
			  "LLC, at most %u",
			  topo_format(t, s, sizeof(s)), topo_cpus_per_llc(t), 1u << min_llc_shift);
		return -EINVAL;
	}
	l->llc_shift = MAX(llc_bits, min_llc_shift);
	l->pkg_shift = l->llc_shift + topo_order(topo_llcs_per_node(t));
	l->max_apic_id = topo_apic_id(l, l->nr_cpus - 1);
	if (l->max_apic_id > TOPO_MAX_APIC_ID) {
		topo_errf(err, errlen, "topology '%s' needs APIC ID %u, above KVM's limit of %u",
			  topo_format(t, s, sizeof(s)), l->max_apic_id, TOPO_MAX_APIC_ID);
		return -EINVAL;
	}
	/* ID 0xFF is the xAPIC broadcast address: 255 and up need x2APIC (§3.11). */
	l->x2apic = l->max_apic_id >= 255;
	return 0;
}

uint32_t topo_apic_id(const struct topo_layout *l, unsigned cpu)
{
	struct topo_cpu c;

	topo_cpu_decompose(&l->topo, cpu, &c);
	return (uint32_t)c.node << l->pkg_shift | (uint32_t)c.llc_in_node << l->llc_shift |
	       (uint32_t)c.core << l->smt_shift | c.thread;
}
