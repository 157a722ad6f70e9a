// SPDX-License-Identifier: MIT
/*
 * x86 boot protocol (specs/vmm-x86.md §1, §5 #1-#4, #6-#10). Synthetic
 * bzImage headers carry the Debian values of §1.1; when KTSTR_TEST_VMLINUZ
 * names a real Debian vmlinuz, it is parsed, loaded and corrupted too.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "virtio/guestmem.h"
#include "vmm/boot_x86.h"
#include "vmm/le.h"
#include "vmm/memmap.h"

#define MiB    MEMMAP_MiB
#define ERRLEN 256

/* Debian 6.1 cloud kernel header values (§1.1 [Deb]). */
#define DEB61_INIT_SIZE 0x3378000u
#define DEB72_INIT_SIZE 0x3C3B000u

/*
 * A synthetic bzImage: setup code (39 sectors + boot sector) then `payload`
 * bytes of kernel, with syssize covering all but a 1.4 KiB "signature"
 * trailer as in Debian's images. Bytes outside the header are patterned so
 * that copying the wrong range shows.
 */
static uint8_t *mk_image(size_t payload, uint32_t init_size, size_t *len)
{
	size_t n = 0x5000 + payload;
	uint8_t *p = malloc(n);

	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(0xA5 ^ (i * 13));
	p[0x1EF] = 0xFF; /* sentinel, as header.S leaves it */
	p[0x1F1] = 39;
	le_put32(p + 0x1F4, (uint32_t)((payload - 1408) / 16));
	le_put16(p + 0x1FE, 0xAA55);
	p[0x200] = 0xEB;
	p[0x201] = 0x6A; /* header ends at 0x26C */
	memcpy(p + 0x202, "HdrS", 4);
	le_put16(p + 0x206, 0x020F);
	p[0x210] = 0;	 /* type_of_loader */
	p[0x211] = 0x01; /* LOADED_HIGH */
	le_put32(p + 0x218, 0);
	le_put32(p + 0x21C, 0);
	le_put32(p + 0x228, 0);
	le_put32(p + 0x22C, 0x7FFFFFFF);
	le_put32(p + 0x230, 0x200000);
	p[0x234] = 1;
	p[0x235] = 21;
	le_put16(p + 0x236, 0x7F);
	le_put32(p + 0x238, 0x7FF);
	memset(p + 0x250, 0, 8);	/* setup_data */
	le_put32(p + 0x258, 0x1000000); /* pref_address */
	le_put32(p + 0x25C, 0);
	le_put32(p + 0x260, init_size);
	*len = n;
	return p;
}

static struct boot_image parse_ok(const uint8_t *img, size_t len)
{
	char err[ERRLEN] = "";
	struct boot_image bi;

	cr_assert_eq(boot_parse_bzimage(img, len, &bi, err, sizeof(err)), 0, "%s", err);
	return bi;
}

static void parse_bad(const uint8_t *img, size_t len, const char *msg)
{
	char err[ERRLEN] = "";
	struct boot_image bi;

	cr_assert_lt(boot_parse_bzimage(img, len, &bi, err, sizeof(err)), 0, "accepted");
	cr_assert(strstr(err, msg), "'%s' lacks '%s'", err, msg);
	cr_assert_null(strchr(err, '\n'));
}

static void check_debian_header(const struct boot_image *bi, size_t len)
{
	cr_assert_eq(bi->version, 0x020F);
	cr_assert_eq(bi->payload_offset, (bi->setup_sects + 1u) * 512);
	cr_assert_eq(bi->payload_len, len - bi->payload_offset, "the whole remainder");
	cr_assert_leq((uint64_t)bi->syssize * 16, bi->payload_len);
	cr_assert(bi->loadflags & 1);
	cr_assert_eq(bi->xloadflags, 0x7F);
	cr_assert_eq(bi->relocatable, 1);
	cr_assert_eq(bi->kernel_alignment, 0x200000);
	cr_assert_eq(bi->min_alignment, 21);
	cr_assert_eq(bi->pref_address, 0x1000000);
	cr_assert_eq(bi->cmdline_size, 0x7FF);
	cr_assert_eq(bi->initrd_addr_max, 0x7FFFFFFF);
	cr_assert_eq(bi->hdr_end, 0x26C);
}

/* spec §5 #1 */
Test(boot_x86, parses_debian_61_and_72_header_values)
{
	size_t len;
	uint8_t *img = mk_image(0x20000, DEB61_INIT_SIZE, &len);
	struct boot_image bi = parse_ok(img, len);

	check_debian_header(&bi, len);
	cr_assert_eq(bi.setup_sects, 39);
	cr_assert_eq(bi.payload_offset, 0x5000);
	cr_assert_eq(bi.payload_len, 0x20000, "not syssize*16");
	cr_assert_eq(bi.init_size, DEB61_INIT_SIZE);
	cr_assert_eq(bi.image, img);
	le_put32(img + 0x260, DEB72_INIT_SIZE);
	bi = parse_ok(img, len);
	cr_assert_eq(bi.init_size, DEB72_INIT_SIZE);
	free(img);
}

