/* SPDX-License-Identifier: MIT */
/*
 * Linux x86 boot protocol through the 64-bit entry point
 * (specs/vmm-x86.md §1): bzImage setup-header parsing and validation, zero
 * page, command line, initrd placement, identity page tables, GDT/IDT and the
 * initial vCPU state (regs, sregs, FPU, MSRs, LAPIC LINT pins) as plain data.
 *
 * The builders fill caller buffers and are pure; boot_load() is the one
 * function that writes guest memory, and it does so through the virtio
 * guest-memory gateway (virtio/guestmem.h).
 */
#ifndef KTSTR_VMM_BOOT_X86_H
#define KTSTR_VMM_BOOT_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h> /* struct boot_params (the zero page) */
#include <linux/kvm.h>

struct gm;
struct memmap;

/* Fixed guest-physical layout below 1 MiB (§1.2). */
#define BOOT_GDT_ADDR	    0x500ull
#define BOOT_GDT_ENTRIES    4u
#define BOOT_IDT_ADDR	    0x520ull
#define BOOT_ZERO_PAGE	    0x7000ull
#define BOOT_STACK_TOP	    0x8FF0ull
#define BOOT_PML4_ADDR	    0x9000ull
#define BOOT_PDPT_ADDR	    0xA000ull
#define BOOT_PD_ADDR	    0xB000ull /* four PDs, 0xB000-0xEFFF */
#define BOOT_PT_SIZE	    0x6000u   /* PML4 + PDPT + 4 PDs, contiguous from BOOT_PML4_ADDR */
#define BOOT_CMDLINE_ADDR   0x20000ull
#define BOOT_CMDLINE_MAX    0x10000u	/* we never place more than 64 KiB (NUL included) */
#define BOOT_KERNEL_LOAD    0x100000ull /* protected-mode payload at 1 MiB */
#define BOOT_ENTRY_OFFSET   0x200u	/* 64-bit entry = load + 0x200 */
#define BOOT_RESET_VECTOR   0xFFFF0ull	/* real-mode reset stub (§4.2) */
#define BOOT_RESET_STUB_LEN 5u

/* Selectors boot.rst asks for (§1.7). */
#define BOOT_CS_SELECTOR 0x10u
#define BOOT_DS_SELECTOR 0x18u

/* Special registers at entry (§1.7). */
#define BOOT_CR0	      0x80000011ull /* PG | ET | PE */
#define BOOT_CR4	      0x20ull	    /* PAE */
#define BOOT_EFER	      0x500ull	    /* LMA | LME */
#define BOOT_APIC_BASE_BSP    0xFEE00900ull /* enable | BSP */
#define BOOT_APIC_BASE_BSP_X2 0xFEE00D00ull /* + x2APIC */
#define BOOT_APIC_BASE_AP_X2  0xFEE00C00ull

/* MSRs (§1.8). */
#define BOOT_MSR_MISC_ENABLE 0x1A0u
#define BOOT_MISC_ENABLE_RESET \
	0x1800ull /* KVM's reset value; read it with KVM_GET_MSRS if you can */
#define BOOT_MSR_MTRR_DEF_TYPE 0x2FFu
#define BOOT_MTRR_DEF_TYPE     0x806ull /* MTRRs enabled, default write-back */
#define BOOT_MSR_APIC_BASE     0x1Bu
#define BOOT_MAX_MSRS	       16u

/*
 * What boot_parse_bzimage() extracts from the setup header (§1.1). All
 * offsets are file offsets. `image`/`image_len` borrow the caller's buffer,
 * which must outlive the struct.
 */
struct boot_image {
	const uint8_t *image;
	size_t image_len;
	uint16_t version;	 /* 0x206, >= 0x020C */
	uint8_t setup_sects;	 /* effective value: 0 in the file means 4 */
	uint32_t payload_offset; /* (setup_sects + 1) * 512 */
	size_t payload_len;	 /* image_len - payload_offset: the whole remainder */
	uint32_t syssize;	 /* 16-byte units */
	uint8_t loadflags;
	uint16_t xloadflags;
	uint8_t relocatable;
	uint8_t min_alignment; /* log2 */
	uint32_t kernel_alignment;
	uint32_t initrd_addr_max; /* inclusive */
	uint32_t cmdline_size;	  /* max strlen, NUL excluded */
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t hdr_end; /* setup header copied to the zero page is [0x1F1, hdr_end) */
};

/*
 * Parse and validate a bzImage (§1.1, §5 tests 1-2). Never reads outside
 * [img, img + len). Returns 0, or -EINVAL / -ENOEXEC with a one-line reason
 * in err ("bzImage: boot_flag is 0x1234, expected 0xAA55").
 */
int boot_parse_bzimage(const void *img, size_t len, struct boot_image *out, char *err,
		       size_t errlen);

/* Read a whole file into a malloc'd buffer (free() it). 0 or -errno + message. */
int boot_read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen);

/*
 * Where the kernel decompresses (§1.1): start = align_up(max(load,
 * pref_address), kernel_alignment) if relocatable, else pref_address;
 * returns start + init_size. Nothing else may live in [1 MiB, this).
 */
uint64_t boot_kernel_window_end(const struct boot_image *bi);

/*
 * Copy the command line (s, len bytes, no NUL needed) into out and
 * NUL-terminate it (§1.5). Rejects len > cmdline_size, len + 1 > outlen, and
 * an embedded NUL. Returns the number of bytes written including the NUL, or
 * -EINVAL (+ message).
 */
