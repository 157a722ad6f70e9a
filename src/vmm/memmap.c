// SPDX-License-Identifier: MIT
/*
 * Guest-physical layout, E820 and per-node RAM ranges (specs/vmm-x86.md
 * §1.2, §1.3, §3.7).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "vmm/memmap.h"

#define MEMMAP_PAGE	  4096ull
#define MEMMAP_NODE_ALIGN (2ull * MEMMAP_MiB)
#define MEMMAP_LOW_MAX	  MEMMAP_HOLE_START /* RAM below the hole */

uint64_t memmap_ram_to_gpa(uint64_t off)
{
	return off < MEMMAP_LOW_MAX ? off : off + (MEMMAP_HOLE_END - MEMMAP_HOLE_START);
}

static void e820_add(struct memmap *mm, uint64_t addr, uint64_t size, uint32_t type)
{
	if (!size)
		return;
	mm->e820[mm->nr_e820++] = (struct boot_e820_entry){addr, size, type};
}

/* Add slot(s) for RAM offsets [off, off + size) of `node`, split at the hole. */
static void add_node_slots(struct memmap *mm, uint64_t off, uint64_t size, unsigned node)
{
	while (size) {
		uint64_t piece = size;

		if (off < MEMMAP_LOW_MAX && off + size > MEMMAP_LOW_MAX)
			piece = MEMMAP_LOW_MAX - off;
		mm->regions[mm->nr_regions++] = (struct memmap_region){
			.gpa = memmap_ram_to_gpa(off),
			.size = piece,
			.ram_offset = off,
			.node = node,
		};
		off += piece;
		size -= piece;
	}
}

/* SRAT ranges: every E820 RAM piece, attributed to the slot (node) that holds it. */
static void build_numa_ranges(struct memmap *mm)
{
	mm->nr_numa = 0;
	for (unsigned r = 0; r < mm->nr_regions; r++) {
		const struct memmap_region *reg = &mm->regions[r];

		for (unsigned e = 0; e < mm->nr_e820; e++) {
			const struct boot_e820_entry *ent = &mm->e820[e];
			uint64_t lo, hi;

			if (ent->type != MEMMAP_E820_RAM)
				continue;
			lo = MAX(reg->gpa, ent->addr);
			hi = MIN(reg->gpa + reg->size, ent->addr + ent->size);
			if (lo >= hi)
				continue;
			mm->numa[mm->nr_numa++] = (struct memmap_numa_range){
				.gpa = lo,
				.size = hi - lo,
				.node = reg->node,
			};
		}
	}
}

int memmap_build(struct memmap *mm, uint64_t ram_bytes, unsigned nodes, uint64_t carve_size,
		 bool carve_reserved, char *err, size_t errlen)
{
	uint64_t low_ram, high_ram, off, share;

	memset(mm, 0, sizeof(*mm));
	if (!nodes || nodes > TOPO_MAX_NODES) {
		topo_errf(err, errlen, "memory layout: %u NUMA nodes (1..%u supported)", nodes,
			  TOPO_MAX_NODES);
		return -EINVAL;
	}
	if (ram_bytes % MEMMAP_PAGE || carve_size % MEMMAP_PAGE) {
		topo_errf(err, errlen,
			  "memory layout: RAM %llu and carve-out %llu must be multiples "
			  "of 4 KiB",
			  (unsigned long long)ram_bytes, (unsigned long long)carve_size);
		return -EINVAL;
	}
	if (ram_bytes > MEMMAP_MAX_RAM || carve_size > ram_bytes ||
	    ram_bytes - carve_size < 2 * MEMMAP_MiB) {
		topo_errf(err, errlen,
			  "memory layout: RAM %llu MiB with carve-out %llu MiB is out of "
			  "range",
			  (unsigned long long)(ram_bytes >> 20),
			  (unsigned long long)(carve_size >> 20));
		return -EINVAL;
	}
	mm->ram_bytes = ram_bytes;
	mm->nr_nodes = nodes;
	share = (ram_bytes / nodes) & ~(MEMMAP_NODE_ALIGN - 1);
	for (unsigned n = 0; n < nodes; n++)
		mm->node_bytes[n] = n + 1 < nodes ? share : ram_bytes - share * (nodes - 1);
	if (nodes > 1 && share < MEMMAP_MIN_NODE_RAM) {
		topo_errf(err, errlen,
			  "memory layout: %llu MiB over %u NUMA nodes leaves less than "
			  "%llu MiB per node",
			  (unsigned long long)(ram_bytes >> 20), nodes,
			  (unsigned long long)(MEMMAP_MIN_NODE_RAM >> 20));
		return -EINVAL;
	}
	off = 0;
	for (unsigned n = 0; n < nodes; n++) {
		add_node_slots(mm, off, mm->node_bytes[n], n);
		off += mm->node_bytes[n];
	}

	/*
	 * E820 (§1.3): usable RAM is everything but the carve-out, which sits
	 * at the top of RAM -- or, if that would straddle the hole, at the top
	 * of low RAM, so that it stays one contiguous guest range.
	 */
	low_ram = MIN(ram_bytes, MEMMAP_LOW_MAX);
	high_ram = ram_bytes - low_ram;
	if (carve_size) {
		mm->carve_size = carve_size;
		mm->carve_reserved = carve_reserved;
		if (high_ram >= carve_size) {
			high_ram -= carve_size;
			mm->carve_ram_offset = ram_bytes - carve_size;
		} else {
			if (carve_size + 2 * MEMMAP_MiB > low_ram) {
				topo_errf(err, errlen,
					  "memory layout: the %llu MiB carve-out leaves no RAM "
					  "below 3 GiB",
					  (unsigned long long)(carve_size >> 20));
				return -EINVAL;
			}
			low_ram -= carve_size;
			mm->carve_ram_offset = low_ram;
		}
		mm->carve_gpa = memmap_ram_to_gpa(mm->carve_ram_offset);
	}
	e820_add(mm, 0, MEMMAP_EBDA_START, MEMMAP_E820_RAM);
	e820_add(mm, MEMMAP_EBDA_START, 0xA0000 - MEMMAP_EBDA_START, MEMMAP_E820_RESERVED);
	e820_add(mm, MEMMAP_ACPI_START, MEMMAP_ACPI_END - MEMMAP_ACPI_START, MEMMAP_E820_RESERVED);
	e820_add(mm, MEMMAP_HIGH_START, low_ram - MEMMAP_HIGH_START, MEMMAP_E820_RAM);
	if (carve_size && carve_reserved && mm->carve_gpa < MEMMAP_HOLE_START)
		e820_add(mm, mm->carve_gpa, carve_size, MEMMAP_E820_RESERVED);
	e820_add(mm, MEMMAP_HOLE_END, high_ram, MEMMAP_E820_RAM);
	if (carve_size && carve_reserved && mm->carve_gpa >= MEMMAP_HOLE_END)
		e820_add(mm, mm->carve_gpa, carve_size, MEMMAP_E820_RESERVED);

	build_numa_ranges(mm);
	return 0;
}