static uint8_t *real_vmlinuz_from(const char *env, size_t *len)
{
	const char *path = getenv(env);
	char err[ERRLEN] = "";
	uint8_t *buf;

	if (!path || !*path) {
		/*
		 * Criterion exits non-zero when a test both logs through cr_log_warn and
		 * skips, so the warning goes straight to stderr.
		 */
		fprintf(stderr,
			"WARNING: %s is not set: the real-vmlinuz checks are SKIPPED, only "
			"synthetic bzImage headers are tested (point it at a Debian vmlinuz to run "
			"them)\n",
			env);
		cr_skip_test("%s not set", env);
	}
	cr_assert_eq(boot_read_file(path, &buf, len, err, sizeof(err)), 0, "%s", err);
	return buf;
}

static uint8_t *real_vmlinuz(size_t *len)
{
	return real_vmlinuz_from("KTSTR_TEST_VMLINUZ", len);
}

static void check_real_header(const uint8_t *img, size_t len)
{
	struct boot_image bi = parse_ok(img, len);

	check_debian_header(&bi, len);
	cr_assert_geq(bi.setup_sects, 1);
	/* Signed Debian images carry bytes after syssize*16: copying only those would truncate. */
	cr_assert_gt(bi.payload_len, (size_t)bi.syssize * 16);
	cr_assert_geq(bi.init_size, 16 * MiB);
	cr_assert_leq(bi.init_size, 256 * MiB);
}

/* spec §5 #1, on the real Debian kernels (6.1 and, when E's harness names it, 7.2). */
Test(boot_x86, parses_real_debian_vmlinuz)
{
	size_t len;
	uint8_t *img = real_vmlinuz(&len);

	check_real_header(img, len);
	free(img);
}

Test(boot_x86, parses_real_debian_72_vmlinuz)
{
	size_t len;
	uint8_t *img = real_vmlinuz_from("KTSTR_TEST_VMLINUZ_72", &len);

	check_real_header(img, len);
	free(img);
}

/* spec §5 #2 on the real kernel: corrupted copies are refused, never read out of bounds. */
Test(boot_x86, rejects_corrupted_real_vmlinuz)
{
	size_t len;
	uint8_t *img = real_vmlinuz(&len);
	uint8_t *c = malloc(len);

	cr_assert_not_null(c);
	memcpy(c, img, len);
	c[0x1FE] = 0;
	parse_bad(c, len, "boot_flag");
	memcpy(c, img, len);
	c[0x202] = 'X';
	parse_bad(c, len, "HdrS");
	memcpy(c, img, len);
	le_put16(c + 0x206, 0x020B);
	parse_bad(c, len, "2.11");
	memcpy(c, img, len);
	c[0x236] &= (uint8_t)~1;
	parse_bad(c, len, "XLF_KERNEL_64");
	memcpy(c, img, len);
	le_put32(c + 0x230, 0x300000);
	parse_bad(c, len, "kernel_alignment");
	/* Truncated: half the payload gone. */
	parse_bad(img, 0x5000 + (len - 0x5000) / 2, "syssize");
	parse_bad(img, 0x200, "too small");
	free(c);
	free(img);
}

/* spec §5 #2: one test per rejection, each on a fresh synthetic Debian image. */
static uint8_t *fx_img;
static size_t fx_len;

static void image_setup(void)
{
	fx_img = mk_image(0x2000, DEB61_INIT_SIZE, &fx_len);
}

static void image_teardown(void)
{
	free(fx_img);
}

Test(boot_x86, rejects_file_shorter_than_header, .init = image_setup, .fini = image_teardown)
{
	parse_bad(fx_img, 0x26F, "too small");
	parse_bad(fx_img, 0, "too small");
	parse_bad(NULL, 0x1000, "too small");
}

Test(boot_x86, rejects_bad_boot_flag, .init = image_setup, .fini = image_teardown)
{
	le_put16(fx_img + 0x1FE, 0x55AA);
	parse_bad(fx_img, fx_len, "0x55AA");
}

Test(boot_x86, rejects_missing_hdrs, .init = image_setup, .fini = image_teardown)
{
	memcpy(fx_img + 0x202, "HdrT", 4);
	parse_bad(fx_img, fx_len, "HdrS");
}

Test(boot_x86, rejects_protocol_2_11, .init = image_setup, .fini = image_teardown)
{
	le_put16(fx_img + 0x206, 0x020B);
	parse_bad(fx_img, fx_len, "2.11");
	le_put16(fx_img + 0x206, 0x020C);
	parse_ok(fx_img, fx_len);
}

Test(boot_x86, rejects_no_64bit_entry, .init = image_setup, .fini = image_teardown)
{
	le_put16(fx_img + 0x236, 0x7E);
	parse_bad(fx_img, fx_len, "XLF_KERNEL_64");
}

Test(boot_x86, rejects_loaded_high_clear, .init = image_setup, .fini = image_teardown)
{
	fx_img[0x211] = 0x20;
	parse_bad(fx_img, fx_len, "LOADED_HIGH");
}

