// SPDX-License-Identifier: MIT
/*
 * Guest-memory gateway: specs/virtio-transport.md §2, test cases §7.J
 * (131-145). Fixtures M1, MA and MH come from vdriver; the gateway is checked
 * against the host buffers directly.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "support/vdriver.h"
#include "virtio/guestmem.h"

#define MIB (1024ull * 1024ull)

static void fill_pattern(uint8_t *buf, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7);
}

/* spec §7 #131 */
Test(guestmem, m1_round_trip_at_both_ends)
{
	struct vdrv v;
	uint8_t in[16], out[16];
	const uint64_t at[] = {0, MIB - 16};

	vdrv_mem_init(&v, VDRV_MEM_M1);
	for (unsigned i = 0; i < 2; i++) {
		fill_pattern(in, sizeof(in), (uint8_t)(i + 1));
		memset(out, 0, sizeof(out));
		cr_assert_eq(gm_write(v.gm, at[i], in, sizeof(in)), 0);
		cr_assert_eq(memcmp(vdrv_ptr(&v, at[i]), in, sizeof(in)), 0);
		cr_assert_eq(gm_read(v.gm, at[i], out, sizeof(out)), 0);
		cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	}
	vdrv_fini(&v);
}

/* spec §7 #132 */
Test(guestmem, read_past_end_fails_and_leaves_destination)
{
	struct vdrv v;
	uint8_t out[16], ref[16];

	vdrv_mem_init(&v, VDRV_MEM_M1);
	memset(vdrv_ptr(&v, MIB - 8), 0x55, 8);
	memset(out, 0x11, sizeof(out));
	memcpy(ref, out, sizeof(ref));
	cr_assert_eq(gm_read(v.gm, MIB - 8, out, 16), -EFAULT);
	cr_assert_eq(memcmp(out, ref, sizeof(out)), 0);
	vdrv_fini(&v);
}

/* spec §7 #133 */
Test(guestmem, write_past_end_is_all_or_nothing)
{
	struct vdrv v;
	uint8_t in[16], old[8], now[8];

	vdrv_mem_init(&v, VDRV_MEM_M1);
	fill_pattern(old, sizeof(old), 9);
	vdrv_wmem(&v, MIB - 8, old, sizeof(old));
	memset(in, 0xEE, sizeof(in));
	cr_assert_eq(gm_write(v.gm, MIB - 8, in, sizeof(in)), -EFAULT);
	vdrv_rmem(&v, MIB - 8, now, sizeof(now));
	cr_assert_eq(memcmp(old, now, sizeof(old)), 0);
	vdrv_fini(&v);
}

/* spec §7 #134 */
Test(guestmem, mh_hole_is_unmapped)
{
	struct vdrv v;
	uint8_t out[16];

	vdrv_mem_init(&v, VDRV_MEM_MH);
	cr_assert_eq(gm_read(v.gm, MIB - 8, out, 16), -EFAULT);
	cr_assert_eq(gm_read(v.gm, MIB + MIB / 2, out, 16), -EFAULT);
	memset(vdrv_ptr(&v, 2 * MIB), 0x3C, 16);
	cr_assert_eq(gm_read(v.gm, 2 * MIB, out, 16), 0);
	cr_assert_eq(out[0], 0x3C);
	cr_assert_eq(out[15], 0x3C);
	cr_assert_not(gm_range_ok(v.gm, MIB - 8, 16));
	cr_assert(gm_range_ok(v.gm, 2 * MIB, 16));
	vdrv_fini(&v);
}

/* spec §7 #135 */
Test(guestmem, ma_copy_across_seam)
{
	struct vdrv v;
	uint8_t in[64], out[64];

	vdrv_mem_init(&v, VDRV_MEM_MA);
	fill_pattern(in, sizeof(in), 3);
	cr_assert_eq(gm_write(v.gm, MIB - 32, in, sizeof(in)), 0);
	/* The two halves land in the two separate host buffers. */
	cr_assert_eq(memcmp(v.host[0] + MIB - 32, in, 32), 0);
	cr_assert_eq(memcmp(v.host[1], in + 32, 32), 0);
	cr_assert_eq(gm_read(v.gm, MIB - 32, out, sizeof(out)), 0);
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	vdrv_fini(&v);
}

