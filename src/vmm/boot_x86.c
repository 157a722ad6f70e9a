// SPDX-License-Identifier: MIT
/*
 * Linux x86 boot protocol, 64-bit entry (specs/vmm-x86.md §1; upstream
 * Documentation/arch/x86/boot.rst and zero-page.rst).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/compiler.h"
#include "topo/topo.h"
#include "virtio/guestmem.h"
#include "vmm/boot_x86.h"
#include "vmm/le.h"
#include "vmm/memmap.h"

/* Setup-header file offsets (§1.1). */
#define HDR_SETUP_SECTS	     0x1F1u
#define HDR_SYSSIZE	     0x1F4u
#define HDR_BOOT_FLAG	     0x1FEu
#define HDR_JUMP_LEN	     0x201u
#define HDR_MAGIC	     0x202u
#define HDR_VERSION	     0x206u
#define HDR_LOADFLAGS	     0x211u
#define HDR_INITRD_ADDR_MAX  0x22Cu
#define HDR_KERNEL_ALIGNMENT 0x230u
#define HDR_RELOCATABLE	     0x234u
#define HDR_MIN_ALIGNMENT    0x235u
#define HDR_XLOADFLAGS	     0x236u
#define HDR_CMDLINE_SIZE     0x238u
#define HDR_PREF_ADDRESS     0x258u
#define HDR_INIT_SIZE	     0x260u
/* The copy stops before edd_mbr_sig_buffer, whatever byte 0x201 claims. */
#define HDR_COPY_LIMIT 0x290u
/* Smallest file that holds every field we read (init_size ends at 0x264). */
#define HDR_MIN_FILE 0x270u

#define BOOT_FLAG_MAGIC 0xAA55u
#define HDR_MAGIC_HDRS	0x53726448u /* "HdrS" */
#define HDR_MIN_VERSION 0x020Cu	    /* 2.12: xloadflags */
#define PAGE_SIZE_4K	4096ull

/* Page-table entry bits (§1.6). */
#define PTE_PRESENT  0x001ull
#define PTE_WRITABLE 0x002ull
#define PTE_PS	     0x080ull