Test(boot_x86, rejects_bad_kernel_alignment, .init = image_setup, .fini = image_teardown)
{
	le_put32(fx_img + 0x230, 0);
	parse_bad(fx_img, fx_len, "kernel_alignment");
	le_put32(fx_img + 0x230, 0x300000);
	parse_bad(fx_img, fx_len, "kernel_alignment");
	le_put32(fx_img + 0x230, 0x100000); /* below 1 << 21 */
	parse_bad(fx_img, fx_len, "kernel_alignment");
	le_put32(fx_img + 0x230, 0x200000);
	fx_img[0x235] = 40; /* shift out of range: refused, no UB */
	parse_bad(fx_img, fx_len, "kernel_alignment");
	fx_img[0x235] = 21;
	le_put32(fx_img + 0x230, 0x80000000);
	parse_ok(fx_img, fx_len);
}

Test(boot_x86, rejects_zero_init_size)
{
	size_t len;
	uint8_t *img = mk_image(0x2000, 0, &len);

	parse_bad(img, len, "init_size");
	free(img);
}

Test(boot_x86, rejects_payload_offset_past_end, .init = image_setup, .fini = image_teardown)
{
	fx_img[0x1F1] = 255; /* payload at 0x20000 > 0x7000-byte file */
	le_put32(fx_img + 0x1F4, 0);
	parse_bad(fx_img, fx_len, "setup_sects 255");
	/* Exactly at the end: no payload byte left. */
	fx_img[0x1F1] = 39;
	parse_bad(fx_img, 0x5000, "past the end");
}

Test(boot_x86, rejects_syssize_beyond_file, .init = image_setup, .fini = image_teardown)
{
	le_put32(fx_img + 0x1F4, 0x2000 / 16 + 1);
	parse_bad(fx_img, fx_len, "syssize");
	le_put32(fx_img + 0x1F4, 0xFFFFFFFF); /* 64-bit product, no wrap */
	parse_bad(fx_img, fx_len, "syssize");
	le_put32(fx_img + 0x1F4, 0x2000 / 16);
	parse_ok(fx_img, fx_len);
}

Test(boot_x86, header_end_is_clamped_at_0x290, .init = image_setup, .fini = image_teardown)
{
	struct boot_image bi;

	fx_img[0x201] = 0xFF; /* would end at 0x301 */
	bi = parse_ok(fx_img, fx_len);
	cr_assert_eq(bi.hdr_end, 0x290);
	fx_img[0x201] = 0x00;
	bi = parse_ok(fx_img, fx_len);
	cr_assert_eq(bi.hdr_end, 0x202);
}

Test(boot_x86, setup_sects_zero_means_four, .init = image_setup, .fini = image_teardown)
{
	struct boot_image bi;

	fx_img[0x1F1] = 0;
	bi = parse_ok(fx_img, fx_len);
	cr_assert_eq(bi.setup_sects, 4);
	cr_assert_eq(bi.payload_offset, 5 * 512);
	cr_assert_eq(bi.payload_len, fx_len - 5 * 512);
}

Test(boot_x86, every_truncation_is_handled)
{
	size_t len;
	uint8_t *img = mk_image(0x800, DEB61_INIT_SIZE, &len);

	/* Each prefix either parses or is refused; ASan/UBSan watch the reads. */
	for (size_t n = 0; n <= len; n += 7) {
		uint8_t *copy = malloc(n ? n : 1);
		char err[ERRLEN];
		struct boot_image bi;
		int rc;

		memcpy(copy, img, n);
		rc = boot_parse_bzimage(copy, n, &bi, err, sizeof(err));
		cr_assert(rc == 0 || rc == -ENOEXEC);
		if (rc == 0)
			cr_assert_leq(bi.payload_offset + bi.payload_len, n);
		free(copy);
	}
	free(img);
}

static struct boot_image deb_image(uint8_t **img, size_t payload, uint32_t init_size)
{
	size_t len;

	*img = mk_image(payload, init_size, &len);
	return parse_ok(*img, len);
}

/* spec §5 #3 */
Test(boot_x86, cmdline_limits_and_nul)
{
	uint8_t *img;
	struct boot_image bi = deb_image(&img, 0x2000, DEB61_INIT_SIZE);
	char *s = malloc(4096), out[4096], err[ERRLEN];

	memset(s, 'x', 4096);
	memset(out, 0x55, sizeof(out));
	cr_assert_eq(boot_build_cmdline(&bi, s, 2047, out, sizeof(out), err, ERRLEN), 2048);
	cr_assert_eq(out[2047], '\0');
	cr_assert_eq(out[2046], 'x');
	cr_assert_eq(boot_build_cmdline(&bi, s, 2048, out, sizeof(out), err, ERRLEN), -EINVAL);
	cr_assert(strstr(err, "2048") && strstr(err, "2047"), "%s", err);
	cr_assert_eq(boot_build_cmdline(&bi, "", 0, out, sizeof(out), err, ERRLEN), 1);
	cr_assert_eq(out[0], '\0');
	cr_assert_eq(boot_build_cmdline(&bi, "a\0b", 3, out, sizeof(out), err, ERRLEN), -EINVAL);
	cr_assert(strstr(err, "NUL"), "%s", err);
	cr_assert_eq(boot_build_cmdline(&bi, "console=ttyS0", 13, out, 13, err, ERRLEN), -EINVAL,
		     "no room for the NUL");
	cr_assert_eq(boot_build_cmdline(&bi, "console=ttyS0", 13, out, 14, err, ERRLEN), 14);
	cr_assert_str_eq(out, "console=ttyS0");
	free(s);
	free(img);
}

