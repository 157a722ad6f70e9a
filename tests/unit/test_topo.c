// SPDX-License-Identifier: MIT
/* Topology notation, presets and APIC-ID layout (specs/vmm-x86.md §2.3, §2.9, §5 #18). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "topo/topo.h"

static struct topo parse_ok(const char *s)
{
	char err[TOPO_ERR_LEN] = "";
	struct topo t;

	cr_assert_eq(topo_parse(s, &t, err, sizeof(err)), 0, "'%s' rejected: %s", s, err);
	return t;
}

static void parse_bad(const char *s, const char *must_contain)
{
	char err[TOPO_ERR_LEN] = "";
	struct topo t;

	cr_assert_eq(topo_parse(s, &t, err, sizeof(err)), -EINVAL, "'%s' accepted", s);
	cr_assert_neq(err[0], '\0');
	cr_assert_null(strchr(err, '\n'), "one line: %s", err);
	cr_assert(strstr(err, must_contain), "'%s' -> '%s' lacks '%s'", s, err, must_contain);
}

static struct topo_layout layout_of(const char *s, unsigned min_llc_shift)
{
	char err[TOPO_ERR_LEN] = "";
	struct topo_layout l;
	struct topo t = parse_ok(s);

	cr_assert_eq(topo_layout_init(&l, &t, min_llc_shift, err, sizeof(err)), 0, "%s", err);
	return l;
}

Test(topo, parses_notation_fields_in_order)
{
	struct topo t = parse_ok("1n2l4c2t");

	cr_assert_eq(t.nodes, 1);
	cr_assert_eq(t.llcs, 2);
	cr_assert_eq(t.cores, 4);
	cr_assert_eq(t.threads, 2);
	cr_assert_eq(topo_nr_cpus(&t), 16);
	t = parse_ok("4n12l8c2t");
	cr_assert_eq(topo_nr_cpus(&t), 192);
	cr_assert_eq(topo_llcs_per_node(&t), 3);
}

Test(topo, rejects_zero_fields_naming_the_value)
{
	parse_bad("0n1l1c1t", "'0n1l1c1t'");
	parse_bad("0n1l1c1t", "NUMA nodes");
	parse_bad("1n0l1c1t", "LLCs");
	parse_bad("1n1l0c1t", "'1n1l0c1t'");
	parse_bad("1n1l0c1t", "cores per LLC");
	parse_bad("1n1l1c0t", "threads per core");
}

Test(topo, rejects_garbage)
{
	const char *bad[] = {"garbage",	 "",	      "1n2l4c",	   "1n2l4c2t ", " 1n2l4c2t",
			     "1N2L4C2T", "1n2l4c2tx", "-1n2l4c2t", "1n+2l4c2t", "n2l4c2t",
			     "1l1n1c1t", "1n2l4c2t1", "0x1n1l1c1t"};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i], "invalid topology");
	parse_bad("garbage", "'garbage'");
}

Test(topo, rejects_overflow_and_limits)
{
	parse_bad("99999999999n1l1c1t", "too large");
	parse_bad("1n4294967295l4294967295c4294967295t", "CPUs");
	parse_bad("1n4294967295l4294967295c4294967295t", "'1n4294967295l4294967295c4294967295t'");
	parse_bad("1n1l2048c1t", "more than 1024 CPUs");
	parse_bad("9n9l1c1t", "NUMA nodes");
	parse_bad("2n3l1c1t", "split evenly");
	cr_assert_eq(topo_nr_cpus(&(struct topo){1, 1, 1024, 1}), 1024);
	parse_ok("1n1l1024c1t");
}

Test(topo, errors_without_buffer_do_not_crash)
{
	struct topo t;

	cr_assert_eq(topo_parse("bad", &t, NULL, 0), -EINVAL);
	cr_assert_eq(topo_parse(NULL, &t, NULL, 0), -EINVAL);
}

Test(topo, presets_resolve_and_match_survey_cpu_counts)
{
	static const struct {
		const char *name;
		unsigned cpus;
		const char *str;
	} want[] = {
		{"tiny-1llc", 4, "1n1l4c1t"},
		{"tiny-2llc", 4, "1n2l2c1t"},
		{"odd-3llc", 9, "1n3l3c1t"},
		{"odd-5llc", 15, "1n5l3c1t"},
		{"odd-7llc", 14, "1n7l2c1t"},
		{"smt-2llc", 8, "1n2l2c2t"},
		{"smt-3llc", 12, "1n3l2c2t"},
		{"medium-4llc", 32, "1n4l4c2t"},
		{"medium-8llc", 64, "1n8l4c2t"},
		{"large-4llc", 128, "1n4l16c2t"},
		{"large-8llc", 128, "1n8l8c2t"},
		{"near-max-llc", 240, "1n15l8c2t"},
		{"max-cpu", 252, "1n14l9c2t"},
		{"medium-4llc-nosmt", 32, "1n4l8c1t"},
		{"medium-8llc-nosmt", 64, "1n8l8c1t"},
		{"large-4llc-nosmt", 128, "1n4l32c1t"},
		{"large-8llc-nosmt", 128, "1n8l16c1t"},
		{"near-max-llc-nosmt", 240, "1n15l16c1t"},
		{"max-cpu-nosmt", 252, "1n14l18c1t"},
		{"numa2-4llc", 16, "2n4l4c1t"},
		{"numa2-8llc", 128, "2n8l8c2t"},
		{"numa2-8llc-nosmt", 128, "2n8l16c1t"},
		{"numa4-8llc", 32, "4n8l4c1t"},
		{"numa4-12llc", 192, "4n12l8c2t"},
	};
	size_t n;
	const struct topo_preset *p = topo_presets(&n);

	cr_assert_eq(n, 24);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct topo t = parse_ok(want[i].name);
		char buf[TOPO_STR_LEN];

		cr_assert_eq(topo_nr_cpus(&t), want[i].cpus, "%s", want[i].name);
		cr_assert_str_eq(topo_format(&t, buf, sizeof(buf)), want[i].str);
		cr_assert_eq(topo_validate(&t, NULL, 0), 0);
		cr_assert_str_eq(p[i].name, want[i].name);
	}
	cr_assert_null(topo_preset_find("tiny-3llc"));
	cr_assert_null(topo_preset_find("TINY-2LLC"));
	/* Default gauntlet: one node, <= 12 LLCs, <= 192 CPUs. */
	for (size_t i = 0; i < n; i++) {
		bool fits = p[i].topo.nodes == 1 && p[i].topo.llcs <= 12 &&
			    topo_nr_cpus(&p[i].topo) <= 192;

		cr_assert_eq(p[i].default_eligible, fits, "%s", p[i].name);
	}
}