/* Protocol layout and zero-page offsets the spec fixes (§1.4, §5 test 4). */
_Static_assert(sizeof(struct boot_params) == 4096, "zero page is one page");
_Static_assert(sizeof(struct boot_e820_entry) == 20, "E820 entries are packed");
_Static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0C0, "ext_ramdisk_image");
_Static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0C8, "ext_cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1E8, "e820_entries");
_Static_assert(offsetof(struct boot_params, sentinel) == 0x1EF, "sentinel");
_Static_assert(offsetof(struct boot_params, hdr) == HDR_SETUP_SECTS, "setup header");
_Static_assert(offsetof(struct boot_params, hdr.type_of_loader) == 0x210, "type_of_loader");
_Static_assert(offsetof(struct boot_params, hdr.ramdisk_image) == 0x218, "ramdisk_image");
_Static_assert(offsetof(struct boot_params, hdr.cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2D0, "e820_table");
_Static_assert(BOOT_RESET_VECTOR >= 0xE0000 && BOOT_RESET_VECTOR + BOOT_RESET_STUB_LEN <= 0x100000,
	       "reset stub inside the reserved BIOS window");

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int boot_parse_bzimage(const void *img, size_t len, struct boot_image *out, char *err,
		       size_t errlen)
{
	const uint8_t *p = img;
	struct boot_image bi = {.image = img, .image_len = len};
	unsigned sects;
	uint64_t sys_bytes;

	if (!img || len < HDR_MIN_FILE) {
		topo_errf(err, errlen, "bzImage: file is %zu bytes, too small for a setup header",
			  len);
		return -ENOEXEC;
	}
	if (le_get16(p + HDR_BOOT_FLAG) != BOOT_FLAG_MAGIC) {
		topo_errf(err, errlen, "bzImage: boot_flag is 0x%04X, expected 0xAA55",
			  le_get16(p + HDR_BOOT_FLAG));
		return -ENOEXEC;
	}
	if (le_get32(p + HDR_MAGIC) != HDR_MAGIC_HDRS) {
		topo_errf(err, errlen,
			  "bzImage: no \"HdrS\" signature (kernel too old or not a "
			  "bzImage)");
		return -ENOEXEC;
	}
	bi.version = le_get16(p + HDR_VERSION);
	if (bi.version < HDR_MIN_VERSION) {
		topo_errf(err, errlen,
			  "bzImage: boot protocol %u.%02u, at least 2.12 is needed for the 64-bit "
			  "entry",
			  bi.version >> 8, bi.version & 0xFF);
		return -ENOEXEC;
	}

	sects = p[HDR_SETUP_SECTS];
	if (!sects)
		sects = 4; /* boot.rst: a zero setup_sects means 4 */
	bi.setup_sects = (uint8_t)sects;
	bi.payload_offset = (sects + 1) * 512;
	if (bi.payload_offset >= len) {
		topo_errf(err, errlen,
			  "bzImage: setup_sects %u puts the kernel at offset 0x%X, past the end of "
			  "the %zu-byte file",
			  sects, bi.payload_offset, len);
		return -ENOEXEC;
	}
	bi.payload_len = len - bi.payload_offset;
	bi.syssize = le_get32(p + HDR_SYSSIZE);
	sys_bytes = (uint64_t)bi.syssize * 16;
	if (sys_bytes > bi.payload_len) {
		topo_errf(
			err, errlen,
			"bzImage: syssize says %llu bytes of kernel but only %zu follow the setup "
			"code (truncated file?)",
			(unsigned long long)sys_bytes, bi.payload_len);
		return -ENOEXEC;
	}

	bi.loadflags = p[HDR_LOADFLAGS];
	if (!(bi.loadflags & LOADED_HIGH)) {
		topo_errf(err, errlen, "bzImage: LOADED_HIGH clear (a zImage, not a bzImage)");
		return -ENOEXEC;
	}
	bi.xloadflags = le_get16(p + HDR_XLOADFLAGS);
	if (!(bi.xloadflags & XLF_KERNEL_64)) {
		topo_errf(err, errlen, "bzImage: no 64-bit entry point (XLF_KERNEL_64 clear)");
		return -ENOEXEC;
	}

	bi.relocatable = p[HDR_RELOCATABLE];
	bi.min_alignment = p[HDR_MIN_ALIGNMENT];
	bi.kernel_alignment = le_get32(p + HDR_KERNEL_ALIGNMENT);
	/*
	 * The decompressor rounds its target up to kernel_alignment: 0 would
	 * send it to 4 GiB, a non-power-of-two breaks the rounding.
	 */
	if (!bi.kernel_alignment || (bi.kernel_alignment & (bi.kernel_alignment - 1)) ||
	    bi.min_alignment > 31 || bi.kernel_alignment < (1u << bi.min_alignment)) {
		topo_errf(err, errlen,
			  "bzImage: kernel_alignment 0x%X is not a power of two >= 2^%u",
			  bi.kernel_alignment, bi.min_alignment);
		return -ENOEXEC;
	}
	bi.initrd_addr_max = le_get32(p + HDR_INITRD_ADDR_MAX);
	bi.cmdline_size = le_get32(p + HDR_CMDLINE_SIZE);
	bi.pref_address = le_get64(p + HDR_PREF_ADDRESS);
	bi.init_size = le_get32(p + HDR_INIT_SIZE);
	if (!bi.init_size) {
		topo_errf(err, errlen, "bzImage: init_size is 0");
		return -ENOEXEC;
	}
	/* payload_offset >= 0x400 > HDR_COPY_LIMIT, so the clamped end lies inside the file. */
	bi.hdr_end = MIN(0x202u + p[HDR_JUMP_LEN], HDR_COPY_LIMIT);
	*out = bi;
	return 0;
}

int boot_read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *b = NULL;
	size_t got = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		topo_errf(err, errlen, "cannot open '%s': %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		topo_errf(err, errlen, "cannot stat '%s': %s", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		topo_errf(err, errlen, "'%s' is not a regular file", path);
		goto out;
	}
	b = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!b) {
		ret = -ENOMEM;
		topo_errf(err, errlen, "'%s': out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			topo_errf(err, errlen, "read error on '%s'", path);
			free(b);
			b = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	*buf = b;
	*len = got;
	ret = 0;
out:
	close(fd);
	return ret;
}

uint64_t boot_kernel_window_end(const struct boot_image *bi)
{
	uint64_t start = bi->pref_address, end;

	/* pref_address comes from the file: saturate instead of wrapping to a small address. */
	if (bi->relocatable) {
		start = MAX(BOOT_KERNEL_LOAD, bi->pref_address);
		if (start > UINT64_MAX - bi->kernel_alignment)
			return UINT64_MAX;
		start = align_up(start, bi->kernel_alignment);
	}
	if (__builtin_add_overflow(start, (uint64_t)bi->init_size, &end))
		return UINT64_MAX;
	return end;
}

int boot_build_cmdline(const struct boot_image *bi, const char *s, size_t len, char *out,
		       size_t outlen, char *err, size_t errlen)
{
	if (len > bi->cmdline_size) {
		topo_errf(err, errlen,
			  "kernel command line is %zu bytes, this kernel accepts at most %u", len,
			  bi->cmdline_size);
		return -EINVAL;
	}
	if (len + 1 > outlen) {
		topo_errf(err, errlen, "kernel command line is %zu bytes, at most %zu fit", len,
			  outlen ? outlen - 1 : 0);
		return -EINVAL;
	}
	if (len && memchr(s, '\0', len)) {
		topo_errf(err, errlen, "kernel command line contains a NUL byte");
		return -EINVAL;
	}
	if (len)
		memcpy(out, s, len);
	out[len] = '\0';
	return (int)(len + 1);
}

int boot_place_initrd(const struct boot_image *bi, const struct memmap *mm, uint64_t size,
		      uint64_t *gpa, char *err, size_t errlen)
{
	uint64_t limit, floor_, start;

	if (!size) {
		*gpa = 0;
		return 0;
	}
	limit = MIN(memmap_low_ram_end(mm), (uint64_t)bi->initrd_addr_max + 1);
	floor_ = MAX(BOOT_KERNEL_LOAD + bi->payload_len, boot_kernel_window_end(bi));
	start = size <= limit ? (limit - size) & ~(PAGE_SIZE_4K - 1) : 0;
	if (size > limit || start < floor_) {
		topo_errf(err, errlen,
			  "initrd of %llu KiB does not fit: it must lie between the kernel's "
			  "window end 0x%llX and 0x%llX; give the VM more memory",
			  (unsigned long long)(size >> 10), (unsigned long long)floor_,
			  (unsigned long long)limit);
		return -ENOSPC;
	}
	*gpa = start;
	return 0;
}

int boot_build_zero_page(struct boot_params *zp, const struct boot_image *bi,
			 const struct boot_zp_args *a)
{
	uint8_t *raw = (uint8_t *)zp;

	if (a->nr_e820 > E820_MAX_ENTRIES_ZEROPAGE || (a->nr_e820 && !a->e820))
		return -EINVAL;
	/*
	 * D2: only the setup header comes from the image. In particular the
	 * image's sentinel (0xFF) must not survive, or the kernel's
	 * sanitize_boot_params() wipes acpi_rsdp_addr and the ext_* fields.
	 */
	memset(zp, 0, sizeof(*zp));
	memcpy(raw + HDR_SETUP_SECTS, bi->image + HDR_SETUP_SECTS, bi->hdr_end - HDR_SETUP_SECTS);
	zp->sentinel = 0;
	zp->acpi_rsdp_addr = a->rsdp_gpa;
	/* 0 would make reserve_initrd() ignore the ramdisk; 0xFF = "undefined loader". */
	zp->hdr.type_of_loader = 0xFF;
	zp->hdr.cmd_line_ptr = (uint32_t)a->cmdline_gpa;
	zp->ext_cmd_line_ptr = (uint32_t)(a->cmdline_gpa >> 32);
	zp->hdr.ramdisk_image = (uint32_t)a->initrd_gpa;
	zp->ext_ramdisk_image = (uint32_t)(a->initrd_gpa >> 32);
	zp->hdr.ramdisk_size = (uint32_t)a->initrd_size;
	zp->ext_ramdisk_size = (uint32_t)(a->initrd_size >> 32);
	zp->e820_entries = (uint8_t)a->nr_e820;
	if (a->nr_e820)
		memcpy(zp->e820_table, a->e820, a->nr_e820 * sizeof(a->e820[0]));
	return 0;
}

void boot_build_page_tables(uint64_t pt[BOOT_PT_SIZE / 8])
{
	uint64_t *pml4 = pt, *pdpt = pt + 512, *pd = pt + 1024;

	memset(pt, 0, BOOT_PT_SIZE);
	pml4[0] = BOOT_PDPT_ADDR | PTE_PRESENT | PTE_WRITABLE;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_ADDR + i * 0x1000ull) | PTE_PRESENT | PTE_WRITABLE;
	/* D1: 2 MiB pages only; 1 GiB pages need Page1GB, which qemu64 lacks. */
	for (uint64_t k = 0; k < 2048; k++)
		pd[k] = k << 21 | PTE_PRESENT | PTE_WRITABLE | PTE_PS;
}