static const struct boot_e820_entry e820_demo[3] = {
	{0, 0x9FC00, 1},
	{0xE0000, 0x20000, 2},
	{0x100000, 0xFF00000, 1},
};

/* spec §5 #4 */
Test(boot_x86, zero_page_contents)
{
	uint8_t *img;
	struct boot_image bi = deb_image(&img, 0x2000, DEB61_INIT_SIZE);
	struct boot_params zp;
	const uint8_t *z = (const uint8_t *)&zp;
	struct boot_zp_args a = {
		.cmdline_gpa = BOOT_CMDLINE_ADDR,
		.initrd_gpa = 0x9000000,
		.initrd_size = 0x123456,
		.rsdp_gpa = 0xE0000,
		.e820 = e820_demo,
		.nr_e820 = 3,
	};

	_Static_assert(sizeof(zp) == 4096, "one page");
	memset(&zp, 0xCC, sizeof(zp));
	cr_assert_eq(boot_build_zero_page(&zp, &bi, &a), 0);
	for (size_t i = 0; i < 4096; i++) {
		bool header = i >= 0x1F1 && i < bi.hdr_end;
		bool written =
			(i >= 0x70 && i < 0x78) || i == 0x1E8 || (i >= 0x2D0 && i < 0x2D0 + 3 * 20);

		if (!header && !written)
			cr_assert_eq(z[i], 0, "byte 0x%zx must be zero", i);
	}
	cr_assert_eq(z[0x1EF], 0, "sentinel cleared although the image has 0xFF");
	cr_assert_eq(img[0x1EF], 0xFF);
	cr_assert_eq(z[0x210], 0xFF, "type_of_loader");
	cr_assert_eq(le_get32(z + 0x228), 0x20000, "cmd_line_ptr");
	cr_assert_eq(le_get64(z + 0x70), 0xE0000, "acpi_rsdp_addr");
	cr_assert_eq(le_get32(z + 0x218), 0x9000000);
	cr_assert_eq(le_get32(z + 0x21C), 0x123456);
	cr_assert_eq(le_get32(z + 0xC0), 0, "ext_ramdisk_image");
	cr_assert_eq(le_get32(z + 0xC4), 0, "ext_ramdisk_size");
	cr_assert_eq(le_get32(z + 0xC8), 0, "ext_cmd_line_ptr");
	cr_assert_eq(z[0x1E8], 3);
	/* Packed 20-byte entries from 0x2D0. */
	cr_assert_eq(le_get64(z + 0x2D0), 0);
	cr_assert_eq(le_get64(z + 0x2D8), 0x9FC00);
	cr_assert_eq(le_get32(z + 0x2E0), 1);
	cr_assert_eq(le_get64(z + 0x2E4), 0xE0000);
	cr_assert_eq(le_get32(z + 0x2F4), 2);
	cr_assert_eq(le_get64(z + 0x2F8), 0x100000);
	/* Header bytes come from the image, except the fields written on top. */
	for (size_t i = 0x1F1; i < bi.hdr_end; i++) {
		bool ours = i == 0x210 || (i >= 0x218 && i < 0x220) || (i >= 0x228 && i < 0x22C);

		if (!ours)
			cr_assert_eq(z[i], img[i], "header byte 0x%zx", i);
	}
	cr_assert_eq(le_get32(z + 0x260), DEB61_INIT_SIZE);
	free(img);
}

Test(boot_x86, zero_page_without_initrd_and_limits)
{
	uint8_t *img;
	struct boot_image bi = deb_image(&img, 0x2000, DEB61_INIT_SIZE);
	struct boot_params zp;
	const uint8_t *z = (const uint8_t *)&zp;
	struct boot_zp_args a = {.cmdline_gpa = BOOT_CMDLINE_ADDR, .rsdp_gpa = 0xE0000};

	cr_assert_eq(boot_build_zero_page(&zp, &bi, &a), 0);
	cr_assert_eq(le_get32(z + 0x218), 0);
	cr_assert_eq(le_get32(z + 0x21C), 0);
	cr_assert_eq(z[0x1E8], 0);
	a.nr_e820 = 129;
	a.e820 = e820_demo;
	cr_assert_eq(boot_build_zero_page(&zp, &bi, &a), -EINVAL);
	free(img);
}

static struct memmap mm_of(uint64_t ram)
{
	char err[ERRLEN];
	struct memmap mm;