Test(topo, format_round_trips)
{
	const char *in[] = {"1n1l1c1t", "2n2l2c1t", "8n16l3c4t", "1n14l9c2t"};

	for (unsigned i = 0; i < 4; i++) {
		char buf[TOPO_STR_LEN];
		struct topo t = parse_ok(in[i]);

		cr_assert_str_eq(topo_format(&t, buf, sizeof(buf)), in[i]);
	}
}

Test(topo, cpu_index_is_thread_fastest_then_core_llc_node)
{
	struct topo t = parse_ok("2n4l3c2t");
	struct topo_cpu c;

	topo_cpu_decompose(&t, 0, &c);
	cr_assert(c.node == 0 && c.llc == 0 && c.core == 0 && c.thread == 0);
	topo_cpu_decompose(&t, 1, &c);
	cr_assert(c.thread == 1 && c.core == 0);
	topo_cpu_decompose(&t, 2, &c);
	cr_assert(c.thread == 0 && c.core == 1);
	topo_cpu_decompose(&t, 6, &c);
	cr_assert(c.llc == 1 && c.core == 0 && c.node == 0 && c.llc_in_node == 1);
	topo_cpu_decompose(&t, 12, &c);
	cr_assert(c.llc == 2 && c.node == 1 && c.llc_in_node == 0);
	topo_cpu_decompose(&t, 23, &c);
	cr_assert(c.llc == 3 && c.node == 1 && c.llc_in_node == 1 && c.core == 2 && c.thread == 1);
}

Test(topo, order_is_ceil_log2)
{
	static const unsigned in[] = {1, 2, 3, 4, 5, 8, 9, 16, 17, 0x80000000u, 0x80000001u};
	static const unsigned out[] = {0, 1, 2, 2, 3, 3, 4, 4, 5, 31, 32};

	for (unsigned i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		cr_assert_eq(topo_order(in[i]), out[i], "order(%u)", in[i]);
}

/* spec §5 #18: shifts and ID ranges of §2.9. */
Test(topo, apic_layout_worked_values)
{
	static const struct {
		const char *topo;
		unsigned cpus, smt, llc, pkg;
		uint32_t max_id;
		bool x2apic;
	} v[] = {
		{"1n1l1c1t", 1, 0, 0, 0, 0, false},	{"1n2l2c2t", 8, 1, 2, 3, 7, false},
		{"2n2l2c1t", 4, 0, 1, 1, 3, false},	{"1n4l8c2t", 64, 1, 4, 6, 63, false},
		{"1n14l9c2t", 252, 1, 5, 9, 433, true},
	};

	for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct topo_layout l = layout_of(v[i].topo, 0);

		cr_assert_eq(l.nr_cpus, v[i].cpus, "%s", v[i].topo);
		cr_assert_eq(l.smt_shift, v[i].smt, "%s", v[i].topo);
		cr_assert_eq(l.llc_shift, v[i].llc, "%s", v[i].topo);
		cr_assert_eq(l.pkg_shift, v[i].pkg, "%s", v[i].topo);
		cr_assert_eq(l.max_apic_id, v[i].max_id, "%s", v[i].topo);
		cr_assert_eq(l.x2apic, v[i].x2apic, "%s", v[i].topo);
		cr_assert_lt(l.max_apic_id, 4096u);
	}
}

