// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the bzImage setup-header parser and the boot builders
 * that consume its result (specs/vmm-x86.md §1.1, §1.4, §1.5). The kernel
 * file is user input; whatever it holds, the VMM must refuse it with a
 * message or build a zero page, command line and initrd placement inside
 * its bounds. Invariants checked on every accepted input:
 *   - the payload [payload_offset, payload_offset + payload_len) lies in the file;
 *   - syssize*16 <= payload_len, hdr_end in [0x202, 0x290];
 *   - the zero page has sentinel 0 and type_of_loader 0xFF;
 *   - a placed initrd is page-aligned, below the low-RAM ceiling and above
 *     the kernel window.
 * ASan/UBSan catch out-of-bounds reads and shift overflows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/boot_x86.h"
#include "vmm/memmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct memmap mm;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool mm_ready;
	struct boot_image bi;
	struct boot_params zp;
	struct boot_zp_args a = {.cmdline_gpa = BOOT_CMDLINE_ADDR, .rsdp_gpa = 0xE0000};
	char err[256], cl[64], out[64];
	uint64_t gpa, isize;
	uint8_t *copy;

	if (!mm_ready) {
		if (memmap_build(&mm, 512ull << 20, 1, 0, false, err, sizeof(err)))
			abort();
		mm_ready = true;
	}
	/* An exact-size heap copy so that ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (boot_parse_bzimage(copy, size, &bi, err, sizeof(err))) {
		if (!err[0])
			abort(); /* every refusal explains itself */
		free(copy);
		return 0;
	}
	if (bi.payload_offset >= size || bi.payload_offset + bi.payload_len != size ||
	    (uint64_t)bi.syssize * 16 > bi.payload_len || bi.hdr_end < 0x202 || bi.hdr_end > 0x290)
		abort();

	/* The last input bytes steer the initrd size and the command line length. */
	isize = size >= 8 ? (uint64_t)copy[size - 1] << 20 | (uint64_t)copy[size - 2] << 12 : 0;
	if (!boot_place_initrd(&bi, &mm, isize, &gpa, err, sizeof(err)) && isize) {
		if (gpa % 4096 || gpa + isize > memmap_low_ram_end(&mm) ||
		    gpa + isize > (uint64_t)bi.initrd_addr_max + 1 ||
		    gpa < boot_kernel_window_end(&bi))
			abort();
	}
	memset(cl, 'k', sizeof(cl));
	(void)boot_build_cmdline(&bi, cl, size % sizeof(cl), out, sizeof(out), err, sizeof(err));

	a.e820 = mm.e820;
	a.nr_e820 = mm.nr_e820;
	if (boot_build_zero_page(&zp, &bi, &a) || zp.sentinel != 0 || zp.hdr.type_of_loader != 0xFF)
		abort();
	free(copy);
	return 0;
}