	cr_assert_eq(memmap_build(&mm, ram, 1, 0, false, err, sizeof(err)), 0, "%s", err);
	return mm;
}

/* spec §5 #6 */
Test(boot_x86, initrd_placement)
{
	uint8_t *img;
	struct boot_image bi = deb_image(&img, 0x2000, DEB72_INIT_SIZE);
	struct memmap mm = mm_of(256 * MiB);
	char err[ERRLEN] = "";
	uint64_t gpa = 1;

	cr_assert_eq(boot_kernel_window_end(&bi), 0x1000000 + DEB72_INIT_SIZE);
	cr_assert_eq(boot_place_initrd(&bi, &mm, 100 * MiB, &gpa, err, ERRLEN), 0, "%s", err);
	cr_assert_eq(gpa, 156 * MiB);
	/* Odd size: page-aligned start, end still below the limit. */
	cr_assert_eq(boot_place_initrd(&bi, &mm, 12345, &gpa, err, ERRLEN), 0);
	cr_assert_eq(gpa % 4096, 0);
	cr_assert_leq(gpa + 12345, 256 * MiB);
	cr_assert_gt(gpa + 12345 + 4096, 256 * MiB);
	/* Zero size: both fields 0. */
	cr_assert_eq(boot_place_initrd(&bi, &mm, 0, &gpa, err, ERRLEN), 0);
	cr_assert_eq(gpa, 0);
	/* 128 MiB + 60 MiB: start 68 MiB < window end 0x4C3B000. */
	mm = mm_of(128 * MiB);
	cr_assert_eq(boot_place_initrd(&bi, &mm, 60 * MiB, &gpa, err, ERRLEN), -ENOSPC);
	cr_assert(strstr(err, "0x4C3B000") && strstr(err, "more memory"), "%s", err);
	cr_assert_eq(boot_place_initrd(&bi, &mm, 1024 * MiB, &gpa, err, ERRLEN), -ENOSPC);
	free(img);
}

Test(boot_x86, initrd_respects_initrd_addr_max_and_low_ram)
{
	uint8_t *img;
	struct boot_image bi = deb_image(&img, 0x2000, DEB61_INIT_SIZE);
	struct memmap mm = mm_of(8ull * MEMMAP_GiB);
	char err[ERRLEN] = "";
	uint64_t gpa;

	/* Debian's initrd_addr_max (2 GiB - 1) is the ceiling with 8 GiB of RAM. */
	cr_assert_eq(boot_place_initrd(&bi, &mm, 10 * MiB, &gpa, err, ERRLEN), 0);
	cr_assert_eq(gpa, 2 * MEMMAP_GiB - 10 * MiB);
	/* RAM above 4 GiB does not count: otherwise the end of low RAM (3 GiB) is. */
	bi.initrd_addr_max = 0xFFFFFFFF;
	cr_assert_eq(boot_place_initrd(&bi, &mm, 10 * MiB, &gpa, err, ERRLEN), 0);
	cr_assert_eq(gpa, 3 * MEMMAP_GiB - 10 * MiB);
	bi.initrd_addr_max = 0x3FFFFFFF;
	cr_assert_eq(boot_place_initrd(&bi, &mm, 10 * MiB, &gpa, err, ERRLEN), 0);
	cr_assert_eq(gpa, 1 * MEMMAP_GiB - 10 * MiB);
	/* A non-relocatable kernel runs at pref_address whatever the load address. */
	bi.relocatable = 0;
	bi.pref_address = 0x2000000;
	cr_assert_eq(boot_kernel_window_end(&bi), 0x2000000 + DEB61_INIT_SIZE);
	free(img);
}

/* Software 4-level walk over the page-table blob placed at BOOT_PML4_ADDR. */
static bool walk(const uint64_t *pt, uint64_t va, uint64_t *pa)
{
	uint64_t e = pt[(va >> 39) & 511];

	if (!(e & 1))
		return false;
	e = pt[((e & ~0xFFFull) - BOOT_PML4_ADDR) / 8 + ((va >> 30) & 511)];
	if (!(e & 1) || (e & 0x80))
		return false; /* no 1 GiB pages expected */
	e = pt[((e & ~0xFFFull) - BOOT_PML4_ADDR) / 8 + ((va >> 21) & 511)];
	if (!(e & 1) || !(e & 0x80))
		return false;
	*pa = (e & ~0x1FFFFFull & ((1ull << 52) - 1)) | (va & 0x1FFFFF);
	return true;
}

