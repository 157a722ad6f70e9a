// SPDX-License-Identifier: MIT
/* Guest memory layout, E820, NUMA ranges and size parsing (specs/vmm-x86.md §1.2, §1.3, §5 #5). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/memmap.h"

#define MiB MEMMAP_MiB
#define GiB MEMMAP_GiB

static struct memmap build(uint64_t ram, unsigned nodes, uint64_t carve, bool reserved)
{
	char err[TOPO_ERR_LEN] = "";
	struct memmap mm;

	cr_assert_eq(memmap_build(&mm, ram, nodes, carve, reserved, err, sizeof(err)), 0,
		     "ram %llu nodes %u carve %llu: %s", (unsigned long long)ram, nodes,
		     (unsigned long long)carve, err);
	return mm;
}

static void expect_e820(const struct memmap *mm, const struct boot_e820_entry *want, unsigned n)
{
	cr_assert_eq(mm->nr_e820, n, "entry count %u, want %u", mm->nr_e820, n);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(mm->e820[i].addr, want[i].addr, "entry %u addr 0x%llx", i,
			     (unsigned long long)mm->e820[i].addr);
		cr_assert_eq(mm->e820[i].size, want[i].size, "entry %u size 0x%llx", i,
			     (unsigned long long)mm->e820[i].size);
		cr_assert_eq(mm->e820[i].type, want[i].type, "entry %u type", i);
	}
}

/* Properties every E820 must have (spec §5 #5). */
static void check_e820_invariants(const struct memmap *mm, uint64_t ram, uint64_t carve)
{
	uint64_t prev_end = 0, ram_sum = 0;

	cr_assert_leq(mm->nr_e820, 128u);
	for (unsigned i = 0; i < mm->nr_e820; i++) {
		const struct boot_e820_entry *e = &mm->e820[i];
		uint64_t end = e->addr + e->size;

		cr_assert_gt(e->size, 0);
		cr_assert_geq(e->addr, prev_end, "sorted and non-overlapping at entry %u", i);
		prev_end = end;
		if (e->type != MEMMAP_E820_RAM)
			continue;
		ram_sum += e->size;
		cr_assert(end <= MEMMAP_EBDA_START || e->addr >= MEMMAP_HIGH_START,
			  "RAM in [0x9FC00, 1 MiB)");
		cr_assert(end <= MEMMAP_HOLE_START || e->addr >= MEMMAP_HOLE_END,
			  "RAM in the 3-4 GiB hole");
	}
	/* Requested RAM minus the carve-out minus the legacy area [0x9FC00, 1 MiB). */
	cr_assert_eq(ram_sum, ram - carve - (MEMMAP_HIGH_START - MEMMAP_EBDA_START));
	cr_assert_eq(memmap_e820_ram_total(mm), ram_sum);
}

#define RAM(a, s)                         \
	{                                 \
		(a), (s), MEMMAP_E820_RAM \
	}
#define RES(a, s)                              \
	{                                      \
		(a), (s), MEMMAP_E820_RESERVED \
	}
#define LOW_FIXED RAM(0, 0x9FC00), RES(0x9FC00, 0x400), RES(0xE0000, 0x20000)

/* spec §5 #5 */
Test(memmap, e820_exact_entries_without_carveout)
{
	const struct boot_e820_entry m64[] = {LOW_FIXED, RAM(1 * MiB, 63 * MiB)};
	const struct boot_e820_entry g2[] = {LOW_FIXED, RAM(1 * MiB, 2 * GiB - MiB)};
	const struct boot_e820_entry g3[] = {LOW_FIXED, RAM(1 * MiB, 3 * GiB - MiB)};
	const struct boot_e820_entry g3p[] = {LOW_FIXED, RAM(1 * MiB, 3 * GiB - MiB),
					      RAM(4 * GiB, 4096)};
	const struct boot_e820_entry g4[] = {LOW_FIXED, RAM(1 * MiB, 3 * GiB - MiB),
					     RAM(4 * GiB, 1 * GiB)};
	const struct boot_e820_entry g5[] = {LOW_FIXED, RAM(1 * MiB, 3 * GiB - MiB),
					     RAM(4 * GiB, 2 * GiB)};
	const struct boot_e820_entry g16[] = {LOW_FIXED, RAM(1 * MiB, 3 * GiB - MiB),
					      RAM(4 * GiB, 13 * GiB)};
	struct memmap mm;

	mm = build(64 * MiB, 1, 0, false);
	expect_e820(&mm, m64, 4);
	mm = build(2 * GiB, 1, 0, false);
	expect_e820(&mm, g2, 4);
	mm = build(3 * GiB, 1, 0, false);
	expect_e820(&mm, g3, 4);
	mm = build(3 * GiB + 4096, 1, 0, false);
	expect_e820(&mm, g3p, 5);
	mm = build(4 * GiB, 1, 0, false);
	expect_e820(&mm, g4, 5);
	mm = build(5 * GiB, 1, 0, false);
	expect_e820(&mm, g5, 5);
	mm = build(16 * GiB, 1, 0, false);
	expect_e820(&mm, g16, 5);
}

