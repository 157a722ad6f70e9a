// SPDX-License-Identifier: MIT
#include <errno.h>
#include <lz4.h>
#include <lz4hc.h>
#include <stdlib.h>
#include <string.h>

#include "initramfs/lz4legacy.h"

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int lz4l_compress(const void *src, size_t len, int level, uint8_t **out, size_t *out_len)
{
	const uint8_t *in = src;
	size_t nblocks = (len + LZ4L_BLOCK_SIZE - 1) / LZ4L_BLOCK_SIZE;
	size_t bound = (size_t)LZ4_compressBound((int)LZ4L_BLOCK_SIZE) + 4, cap, o = 4;
	uint8_t *buf, *shrunk;

	/* worst case: every block incompressible */
	if (__builtin_mul_overflow(nblocks, bound, &cap) || __builtin_add_overflow(cap, 4, &cap))
		return -ENOMEM;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	put_le32(buf, LZ4L_MAGIC);
	for (size_t off = 0; off < len; off += LZ4L_BLOCK_SIZE) {
		int n = (int)(len - off < LZ4L_BLOCK_SIZE ? len - off : LZ4L_BLOCK_SIZE);
		char *dst = (char *)buf + o + 4;
		int room = (int)(cap - o - 4), c;

		/*
		 * Each block is compressed on its own (no dictionary carried over):
		 * the kernel decodes block by block into an 8 MiB window.
		 */
		if (level > 0)
			c = LZ4_compress_HC((const char *)in + off, dst, n, room, level);
		else
			c = LZ4_compress_default((const char *)in + off, dst, n, room);
		if (c <= 0) {
			free(buf);
			return -EOVERFLOW;
		}
		put_le32(buf + o, (uint32_t)c);
		o += 4 + (size_t)c;
	}
	shrunk = realloc(buf, o);
	*out = shrunk ? shrunk : buf;
	*out_len = o;
	return 0;
}