/* spec §5 #7 */
Test(boot_x86, page_tables_exact_values_and_walk)
{
	static uint64_t pt[BOOT_PT_SIZE / 8];
	const uint64_t va[] = {0, 0x100200, 0x7000, 0xBFFFFFFF, 0xFFFFF000};
	uint64_t pa;

	memset(pt, 0xEE, sizeof(pt));
	boot_build_page_tables(pt);
	cr_assert_eq(pt[0], 0xA003);
	for (unsigned i = 1; i < 512; i++)
		cr_assert_eq(pt[i], 0, "PML4[%u]", i);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(pt[512 + i], 0xB003 + 0x1000 * i);
	for (unsigned i = 4; i < 512; i++)
		cr_assert_eq(pt[512 + i], 0, "PDPT[%u]", i);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(pt[512 + i] & 0x80, 0, "no PDPTE has PS");
	cr_assert_eq(pt[1024], 0x83);
	cr_assert_eq(pt[1025], 0x200083);
	cr_assert_eq(pt[1024 + 2047], 0xFFE00083);
	for (uint64_t k = 0; k < 2048; k++)
		cr_assert_eq(pt[1024 + k], k << 21 | 0x83);
	for (unsigned i = 0; i < 5; i++) {
		cr_assert(walk(pt, va[i], &pa), "0x%llx unmapped", (unsigned long long)va[i]);
		cr_assert_eq(pa, va[i]);
	}
	cr_assert_not(walk(pt, 0x100000000ull, &pa), "nothing above 4 GiB");
}

/* spec §5 #8 */
Test(boot_x86, gdt_descriptors_decode_to_spec_segments)
{
	uint64_t gdt[BOOT_GDT_ENTRIES];
	struct kvm_segment cs, ds;

	boot_build_gdt(gdt);
	cr_assert_eq(gdt[0], 0);
	cr_assert_eq(gdt[1], 0);
	cr_assert_eq(gdt[2], 0x00AF9B000000FFFFull);
	cr_assert_eq(gdt[3], 0x00CF93000000FFFFull);
	boot_gdt_to_segment(gdt[2], 0x10, &cs);
	cr_assert(cs.base == 0 && cs.limit == 0xFFFFFFFF && cs.selector == 0x10);
	cr_assert(cs.type == 11 && cs.present == 1 && cs.dpl == 0 && cs.db == 0 && cs.s == 1);
	cr_assert(cs.l == 1 && cs.g == 1 && cs.unusable == 0);
	boot_gdt_to_segment(gdt[3], 0x18, &ds);
	cr_assert(ds.base == 0 && ds.limit == 0xFFFFFFFF && ds.selector == 0x18);
	cr_assert(ds.type == 3 && ds.present == 1 && ds.dpl == 0 && ds.db == 1 && ds.s == 1);
	cr_assert(ds.l == 0 && ds.g == 1);
	/* A byte-granular descriptor with a split base. */
	boot_gdt_to_segment(0x12409A345678FFFFull, 0x8, &cs);
	cr_assert_eq(cs.base, 0x12345678);
	cr_assert_eq(cs.limit, 0xFFFFF & 0x0FFFF);
	cr_assert_eq(cs.g, 0);
	boot_gdt_to_segment(0, 0, &cs);
	cr_assert_eq(cs.unusable, 1);
}

/* spec §5 #8 */
Test(boot_x86, sregs_and_regs_at_entry)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	struct kvm_fpu f;

	memset(&s, 0x5A, sizeof(s));
	s.cr0 = 0x60000010; /* KVM's reset CR0 carries CD|NW */
	boot_setup_sregs(&s, false);
	cr_assert_eq(s.cr0, 0x80000011);
	cr_assert_eq(s.cr3, 0x9000);
	cr_assert_eq(s.cr4, 0x20);
	cr_assert_eq(s.efer, 0x500);
	cr_assert_eq(s.apic_base, 0xFEE00900);
	cr_assert_eq(s.gdt.base, 0x500);
	cr_assert_eq(s.gdt.limit, 0x1F);
	cr_assert_eq(s.idt.base, 0x520);
	cr_assert_eq(s.idt.limit, 7);
	cr_assert_eq(s.cs.selector, 0x10);
	cr_assert_eq(s.cs.l, 1);
	cr_assert_eq(s.cs.limit, 0xFFFFFFFF);
	cr_assert_eq(s.ss.selector, 0x18);
	cr_assert_eq(s.ds.db, 1);
	cr_assert_eq(memcmp(&s.es, &s.ds, sizeof(s.ds)), 0);
	cr_assert_eq(memcmp(&s.fs, &s.ds, sizeof(s.ds)), 0);
	cr_assert_eq(memcmp(&s.gs, &s.ds, sizeof(s.ds)), 0);
	cr_assert_eq(memcmp(&s.ss, &s.ds, sizeof(s.ds)), 0);
	cr_assert_eq(s.tr.base, 0x5A5A5A5A5A5A5A5Aull, "TR keeps KVM's value");
	boot_setup_sregs(&s, true);
	cr_assert_eq(s.apic_base, 0xFEE00D00);

	memset(&r, 0x5A, sizeof(r));
	boot_setup_regs(&r, BOOT_KERNEL_LOAD + BOOT_ENTRY_OFFSET);
	cr_assert_eq(r.rip, 0x100200);
	cr_assert_eq(r.rsi, 0x7000);
	cr_assert_eq(r.rsp, 0x8FF0);
	cr_assert_eq(r.rbp, 0x8FF0);
	cr_assert_eq(r.rflags, 2);
	cr_assert(r.rax == 0 && r.rdi == 0 && r.r15 == 0);

	boot_setup_fpu(&f);
	cr_assert_eq(f.fcw, 0x37F);
	cr_assert_eq(f.mxcsr, 0x1F80);
}

