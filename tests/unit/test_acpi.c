// SPDX-License-Identifier: MIT
/* ACPI tables (specs/vmm-x86.md §3, §5 #11, #14-#17, #22). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio/guestmem.h"
#include "vmm/acpi.h"
#include "vmm/le.h"
#include "vmm/memmap.h"

static struct topo_layout layout(const char *s)
{
	char err[TOPO_ERR_LEN] = "";
	struct topo t;
	struct topo_layout l;

	cr_assert_eq(topo_parse(s, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(topo_layout_init(&l, &t, 0, err, sizeof(err)), 0, "%s", err);
	return l;
}

static void assert_vector(const uint8_t *got, size_t n, const uint8_t *want)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "byte %zu: 0x%02X, want 0x%02X", i, got[i], want[i]);
}

/* Standard header fields every table of ours carries (§3.2). */
static void assert_header(const uint8_t *t, const char *sig, size_t len, uint8_t rev)
{
	cr_assert_eq(memcmp(t, sig, 4), 0, "signature %.4s", (const char *)t);
	cr_assert_eq(le_get32(t + 4), len, "%s length %u", sig, le_get32(t + 4));
	cr_assert_eq(t[8], rev, "%s revision", sig);
	cr_assert_eq(memcmp(t + 10, "KTSTR ", 6), 0);
	cr_assert_eq(memcmp(t + 28, "KTST", 4), 0);
	cr_assert_eq(acpi_sum(t, len), 0, "%s checksum", sig);
}

/* spec §5 #11 */
Test(acpi, checksum_helper_zeroes_random_buffers)
{
	uint8_t buf[257];

	srand(1234);
	for (int round = 0; round < 200; round++) {
		size_t len = 10 + (size_t)(rand() % 247);

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand();
		acpi_set_checksum(buf, len, 9);
		cr_assert_eq(acpi_sum(buf, len), 0);
	}
}

/* spec §5 #11: RSDP vector with the XSDT at 0xE0500. */
Test(acpi, rsdp_vector_and_both_checksums)
{
	static const uint8_t want[36] = {
		0x52, 0x53, 0x44, 0x20, 0x50, 0x54, 0x52, 0x20, 0x27, 0x4B, 0x54, 0x53,
		0x54, 0x52, 0x20, 0x02, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00,
		0x00, 0x05, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC9, 0x00, 0x00, 0x00,
	};
	uint8_t buf[36];

	cr_assert_eq(acpi_build_rsdp(buf, sizeof(buf), 0xE0500), 36);
	assert_vector(buf, 36, want);
	cr_assert_eq(acpi_sum(buf, 20), 0);
	cr_assert_eq(acpi_sum(buf, 36), 0);
	cr_assert_eq(acpi_build_rsdp(buf, 35, 0xE0500), -ENOSPC);
}

