/* SPDX-License-Identifier: MIT */
/*
 * Decompression of kernel modules shipped as .ko.xz, .ko.zst or .ko.gz, for
 * guest kernels that cannot do it themselves (guest-protocol.md §3.3).
 */
#ifndef KTSTR_INITRAMFS_DECOMP_H
#define KTSTR_INITRAMFS_DECOMP_H

#include <stddef.h>
#include <stdint.h>

enum decomp_fmt { DECOMP_NONE = 0, DECOMP_XZ, DECOMP_ZSTD, DECOMP_GZIP };

/* The format a file name's suffix announces (".xz", ".zst", ".gz"), else DECOMP_NONE. */
enum decomp_fmt decomp_fmt_of(const char *name);
/* ".xz", ".zst", ".gz" or "". */
const char *decomp_suffix(enum decomp_fmt fmt);

/*
 * Decompress a whole buffer into a malloc'd *out. -EFBIG if the output would
 * exceed max bytes, -EBADMSG for corrupt or truncated input, -ENOMEM.
 */
int decomp_buffer(enum decomp_fmt fmt, const uint8_t *in, size_t len, size_t max, uint8_t **out,
		  size_t *out_len);

#endif