static const struct kvm_msr_entry *msr_find(const struct kvm_msr_entry *m, unsigned n, uint32_t idx)
{
	for (unsigned i = 0; i < n; i++)
		if (m[i].index == idx)
			return &m[i];
	return NULL;
}

/* spec §5 #9 */
Test(boot_x86, msr_list)
{
	struct kvm_msr_entry m[BOOT_MAX_MSRS];
	const uint32_t zero[] = {0x174,	     0x175,	 0x176,	     0xC0000081,
				 0xC0000082, 0xC0000083, 0xC0000084, 0xC0000102};
	unsigned n = boot_msr_entries(m, BOOT_MISC_ENABLE_RESET, true, false);

	cr_assert_eq(n, 10);
	cr_assert_eq(msr_find(m, n, 0x1A0)->data, 0x1801);
	cr_assert_eq(msr_find(m, n, 0x2FF)->data, 0x806);
	for (unsigned i = 0; i < 8; i++) {
		cr_assert_not_null(msr_find(m, n, zero[i]));
		cr_assert_eq(msr_find(m, n, zero[i])->data, 0);
	}
	cr_assert_null(msr_find(m, n, 0x10), "never IA32_TSC");
	cr_assert_null(msr_find(m, n, 0x1B), "BSP APIC base goes through sregs");
	/* MISC_ENABLE is the reset value with fast strings added. */
	n = boot_msr_entries(m, 0x1, true, false);
	cr_assert_eq(msr_find(m, n, 0x1A0)->data, 0x1);
	/* An AP with x2APIC pre-enabled keeps that mode through INIT. */
	n = boot_msr_entries(m, BOOT_MISC_ENABLE_RESET, false, true);
	cr_assert_eq(n, 11);
	cr_assert_eq(msr_find(m, n, 0x1B)->data, 0xFEE00C00);
	n = boot_msr_entries(m, BOOT_MISC_ENABLE_RESET, false, false);
	cr_assert_null(msr_find(m, n, 0x1B));
}

static uint32_t lvt(const struct kvm_lapic_state *l, unsigned off)
{
	return le_get32(l->regs + off);
}

/* spec §5 #10 */
Test(boot_x86, lapic_lint_patch)
{
	struct kvm_lapic_state base, l;
	const struct {
		bool bsp, hw;
		uint32_t lint0, lint1;
	} c[] = {
		{true, true, 0x10700, 0x400},
		{true, false, 0x700, 0x400},
		{false, true, 0x10700, 0x10400},
		{false, false, 0x10700, 0x10400},
	};

	_Static_assert(sizeof(base.regs) == 1024, "KVM_APIC_REG_SIZE");
	for (unsigned i = 0; i < 1024; i++)
		base.regs[i] = (char)(i * 29);
	for (unsigned off = 0x320; off <= 0x370; off += 0x10)
		le_put32((uint8_t *)base.regs + off, 0x10000);
	for (unsigned k = 0; k < 4; k++) {
		l = base;
		boot_lapic_patch(&l, c[k].bsp, c[k].hw);
		cr_assert_eq(lvt(&l, 0x350), c[k].lint0, "case %u", k);
		cr_assert_eq(lvt(&l, 0x360), c[k].lint1, "case %u", k);
		for (unsigned i = 0; i < 1024; i++)
			if (i < 0x350 || i >= 0x368 || (i >= 0x354 && i < 0x360))
				cr_assert_eq(l.regs[i], base.regs[i], "byte 0x%x", i);
	}
}

struct guest {
	struct gm *gm;
	uint8_t *ram;
	uint64_t size;
	struct memmap mm;
};