/* spec §5 #5: a 16 MiB carve-out at the top, left out of E820 or listed as reserved. */
Test(memmap, e820_exact_entries_with_top_carveout)
{
	const struct boot_e820_entry m64[] = {LOW_FIXED, RAM(1 * MiB, 47 * MiB)};
	const struct boot_e820_entry m64r[] = {LOW_FIXED, RAM(1 * MiB, 47 * MiB),
					       RES(48 * MiB, 16 * MiB)};
	const struct boot_e820_entry g3[] = {LOW_FIXED, RAM(1 * MiB, 3 * GiB - 17 * MiB)};
	/* 3 GiB + 4 KiB: the top 16 MiB would straddle the hole; it moves below 3 GiB. */
	const struct boot_e820_entry g3p[] = {LOW_FIXED, RAM(1 * MiB, 3 * GiB - 17 * MiB),
					      RES(3 * GiB - 16 * MiB, 16 * MiB),
					      RAM(4 * GiB, 4096)};
	const struct boot_e820_entry g5[] = {LOW_FIXED, RAM(1 * MiB, 3 * GiB - MiB),
					     RAM(4 * GiB, 2 * GiB - 16 * MiB)};
	const struct boot_e820_entry g16r[] = {LOW_FIXED, RAM(1 * MiB, 3 * GiB - MiB),
					       RAM(4 * GiB, 13 * GiB - 16 * MiB),
					       RES(17 * GiB - 16 * MiB, 16 * MiB)};
	struct memmap mm;

	mm = build(64 * MiB, 1, 16 * MiB, false);
	expect_e820(&mm, m64, 4);
	cr_assert_eq(mm.carve_gpa, 48 * MiB);
	mm = build(64 * MiB, 1, 16 * MiB, true);
	expect_e820(&mm, m64r, 5);
	mm = build(3 * GiB, 1, 16 * MiB, false);
	expect_e820(&mm, g3, 4);
	mm = build(3 * GiB + 4096, 1, 16 * MiB, true);
	expect_e820(&mm, g3p, 6);
	cr_assert_eq(mm.carve_gpa, 3 * GiB - 16 * MiB);
	cr_assert_eq(mm.carve_ram_offset, 3 * GiB - 16 * MiB);
	mm = build(5 * GiB, 1, 16 * MiB, false);
	expect_e820(&mm, g5, 5);
	cr_assert_eq(mm.carve_gpa, 6 * GiB - 16 * MiB);
	cr_assert_eq(mm.carve_ram_offset, 5 * GiB - 16 * MiB);
	mm = build(16 * GiB, 1, 16 * MiB, true);
	expect_e820(&mm, g16r, 6);
}

/* spec §5 #5: invariants over every size of the list, with and without carve-out. */
Test(memmap, e820_invariants_for_all_sizes)
{
	const uint64_t sizes[] = {64 * MiB, 2 * GiB, 3 * GiB, 3 * GiB + 4096,
				  4 * GiB,  5 * GiB, 16 * GiB};

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (unsigned c = 0; c < 2; c++) {
			for (unsigned r = 0; r < 2; r++) {
				uint64_t carve = c ? 16 * MiB : 0;
				struct memmap mm = build(sizes[i], 1, carve, r);

				check_e820_invariants(&mm, sizes[i], carve);
			}
		}
	}
}

Test(memmap, slots_cover_ram_split_at_hole_and_by_node)
{
	struct memmap mm = build(5 * GiB, 2, 0, false);
	uint64_t sum = 0, off = 0;

	/* node 0 = RAM [0, 2.5 GiB), node 1 = [2.5 GiB, 5 GiB) split at 3 GiB. */
	cr_assert_eq(mm.nr_regions, 3);
	cr_assert_eq(mm.regions[0].gpa, 0);
	cr_assert_eq(mm.regions[0].size, 2560 * MiB);
	cr_assert_eq(mm.regions[0].node, 0);
	cr_assert_eq(mm.regions[1].gpa, 2560 * MiB);
	cr_assert_eq(mm.regions[1].size, 512 * MiB);
	cr_assert_eq(mm.regions[1].node, 1);
	cr_assert_eq(mm.regions[2].gpa, 4 * GiB);
	cr_assert_eq(mm.regions[2].size, 2 * GiB);
	cr_assert_eq(mm.regions[2].node, 1);
	for (unsigned i = 0; i < mm.nr_regions; i++) {
		cr_assert_eq(mm.regions[i].ram_offset, off, "slots are consecutive host pieces");
		cr_assert_eq(memmap_ram_to_gpa(mm.regions[i].ram_offset), mm.regions[i].gpa);
		off += mm.regions[i].size;
		sum += mm.regions[i].size;
	}
	cr_assert_eq(sum, 5 * GiB);
}

