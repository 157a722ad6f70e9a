// SPDX-License-Identifier: MIT
/*
 * Debug-section stripping of /init (src/initramfs/elfstrip.c). The input is
 * a program compiled with -g at test time; the output must still run, keep
 * its symbols, lose every .debug section, and agree with readelf(1).
 */
#include <elf.h>
#include <errno.h>
#include <limits.h>

#include "ifs_testutil.h"
#include "initramfs/elfstrip.h"

/* A -g program that exits with 42; returns its bytes, dir gets the scratch directory. */
static uint8_t *debug_prog(char **dir, size_t *len)
{
	char path[PATH_MAX];

	tu_require("cc");
	tu_require("readelf");
	*dir = tu_mkdtemp();
	tu_join(path, sizeof(path), *dir, "p.c");
	tu_write_str(path, "static int answer(void) { return 42; }\n"
			   "int main(void) { return answer(); }\n");
	cr_assert_eq(tu_sh("cd '%s' && cc -g -O0 -o prog p.c", *dir), 0);
	tu_join(path, sizeof(path), *dir, "prog");
	return tu_slurp(path, len);
}

Test(elfstrip, debug_sections_go_and_the_program_still_runs_with_its_symbols)
{
	char *dir, path[PATH_MAX];
	size_t len, olen;
	uint8_t *in = debug_prog(&dir, &len), *out;

	cr_assert_eq(tu_sh("readelf -S '%s/prog' | grep -q '\\.debug_info'", dir), 0,
		     "the fixture must have debug info");
	cr_assert_eq(elfstrip_debug(in, len, &out, &olen), 0);
	cr_assert_lt(olen, len);
	tu_join(path, sizeof(path), dir, "stripped");
	tu_write(path, out, olen, 0755);
	cr_assert_eq(tu_sh("'%s'", path), 42, "the stripped program must run unchanged");
	cr_assert_neq(tu_sh("readelf -S '%s' | grep -q '\\.debug'", path), 0, "debug left");
	/* readelf parses every header without complaint, and the symbol table kept its names */
	cr_assert_eq(tu_sh("readelf -a -W '%s' 2>&1 >/dev/null | grep -q .", path), 1,
		     "readelf warns about the rewritten file");
	cr_assert_eq(tu_sh("readelf -s -W '%s' | grep -q ' answer$'", path), 0,
		     "static symbol 'answer' lost");
	free(in);
	free(out);
	tu_rmrf(dir);
}

Test(elfstrip, a_file_without_debug_sections_comes_back_unchanged)
{
	char *dir, path[PATH_MAX];
	size_t len, olen, slen;
	uint8_t *in = debug_prog(&dir, &len), *out, *st;

	free(in);
	cr_assert_eq(tu_sh("cd '%s' && strip -o nodebug prog", dir), 0);
	tu_join(path, sizeof(path), dir, "nodebug");
	st = tu_slurp(path, &slen);
	cr_assert_eq(elfstrip_debug(st, slen, &out, &olen), 0);
	cr_assert_eq(olen, slen);
	cr_assert_eq(memcmp(out, st, slen), 0);
	free(out);
	free(st);
	tu_rmrf(dir);
}

Test(elfstrip, not_elf64_or_truncated_input_is_enoexec)
{
	uint8_t buf[128] = {0x7f, 'E', 'L', 'F', ELFCLASS32, ELFDATA2LSB, 1};
	uint8_t *out;
	size_t olen;

	cr_assert_eq(elfstrip_debug(buf, sizeof(buf), &out, &olen), -ENOEXEC, "ELF32");
	cr_assert_eq(elfstrip_debug((const uint8_t *)"#!/bin/sh\n", 10, &out, &olen), -ENOEXEC);
	cr_assert_eq(elfstrip_debug(buf, 10, &out, &olen), -ENOEXEC, "shorter than a header");
}

/* Section header i of an ELF64 image (a copy, and where it lives). */
static Elf64_Shdr *shdr(uint8_t *img, unsigned i)
{
	Elf64_Ehdr eh;

	memcpy(&eh, img, sizeof(eh));
	return (Elf64_Shdr *)(void *)(img + eh.e_shoff + i * sizeof(Elf64_Shdr));
}

Test(elfstrip, a_debug_section_inside_the_loaded_image_is_refused)
{
	char *dir;
	size_t len, olen;
	uint8_t *in = debug_prog(&dir, &len), *out;
	Elf64_Ehdr eh;
	const char *names;

	memcpy(&eh, in, sizeof(eh));
	names = (const char *)in + shdr(in, eh.e_shstrndx)->sh_offset;
	for (unsigned i = 1; i < eh.e_shnum; i++) {
		Elf64_Shdr *s = shdr(in, i);

		/* claim a debug section sits right after the headers, inside the first segment */
		if (!strncmp(names + s->sh_name, ".debug", 6)) {
			s->sh_offset = 0x100;
			s->sh_size = 0x10;
			break;
		}
	}
	cr_assert_eq(elfstrip_debug(in, len, &out, &olen), -ENOTSUP);
	free(in);
	tu_rmrf(dir);
}

Test(elfstrip, corrupted_headers_never_crash_it)
{
	char *dir;
	size_t len;
	uint8_t *in = debug_prog(&dir, &len), *work = malloc(len);
	uint32_t seed = 12345;
	Elf64_Ehdr eh;

	memcpy(&eh, in, sizeof(eh));
	/* flip bytes in the ELF header and the section header table; ASan watches the reads */
	for (int round = 0; round < 3000; round++) {
		uint8_t *out = NULL;
		size_t olen, off;
		int ret;

		memcpy(work, in, len);
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245u + 12345u;
			off = (seed >> 8) % 2 ? (seed >> 9) % sizeof(eh)
					      : eh.e_shoff + (seed >> 9) % (eh.e_shnum *
									    sizeof(Elf64_Shdr));
			work[off] = (uint8_t)(seed >> 16);
		}
		ret = elfstrip_debug(work, len, &out, &olen);
		cr_assert(ret == 0 || ret == -ENOEXEC || ret == -ENOTSUP, "ret %d", ret);
		if (!ret)
			cr_assert_leq(olen, len + 64 * 1024);
		free(out);
	}
	free(work);
	free(in);
	tu_rmrf(dir);
}