/* spec §5 #14 */
Test(acpi, fadt_hardware_reduced_fields)
{
	static const uint8_t reset_gas[12] = {1, 8, 0, 1, 0x64, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t sleep_ctl[12] = {1, 8, 0, 1, 0x00, 0x06, 0, 0, 0, 0, 0, 0};
	static const uint8_t sleep_sts[12] = {1, 8, 0, 1, 0x01, 0x06, 0, 0, 0, 0, 0, 0};
	uint8_t f[300];

	cr_assert_eq(acpi_build_fadt(f, sizeof(f), 0xE1234), 276);
	assert_header(f, "FACP", 276, 6);
	cr_assert_eq(f[131], 5, "minor version");
	cr_assert_eq(le_get32(f + 112), 0x00100430);
	cr_assert_eq(le_get16(f + 109), 0x0024);
	assert_vector(f + 116, 12, reset_gas);
	cr_assert_eq(f[128], 0xFE);
	cr_assert_eq(le_get32(f + 40), 0xE1234);
	cr_assert_eq(le_get64(f + 140), 0xE1234);
	assert_vector(f + 244, 12, sleep_ctl);
	assert_vector(f + 256, 12, sleep_sts);
	cr_assert_eq(memcmp(f + 268, "KTSTRKVM", 8), 0);
	/* Every PM block, SCI, SMI, GPE and X_ PM GAS is zero. */
	cr_assert_eq(le_get32(f + 36), 0, "FIRMWARE_CTRL");
	for (size_t i = 44; i < 109; i++)
		cr_assert_eq(f[i], 0, "byte %zu", i);
	for (size_t i = 132; i < 140; i++)
		cr_assert_eq(f[i], 0, "X_FIRMWARE_CTRL byte %zu", i);
	for (size_t i = 148; i < 244; i++)
		cr_assert_eq(f[i], 0, "X_PM byte %zu", i);
	cr_assert_eq(acpi_build_fadt(f, 275, 0xE1234), -ENOSPC);
}

/* spec §5 #15: the 126-byte 1n2l2c2t vector. */
Test(acpi, madt_vector_1n2l2c2t)
{
	static const uint8_t head[44] = {
		0x41, 0x50, 0x49, 0x43, 0x7E, 0x00, 0x00, 0x00, 0x05, 0xBB, 0x4B,
		0x54, 0x53, 0x54, 0x52, 0x20, 0x4B, 0x54, 0x53, 0x54, 0x52, 0x41,
		0x50, 0x49, 0x01, 0x00, 0x00, 0x00, 0x4B, 0x54, 0x53, 0x54, 0x01,
		0x00, 0x00, 0x00, 0x00, 0x00, 0xE0, 0xFE, 0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t tail[18] = {0x01, 0x0C, 0x00, 0x00, 0x00, 0x00, 0xC0, 0xFE, 0x00,
					 0x00, 0x00, 0x00, 0x04, 0x06, 0xFF, 0x00, 0x00, 0x01};
	struct topo_layout l = layout("1n2l2c2t");
	uint8_t m[256];

	cr_assert_eq(acpi_build_madt(m, sizeof(m), &l), 126);
	assert_vector(m, 44, head);
	for (unsigned i = 0; i < 8; i++) {
		const uint8_t e[8] = {0x00, 0x08, (uint8_t)i, (uint8_t)i, 0x01, 0x00, 0x00, 0x00};

		assert_vector(m + 44 + 8 * i, 8, e);
	}
	assert_vector(m + 108, 18, tail);
}

/* Walks MADT entries: CPU order, entry types by ID, NMI entries (spec §5 #15). */
static void check_madt(const char *topo, size_t want_len)
{
	struct topo_layout l = layout(topo);
	static uint8_t m[8192];
	int len = acpi_build_madt(m, sizeof(m), &l);
	unsigned cpu = 0, ioapic = 0, nmi = 0, x2nmi = 0, n0 = 0, n9 = 0;

	cr_assert_eq(len, (int)want_len, "%s: MADT %d bytes", topo, len);
	assert_header(m, "APIC", want_len, 5);
	cr_assert_eq(le_get32(m + 36), 0xFEE00000);
	cr_assert_eq(le_get32(m + 40), 0, "flags 0: HW-reduced, no PCAT_COMPAT");
	for (size_t off = 44; off < (size_t)len;) {
		const uint8_t *e = m + off;

		cr_assert_geq(e[1], 2);
		switch (e[0]) {
		case 0:
			cr_assert_eq(e[1], 8);
			cr_assert_lt(topo_apic_id(&l, cpu), 255);
			cr_assert_eq(e[3], topo_apic_id(&l, cpu), "CPU %u", cpu);
			cr_assert_neq(e[3], 0xFF);
			cr_assert_eq(e[2], cpu);
			cr_assert_eq(le_get32(e + 4), 1);
			cpu++;
			n0++;
			break;
		case 9:
			cr_assert_eq(e[1], 16);
			cr_assert_geq(topo_apic_id(&l, cpu), 255);
			cr_assert_eq(le_get32(e + 4), topo_apic_id(&l, cpu), "CPU %u", cpu);
			cr_assert_eq(le_get32(e + 8), 1);
			cr_assert_eq(le_get32(e + 12), cpu);
			cpu++;
			n9++;
			break;
		case 1:
			cr_assert_eq(e[1], 12);
			cr_assert_eq(le_get32(e + 4), 0xFEC00000);
			cr_assert_eq(le_get32(e + 8), 0);
			ioapic++;
			break;
		case 4:
			cr_assert_eq(e[1], 6);
			cr_assert_eq(e[2], 0xFF);
			cr_assert_eq(e[5], 1);
			nmi++;
			break;
		case 0xA:
			cr_assert_eq(e[1], 12);
			cr_assert_eq(le_get32(e + 4), 0xFFFFFFFF);
			cr_assert_eq(e[8], 1);
			x2nmi++;
			break;
		default:
			cr_assert_fail("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	cr_assert_eq(cpu, l.nr_cpus);
	cr_assert_eq(ioapic, 1);
	cr_assert_eq(nmi, n0 ? 1u : 0u);
	cr_assert_eq(x2nmi, n9 ? 1u : 0u);
}

/* spec §5 #15 */
Test(acpi, madt_sizes_and_entry_types)
{
	check_madt("1n1l1c1t", 70);
	check_madt("1n2l2c2t", 126);
	check_madt("2n2l2c1t", 94);
	check_madt("1n4l8c2t", 574);
	check_madt("1n14l9c2t", 2954);
}

Test(acpi, madt_1n14l9c2t_counts)
{
	struct topo_layout l = layout("1n14l9c2t");
	static uint8_t m[8192];
	unsigned t0 = 0, t9 = 0;
	int len = acpi_build_madt(m, sizeof(m), &l);

	for (int off = 44; off < len; off += m[off + 1]) {
		t0 += m[off] == 0;
		t9 += m[off] == 9;
	}
	cr_assert_eq(t0, 144);
	cr_assert_eq(t9, 108);
}

static struct memmap mk_mm(uint64_t ram, unsigned nodes)
{
	char err[TOPO_ERR_LEN] = "";
	struct memmap mm;

	cr_assert_eq(memmap_build(&mm, ram, nodes, 0, false, err, sizeof(err)), 0, "%s", err);
	return mm;
}

/* spec §5 #16 */
Test(acpi, srat_cpu_and_memory_affinity)
{
	struct topo_layout l = layout("2n4l2c2t");
	struct memmap mm = mk_mm(5 * MEMMAP_GiB, 2);
	static uint8_t s[4096];
	int len = acpi_build_srat(s, sizeof(s), &l, &mm);
	size_t want = 48 + 24 * 16 + 40 * mm.nr_numa;
	uint64_t covered = 0;
	const uint8_t *e;

	cr_assert_eq(len, (int)want);
	assert_header(s, "SRAT", want, 3);
	cr_assert_eq(le_get32(s + 36), 1);
	cr_assert_eq(le_get64(s + 40), 0);
	e = s + 48;
	for (unsigned cpu = 0; cpu < 16; cpu++, e += 24) {
		cr_assert_eq(e[0], 2);
		cr_assert_eq(e[1], 24);
		cr_assert_eq(le_get32(e + 4), cpu / 8, "CPU %u node", cpu);
		cr_assert_eq(le_get32(e + 8), topo_apic_id(&l, cpu));
		cr_assert_eq(le_get32(e + 12), 1);
	}
	for (unsigned i = 0; i < mm.nr_numa; i++, e += 40) {
		uint64_t base = le_get64(e + 8), size = le_get64(e + 16);

		cr_assert_eq(e[0], 1);
		cr_assert_eq(e[1], 40);
		cr_assert_eq(le_get32(e + 28), 1, "enabled");
		cr_assert(base + size <= MEMMAP_HOLE_START || base >= MEMMAP_HOLE_END,
			  "split at the hole");
		/* node 0 owns RAM [0, 2.5 GiB), node 1 the rest */
		cr_assert_eq(le_get32(e + 2), base < 2560 * MEMMAP_MiB ? 0u : 1u);
		covered += size;
	}
	/* Covers E820 RAM exactly (well within Linux's 1 MiB tolerance). */
	cr_assert_eq(covered, memmap_e820_ram_total(&mm));
}

/* spec §5 #16: the 48-byte two-node vector. */
Test(acpi, slit_vector_two_nodes)
{
	static const uint8_t want[48] = {
		0x53, 0x4C, 0x49, 0x54, 0x30, 0x00, 0x00, 0x00, 0x01, 0xD5, 0x4B, 0x54,
		0x53, 0x54, 0x52, 0x20, 0x4B, 0x54, 0x53, 0x54, 0x52, 0x53, 0x4C, 0x49,
		0x01, 0x00, 0x00, 0x00, 0x4B, 0x54, 0x53, 0x54, 0x01, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x14, 0x14, 0x0A,
	};
	uint8_t s[64];

	cr_assert_eq(acpi_build_slit(s, sizeof(s), 2, NULL), 48);
	assert_vector(s, 48, want);
}

/* spec §5 #16 */
Test(acpi, slit_default_and_custom_matrices)
{
	const uint8_t custom[9] = {10, 15, 30, 15, 10, 20, 30, 20, 10};
	uint8_t s[128];
	int len = acpi_build_slit(s, sizeof(s), 4, NULL);

	cr_assert_eq(len, 44 + 16);
	for (unsigned i = 0; i < 4; i++)
		for (unsigned j = 0; j < 4; j++)
			cr_assert_eq(s[44 + 4 * i + j], i == j ? 10 : 20);
	cr_assert_eq(acpi_build_slit(s, sizeof(s), 3, custom), 53);
	cr_assert_eq(memcmp(s + 44, custom, 9), 0);
	cr_assert_eq(acpi_sum(s, 53), 0);
}

/* spec §5 #16: invalid distance matrices are refused. */
Test(acpi, slit_rejects_invalid_distance_matrix)
{
	const uint8_t diag[4] = {11, 20, 20, 10};
	const uint8_t low[4] = {10, 10, 10, 10};
	const uint8_t asym[4] = {10, 20, 21, 10};
	const uint8_t unreachable[4] = {10, 0xFF, 0xFF, 10};
	const uint8_t ok[4] = {10, 11, 11, 10};
	uint8_t s[128];

	cr_assert_eq(acpi_build_slit(s, sizeof(s), 2, diag), -EINVAL);
	cr_assert_eq(acpi_build_slit(s, sizeof(s), 2, low), -EINVAL);
	cr_assert_eq(acpi_build_slit(s, sizeof(s), 2, asym), -EINVAL);
	cr_assert_eq(acpi_build_slit(s, sizeof(s), 2, unreachable), -EINVAL);
	cr_assert_eq(acpi_build_slit(s, sizeof(s), 2, ok), 48);
	cr_assert_eq(acpi_build_slit(s, sizeof(s), 0, NULL), -EINVAL);
}

static uint8_t window[ACPI_WINDOW_END - ACPI_RSDP_ADDR];

static const uint8_t *table_at(uint64_t gpa)
{
	cr_assert_geq(gpa, ACPI_RSDP_ADDR);
	cr_assert_lt(gpa, ACPI_WINDOW_END);
	return window + (gpa - ACPI_RSDP_ADDR);
}

/* Builds the whole set and follows the pointers the way ACPICA does. */
static size_t build_all(const char *topo, uint64_t ram, unsigned ndev, const char *const *sigs,
			unsigned nsig)
{
	char err[TOPO_ERR_LEN] = "";
	struct topo_layout l = layout(topo);
	struct memmap mm = mk_mm(ram, l.topo.nodes);
	struct acpi_virtio_dev devs[8];
	struct acpi_config cfg = {.layout = &l, .mm = &mm, .virtio = devs, .nr_virtio = ndev};
	const uint8_t *xsdt, *fadt, *dsdt;
	size_t used = 0;

	for (unsigned i = 0; i < ndev; i++)
		devs[i] = (struct acpi_virtio_dev){MEMMAP_VIRTIO_BASE + i * MEMMAP_VIRTIO_STRIDE,
						   0x1000, ACPI_VIRTIO_GSI_FIRST + i};
	cr_assert_eq(acpi_build(&cfg, window, sizeof(window), &used, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_leq(used, sizeof(window));
	cr_assert_eq(memcmp(window, "RSD PTR ", 8), 0);
	cr_assert_eq(acpi_sum(window, 20), 0);
	cr_assert_eq(acpi_sum(window, 36), 0);
	xsdt = table_at(le_get64(window + 24));
	cr_assert_eq(le_get64(window + 24) % 8, 0);
	assert_header(xsdt, "XSDT", 36 + 8 * nsig, 1);
	for (unsigned i = 0; i < nsig; i++) {
		uint64_t gpa = le_get64(xsdt + 36 + 8 * i);
		const uint8_t *t = table_at(gpa);

		cr_assert_eq(gpa % 8, 0, "8-byte aligned");
		cr_assert_eq(memcmp(t, sigs[i], 4), 0, "XSDT[%u] is %.4s", i, (const char *)t);
		cr_assert_eq(acpi_sum(t, le_get32(t + 4)), 0);
		cr_assert_leq(gpa + le_get32(t + 4), ACPI_RSDP_ADDR + used);
	}
	fadt = table_at(le_get64(xsdt + 36));
	cr_assert_eq(le_get32(fadt + 40), le_get64(fadt + 140));
	dsdt = table_at(le_get64(fadt + 140));
	cr_assert_eq(memcmp(dsdt, "DSDT", 4), 0);
	cr_assert_eq(acpi_sum(dsdt, le_get32(dsdt + 4)), 0);
	return used;
}

Test(acpi, full_set_single_node_has_no_srat_or_slit)
{
	const char *const sigs[] = {"FACP", "APIC"};

	build_all("1n2l2c2t", 512 * MEMMAP_MiB, 0, sigs, 2);
	build_all("1n2l2c2t", 512 * MEMMAP_MiB, 3, sigs, 2);
}

Test(acpi, full_set_numa_adds_srat_and_slit)
{
	const char *const sigs[] = {"FACP", "APIC", "SRAT", "SLIT"};

	build_all("2n2l2c1t", 512 * MEMMAP_MiB, 1, sigs, 4);
	build_all("4n12l8c2t", 12 * MEMMAP_GiB, 8, sigs, 4);
}

/* §3.1: 252 CPUs need about 10 KiB; the window holds far more. */
Test(acpi, full_set_for_max_topology_fits_the_window)
{
	const char *const sigs[] = {"FACP", "APIC", "SRAT", "SLIT"};
	size_t used = build_all("8n8l64c2t", 16 * MEMMAP_GiB, 8, sigs, 4);

	cr_assert_lt(ACPI_RSDP_ADDR + used, ACPI_WINDOW_END);
	cr_assert_lt(ACPI_WINDOW_END, 0xFFFF0 + 1, "reset stub stays free");
}

Test(acpi, build_reports_overflow_and_bad_input)
{
	char err[TOPO_ERR_LEN] = "";
	struct topo_layout l = layout("2n2l2c1t");
	struct memmap mm = mk_mm(512 * MEMMAP_MiB, 2), mm1 = mk_mm(512 * MEMMAP_MiB, 1);
	const uint8_t bad[4] = {10, 5, 5, 10};
	struct acpi_config cfg = {.layout = &l, .mm = &mm};
	size_t used;

	cr_assert_eq(acpi_build(&cfg, window, 200, &used, err, sizeof(err)), -ENOSPC);
	cr_assert(strstr(err, "do not fit"), "%s", err);
	cfg.distances = bad;
	cr_assert_eq(acpi_build(&cfg, window, sizeof(window), &used, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "distance"), "%s", err);
	cfg.distances = NULL;
	cfg.mm = &mm1;
	cr_assert_eq(acpi_build(&cfg, window, sizeof(window), &used, err, sizeof(err)), -EINVAL);
}

/* spec §5 #22 */
Test(acpi, gsi_routes_are_ioapic_only_identity)
{
	struct kvm_irq_routing_entry e[32];

	cr_assert_eq(acpi_gsi_routes(e, 23), 0);
	cr_assert_eq(acpi_gsi_routes(e, 32), 24);
	for (unsigned i = 0; i < 24; i++) {
		cr_assert_eq(e[i].gsi, i);
		cr_assert_eq(e[i].type, KVM_IRQ_ROUTING_IRQCHIP);
		cr_assert_eq(e[i].u.irqchip.irqchip, KVM_IRQCHIP_IOAPIC);
		cr_assert_neq(e[i].u.irqchip.irqchip, KVM_IRQCHIP_PIC_MASTER);
		cr_assert_neq(e[i].u.irqchip.irqchip, KVM_IRQCHIP_PIC_SLAVE);
		cr_assert_eq(e[i].u.irqchip.pin, i);
		cr_assert_eq(e[i].flags, 0);
	}
}

Test(acpi, reset_and_poweroff_conventions)
{
	cr_assert(acpi_is_reset_write(0x64, 0xFE));
	cr_assert_not(acpi_is_reset_write(0x64, 0xFF));
	cr_assert_not(acpi_is_reset_write(0x60, 0xFE));
	/* (SLP_TYP 5 << 2) | SLP_EN = 0x34 powers off; 0x14 lacks SLP_EN. */
	cr_assert(acpi_is_poweroff_write(0x600, (ACPI_S5_SLP_TYP << 2) | ACPI_SLP_EN));
	cr_assert_eq((ACPI_S5_SLP_TYP << 2) | ACPI_SLP_EN, 0x34);
	cr_assert_not(acpi_is_poweroff_write(0x600, 0x14));
	cr_assert_not(acpi_is_poweroff_write(0x601, 0x34));
}

/* spec §5 #17: disassemble every table with iasl when it is installed. */
Test(acpi, iasl_disassembles_without_errors)
{
	const char *const sigs[] = {"FACP", "APIC", "SRAT", "SLIT"};
	char dir[] = "/tmp/ktstr-acpi-XXXXXX", cmd[512];
	const uint8_t *xsdt;
	const uint8_t *tabs[6];
	unsigned nt = 0;

	if (system("command -v iasl >/dev/null 2>&1") != 0) {
		/* Not cr_log_warn: with a skip it turns Criterion's exit status into 1. */
		fprintf(stderr, "WARNING: iasl not installed (acpica-tools): skipping the "
				"disassembly check\n");
		cr_skip_test("iasl not installed");
	}
	build_all("2n4l3c2t", 5 * MEMMAP_GiB, 2, sigs, 4);
	cr_assert_not_null(mkdtemp(dir));
	xsdt = table_at(le_get64(window + 24));
	tabs[nt++] = xsdt;
	for (unsigned i = 0; i < 4; i++)
		tabs[nt++] = table_at(le_get64(xsdt + 36 + 8 * i));
	tabs[nt++] = table_at(le_get64(tabs[1] + 140));
	for (unsigned i = 0; i < nt; i++) {
		char path[256];
		FILE *f;
		int rc;

		snprintf(path, sizeof(path), "%s/t%u.dat", dir, i);
		f = fopen(path, "wb");
		cr_assert_not_null(f);
		cr_assert_eq(fwrite(tabs[i], 1, le_get32(tabs[i] + 4), f), le_get32(tabs[i] + 4));
		fclose(f);
		snprintf(cmd, sizeof(cmd),
			 "cd %s && iasl -d t%u.dat >t%u.log 2>&1 && "
			 "! grep -Eiq '^(Error|Warning)|[^a-z](error|warning) [0-9]' t%u.log "
			 "t%u.dsl",
			 dir, i, i, i, i);
		rc = system(cmd);
		cr_assert_eq(rc, 0, "iasl complained about %.4s (see %s/t%u.log)",
			     (const char *)tabs[i], dir, i);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(acpi, write_places_tables_in_guest_memory)
{
	char err[TOPO_ERR_LEN] = "";
	struct topo_layout l = layout("2n2l2c1t");
	struct memmap mm = mk_mm(512 * MEMMAP_MiB, 2);
	struct acpi_config cfg = {.layout = &l, .mm = &mm};
	uint8_t *ram = aligned_alloc(4096, 2 * MEMMAP_MiB);
	struct gm *gm = gm_new(), *small = gm_new();
	const uint8_t *xsdt;

	cr_assert(ram && gm && small);
	memset(ram, 0xAA, 2 * MEMMAP_MiB);
	cr_assert_eq(gm_add_region(gm, 0, 2 * MEMMAP_MiB, ram), 0);
	cr_assert_eq(acpi_write(gm, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(memcmp(ram + ACPI_RSDP_ADDR, "RSD PTR ", 8), 0);
	cr_assert_eq(acpi_sum(ram + ACPI_RSDP_ADDR, 36), 0);
	xsdt = ram + le_get64(ram + ACPI_RSDP_ADDR + 24);
	cr_assert_eq(memcmp(xsdt, "XSDT", 4), 0);
	cr_assert_eq(le_get32(xsdt + 4), 36 + 4 * 8);
	cr_assert_eq(ram[0xFFFF0], 0xAA, "the reset-stub bytes are left alone");
	/* RAM that ends inside the window: refused, nothing half-written. */
	cr_assert_eq(gm_add_region(small, 0, 0xE0100, ram), 0);
	memset(ram, 0, 2 * MEMMAP_MiB);
	cr_assert_neq(acpi_write(small, &cfg, err, sizeof(err)), 0);
	cr_assert(strstr(err, "not guest RAM"), "%s", err);
	cr_assert_eq(ram[ACPI_RSDP_ADDR], 0);
	gm_put(gm);
	gm_put(small);
	free(ram);
}
