/* SPDX-License-Identifier: MIT */
/*
 * Guest-physical memory layout for x86_64 (specs/vmm-x86.md §1.2, §1.3):
 * guest RAM from GPA 0 up to 3 GiB, the MMIO hole [3 GiB, 4 GiB), the rest
 * of RAM from 4 GiB. RAM is split into equal per-NUMA-node parts (node 0
 * lowest); each part becomes one KVM memory slot per side of the hole. The
 * E820 table and the SRAT memory ranges are derived from the same layout.
 *
 * Optionally a "carve-out" at the top of RAM (host-shared region, e.g. the
 * SHM ring; moved to the top of low RAM if it would straddle the hole) stays
 * inside the memory slots but is left out of E820 (or listed
 * as reserved), so the guest allocator never uses it.
 */
#ifndef KTSTR_VMM_MEMMAP_H
#define KTSTR_VMM_MEMMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h> /* struct boot_e820_entry (packed, 20 bytes) */

#include "topo/topo.h"

#define MEMMAP_KiB (1ull << 10)
#define MEMMAP_MiB (1ull << 20)
#define MEMMAP_GiB (1ull << 30)

/* Fixed guest-physical addresses (§1.2). */
#define MEMMAP_EBDA_START	0x9FC00ull     /* end of low RAM */
#define MEMMAP_ACPI_START	0xE0000ull     /* RSDP; ACPI tables follow */
#define MEMMAP_ACPI_END		0x100000ull    /* exclusive */
#define MEMMAP_HIGH_START	0x100000ull    /* 1 MiB */
#define MEMMAP_HOLE_START	0xC0000000ull  /* 3 GiB: end of low RAM */
#define MEMMAP_HOLE_END		0x100000000ull /* 4 GiB: RAM resumes */
#define MEMMAP_VIRTIO_BASE	0xD0000000ull  /* virtio-mmio window i at BASE + i*STRIDE */
#define MEMMAP_VIRTIO_STRIDE	0x1000ull
#define MEMMAP_VIRTIO_MAX	64u
#define MEMMAP_IOAPIC_BASE	0xFEC00000ull
#define MEMMAP_LAPIC_BASE	0xFEE00000ull
#define MEMMAP_KVM_IDENTITY_MAP 0xFFFBC000ull /* KVM_SET_IDENTITY_MAP_ADDR, 1 page */
#define MEMMAP_KVM_TSS		0xFFFBD000ull /* KVM_SET_TSS_ADDR, 3 pages */

/*
 * Guest RAM limits. The floor is ktstr's (survey §1.1: max(vCPUs x 64 MiB,
 * 256 MiB)); the ceiling keeps every GPA far below any host's physical
 * address width.
 */
#define MEMMAP_MIN_RAM	   (256ull * MEMMAP_MiB)
#define MEMMAP_PER_CPU_RAM (64ull * MEMMAP_MiB)
#define MEMMAP_MAX_RAM	   (1024ull * MEMMAP_GiB)
/* Smallest node part memmap_build() accepts (Linux ignores nodes below 4 MiB). */
#define MEMMAP_MIN_NODE_RAM (16ull * MEMMAP_MiB)

/* One slot per node, plus one for the node that straddles the hole. */
#define MEMMAP_MAX_REGIONS (TOPO_MAX_NODES + 1u)
#define MEMMAP_MAX_E820	   8u
/* Max SRAT memory ranges: per node, pieces of the E820 RAM entries (3 at most). */
#define MEMMAP_MAX_NUMA_RANGES (3u * TOPO_MAX_NODES)

#define MEMMAP_E820_RAM	     1u /* E820_RAM */
#define MEMMAP_E820_RESERVED 2u /* E820_RESERVED */

/* One KVM_SET_USER_MEMORY_REGION slot. `ram_offset` = offset into the
 * caller's single contiguous host allocation of ram_bytes (slots are
 * consecutive pieces of it, in order). */
struct memmap_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t ram_offset;
	uint32_t node;
};

/* A piece of E820 RAM owned by one node (SRAT memory affinity entry). */
struct memmap_numa_range {
	uint64_t gpa;
	uint64_t size;
	uint32_t node;
};

struct memmap {
	uint64_t ram_bytes; /* total guest RAM (slots cover exactly this) */
	unsigned nr_nodes;
	uint64_t node_bytes[TOPO_MAX_NODES]; /* per-node share of RAM (node 0 first) */
	unsigned nr_regions;
	struct memmap_region regions[MEMMAP_MAX_REGIONS];
	/*
	 * Carve-out (0 size = none): the top carve_size bytes of RAM, or the top
	 * of low RAM when the top of RAM would straddle the hole. carve_ram_offset
	 * is its offset in the caller's RAM allocation (see memmap_region).
	 */
	uint64_t carve_gpa;
	uint64_t carve_size;
	uint64_t carve_ram_offset;
	bool carve_reserved; /* list it as E820 reserved instead of leaving it out */
	/* E820 as handed to the guest (§1.3), sorted, non-overlapping. */
	unsigned nr_e820;
	struct boot_e820_entry e820[MEMMAP_MAX_E820];
	/* Per-node RAM ranges for the SRAT: E820 RAM intersected with each node. */
	unsigned nr_numa;
	struct memmap_numa_range numa[MEMMAP_MAX_NUMA_RANGES];
};

/*
 * Build the layout for ram_bytes of RAM (a multiple of 4 KiB, >= 2 MiB +
 * carve_size) split across `nodes` nodes (1..TOPO_MAX_NODES; each part a
 * multiple of 2 MiB except the last, and >= MEMMAP_MIN_NODE_RAM when
 * nodes > 1). carve_size (multiple of 4 KiB, may be 0) is taken from the top
 * of RAM. Returns 0 or -EINVAL with a one-line message in err.
 */
int memmap_build(struct memmap *mm, uint64_t ram_bytes, unsigned nodes, uint64_t carve_size,
		 bool carve_reserved, char *err, size_t errlen);

/* GPA of RAM byte `off` (0 <= off < ram_bytes): RAM skips the hole. */
uint64_t memmap_ram_to_gpa(uint64_t off);

/* End (exclusive) of the E820 RAM entry that lies below 4 GiB and above 1 MiB: initrd ceiling. */
uint64_t memmap_low_ram_end(const struct memmap *mm);

/* Sum of the sizes of E820 RAM entries. */
uint64_t memmap_e820_ram_total(const struct memmap *mm);

/*
 * Parse a size: decimal digits with an optional binary suffix K, M, G, T
 * (upper or lower case, optional "iB"/"B": 512M, 2G, 2GiB, 4096). Overflow,
 * empty strings, negative numbers and garbage are rejected.
 * Returns 0 or -EINVAL/-ERANGE with "invalid size '<s>': ..." in err.
 */
int memmap_parse_size(const char *s, uint64_t *out, char *err, size_t errlen);

/*
 * Parse a guest RAM size for the CLI: memmap_parse_size() plus the limits
 * [MEMMAP_MIN_RAM, MEMMAP_MAX_RAM] and a multiple of 4 KiB; the message names
 * the value ("invalid memory size '1K': below the minimum of 256 MiB").
 */
int memmap_parse_ram(const char *s, uint64_t *out, char *err, size_t errlen);

/* Default RAM for a topology: max(256 MiB, 64 MiB per CPU) (survey §1.1). */
uint64_t memmap_default_ram(const struct topo *t);

#endif