void boot_build_gdt(uint64_t gdt[BOOT_GDT_ENTRIES])
{
	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = 0x00AF9B000000FFFFull; /* 64-bit code, DPL 0 */
	gdt[3] = 0x00CF93000000FFFFull; /* flat data, DPL 0 */
}

void boot_gdt_to_segment(uint64_t d, uint16_t selector, struct kvm_segment *seg)
{
	uint32_t limit = (uint32_t)((d & 0xFFFF) | ((d >> 48) & 0xF) << 16);

	memset(seg, 0, sizeof(*seg));
	seg->base = ((d >> 16) & 0xFFFFFF) | ((d >> 56) & 0xFF) << 24;
	seg->g = (d >> 55) & 1;
	seg->limit = seg->g ? limit << 12 | 0xFFF : limit;
	seg->selector = selector;
	seg->type = (d >> 40) & 0xF;
	seg->s = (d >> 44) & 1;
	seg->dpl = (d >> 45) & 3;
	seg->present = (d >> 47) & 1;
	seg->avl = (d >> 52) & 1;
	seg->l = (d >> 53) & 1;
	seg->db = (d >> 54) & 1;
	seg->unusable = !seg->present;
}

void boot_setup_sregs(struct kvm_sregs *s, bool x2apic)
{
	uint64_t gdt[BOOT_GDT_ENTRIES];
	struct kvm_segment data;

	boot_build_gdt(gdt);
	boot_gdt_to_segment(gdt[BOOT_CS_SELECTOR >> 3], BOOT_CS_SELECTOR, &s->cs);
	boot_gdt_to_segment(gdt[BOOT_DS_SELECTOR >> 3], BOOT_DS_SELECTOR, &data);
	s->ds = data;
	s->es = data;
	s->fs = data;
	s->gs = data;
	s->ss = data;
	s->gdt.base = BOOT_GDT_ADDR;
	s->gdt.limit = BOOT_GDT_ENTRIES * 8 - 1;
	s->idt.base = BOOT_IDT_ADDR;
	s->idt.limit = 7;
	/* Written outright: the reset CR0 carries CD/NW, which must not stay set. */
	s->cr0 = BOOT_CR0;
	s->cr3 = BOOT_PML4_ADDR;
	s->cr4 = BOOT_CR4;
	s->efer = BOOT_EFER;
	s->apic_base = x2apic ? BOOT_APIC_BASE_BSP_X2 : BOOT_APIC_BASE_BSP;
}

