// SPDX-License-Identifier: MIT
/*
 * ACPI tables for a hardware-reduced guest (specs/vmm-x86.md §3; ACPI 6.5
 * §5.2). Layout in the window at 0xE0000: RSDP, XSDT, DSDT, FADT, MADT and,
 * with more than one node, SRAT and SLIT, each 8-byte aligned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "topo/topo.h"
#include "virtio/guestmem.h"
#include "vmm/acpi.h"
#include "vmm/aml.h"
#include "vmm/le.h"
#include "vmm/memmap.h"

#define ACPI_OEM_ID	 "KTSTR "
#define ACPI_CREATOR_ID	 "KTST"
#define ACPI_OEM_REV	 1u
#define ACPI_CREATOR_REV 1u

#define FADT_LEN   276u
#define FADT_REV   6u
#define FADT_MINOR 5u
/* HW_REDUCED_ACPI | RESET_REG_SUP | SLP_BUTTON | PWR_BUTTON */
#define FADT_FLAGS 0x00100430u
/* VGA not present | CMOS RTC not present; 8042 bit clear: Linux skips the i8042 probe. */
#define FADT_IAPC_BOOT	0x0024u
#define GAS_SYSTEM_IO	1u
#define GAS_ACCESS_BYTE 1u

#define MADT_REV	5u
#define MADT_LEN_LAPIC	8u
#define MADT_LEN_X2APIC 16u
#define MADT_LEN_IOAPIC 12u
#define MADT_LEN_NMI	6u
#define MADT_LEN_X2NMI	12u
#define SRAT_REV	3u
#define SRAT_LEN_X2APIC 24u
#define SRAT_LEN_MEM	40u
#define SLIT_REV	1u
#define DSDT_REV	2u
#define XSDT_REV	1u

#define ACPI_ENABLED 1u

uint8_t acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

void acpi_set_checksum(uint8_t *table, size_t len, size_t csum_off)
{
	table[csum_off] = 0;
	table[csum_off] = (uint8_t)(0x100 - acpi_sum(table, len));
}

/*
 * Common 36-byte header (§3.2). OEM table id = "KTSTR" + the first three
 * signature letters, unless the caller names one.
 */
static void acpi_header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev,
			const char *table_id)
{
	char id[9];

	if (!table_id) {
		snprintf(id, sizeof(id), "KTSTR%.3s", sig);
		table_id = id;
	}
	memset(t, 0, ACPI_HEADER_LEN);
	memcpy(t, sig, 4);
	le_put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, table_id, 8);
	le_put32(t + 24, ACPI_OEM_REV);
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	le_put32(t + 32, ACPI_CREATOR_REV);
}

/* Header + zeroed body of `len` bytes, or -ENOSPC. */
static int acpi_table_start(uint8_t *buf, size_t cap, const char sig[4], size_t len, uint8_t rev,
			    const char *table_id)
{
	if (len > cap || len > UINT32_MAX)
		return -ENOSPC;
	memset(buf, 0, len);
	acpi_header(buf, sig, (uint32_t)len, rev, table_id);
	return 0;
}

static int acpi_table_finish(uint8_t *buf, size_t len)
{
	acpi_set_checksum(buf, len, 9);
	return (int)len;
}

int acpi_build_rsdp(uint8_t *buf, size_t cap, uint64_t xsdt_gpa)
{
	if (cap < ACPI_RSDP_LEN)
		return -ENOSPC;
	memset(buf, 0, ACPI_RSDP_LEN);
	memcpy(buf, "RSD PTR ", 8);
	memcpy(buf + 9, ACPI_OEM_ID, 6);
	buf[15] = 2; /* ACPI 2.0+: XSDT is used, RsdtAddress may stay 0 */
	le_put32(buf + 20, ACPI_RSDP_LEN);
	le_put64(buf + 24, xsdt_gpa);
	acpi_set_checksum(buf, 20, 8);		   /* ACPI 1.0 part */
	acpi_set_checksum(buf, ACPI_RSDP_LEN, 32); /* whole structure */
	return ACPI_RSDP_LEN;
}

