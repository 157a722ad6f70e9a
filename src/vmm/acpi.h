/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables for a hardware-reduced x86 guest (specs/vmm-x86.md §3, D7, D8):
 * RSDP at 0xE0000, then XSDT, FADT, MADT, DSDT (COM1, COM2, \_S5 and one
 * LNRO0005 device per virtio-mmio window), and SRAT + SLIT when the topology
 * has more than one NUMA node. Every table is built into a caller buffer;
 * acpi_write() places the whole set in guest memory.
 *
 * Reset and power-off conventions the VMM's port handlers must implement
 * (§3.5, §4.2) are the ACPI_* port constants below.
 */
#ifndef KTSTR_VMM_ACPI_H
#define KTSTR_VMM_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "topo/topo.h"

struct gm;
struct memmap;

/* Placement (§3.1): RSDP first, tables after it, all below the reset stub at 0xFFFF0. */
#define ACPI_RSDP_ADDR	0xE0000ull
#define ACPI_WINDOW_END 0xFFFF0ull /* exclusive; 0xFFFF0 holds boot_x86's reset stub */
#define ACPI_HEADER_LEN 36u
#define ACPI_RSDP_LEN	36u

/*
 * Reset: the FADT reset register is I/O port 0x64, value 0xFE -- the same
 * write as the i8042 keyboard-controller pulse. Any write of 0xFE to port
 * 0x64 means "reboot" (end the VM).
 */
#define ACPI_RESET_PORT	 0x64u
#define ACPI_RESET_VALUE 0xFEu

/*
 * Power-off: Linux writes 0x80 (WAK_STS) to the sleep status register, then
 * (SLP_TYP << 2) | SLP_EN = 0x34 to the sleep control register. A byte
 * written to ACPI_SLEEP_CTL_PORT with ACPI_SLP_EN set means "poweroff";
 * without it nothing happens. Status-register writes are ignored, reads of
 * both return 0.
 */
#define ACPI_SLEEP_CTL_PORT 0x600u
#define ACPI_SLEEP_STS_PORT 0x601u
#define ACPI_SLP_EN	    0x20u
#define ACPI_S5_SLP_TYP	    5u

static inline bool acpi_is_poweroff_write(uint16_t port, uint8_t value)
{
	return port == ACPI_SLEEP_CTL_PORT && (value & ACPI_SLP_EN);
}

static inline bool acpi_is_reset_write(uint16_t port, uint8_t value)
{
	return port == ACPI_RESET_PORT && value == ACPI_RESET_VALUE;
}

/* Interrupt lines the DSDT declares for the UARTs (§3.10): GSI = IOAPIC pin. */
#define ACPI_COM1_GSI 4u
#define ACPI_COM2_GSI 3u
/* virtio-mmio devices use GSIs 16..23 first (D8). */
#define ACPI_VIRTIO_GSI_FIRST 16u
#define ACPI_IOAPIC_PINS      24u
#define ACPI_IOAPIC_ID	      0u

/* One virtio-mmio window, declared as LNRO0005 device VRnn (nn = list index). */
struct acpi_virtio_dev {
	uint64_t base; /* < 4 GiB (Memory32Fixed) */
	uint32_t size; /* 0x1000 normally */
	uint32_t gsi;  /* < ACPI_IOAPIC_PINS */
};

#define ACPI_MAX_VIRTIO_DEVS 100u /* names VR00..VR99 */

struct acpi_config {
	const struct topo_layout *layout; /* CPUs, APIC IDs, nodes */
	const struct memmap *mm;	  /* SRAT memory ranges */
	const struct acpi_virtio_dev *virtio;
	unsigned nr_virtio;
	/*
	 * NUMA distances, nodes x nodes row-major, or NULL for 10 local / 20
	 * remote. Must have 10 on the diagonal, > 10 elsewhere, be symmetric.
	 */
	const uint8_t *distances;
	/* Level-triggered virtio interrupts (needs KVM_IRQFD_FLAG_RESAMPLE); default edge. */
	bool virtio_level;
};

/*
 * Build every table for base address ACPI_RSDP_ADDR into buf (the bytes of
 * guest range [ACPI_RSDP_ADDR, ACPI_RSDP_ADDR + *used)). buflen should be
 * ACPI_WINDOW_END - ACPI_RSDP_ADDR; -ENOSPC (+ message) if the tables do not
 * fit, -EINVAL for bad input (distances, devices, layout).
 */
int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t buflen, size_t *used, char *err,
	       size_t errlen);

/* acpi_build() + gm_write at ACPI_RSDP_ADDR. */
int acpi_write(struct gm *gm, const struct acpi_config *cfg, char *err, size_t errlen);

/*
 * GSI routing for KVM_SET_GSI_ROUTING after KVM_CREATE_IRQCHIP (D9, §3.10):
 * ACPI_IOAPIC_PINS entries {gsi n, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_IOAPIC,
 * pin n}, no PIC routes. Returns the entry count, 0 if max is too small.
 */
unsigned acpi_gsi_routes(struct kvm_irq_routing_entry *e, unsigned max);

/* ---- single tables (used by acpi_build, exposed for tests) ---- */

/* Set byte 9 of a table (or any buffer) so that all len bytes sum to 0 mod 256. */
void acpi_set_checksum(uint8_t *table, size_t len, size_t csum_off);
/* Sum of len bytes mod 256 (0 for a valid table). */
uint8_t acpi_sum(const uint8_t *p, size_t len);

/*
 * Each builder writes one table into buf (cap bytes) and returns its length,
 * or -ENOSPC when cap is too small, -EINVAL for bad input. Checksums are set.
 */
int acpi_build_rsdp(uint8_t *buf, size_t cap, uint64_t xsdt_gpa);
int acpi_build_xsdt(uint8_t *buf, size_t cap, const uint64_t *tables, unsigned n);
int acpi_build_fadt(uint8_t *buf, size_t cap, uint64_t dsdt_gpa);
int acpi_build_madt(uint8_t *buf, size_t cap, const struct topo_layout *l);
int acpi_build_srat(uint8_t *buf, size_t cap, const struct topo_layout *l, const struct memmap *mm);
int acpi_build_slit(uint8_t *buf, size_t cap, unsigned nodes, const uint8_t *distances);
int acpi_build_dsdt(uint8_t *buf, size_t cap, const struct acpi_virtio_dev *devs, unsigned n,
		    bool level);

/* 0 if the matrix is a valid SLIT (diagonal 10, off-diagonal > 10, symmetric), else -EINVAL. */
int acpi_check_distances(unsigned nodes, const uint8_t *d);

#endif
