/* SPDX-License-Identifier: MIT */
/*
 * LZ4 "legacy" container, the one the kernel's lib/decompress_unlz4.c reads
 * for an LZ4-compressed initramfs (CONFIG_RD_LZ4): the LE u32 magic
 * 0x184C2102, then for each block of at most 8 MiB of input a LE u32
 * compressed size followed by an independent LZ4 block. The newer LZ4 frame
 * format (lz4(1) default) is NOT accepted there.
 *
 * There is no end marker: the kernel reads blocks until the initrd length
 * it was given is used up exactly. So the initrd must end with the stream
 * (no zero padding after it: a zero block size fails to decode), and
 * anything appended after it must itself be a legacy LZ4 stream (a repeated
 * magic where a block size is expected starts a new stream).
 */
#ifndef KTSTR_INITRAMFS_LZ4LEGACY_H
#define KTSTR_INITRAMFS_LZ4LEGACY_H

#include <stddef.h>
#include <stdint.h>

#define LZ4L_MAGIC	0x184C2102u
#define LZ4L_BLOCK_SIZE (8u << 20) /* input bytes per block, fixed by the format */

/*
 * Compress src into a malloc'd *out. level 0 = LZ4 fast (default
 * acceleration), 1..12 = LZ4HC at that level. Returns 0, -ENOMEM, or
 * -EOVERFLOW if the library refused a block (cannot happen with a bound-sized
 * buffer, but is not ignored).
 */
int lz4l_compress(const void *src, size_t len, int level, uint8_t **out, size_t *out_len);

#endif