int boot_build_cmdline(const struct boot_image *bi, const char *s, size_t len, char *out,
		       size_t outlen, char *err, size_t errlen);

/*
 * Initrd placement (§1.5): the highest page-aligned start with the whole
 * initrd below min(memmap_low_ram_end(), initrd_addr_max + 1), refused with
 * -ENOSPC (+ message) if that start is below max(1 MiB + payload_len,
 * boot_kernel_window_end()). size 0 gives *gpa = 0.
 */
int boot_place_initrd(const struct boot_image *bi, const struct memmap *mm, uint64_t size,
		      uint64_t *gpa, char *err, size_t errlen);

/* Values boot_build_zero_page() writes on top of the copied header (§1.4). */
struct boot_zp_args {
	uint64_t cmdline_gpa;
	uint64_t initrd_gpa;
	uint64_t initrd_size;
	uint64_t rsdp_gpa;
	const struct boot_e820_entry *e820;
	unsigned nr_e820; /* <= E820_MAX_ENTRIES_ZEROPAGE */
};

/*
 * Zero page (§1.4, D2): 4096 zero bytes, setup header bytes [0x1F1, hdr_end)
 * copied from the image, sentinel 0, type_of_loader 0xFF, cmd_line_ptr,
 * ramdisk fields (high halves in the ext_* fields), acpi_rsdp_addr, E820.
 * Returns 0 or -EINVAL (more than E820_MAX_ENTRIES_ZEROPAGE entries).
 */
int boot_build_zero_page(struct boot_params *zp, const struct boot_image *bi,
			 const struct boot_zp_args *a);

/*
 * 4-level identity map of [0, 4 GiB) with 2 MiB pages (§1.6, D1): fills
 * BOOT_PT_SIZE bytes meant for GPA BOOT_PML4_ADDR (PML4, PDPT, four PDs).
 */
void boot_build_page_tables(uint64_t pt[BOOT_PT_SIZE / 8]);

/* GDT (§1.7): null, unused, 64-bit code at 0x10, data at 0x18. */
void boot_build_gdt(uint64_t gdt[BOOT_GDT_ENTRIES]);

/* Decode a GDT descriptor into the KVM segment the CPU would load for `selector`. */
void boot_gdt_to_segment(uint64_t desc, uint16_t selector, struct kvm_segment *seg);

/*
 * BSP special registers on top of KVM_GET_SREGS (§1.7): CS/DS/ES/FS/GS/SS,
 * GDT/IDT, CR0/CR3/CR4/EFER, apic_base (x2APIC pre-enabled when `x2apic`).
 * TR/LDT keep KVM's reset values.
 */
void boot_setup_sregs(struct kvm_sregs *s, bool x2apic);

/* BSP general registers: rip = entry, rsi = zero page, rsp = rbp = stack top, rflags 2. */
void boot_setup_regs(struct kvm_regs *r, uint64_t entry);

/* FPU: fcw 0x37F, mxcsr 0x1F80, the rest zero. */
void boot_setup_fpu(struct kvm_fpu *f);

/*
 * MSR list for KVM_SET_MSRS (§1.8), after KVM_SET_CPUID2: MISC_ENABLE =
 * misc_enable_reset | 1, MTRRdefType 0x806, SYSENTER_*, STAR/LSTAR/CSTAR/
 * SFMASK, KERNEL_GS_BASE = 0; for an AP with x2apic also IA32_APICBASE =
 * 0xFEE00C00. Never IA32_TSC. Returns the entry count (<= BOOT_MAX_MSRS).
 */
unsigned boot_msr_entries(struct kvm_msr_entry out[BOOT_MAX_MSRS], uint64_t misc_enable_reset,
			  bool bsp, bool x2apic);

/*
 * Patch LINT0/LINT1 in a KVM_GET_LAPIC blob (§1.9): BSP LINT0 ExtINT masked
 * (hw_reduced, D9) or unmasked (legacy), LINT1 NMI; APs both masked.
 * Touches only bytes 0x350-0x353 and 0x360-0x363.
 */
void boot_lapic_patch(struct kvm_lapic_state *lapic, bool bsp, bool hw_reduced);

/* Result of boot_load(). */
struct boot_info {
	uint64_t entry;	      /* rip for boot_setup_regs() */
	uint64_t zero_page;   /* BOOT_ZERO_PAGE */
	uint64_t cmdline_gpa; /* BOOT_CMDLINE_ADDR */
	uint64_t initrd_gpa;  /* 0 without an initrd */
	uint64_t initrd_size;
	uint64_t kernel_end; /* boot_kernel_window_end() */
};

/*
 * Write everything the 64-bit entry needs into guest memory: the payload at
 * 1 MiB, the initrd (may be NULL/0), the command line (NUL-terminated C
 * string), the zero page with mm's E820 and acpi_rsdp_addr = rsdp_gpa, the
 * page tables, GDT, IDT and the reset stub at 0xFFFF0. ACPI tables are not
 * written here (acpi_write()). Returns 0 or -errno (+ message).
 */
int boot_load(struct gm *gm, const struct memmap *mm, const struct boot_image *bi,
	      const void *initrd, size_t initrd_len, const char *cmdline, uint64_t rsdp_gpa,
	      struct boot_info *out, char *err, size_t errlen);

#endif