/* spec §5 #18: structural properties over many topologies. */
Test(topo, apic_ids_unique_aligned_and_sibling_local)
{
	const char *list[] = {"1n1l1c1t",  "1n2l2c2t", "2n2l2c1t", "1n4l8c2t", "1n14l9c2t",
			      "4n12l8c2t", "1n3l3c1t", "2n6l5c3t", "8n8l1c1t", "1n15l16c1t"};

	for (unsigned k = 0; k < sizeof(list) / sizeof(list[0]); k++) {
		struct topo_layout l = layout_of(list[k], 0);
		static uint8_t seen[4096];
		uint32_t max = 0;

		memset(seen, 0, sizeof(seen));
		cr_assert_eq(topo_apic_id(&l, 0), 0, "CPU 0 must be the BSP, APIC ID 0");
		for (unsigned cpu = 0; cpu < l.nr_cpus; cpu++) {
			struct topo_cpu c;
			uint32_t id = topo_apic_id(&l, cpu);

			topo_cpu_decompose(&l.topo, cpu, &c);
			cr_assert_lt(id, 4096u);
			cr_assert_eq(seen[id], 0, "%s: duplicate APIC ID %u", list[k], id);
			seen[id] = 1;
			max = id > max ? id : max;
			/* LLC and package are the aligned blocks above their shifts. */
			cr_assert_eq(id >> l.pkg_shift, c.node);
			cr_assert_eq((id >> l.llc_shift) &
					     ((1u << (l.pkg_shift - l.llc_shift)) - 1),
				     c.llc_in_node);
			cr_assert_eq(id & ((1u << l.smt_shift) - 1), c.thread);
			/* SMT siblings differ only below smt_shift. */
			if (c.thread) {
				uint32_t first = topo_apic_id(&l, cpu - c.thread);

				cr_assert_eq(first >> l.smt_shift, id >> l.smt_shift);
			}
		}
		cr_assert_eq(max, l.max_apic_id, "%s", list[k]);
		cr_assert_eq(l.x2apic, max >= 255, "%s", list[k]);
	}
}

Test(topo, apic_id_examples_from_spec)
{
	struct topo_layout l = layout_of("1n14l9c2t", 0);
	unsigned above = 0;

	/* CPU 18 = LLC 1, core 0, thread 0: 1 << 5. CPU 251: LLC 13, core 8, thread 1. */
	cr_assert_eq(topo_apic_id(&l, 18), 32);
	cr_assert_eq(topo_apic_id(&l, 251), 0x1B1);
	for (unsigned cpu = 0; cpu < l.nr_cpus; cpu++)
		above += topo_apic_id(&l, cpu) >= 256;
	cr_assert_eq(above, 108);
	l = layout_of("2n2l2c1t", 0);
	cr_assert_eq(topo_apic_id(&l, 2), 2);
	cr_assert_eq(topo_apic_id(&l, 3), 3);
}

Test(topo, llc_padding_for_zen1_and_refusal)
{
	char err[TOPO_ERR_LEN] = "";
	struct topo_layout l = layout_of("1n2l2c2t", 3);
	struct topo t = parse_ok("1n4l8c2t");

	cr_assert_eq(l.llc_shift, 3);
	cr_assert_eq(l.pkg_shift, 4);
	cr_assert_eq(topo_apic_id(&l, 4), 8, "second LLC starts at bit 3");
	cr_assert_eq(topo_layout_init(&l, &t, 3, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "not representable"), "%s", err);
	cr_assert(strstr(err, "1n4l8c2t"), "%s", err);
}

Test(topo, layout_refuses_ids_beyond_kvm_limit)
{
	char err[TOPO_ERR_LEN] = "";
	struct topo_layout l;
	/* 8 nodes x 128 cores: max id 7 << 7 | 127 = 1023, fine; a padded 8-node layout is not. */
	struct topo t = {8, 8, 128, 1};

	cr_assert_eq(topo_layout_init(&l, &t, 0, err, sizeof(err)), 0, "%s", err);
	t = (struct topo){1, 1, 1, 1};
	cr_assert_eq(topo_layout_init(&l, &t, 12, err, sizeof(err)), 0);
	t = (struct topo){8, 8, 1, 1};
	cr_assert_eq(topo_layout_init(&l, &t, 10, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "KVM"), "%s", err);
}
