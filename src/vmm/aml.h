/* SPDX-License-Identifier: MIT */
/*
 * A small AML (ACPI Machine Language) emitter: just the encodings the DSDT of
 * specs/vmm-x86.md §3.9 needs (ACPI 6.5 chapter 20, resource descriptors of
 * §6.4). Bytes go into a bounded buffer; the first failure (overflow, invalid
 * name, length out of range) sticks in `err` so callers check once at the end.
 */
#ifndef KTSTR_VMM_AML_H
#define KTSTR_VMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_PKGLEN_MAX 0x0FFFFFFFu /* 28 bits: the largest PkgLength */

struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err; /* 0, -ENOSPC or -EINVAL; once set, further emits are ignored */
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);

/* Raw bytes. */
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);

/*
 * Encode a PkgLength whose value is `len` (the count includes the PkgLength
 * bytes themselves) into out; returns the byte count (1..4), or -EINVAL above
 * AML_PKGLEN_MAX.
 */
int aml_pkglen_encode(uint32_t len, uint8_t out[4]);
/*
 * PkgLength for a body of `body` bytes that follows it: picks the encoding
 * size so that the value covers itself + body (a 62-byte body gives 0x3F, a
 * 63-byte body needs two bytes and gives 65). Returns the byte count or -EINVAL.
 */
int aml_pkglen_for_body(uint32_t body, uint8_t out[4]);

/* NameSeg: 1-4 chars [A-Z_][A-Z0-9_]*, padded with '_'. -EINVAL otherwise. */
int aml_nameseg(const char *name, uint8_t out[4]);
void aml_name_seg(struct aml *a, const char *name);

/* Integer with the smallest encoding: Zero, One, Ones (only for ~0ull), Byte, Word, DWord, QWord. */
void aml_integer(struct aml *a, uint64_t v);
/* String constant (0x0D, ASCII, NUL). */
void aml_string(struct aml *a, const char *s);
/* EISA ID "PNP0501" -> DWord 0x0105D041 (bytes 41 D0 05 01); -EINVAL if malformed. */
int aml_eisaid(const char *id, uint32_t *out);
void aml_eisaid_integer(struct aml *a, const char *id);

/*
 * Nested constructs: open returns a mark, close fills in the PkgLength (the
 * body is moved if the PkgLength needs more than one byte). Scope and Device
 * take a path: a leading '\' gives the root prefix, then one NameSeg.
 */
size_t aml_scope_open(struct aml *a, const char *path);
size_t aml_device_open(struct aml *a, const char *name);
/* Name(n, ...) : emits 08 + NameSeg (path with optional '\'); caller emits the value. */
void aml_name(struct aml *a, const char *path);
/* Package(k) { ... } */
size_t aml_package_open(struct aml *a, uint8_t nelem);
void aml_close(struct aml *a, size_t mark);
/* Buffer (e.g. a ResourceTemplate); aml_buffer_close() also inserts the BufferSize integer. */
size_t aml_buffer_open(struct aml *a);
void aml_buffer_close(struct aml *a, size_t mark);

/* Resource descriptors (inside a ResourceTemplate buffer). */
void aml_res_memory32_fixed(struct aml *a, bool rw, uint32_t base, uint32_t len);
/* Extended Interrupt, consumer, exclusive, active-high; edge or level. */
void aml_res_interrupt(struct aml *a, bool edge, uint32_t gsi);
/* I/O port, 16-bit decode. */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* End tag (checksum 0). */
void aml_res_end(struct aml *a);

#endif