int acpi_build_xsdt(uint8_t *buf, size_t cap, const uint64_t *tables, unsigned n)
{
	size_t len = ACPI_HEADER_LEN + 8ull * n;
	int ret = acpi_table_start(buf, cap, "XSDT", len, XSDT_REV, NULL);

	if (ret)
		return ret;
	for (unsigned i = 0; i < n; i++)
		le_put64(buf + ACPI_HEADER_LEN + 8 * i, tables[i]);
	return acpi_table_finish(buf, len);
}

static void gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = 8; /* bit width */
	g[2] = 0; /* bit offset */
	g[3] = GAS_ACCESS_BYTE;
	le_put64(g + 4, port);
}

int acpi_build_fadt(uint8_t *buf, size_t cap, uint64_t dsdt_gpa)
{
	int ret = acpi_table_start(buf, cap, "FACP", FADT_LEN, FADT_REV, NULL);

	if (ret)
		return ret;
	if (dsdt_gpa > UINT32_MAX)
		return -EINVAL;
	/* Both DSDT fields, or ACPICA complains about a 32/64-bit mismatch. */
	le_put32(buf + 40, (uint32_t)dsdt_gpa);
	le_put16(buf + 109, FADT_IAPC_BOOT);
	le_put32(buf + 112, FADT_FLAGS);
	gas_io8(buf + 116, ACPI_RESET_PORT);
	buf[128] = ACPI_RESET_VALUE;
	buf[131] = FADT_MINOR;
	le_put64(buf + 140, dsdt_gpa);
	gas_io8(buf + 244, ACPI_SLEEP_CTL_PORT);
	gas_io8(buf + 256, ACPI_SLEEP_STS_PORT);
	memcpy(buf + 268, "KTSTRKVM", 8);
	return acpi_table_finish(buf, FADT_LEN);
}

static size_t madt_len(const struct topo_layout *l, bool *any_lapic, bool *any_x2)
{
	size_t len = ACPI_HEADER_LEN + 8 + MADT_LEN_IOAPIC;

	*any_lapic = *any_x2 = false;
	for (unsigned cpu = 0; cpu < l->nr_cpus; cpu++) {
		bool x2 = topo_apic_id(l, cpu) >= 255;

		len += x2 ? MADT_LEN_X2APIC : MADT_LEN_LAPIC;
		*any_x2 |= x2;
		*any_lapic |= !x2;
	}
	return len + (*any_lapic ? MADT_LEN_NMI : 0) + (*any_x2 ? MADT_LEN_X2NMI : 0);
}

int acpi_build_madt(uint8_t *buf, size_t cap, const struct topo_layout *l)
{
	bool any_lapic, any_x2;
	size_t len = madt_len(l, &any_lapic, &any_x2);
	uint8_t *p;
	int ret;

	ret = acpi_table_start(buf, cap, "APIC", len, MADT_REV, NULL);
	if (ret)
		return ret;
	le_put32(buf + 36, (uint32_t)MEMMAP_LAPIC_BASE);
	le_put32(buf + 40, 0); /* no PCAT_COMPAT: there is no 8259 in the HW-reduced model */
	p = buf + 44;
	/* Linux numbers CPUs in MADT order, type 0 and type 9 interleaved. */
	for (unsigned cpu = 0; cpu < l->nr_cpus; cpu++) {
		uint32_t id = topo_apic_id(l, cpu);

		if (id < 255) { /* 0xFF means "invalid" in a type-0 entry */
			p[0] = 0;
			p[1] = MADT_LEN_LAPIC;
			p[2] = (uint8_t)cpu;
			p[3] = (uint8_t)id;
			le_put32(p + 4, ACPI_ENABLED);
			p += MADT_LEN_LAPIC;
		} else {
			p[0] = 9;
			p[1] = MADT_LEN_X2APIC;
			le_put32(p + 4, id);
			le_put32(p + 8, ACPI_ENABLED);
			le_put32(p + 12, cpu);
			p += MADT_LEN_X2APIC;
		}
	}
	p[0] = 1;
	p[1] = MADT_LEN_IOAPIC;
	p[2] = ACPI_IOAPIC_ID;
	le_put32(p + 4, (uint32_t)MEMMAP_IOAPIC_BASE);
	le_put32(p + 8, 0); /* GSI base */
	p += MADT_LEN_IOAPIC;
	if (any_lapic) { /* LINT1 = NMI on every processor */
		p[0] = 4;
		p[1] = MADT_LEN_NMI;
		p[2] = 0xFF;
		p[5] = 1;
		p += MADT_LEN_NMI;
	}
	if (any_x2) {
		p[0] = 0xA;
		p[1] = MADT_LEN_X2NMI;
		le_put32(p + 4, 0xFFFFFFFFu);
		p[8] = 1;
	}
	return acpi_table_finish(buf, len);
}

