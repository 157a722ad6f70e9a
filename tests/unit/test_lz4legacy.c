// SPDX-License-Identifier: MIT
/*
 * LZ4 legacy container (src/initramfs/lz4legacy.c). Decoded here by a small
 * reader that applies the same acceptance rules as the kernel's
 * lib/decompress_unlz4.c (magic, per-block size bound, 8 MiB output
 * window), and by the lz4(1) tool.
 */
#include <errno.h>
#include <lz4.h>

#include "ifs_testutil.h"
#include "initramfs/lz4legacy.h"

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Decode; returns the output (caller frees) and the number of blocks seen. */
static uint8_t *decode(const uint8_t *in, size_t len, size_t *out_len, size_t *blocks)
{
	size_t cap = 1024, o = 0, off = 4;
	uint8_t *out = malloc(cap);

	cr_assert_geq(len, 4);
	cr_assert_eq(rd32(in), 0x184C2102u, "legacy magic, little-endian");
	*blocks = 0;
	while (off < len) {
		uint32_t csz;
		int n;

		cr_assert_leq(off + 4, len, "truncated block header");
		csz = rd32(in + off);
		off += 4;
		/* the kernel refuses a chunk larger than the bound of one 8 MiB window */
		cr_assert_leq(csz, (uint32_t)LZ4_compressBound(8 << 20));
		cr_assert_neq(csz, 0x184C2102u);
		cr_assert_leq(off + csz, len);
		while (cap - o < (8u << 20)) {
			cap *= 2;
			out = realloc(out, cap);
			cr_assert_not_null(out);
		}
		n = LZ4_decompress_safe((const char *)in + off, (char *)out + o, (int)csz, 8 << 20);
		cr_assert_gt(n, 0, "block %zu does not decode on its own", *blocks);
		o += (size_t)n;
		off += csz;
		(*blocks)++;
	}
	*out_len = o;
	return out;
}

static void fill_text(uint8_t *buf, size_t len)
{
	static const char words[] = "virtio mmio console block net scheduler topology ";

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)words[(i * 7 + i / 13) % (sizeof(words) - 1)];
}

static void fill_random(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1664525u + 1013904223u;
		buf[i] = (uint8_t)(seed >> 24);
	}
}

static void round_trip(const uint8_t *src, size_t len, int level, size_t want_blocks)
{
	uint8_t *z, *back;
	size_t zl, bl, blocks;

	cr_assert_eq(lz4l_compress(src, len, level, &z, &zl), 0);
	back = decode(z, zl, &bl, &blocks);
	cr_assert_eq(blocks, want_blocks);
	cr_assert_eq(bl, len);
	cr_assert_eq(memcmp(back, src, len), 0);
	free(back);
	free(z);
}

Test(lz4legacy, output_starts_with_the_legacy_magic)
{
	uint8_t *z;
	size_t zl;

	cr_assert_eq(lz4l_compress("abc", 3, 0, &z, &zl), 0);
	cr_assert_eq(memcmp(z, "\x02\x21\x4c\x18", 4), 0);
	free(z);
}

Test(lz4legacy, empty_input_is_the_magic_alone)
{
	uint8_t *z;
	size_t zl;

	cr_assert_eq(lz4l_compress("", 0, 0, &z, &zl), 0);
	cr_assert_eq(zl, 4);
	free(z);
}

Test(lz4legacy, text_round_trips_and_shrinks)
{
	size_t len = 200000;
	uint8_t *src = malloc(len), *z;
	size_t zl;

	fill_text(src, len);
	round_trip(src, len, 0, 1);
	cr_assert_eq(lz4l_compress(src, len, 0, &z, &zl), 0);
	cr_assert_lt(zl, len / 4, "repetitive text must compress");
	free(z);
	free(src);
}

Test(lz4legacy, incompressible_input_round_trips)
{
	size_t len = 300001;
	uint8_t *src = malloc(len);

	fill_random(src, len, 7);
	round_trip(src, len, 0, 1);
	free(src);
}

Test(lz4legacy, input_is_cut_into_independent_8_mib_blocks)
{
	size_t len = 2 * (8u << 20) + 12345; /* two full windows and a short tail */
	uint8_t *src = malloc(len);

	fill_text(src, len);
	fill_random(src + (8u << 20) - 100, 200, 3); /* a block edge inside random data */
	round_trip(src, len, 0, 3);
	free(src);
}

Test(lz4legacy, exactly_one_window_is_one_block)
{
	size_t len = 8u << 20;
	uint8_t *src = malloc(len);

	fill_text(src, len);
	round_trip(src, len, 0, 1);
	free(src);
}

Test(lz4legacy, hc_level_round_trips_and_is_not_larger)
{
	size_t len = 500000;
	uint8_t *src = malloc(len), *fast, *hc;
	size_t fl, hl;

	fill_text(src, len);
	fill_random(src + 1000, 5000, 9);
	round_trip(src, len, 9, 1);
	cr_assert_eq(lz4l_compress(src, len, 0, &fast, &fl), 0);
	cr_assert_eq(lz4l_compress(src, len, 9, &hc, &hl), 0);
	cr_assert_leq(hl, fl);
	free(fast);
	free(hc);
	free(src);
}

Test(lz4legacy, lz4_tool_decodes_the_output)
{
	char *dir = tu_mkdtemp(), zpath[512], opath[512];
	size_t len = (8u << 20) + 777, zl, ol;
	uint8_t *src = malloc(len), *z, *back;

	tu_require("lz4");
	fill_text(src, len);
	fill_random(src + 4096, 100000, 5);
	cr_assert_eq(lz4l_compress(src, len, 0, &z, &zl), 0);
	tu_join(zpath, sizeof(zpath), dir, "a.lz4");
	tu_join(opath, sizeof(opath), dir, "a.out");
	tu_write(zpath, z, zl, 0644);
	cr_assert_eq(tu_sh("lz4 -d -q -f '%s' '%s'", zpath, opath), 0);
	back = tu_slurp(opath, &ol);
	cr_assert_eq(ol, len);
	cr_assert_eq(memcmp(back, src, len), 0);
	free(back);
	free(z);
	free(src);
	tu_rmrf(dir);
}