uint64_t memmap_low_ram_end(const struct memmap *mm)
{
	for (unsigned i = 0; i < mm->nr_e820; i++) {
		const struct boot_e820_entry *e = &mm->e820[i];

		if (e->type == MEMMAP_E820_RAM && e->addr == MEMMAP_HIGH_START)
			return e->addr + e->size;
	}
	return MEMMAP_HIGH_START;
}

uint64_t memmap_e820_ram_total(const struct memmap *mm)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < mm->nr_e820; i++)
		if (mm->e820[i].type == MEMMAP_E820_RAM)
			sum += mm->e820[i].size;
	return sum;
}

static int suffix_shift(const char *s, unsigned *shift)
{
	static const char units[] = "KMGT";
	const char *u;

	if (!*s) {
		*shift = 0;
		return 0;
	}
	if (!strcmp(s, "B") || !strcmp(s, "b")) {
		*shift = 0;
		return 0;
	}
	u = strchr(units, *s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
	if (!u || !*u)
		return -EINVAL;
	*shift = 10 * (unsigned)(u - units + 1);
	s++;
	if (!*s || !strcmp(s, "B") || !strcmp(s, "iB") || !strcmp(s, "b") || !strcmp(s, "ib"))
		return 0;
	return -EINVAL;
}

int memmap_parse_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
	const char *p = s;
	uint64_t v = 0;
	unsigned shift;

	if (!s || *s < '0' || *s > '9') {
		topo_errf(err, errlen,
			  "invalid size '%.64s': expected a number with an optional "
			  "K/M/G/T suffix",
			  s ? s : "");
		return -EINVAL;
	}
	while (*p >= '0' && *p <= '9') {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v)) {
			topo_errf(err, errlen, "invalid size '%.64s': number too large", s);
			return -ERANGE;
		}
		p++;
	}
	if (suffix_shift(p, &shift)) {
		topo_errf(err, errlen,
			  "invalid size '%.64s': unknown suffix '%.16s' (use K, M, G or T)", s, p);
		return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift)) {
		topo_errf(err, errlen, "invalid size '%.64s': number too large", s);
		return -ERANGE;
	}
	*out = v << shift;
	return 0;
}

int memmap_parse_ram(const char *s, uint64_t *out, char *err, size_t errlen)
{
	uint64_t v;
	int ret;

	ret = memmap_parse_size(s, &v, err, errlen);
	if (ret) {
		/* Same message, but say what the size was for. */
		if (err && errlen && !strncmp(err, "invalid size", 12)) {
			char tmp[TOPO_ERR_LEN];

			snprintf(tmp, sizeof(tmp), "invalid memory size%s", err + 12);
			snprintf(err, errlen, "%s", tmp);
		}
		return ret;
	}
	if (v < MEMMAP_MIN_RAM) {
		topo_errf(err, errlen, "invalid memory size '%.64s': below the minimum of %llu MiB",
			  s, MEMMAP_MIN_RAM >> 20);
		return -EINVAL;
	}
	if (v > MEMMAP_MAX_RAM) {
		topo_errf(err, errlen, "invalid memory size '%.64s': above the maximum of %llu GiB",
			  s, MEMMAP_MAX_RAM >> 30);
		return -EINVAL;
	}
	if (v % MEMMAP_PAGE) {
		topo_errf(err, errlen, "invalid memory size '%.64s': not a multiple of 4 KiB", s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

uint64_t memmap_default_ram(const struct topo *t)
{
	uint64_t per_cpu = (uint64_t)topo_nr_cpus(t) * MEMMAP_PER_CPU_RAM;

	return MAX(per_cpu, MEMMAP_MIN_RAM);
}