Test(memmap, one_slot_per_node_below_the_hole)
{
	struct memmap mm = build(1 * GiB, 4, 0, false);

	cr_assert_eq(mm.nr_regions, 4);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(mm.regions[i].node, i);
		cr_assert_eq(mm.regions[i].size, 256 * MiB);
		cr_assert_eq(mm.node_bytes[i], 256 * MiB);
	}
	/* An uneven split: nodes are 2 MiB multiples, the last one takes the rest. */
	mm = build(1 * GiB + 4096 * 3, 3, 0, false);
	cr_assert_eq(mm.node_bytes[0], 340 * MiB);
	cr_assert_eq(mm.node_bytes[1], 340 * MiB);
	cr_assert_eq(mm.node_bytes[2], 1 * GiB + 4096 * 3 - 680 * MiB);
}

/* SRAT memory ranges (spec §3.7, §5 #16): exactly the E820 RAM, attributed to nodes. */
Test(memmap, numa_ranges_cover_e820_ram_exactly)
{
	const unsigned nodes[] = {1, 2, 3, 4, 8};
	const uint64_t sizes[] = {512 * MiB, 3 * GiB, 5 * GiB, 16 * GiB};

	for (unsigned a = 0; a < 5; a++) {
		for (unsigned b = 0; b < 4; b++) {
			struct memmap mm = build(sizes[b], nodes[a], 16 * MiB, false);
			uint64_t sum = 0;

			for (unsigned i = 0; i < mm.nr_numa; i++) {
				const struct memmap_numa_range *r = &mm.numa[i];
				bool in_slot = false, in_ram = false;

				sum += r->size;
				for (unsigned s = 0; s < mm.nr_regions; s++)
					in_slot |= mm.regions[s].node == r->node &&
						   r->gpa >= mm.regions[s].gpa &&
						   r->gpa + r->size <=
							   mm.regions[s].gpa + mm.regions[s].size;
				for (unsigned e = 0; e < mm.nr_e820; e++)
					in_ram |= mm.e820[e].type == MEMMAP_E820_RAM &&
						  r->gpa >= mm.e820[e].addr &&
						  r->gpa + r->size <=
							  mm.e820[e].addr + mm.e820[e].size;
				cr_assert(in_slot && in_ram, "range %u of %u nodes", i, nodes[a]);
			}
			cr_assert_eq(sum, memmap_e820_ram_total(&mm));
		}
	}
}

Test(memmap, numa_ranges_node0_starts_at_zero_and_skips_ebda)
{
	struct memmap mm = build(2 * GiB, 2, 0, false);

	cr_assert_eq(mm.nr_numa, 3);
	cr_assert_eq(mm.numa[0].gpa, 0);
	cr_assert_eq(mm.numa[0].size, 0x9FC00);
	cr_assert_eq(mm.numa[1].gpa, 1 * MiB);
	cr_assert_eq(mm.numa[1].size, 1 * GiB - MiB);
	cr_assert_eq(mm.numa[1].node, 0);
	cr_assert_eq(mm.numa[2].gpa, 1 * GiB);
	cr_assert_eq(mm.numa[2].node, 1);
}

Test(memmap, low_ram_end_is_initrd_ceiling)
{
	struct memmap mm = build(256 * MiB, 1, 0, false);

	cr_assert_eq(memmap_low_ram_end(&mm), 256 * MiB);
	mm = build(8 * GiB, 1, 0, false);
	cr_assert_eq(memmap_low_ram_end(&mm), 3 * GiB);
	mm = build(256 * MiB, 1, 16 * MiB, false);
	cr_assert_eq(memmap_low_ram_end(&mm), 240 * MiB);
}