static void guest_init(struct guest *g, uint64_t ram)
{
	g->size = ram;
	g->mm = mm_of(ram);
	g->ram = mmap(NULL, ram, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(g->ram, MAP_FAILED);
	g->gm = gm_new();
	cr_assert_not_null(g->gm);
	cr_assert_eq(gm_add_region(g->gm, 0, ram, g->ram), 0);
}

static void guest_fini(struct guest *g)
{
	gm_put(g->gm);
	munmap(g->ram, g->size);
}

static void check_loaded(struct guest *g, const struct boot_image *bi, const struct boot_info *out,
			 const uint8_t *initrd, size_t initrd_len, const char *cmdline)
{
	uint64_t pt[BOOT_PT_SIZE / 8];
	const uint8_t *zp = g->ram + BOOT_ZERO_PAGE;

	cr_assert_eq(out->entry, 0x100200);
	cr_assert_eq(
		memcmp(g->ram + BOOT_KERNEL_LOAD, bi->image + bi->payload_offset, bi->payload_len),
		0, "payload copied whole");
	cr_assert_str_eq((const char *)g->ram + BOOT_CMDLINE_ADDR, cmdline);
	cr_assert_eq(le_get32(zp + 0x228), BOOT_CMDLINE_ADDR);
	cr_assert_eq(le_get64(zp + 0x70), 0xE0000);
	cr_assert_eq(zp[0x1EF], 0);
	cr_assert_eq(zp[0x210], 0xFF);
	cr_assert_eq(zp[0x1E8], g->mm.nr_e820);
	cr_assert_eq(memcmp(zp + 0x2D0, g->mm.e820, g->mm.nr_e820 * 20), 0);
	cr_assert_eq(le_get32(zp + 0x218), out->initrd_gpa);
	cr_assert_eq(le_get32(zp + 0x21C), initrd_len);
	if (initrd_len)
		cr_assert_eq(memcmp(g->ram + out->initrd_gpa, initrd, initrd_len), 0);
	boot_build_page_tables(pt);
	cr_assert_eq(memcmp(g->ram + BOOT_PML4_ADDR, pt, sizeof(pt)), 0);
	cr_assert_eq(le_get64(g->ram + 0x510), 0x00AF9B000000FFFFull);
	cr_assert_eq(le_get64(g->ram + 0x518), 0x00CF93000000FFFFull);
	cr_assert_eq(le_get64(g->ram + 0x520), 0, "IDT: one empty gate");
	cr_assert_eq(memcmp(g->ram + 0xFFFF0, "\xB0\xFE\xE6\x64\xF4", 5), 0, "reset stub");
}

Test(boot_x86, load_writes_everything_into_guest_memory)
{
	struct guest g;
	uint8_t *img, initrd[10000];
	struct boot_image bi = deb_image(&img, 0x30000, DEB61_INIT_SIZE);
	struct boot_info out;
	char err[ERRLEN] = "";

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 31);
	guest_init(&g, 256 * MiB);
	cr_assert_eq(boot_load(g.gm, &g.mm, &bi, initrd, sizeof(initrd), "console=ttyS0 panic=-1",
			       0xE0000, &out, err, ERRLEN),
		     0, "%s", err);
	check_loaded(&g, &bi, &out, initrd, sizeof(initrd), "console=ttyS0 panic=-1");
	cr_assert_eq(out.initrd_gpa, (256 * MiB - sizeof(initrd)) & ~4095ull);
	guest_fini(&g);
	free(img);
}

Test(boot_x86, load_refuses_too_little_ram_and_long_cmdline)
{
	struct guest g;
	uint8_t *img;
	struct boot_image bi = deb_image(&img, 0x3000, DEB72_INIT_SIZE);
	struct boot_info out;
	char err[ERRLEN] = "", *cl = malloc(3000);

	/* 64 MiB cannot hold the 16 MiB + 60 MiB decompression window. */
	guest_init(&g, 64 * MiB);
	cr_assert_eq(boot_load(g.gm, &g.mm, &bi, NULL, 0, "", 0xE0000, &out, err, ERRLEN), -ENOSPC);
	cr_assert(strstr(err, "decompression"), "%s", err);
	guest_fini(&g);
	guest_init(&g, 128 * MiB);
	memset(cl, 'a', 2999);
	cl[2999] = 0;
	cr_assert_eq(boot_load(g.gm, &g.mm, &bi, NULL, 0, cl, 0xE0000, &out, err, ERRLEN), -EINVAL);
	cr_assert_eq(boot_load(g.gm, &g.mm, &bi, NULL, 0, NULL, 0xE0000, &out, err, ERRLEN), 0,
		     "%s", err);
	cr_assert_eq(out.initrd_gpa, 0);
	cr_assert_eq(g.ram[BOOT_CMDLINE_ADDR], 0);
	guest_fini(&g);
	free(cl);
	free(img);
}

/* The real kernel, loaded as the VMM would with a small initrd. */
Test(boot_x86, load_real_debian_vmlinuz)
{
	struct guest g;
	size_t len;
	uint8_t *img = real_vmlinuz(&len), initrd[4096] = {0x30, 0x37, 0x30, 0x37};
	struct boot_image bi = parse_ok(img, len);
	struct boot_info out;
	char err[ERRLEN] = "";

	guest_init(&g, 256 * MiB);
	cr_assert_eq(boot_load(g.gm, &g.mm, &bi, initrd, sizeof(initrd), "console=ttyS0", 0xE0000,
			       &out, err, ERRLEN),
		     0, "%s", err);
	check_loaded(&g, &bi, &out, initrd, sizeof(initrd), "console=ttyS0");
	cr_assert_geq(out.initrd_gpa, boot_kernel_window_end(&bi));
	guest_fini(&g);
	free(img);
}

Test(boot_x86, read_file_errors_name_the_path)
{
	char err[ERRLEN] = "";
	uint8_t *buf;
	size_t len;

	cr_assert_eq(boot_read_file("/nonexistent/vmlinuz", &buf, &len, err, ERRLEN), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/vmlinuz"), "%s", err);
	cr_assert_eq(boot_read_file("/tmp", &buf, &len, err, ERRLEN), -EINVAL);
	cr_assert(strstr(err, "regular file"), "%s", err);
}