void boot_setup_regs(struct kvm_regs *r, uint64_t entry)
{
	memset(r, 0, sizeof(*r));
	r->rip = entry;
	r->rsi = BOOT_ZERO_PAGE; /* the one register the 64-bit protocol defines */
	r->rsp = BOOT_STACK_TOP;
	r->rbp = BOOT_STACK_TOP;
	r->rflags = 0x2; /* reserved bit 1; interrupts off */
}

void boot_setup_fpu(struct kvm_fpu *f)
{
	memset(f, 0, sizeof(*f));
	f->fcw = 0x37F;
	f->mxcsr = 0x1F80;
}

unsigned boot_msr_entries(struct kvm_msr_entry out[BOOT_MAX_MSRS], uint64_t misc_enable_reset,
			  bool bsp, bool x2apic)
{
	/* IA32_TSC is deliberately absent: writing it desynchronises the vCPU clocks. */
	static const uint32_t zeroed[] = {
		0x174,	    0x175,	0x176,	    /* SYSENTER_CS/ESP/EIP */
		0xC0000081, 0xC0000082, 0xC0000083, /* STAR, LSTAR, CSTAR */
		0xC0000084, 0xC0000102,		    /* SFMASK, KERNEL_GS_BASE */
	};
	unsigned n = 0;

	memset(out, 0, BOOT_MAX_MSRS * sizeof(*out));
	/* Keep KVM's "BTS/PEBS unavailable" bits, add fast strings. */
	out[n++] = (struct kvm_msr_entry){.index = BOOT_MSR_MISC_ENABLE,
					  .data = misc_enable_reset | 1};
	out[n++] =
		(struct kvm_msr_entry){.index = BOOT_MSR_MTRR_DEF_TYPE, .data = BOOT_MTRR_DEF_TYPE};
	for (unsigned i = 0; i < ARRAY_SIZE(zeroed); i++)
		out[n++] = (struct kvm_msr_entry){.index = zeroed[i]};
	/* The BSP gets apic_base through sregs; APs keep x2APIC mode across INIT. */
	if (!bsp && x2apic)
		out[n++] = (struct kvm_msr_entry){.index = BOOT_MSR_APIC_BASE,
						  .data = BOOT_APIC_BASE_AP_X2};
	return n;
}