/* spec §7 #136 */
Test(guestmem, slice_only_inside_one_region)
{
	struct vdrv ma, mh;
	uint8_t *p;

	vdrv_mem_init(&ma, VDRV_MEM_MA);
	vdrv_mem_init(&mh, VDRV_MEM_MH);
	p = gm_slice(ma.gm, 0x1234, 16);
	cr_assert_eq(p, ma.host[0] + 0x1234);
	p[0] = 0x77; /* aliases guest memory */
	cr_assert_eq(((uint8_t *)vdrv_ptr(&ma, 0x1234))[0], 0x77);
	cr_assert_eq(gm_slice(ma.gm, MIB + 0x10, 16), ma.host[1] + 0x10);
	cr_assert_null(gm_slice(ma.gm, MIB - 8, 16));
	cr_assert_null(gm_slice(mh.gm, MIB + 0x100, 16));
	cr_assert_null(gm_slice(mh.gm, MIB - 8, 16));
	cr_assert_null(gm_slice(ma.gm, 0x1000, 0));
	vdrv_fini(&ma);
	vdrv_fini(&mh);
}

/* spec §7 #137 */
Test(guestmem, iov_pieces_per_region)
{
	struct vdrv ma, mh;
	struct iovec iov[4];
	unsigned n = 99;

	vdrv_mem_init(&ma, VDRV_MEM_MA);
	vdrv_mem_init(&mh, VDRV_MEM_MH);
	cr_assert_eq(gm_iov(ma.gm, MIB - 512, 1024, iov, 4, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(iov[0].iov_base, ma.host[0] + MIB - 512);
	cr_assert_eq(iov[0].iov_len, 512);
	cr_assert_eq(iov[1].iov_base, ma.host[1]);
	cr_assert_eq(iov[1].iov_len, 512);
	cr_assert_eq(gm_iov(mh.gm, MIB - 512, 1024, iov, 4, &n), -EFAULT);
	cr_assert_eq(gm_iov(ma.gm, MIB - 512, 1024, iov, 1, &n), -E2BIG);
	cr_assert_eq(gm_iov(ma.gm, 0x100, 64, iov, 1, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(gm_iov(ma.gm, 0x100, 0, iov, 4, &n), 0);
	cr_assert_eq(n, 0);
	vdrv_fini(&ma);
	vdrv_fini(&mh);
}

/* spec §7 #138 */
Test(guestmem, zero_length_always_succeeds)
{
	struct vdrv v;
	uint8_t buf[4] = {1, 2, 3, 4};
	const uint64_t at[] = {0, MIB + MIB / 2, UINT64_MAX};

	vdrv_mem_init(&v, VDRV_MEM_MH);
	memset(vdrv_ptr(&v, 0), 0x5A, 4);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert(gm_range_ok(v.gm, at[i], 0));
		cr_assert_eq(gm_read(v.gm, at[i], buf, 0), 0);
		cr_assert_eq(gm_write(v.gm, at[i], buf, 0), 0);
		cr_assert_eq(gm_fill(v.gm, at[i], 0xFF, 0), 0);
	}
	cr_assert_eq(buf[0], 1);
	cr_assert_eq(buf[3], 4);
	cr_assert_eq(((uint8_t *)vdrv_ptr(&v, 0))[0], 0x5A);
	vdrv_fini(&v);
}

/* spec §7 #139 */
Test(guestmem, no_wrap_to_gpa_zero)
{
	struct vdrv v;
	uint8_t out[24];

	vdrv_mem_init(&v, VDRV_MEM_M1);
	cr_assert_eq(gm_read(v.gm, UINT64_MAX - 11, out, 24), -EFAULT);
	cr_assert_eq(gm_read(v.gm, UINT64_MAX, out, 1), -EFAULT);
	cr_assert_eq(gm_write(v.gm, UINT64_MAX - 11, out, 24), -EFAULT);
	cr_assert_not(gm_range_ok(v.gm, UINT64_MAX - 11, 24));
	/* An end of exactly 2^64 counts as overflow too. */
	cr_assert_not(gm_range_ok(v.gm, UINT64_MAX - 15, 16));
	vdrv_fini(&v);
}

/* spec §7 #140 */
Test(guestmem, add_region_validation)
{
	struct gm *gm = gm_new();
	uint8_t *buf = aligned_alloc(4096, 3 * 4096);
	uint8_t out;

	cr_assert_not_null(gm);
	cr_assert_eq(gm_add_region(gm, 0x10000, 0, buf), -EINVAL);
	cr_assert_eq(gm_add_region(gm, UINT64_MAX - 0xFFF, 0x2000, buf), -EINVAL);
	cr_assert_eq(gm_add_region(gm, 0x10001, 4096, buf), -EINVAL); /* mod-8 mismatch */
	/* Out of order: the higher region first. */
	cr_assert_eq(gm_add_region(gm, 0x20000, 4096, buf + 4096), 0);
	cr_assert_eq(gm_add_region(gm, 0x10000, 4096, buf), 0);
	cr_assert_eq(gm_add_region(gm, 0x10800, 4096, buf + 2 * 4096), -EEXIST);
	cr_assert_eq(gm_add_region(gm, 0x1F800, 4096, buf + 2 * 4096), -EEXIST);
	cr_assert_eq(gm_num_regions(gm), 2);
	buf[5] = 0x15;
	buf[4096 + 7] = 0x27;
	cr_assert_eq(gm_read(gm, 0x10005, &out, 1), 0);
	cr_assert_eq(out, 0x15);
	cr_assert_eq(gm_read(gm, 0x20007, &out, 1), 0);
	cr_assert_eq(out, 0x27);
	cr_assert_eq(gm_read(gm, 0x11000, &out, 1), -EFAULT);
	gm_put(gm);
	free(buf);
}

/* spec §7 #141 */
Test(guestmem, ring_field_accessors)
{
	struct vdrv m1, mh;
	uint16_t val = 0;
	uint8_t *raw;
	struct gm *split = gm_new();
	uint8_t *buf = aligned_alloc(4096, 0x2000);

	vdrv_mem_init(&m1, VDRV_MEM_M1);
	vdrv_mem_init(&mh, VDRV_MEM_MH);
	cr_assert_eq(gm_store16_release(m1.gm, 0x100, 0xBEEF), 0);
	raw = vdrv_ptr(&m1, 0x100);
	cr_assert_eq(raw[0], 0xEF); /* little-endian in guest memory */
	cr_assert_eq(raw[1], 0xBE);
	cr_assert_eq(gm_load16_acquire(m1.gm, 0x100, &val), 0);
	cr_assert_eq(val, 0xBEEF);
	cr_assert_eq(gm_store16_relaxed(m1.gm, 0x102, 0x1234), 0);
	cr_assert_eq(gm_load16_acquire(m1.gm, 0x102, &val), 0);
	cr_assert_eq(val, 0x1234);
	cr_assert_eq(gm_load16_acquire(m1.gm, 0x101, &val), -EFAULT);
	cr_assert_eq(gm_store16_release(m1.gm, 0x101, 1), -EFAULT);
	cr_assert_eq(gm_store16_relaxed(m1.gm, 0x101, 1), -EFAULT);
	cr_assert_eq(gm_load16_acquire(mh.gm, MIB - 2, &val), 0);
	cr_assert_eq(gm_load16_acquire(mh.gm, MIB, &val), -EFAULT);
	cr_assert_eq(gm_store16_release(mh.gm, MIB, 1), -EFAULT);

	/* Both bytes mapped but in two regions: still refused. */
	cr_assert_eq(gm_add_region(split, 0, 0x1001, buf), 0);
	cr_assert_eq(gm_add_region(split, 0x1001, 0x2000 - 0x1001, buf + 0x1001), 0);
	cr_assert_eq(gm_load16_acquire(split, 0x1000, &val), -EFAULT);
	cr_assert_eq(gm_store16_release(split, 0x1000, 1), -EFAULT);
	cr_assert(gm_range_ok(split, 0x1000, 2));
	gm_put(split);
	free(buf);
	vdrv_fini(&m1);
	vdrv_fini(&mh);
}

/* spec §7 #142 */
Test(guestmem, fill_across_seam_and_hole)
{
	struct vdrv ma, mh;

	vdrv_mem_init(&ma, VDRV_MEM_MA);
	vdrv_mem_init(&mh, VDRV_MEM_MH);
	memset(ma.host[0] + MIB - 16, 0xAA, 16);
	memset(ma.host[1], 0xAA, 16);
	cr_assert_eq(gm_fill(ma.gm, MIB - 16, 0, 32), 0);
	for (unsigned i = 0; i < 16; i++) {
		cr_assert_eq(ma.host[0][MIB - 16 + i], 0);
		cr_assert_eq(ma.host[1][i], 0);
	}
	memset(mh.host[0] + MIB - 16, 0xAA, 16);
	cr_assert_eq(gm_fill(mh.gm, MIB - 16, 0, 32), -EFAULT);
	for (unsigned i = 0; i < 16; i++)
		cr_assert_eq(mh.host[0][MIB - 16 + i], 0xAA);
	vdrv_fini(&ma);
	vdrv_fini(&mh);
}

/* spec §7 #143 */
Test(guestmem, region_above_4g)
{
	struct gm *gm = gm_new();
	uint8_t *buf = aligned_alloc(4096, MIB);
	uint8_t out[16];
	const uint64_t base = 4096ull * MIB;

	memset(buf, 0x61, MIB);
	cr_assert_eq(gm_add_region(gm, base, MIB, buf), 0);
	cr_assert_eq(gm_read(gm, base + 16, out, 16), 0);
	cr_assert_eq(out[0], 0x61);
	cr_assert_eq(gm_read(gm, base - 16, out, 16), -EFAULT);
	cr_assert_eq(gm_read(gm, 16, out, 16), -EFAULT);
	gm_put(gm);
	free(buf);
}

/* spec §7 #144: 8 copy threads on disjoint ranges, 2 slicing threads. */
struct gm_stress {
	struct gm *gm;
	unsigned id;
	unsigned errors;
};

#define GM_STRESS_ITERS 2000
#define GM_STRESS_CHUNK 4096ull

static void *gm_stress_copier(void *arg)
{
	struct gm_stress *s = arg;
	uint8_t in[256], out[256];
	/* Thread 0 straddles the MA seam, so seam copies race too. */
	uint64_t base = s->id == 0 ? MIB - 128 : (uint64_t)s->id * 2 * GM_STRESS_CHUNK;

	for (unsigned it = 0; it < GM_STRESS_ITERS; it++) {
		fill_pattern(in, sizeof(in), (uint8_t)(it + s->id));
		if (gm_write(s->gm, base, in, sizeof(in)) ||
		    gm_read(s->gm, base, out, sizeof(out)) || memcmp(in, out, sizeof(in)))
			s->errors++;
	}
	return NULL;
}

static void *gm_stress_slicer(void *arg)
{
	struct gm_stress *s = arg;

	for (unsigned it = 0; it < GM_STRESS_ITERS * 4; it++) {
		uint64_t gpa = (it * 4096ull + s->id * 64) % (2 * MIB - 64);
		uint8_t *p = gm_slice(s->gm, gpa, 64);
		bool crosses = gpa < MIB && gpa + 64 > MIB;
		if (crosses == (p != NULL))
			s->errors++;
	}
	return NULL;
}

Test(guestmem, concurrent_copies_and_slices)
{
	struct vdrv v;
	pthread_t th[10];
	struct gm_stress st[10];

	vdrv_mem_init(&v, VDRV_MEM_MA);
	for (unsigned i = 0; i < 10; i++) {
		st[i] = (struct gm_stress){.gm = v.gm, .id = i};
		cr_assert_eq(pthread_create(&th[i], NULL,
					    i < 8 ? gm_stress_copier : gm_stress_slicer, &st[i]),
			     0);
	}
	for (unsigned i = 0; i < 10; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(st[i].errors, 0, "thread %u saw %u errors", i, st[i].errors);
	}
	vdrv_fini(&v);
}

/* spec §7 #145 */
Test(guestmem, last_put_frees_map_not_ram)
{
	uint8_t *ram = aligned_alloc(4096, 8192);
	struct gm *gm = gm_new();
	uint8_t out = 0;

	cr_assert_eq(gm_add_region(gm, 0, 8192, ram), 0);
	cr_assert_eq(gm_get(gm), gm);
	cr_assert_eq(gm_get(gm), gm);
	gm_put(gm);
	gm_put(gm);
	/* One reference left: the map still works. */
	ram[10] = 0x42;
	cr_assert_eq(gm_read(gm, 10, &out, 1), 0);
	cr_assert_eq(out, 0x42);
	gm_put(gm);
	gm_put(NULL);
	/* The RAM outlives the map (ASan would flag a use-after-free here). */
	ram[10] = 0x43;
	cr_assert_eq(ram[10], 0x43);
	free(ram);
}
