/* SPDX-License-Identifier: MIT */
/*
 * Drop the DWARF debug sections of an ELF64 file in memory, so the ktstr
 * binary packed as /init costs the guest less to unpack (a -g build is about
 * three quarters debug information). The symbol table stays, so backtraces
 * from a crashing init still have names.
 *
 * Only the simple, common layout is rewritten: every removed section
 * (".debug*", ".zdebug*" and their relocation sections, none SHF_ALLOC)
 * lies after everything that is loaded; the kept non-loaded sections found
 * after them (.symtab, .strtab, .shstrtab) are moved down, and the section
 * header table is rebuilt with links renumbered. Anything else is refused
 * with -ENOTSUP and the caller packs the file unchanged.
 */
#ifndef KTSTR_INITRAMFS_ELFSTRIP_H
#define KTSTR_INITRAMFS_ELFSTRIP_H

#include <stddef.h>
#include <stdint.h>

/*
 * 0 and a malloc'd copy without debug sections (also when there were none),
 * -ENOEXEC if not a little-endian ELF64 file with sane headers, -ENOTSUP for
 * a layout this does not handle, -ENOMEM.
 */
int elfstrip_debug(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);

#endif