int acpi_build_srat(uint8_t *buf, size_t cap, const struct topo_layout *l, const struct memmap *mm)
{
	size_t len = ACPI_HEADER_LEN + 12 + (size_t)SRAT_LEN_X2APIC * l->nr_cpus +
		     (size_t)SRAT_LEN_MEM * mm->nr_numa;
	uint8_t *p;
	int ret;

	ret = acpi_table_start(buf, cap, "SRAT", len, SRAT_REV, NULL);
	if (ret)
		return ret;
	le_put32(buf + 36, 1); /* reserved, must be 1 for compatibility */
	p = buf + 48;
	/* Type 2 for every CPU: valid for any ID once the APIC driver accepts it (§3.7). */
	for (unsigned cpu = 0; cpu < l->nr_cpus; cpu++) {
		struct topo_cpu c;

		topo_cpu_decompose(&l->topo, cpu, &c);
		p[0] = 2;
		p[1] = SRAT_LEN_X2APIC;
		le_put32(p + 4, c.node);
		le_put32(p + 8, topo_apic_id(l, cpu));
		le_put32(p + 12, ACPI_ENABLED);
		p += SRAT_LEN_X2APIC;
	}
	for (unsigned i = 0; i < mm->nr_numa; i++) {
		p[0] = 1;
		p[1] = SRAT_LEN_MEM;
		le_put32(p + 2, mm->numa[i].node);
		le_put64(p + 8, mm->numa[i].gpa);
		le_put64(p + 16, mm->numa[i].size);
		le_put32(p + 28, ACPI_ENABLED);
		p += SRAT_LEN_MEM;
	}
	return acpi_table_finish(buf, len);
}

int acpi_check_distances(unsigned nodes, const uint8_t *d)
{
	for (unsigned i = 0; i < nodes; i++) {
		for (unsigned j = 0; j < nodes; j++) {
			uint8_t v = d[i * nodes + j];

			/* Linux's slit_valid(): 10 on the diagonal, more elsewhere. */
			if (i == j ? v != 10 : v <= 10 || v == 0xFF)
				return -EINVAL;
			if (v != d[j * nodes + i])
				return -EINVAL;
		}
	}
	return 0;
}

int acpi_build_slit(uint8_t *buf, size_t cap, unsigned nodes, const uint8_t *distances)
{
	size_t len = ACPI_HEADER_LEN + 8 + (size_t)nodes * nodes;
	uint8_t *m;
	int ret;

	if (!nodes || nodes > TOPO_MAX_NODES)
		return -EINVAL;
	if (distances && acpi_check_distances(nodes, distances))
		return -EINVAL;
	ret = acpi_table_start(buf, cap, "SLIT", len, SLIT_REV, NULL);
	if (ret)
		return ret;
	le_put64(buf + 36, nodes);
	m = buf + 44;
	for (unsigned i = 0; i < nodes; i++)
		for (unsigned j = 0; j < nodes; j++)
			m[i * nodes + j] = distances ? distances[i * nodes + j] : i == j ? 10 : 20;
	return acpi_table_finish(buf, len);
}