#define LAPIC_LVT_LINT0 0x350u
#define LAPIC_LVT_LINT1 0x360u
#define LVT_MASKED	0x10000u
#define LVT_DM_NMI	0x400u
#define LVT_DM_EXTINT	0x700u

static void lapic_wr(struct kvm_lapic_state *l, unsigned off, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		l->regs[off + i] = (char)(v >> (8 * i));
}

void boot_lapic_patch(struct kvm_lapic_state *lapic, bool bsp, bool hw_reduced)
{
	if (bsp) {
		/*
		 * D9: in the HW-reduced design the never-initialised KVM PIC
		 * would inject IRQ n as vector n through an unmasked ExtINT.
		 */
		lapic_wr(lapic, LAPIC_LVT_LINT0, LVT_DM_EXTINT | (hw_reduced ? LVT_MASKED : 0));
		lapic_wr(lapic, LAPIC_LVT_LINT1, LVT_DM_NMI);
	} else {
		lapic_wr(lapic, LAPIC_LVT_LINT0, LVT_DM_EXTINT | LVT_MASKED);
		lapic_wr(lapic, LAPIC_LVT_LINT1, LVT_DM_NMI | LVT_MASKED);
	}
}

static int gm_put_bytes(struct gm *gm, uint64_t gpa, const void *src, size_t len, const char *what,
			char *err, size_t errlen)
{
	int ret = gm_write(gm, gpa, src, len);

	if (ret)
		topo_errf(err, errlen, "cannot write the %s (%zu bytes) at 0x%llx: not guest RAM",
			  what, len, (unsigned long long)gpa);
	return ret;
}

int boot_load(struct gm *gm, const struct memmap *mm, const struct boot_image *bi,
	      const void *initrd, size_t initrd_len, const char *cmdline, uint64_t rsdp_gpa,
	      struct boot_info *out, char *err, size_t errlen)
{
	/* Real-mode "mov al, 0xFE; out 0x64, al; hlt": a BIOS-style reboot lands on our reset port. */
	static const uint8_t reset_stub[BOOT_RESET_STUB_LEN] = {0xB0, 0xFE, 0xE6, 0x64, 0xF4};
	static const uint64_t idt_gate;
	uint64_t low_end = memmap_low_ram_end(mm), initrd_gpa = 0, gdt[BOOT_GDT_ENTRIES];
	struct boot_zp_args zpa;
	struct boot_params *zp = NULL;
	uint64_t *pt = NULL;
	char *cl = NULL;
	int ret, cl_len;