Test(memmap, build_rejects_bad_input_with_message)
{
	char err[TOPO_ERR_LEN];
	struct memmap mm;

	cr_assert_eq(memmap_build(&mm, 64 * MiB + 1, 1, 0, false, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "4 KiB"), "%s", err);
	cr_assert_eq(memmap_build(&mm, 64 * MiB, 0, 0, false, err, sizeof(err)), -EINVAL);
	cr_assert_eq(memmap_build(&mm, 64 * MiB, 9, 0, false, err, sizeof(err)), -EINVAL);
	cr_assert_eq(memmap_build(&mm, 64 * MiB, 8, 0, false, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "per node"), "%s", err);
	cr_assert_eq(memmap_build(&mm, 64 * MiB, 1, 64 * MiB, false, err, sizeof(err)), -EINVAL);
	cr_assert_eq(memmap_build(&mm, 4 * GiB, 1, 3 * GiB + 512 * MiB, false, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "carve-out"), "%s", err);
	cr_assert_eq(memmap_build(&mm, 2048 * GiB, 1, 0, false, err, sizeof(err)), -EINVAL);
}

static uint64_t size_ok(const char *s)
{
	char err[TOPO_ERR_LEN] = "";
	uint64_t v = 0;

	cr_assert_eq(memmap_parse_size(s, &v, err, sizeof(err)), 0, "'%s': %s", s, err);
	return v;
}

Test(memmap, parse_size_suffixes)
{
	cr_assert_eq(size_ok("512M"), 512 * MiB);
	cr_assert_eq(size_ok("2G"), 2 * GiB);
	cr_assert_eq(size_ok("2g"), 2 * GiB);
	cr_assert_eq(size_ok("2GiB"), 2 * GiB);
	cr_assert_eq(size_ok("2GB"), 2 * GiB);
	cr_assert_eq(size_ok("4096"), 4096);
	cr_assert_eq(size_ok("4096B"), 4096);
	cr_assert_eq(size_ok("1K"), 1024);
	cr_assert_eq(size_ok("1T"), 1ull << 40);
	cr_assert_eq(size_ok("0"), 0);
	cr_assert_eq(size_ok("18446744073709551615"), UINT64_MAX);
}

static void size_bad(const char *s, int want, const char *msg)
{
	char err[TOPO_ERR_LEN] = "";
	uint64_t v = 7;

	cr_assert_eq(memmap_parse_size(s, &v, err, sizeof(err)), want, "'%s' -> %s", s, err);
	cr_assert_eq(v, 7, "output untouched on error");
	cr_assert(strstr(err, msg), "'%s' -> '%s' lacks '%s'", s, err, msg);
	cr_assert_null(strchr(err, '\n'));
}

Test(memmap, parse_size_rejects_garbage_and_overflow)
{
	size_bad("", -EINVAL, "invalid size ''");
	size_bad("abc", -EINVAL, "'abc'");
	size_bad("-1G", -EINVAL, "'-1G'");
	size_bad(" 1G", -EINVAL, "invalid size");
	size_bad("1X", -EINVAL, "suffix");
	size_bad("1GG", -EINVAL, "suffix");
	size_bad("1.5G", -EINVAL, "suffix");
	size_bad("18446744073709551616", -ERANGE, "too large");
	size_bad("99999999999999999999999", -ERANGE, "too large");
	size_bad("16777216T", -ERANGE, "too large");
	size_bad("17179869184G", -ERANGE, "too large");
}

Test(memmap, parse_ram_enforces_floor_and_names_value)
{
	char err[TOPO_ERR_LEN] = "";
	uint64_t v = 0;

	cr_assert_eq(memmap_parse_ram("1K", &v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "'1K'"), "%s", err);
	cr_assert(strstr(err, "256 MiB"), "%s", err);
	cr_assert_eq(memmap_parse_ram("255M", &v, err, sizeof(err)), -EINVAL);
	cr_assert_eq(memmap_parse_ram("2T", &v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "maximum"), "%s", err);
	cr_assert_eq(memmap_parse_ram("268435457", &v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "4 KiB"), "%s", err);
	cr_assert_eq(memmap_parse_ram("lots", &v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "invalid memory size 'lots'"), "%s", err);
	cr_assert_eq(memmap_parse_ram("256M", &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(v, 256 * MiB);
	cr_assert_eq(memmap_parse_ram("2G", &v, err, sizeof(err)), 0);
	cr_assert_eq(v, 2 * GiB);
}

Test(memmap, default_ram_is_64m_per_cpu_floored_at_256m)
{
	struct topo t = {1, 1, 1, 1};

	cr_assert_eq(memmap_default_ram(&t), 256 * MiB);
	t = (struct topo){1, 14, 9, 2};
	cr_assert_eq(memmap_default_ram(&t), 252 * 64 * MiB);
	t = (struct topo){1, 2, 2, 1};
	cr_assert_eq(memmap_default_ram(&t), 256 * MiB);
}