/* Device(COMn): a 16550 the 8250_pnp driver claims, with its IRQ through the IOAPIC. */
static void dsdt_com(struct aml *a, const char *name, unsigned uid, uint16_t port, uint32_t gsi)
{
	size_t dev, res;

	dev = aml_device_open(a, name);
	aml_name(a, "_HID");
	aml_eisaid_integer(a, "PNP0501");
	aml_name(a, "_UID");
	aml_integer(a, uid);
	aml_name(a, "_CRS");
	res = aml_buffer_open(a);
	aml_res_io(a, port, port, 1, 8);
	aml_res_interrupt(a, true, gsi);
	aml_res_end(a);
	aml_buffer_close(a, res);
	aml_close(a, dev);
}

/* Device(VRnn): virtio-mmio window, bound by Linux's virtio_mmio ACPI match (LNRO0005). */
static void dsdt_virtio(struct aml *a, unsigned idx, const struct acpi_virtio_dev *d, bool level)
{
	char name[5] = {'V', 'R', (char)('0' + idx / 10 % 10), (char)('0' + idx % 10), 0};
	size_t dev, res;

	dev = aml_device_open(a, name);
	aml_name(a, "_HID");
	aml_string(a, "LNRO0005");
	aml_name(a, "_UID");
	aml_integer(a, idx);
	aml_name(a, "_CRS");
	res = aml_buffer_open(a);
	aml_res_memory32_fixed(a, true, (uint32_t)d->base, d->size);
	aml_res_interrupt(a, !level, d->gsi);
	aml_res_end(a);
	aml_buffer_close(a, res);
	aml_close(a, dev);
}

static int check_virtio(const struct acpi_virtio_dev *devs, unsigned n)
{
	if (n > ACPI_MAX_VIRTIO_DEVS || (n && !devs))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		const struct acpi_virtio_dev *d = &devs[i];

		if (!d->size || d->base > UINT32_MAX || d->size > UINT32_MAX - d->base ||
		    d->gsi >= ACPI_IOAPIC_PINS)
			return -EINVAL;
	}
	return 0;
}

int acpi_build_dsdt(uint8_t *buf, size_t cap, const struct acpi_virtio_dev *devs, unsigned n,
		    bool level)
{
	struct aml a;
	size_t scope, pkg;

	if (check_virtio(devs, n))
		return -EINVAL;
	if (cap < ACPI_HEADER_LEN)
		return -ENOSPC;
	aml_init(&a, buf + ACPI_HEADER_LEN, cap - ACPI_HEADER_LEN);
	scope = aml_scope_open(&a, "\\_SB");
	dsdt_com(&a, "COM1", 1, 0x3F8, ACPI_COM1_GSI);
	dsdt_com(&a, "COM2", 2, 0x2F8, ACPI_COM2_GSI);
	for (unsigned i = 0; i < n; i++)
		dsdt_virtio(&a, i, &devs[i], level);
	aml_close(&a, scope);
	/* \_S5 = {SLP_TYPa 5, SLP_TYPb 0, reserved 0, 0}: enables acpi_power_off. */
	aml_name(&a, "\\_S5");
	pkg = aml_package_open(&a, 4);
	aml_integer(&a, ACPI_S5_SLP_TYP);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_close(&a, pkg);
	if (a.err)
		return a.err;
	acpi_header(buf, "DSDT", (uint32_t)(ACPI_HEADER_LEN + a.len), DSDT_REV, "KTSTRVM ");
	return acpi_table_finish(buf, ACPI_HEADER_LEN + a.len);
}

unsigned acpi_gsi_routes(struct kvm_irq_routing_entry *e, unsigned max)
{
	if (max < ACPI_IOAPIC_PINS)
		return 0;
	for (unsigned i = 0; i < ACPI_IOAPIC_PINS; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].gsi = i;
		e[i].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[i].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[i].u.irqchip.pin = i;
	}
	return ACPI_IOAPIC_PINS;
}

static size_t align8(size_t v)
{
	return (v + 7) & ~(size_t)7;
}