	memset(out, 0, sizeof(*out));
	out->kernel_end = boot_kernel_window_end(bi);
	if (BOOT_KERNEL_LOAD + bi->payload_len > low_end || out->kernel_end > low_end) {
		topo_errf(err, errlen,
			  "the kernel needs RAM up to 0x%llx (decompression window), the VM has "
			  "0x%llx below 4 GiB",
			  (unsigned long long)MAX(out->kernel_end,
						  BOOT_KERNEL_LOAD + bi->payload_len),
			  (unsigned long long)low_end);
		return -ENOSPC;
	}
	zp = calloc(1, sizeof(*zp));
	pt = malloc(BOOT_PT_SIZE);
	cl = malloc(BOOT_CMDLINE_MAX);
	if (!zp || !pt || !cl) {
		ret = -ENOMEM;
		topo_errf(err, errlen, "out of memory while loading the kernel");
		goto out;
	}

	cl_len = boot_build_cmdline(bi, cmdline ? cmdline : "", cmdline ? strlen(cmdline) : 0, cl,
				    BOOT_CMDLINE_MAX, err, errlen);
	if (cl_len < 0) {
		ret = cl_len;
		goto out;
	}
	ret = boot_place_initrd(bi, mm, initrd ? initrd_len : 0, &initrd_gpa, err, errlen);
	if (ret)
		goto out;

	zpa = (struct boot_zp_args){
		.cmdline_gpa = BOOT_CMDLINE_ADDR,
		.initrd_gpa = initrd_gpa,
		.initrd_size = initrd_gpa ? initrd_len : 0,
		.rsdp_gpa = rsdp_gpa,
		.e820 = mm->e820,
		.nr_e820 = mm->nr_e820,
	};
	ret = boot_build_zero_page(zp, bi, &zpa);
	if (ret) {
		topo_errf(err, errlen, "cannot build the zero page (%u E820 entries)", mm->nr_e820);
		goto out;
	}
	boot_build_page_tables(pt);
	boot_build_gdt(gdt);

	ret = gm_put_bytes(gm, BOOT_KERNEL_LOAD, bi->image + bi->payload_offset, bi->payload_len,
			   "kernel", err, errlen);
	if (!ret && initrd_gpa)
		ret = gm_put_bytes(gm, initrd_gpa, initrd, initrd_len, "initrd", err, errlen);
	if (!ret)
		ret = gm_put_bytes(gm, BOOT_CMDLINE_ADDR, cl, (size_t)cl_len, "command line", err,
				   errlen);
	if (!ret)
		ret = gm_put_bytes(gm, BOOT_ZERO_PAGE, zp, sizeof(*zp), "zero page", err, errlen);
	if (!ret)
		ret = gm_put_bytes(gm, BOOT_PML4_ADDR, pt, BOOT_PT_SIZE, "page tables", err,
				   errlen);
	if (!ret)
		ret = gm_put_bytes(gm, BOOT_GDT_ADDR, gdt, sizeof(gdt), "GDT", err, errlen);
	if (!ret)
		ret = gm_put_bytes(gm, BOOT_IDT_ADDR, &idt_gate, sizeof(idt_gate), "IDT", err,
				   errlen);
	if (!ret)
		ret = gm_put_bytes(gm, BOOT_RESET_VECTOR, reset_stub, sizeof(reset_stub),
				   "reset stub", err, errlen);
	if (ret)
		goto out;

	out->entry = BOOT_KERNEL_LOAD + BOOT_ENTRY_OFFSET;
	out->zero_page = BOOT_ZERO_PAGE;
	out->cmdline_gpa = BOOT_CMDLINE_ADDR;
	out->initrd_gpa = initrd_gpa;
	out->initrd_size = initrd_gpa ? initrd_len : 0;
out:
	free(zp);
	free(pt);
	free(cl);
	return ret;
}