int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t buflen, size_t *used, char *err,
	       size_t errlen)
{
	const struct topo_layout *l = cfg->layout;
	unsigned nodes = l->topo.nodes, nt = 0;
	size_t xsdt_off, off;
	uint64_t tables[4], dsdt_gpa;
	int n;

	if (nodes > 1 && cfg->distances && acpi_check_distances(nodes, cfg->distances)) {
		topo_errf(err, errlen,
			  "ACPI: invalid NUMA distance matrix (need 10 on the "
			  "diagonal, > 10 elsewhere, symmetric)");
		return -EINVAL;
	}
	if (check_virtio(cfg->virtio, cfg->nr_virtio)) {
		topo_errf(err, errlen, "ACPI: invalid virtio-mmio device list (%u devices)",
			  cfg->nr_virtio);
		return -EINVAL;
	}
	if (cfg->mm->nr_nodes != nodes) {
		topo_errf(err, errlen, "ACPI: memory layout has %u nodes, topology %u",
			  cfg->mm->nr_nodes, nodes);
		return -EINVAL;
	}
	memset(buf, 0, buflen);
	/* RSDP and XSDT first (fixed sizes), filled in once the other addresses are known. */
	xsdt_off = align8(ACPI_RSDP_LEN);
	off = align8(xsdt_off + ACPI_HEADER_LEN + 8 * (nodes > 1 ? 4 : 2));
	if (off > buflen)
		goto nospace;

	n = acpi_build_dsdt(buf + off, buflen - off, cfg->virtio, cfg->nr_virtio,
			    cfg->virtio_level);
	if (n < 0)
		goto fail;
	dsdt_gpa = ACPI_RSDP_ADDR + off;
	off = align8(off + (size_t)n);

#define PLACE(call)                                  \
	do {                                         \
		if (off > buflen)                    \
			goto nospace;                \
		n = (call);                          \
		if (n < 0)                           \
			goto fail;                   \
		tables[nt++] = ACPI_RSDP_ADDR + off; \
		off = align8(off + (size_t)n);       \
	} while (0)

	PLACE(acpi_build_fadt(buf + off, buflen - off, dsdt_gpa));
	PLACE(acpi_build_madt(buf + off, buflen - off, l));
	if (nodes > 1) {
		PLACE(acpi_build_srat(buf + off, buflen - off, l, cfg->mm));
		PLACE(acpi_build_slit(buf + off, buflen - off, nodes, cfg->distances));
	}
#undef PLACE
	n = acpi_build_xsdt(buf + xsdt_off, buflen - xsdt_off, tables, nt);
	if (n < 0)
		goto fail;
	n = acpi_build_rsdp(buf, buflen, ACPI_RSDP_ADDR + xsdt_off);
	if (n < 0)
		goto fail;
	*used = off;
	return 0;
fail:
	if (n != -ENOSPC) {
		topo_errf(err, errlen, "ACPI: cannot build the tables (error %d)", n);
		return n;
	}
nospace:
	topo_errf(err, errlen, "ACPI: tables for %u CPUs and %u devices do not fit in %zu bytes",
		  l->nr_cpus, cfg->nr_virtio, buflen);
	return -ENOSPC;
}

int acpi_write(struct gm *gm, const struct acpi_config *cfg, char *err, size_t errlen)
{
	size_t used, cap = ACPI_WINDOW_END - ACPI_RSDP_ADDR;
	uint8_t *window = malloc(cap);
	int ret;

	if (!window) {
		topo_errf(err, errlen, "ACPI: out of memory");
		return -ENOMEM;
	}
	ret = acpi_build(cfg, window, cap, &used, err, errlen);
	if (!ret) {
		ret = gm_write(gm, ACPI_RSDP_ADDR, window, used);
		if (ret)
			topo_errf(err, errlen, "ACPI: window 0x%llx+%zu is not guest RAM",
				  (unsigned long long)ACPI_RSDP_ADDR, used);
	}
	free(window);
	return ret;
}
