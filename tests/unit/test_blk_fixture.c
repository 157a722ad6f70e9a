// SPDX-License-Identifier: MIT
/* The virtio-blk test fixture; see test_blk.h. */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_blk.h"

struct blk_fx blk_fx;

/* ---- fault-injecting backing over the test file ---- */

static ssize_t fx_preadv(void *o, const struct iovec *iov, int cnt, uint64_t off)
{
	struct blk_fx *fx = o;
	ssize_t r;

	fx->faults.preadv_calls++;
	if (fx->faults.read_eintr) {
		if (fx->faults.read_eintr > 0)
			fx->faults.read_eintr--;
		return -EINTR;
	}
	r = preadv(fx->fd, iov, cnt, (off_t)off);
	return r < 0 ? -errno : r;
}

static ssize_t fx_pwritev(void *o, const struct iovec *iov, int cnt, uint64_t off)
{
	struct blk_fx *fx = o;
	ssize_t r;

	fx->faults.pwritev_calls++;
	if (fx->faults.write_zero)
		return 0;
	if (fx->faults.write_half) {
		fx->faults.write_half = false;
		r = pwrite(fx->fd, iov[0].iov_base, iov[0].iov_len / 2, (off_t)off);
	} else {
		r = pwritev(fx->fd, iov, cnt, (off_t)off);
	}
	return r < 0 ? -errno : r;
}

static int fx_sync(void *o)
{
	struct blk_fx *fx = o;

	fx->faults.sync_calls++;
	if (fx->faults.sync_errno)
		return -fx->faults.sync_errno;
	return fdatasync(fx->fd) ? -errno : 0;
}

static const struct vblk_backing_ops fx_backing_ops = {
	.preadv = fx_preadv,
	.pwritev = fx_pwritev,
	.sync_data = fx_sync,
};

static uint64_t fx_now(void *o)
{
	return atomic_load(&((struct blk_fx *)o)->now);
}

/* ---- life cycle ---- */

void blk_fx_fini(void)
{
	struct blk_fx *fx = &blk_fx;

	if (fx->c)
		vblk_counters_put(fx->c);
	if (fx->vb)
		vblk_destroy(fx->vb);
	if (fx->v.gm)
		vdrv_fini(&fx->v);
	if (fx->fd > 0)
		close(fx->fd);
	if (fx->path[0])
		unlink(fx->path);
	if (fx->dir[0])
		rmdir(fx->dir);
	memset(fx, 0, sizeof(*fx));
}

void blk_fx_setup(const struct blk_fx_cfg *cfg)
{
	struct blk_fx *fx = &blk_fx;
	uint64_t cap = cfg->capacity ? cfg->capacity : 4096;
	uint64_t flen = cfg->file_len == UINT64_MAX ? 0 : cfg->file_len ? cfg->file_len : cap;
	struct vblk_backing b = {&fx_backing_ops, fx};
	int rc;

	memset(fx, 0, sizeof(*fx));
	strcpy(fx->dir, "/tmp/ktstr-blk-XXXXXX");
	cr_assert_not_null(mkdtemp(fx->dir));
	strcpy(fx->path, fx->dir); /* dir is 21 bytes long: path has room */
	strcat(fx->path, "/disk.img");
	fx->fd = open(fx->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fx->fd, 0);
	blk_fx_file_fill(0, cfg->fill ? (uint8_t)cfg->fill : 0xAB, flen);
	atomic_store(&fx->now,
		     1000ull * 1000000000ull); /* far from 0 so "2 s in the past" exists */
	fx->clk = (struct vblk_clock){fx_now, fx};
	rc = vblk_new(&b, cap, cfg->read_only, &cfg->throttle,
		      cfg->inline_engine ? VBLK_ENGINE_INLINE : cfg->engine, &fx->clk, &fx->vb);
	cr_assert_eq(rc, 0, "vblk_new: %d", rc);
	fx->d = vblk_vdev(fx->vb);
	fx->c = vblk_counters(fx->vb);
	vdrv_init(&fx->v, fx->d, cfg->mem, !cfg->no_bind);
}

void blk_fx_default(void)
{
	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true});
}

void blk_fx_wire(void)
{
	cr_assert(vdrv_handshake(&blk_fx.v, 1ull << VIRTIO_F_VERSION_1, 1, 256));
}

void blk_fx_wire_at(uint64_t features, uint16_t qsize, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct vdrv *v = &blk_fx.v;

	vdrv_set_status(v, 0);
	vdrv_set_status(v, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vdrv_set_status(v, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vdrv_write_features(v, features);
	vdrv_set_status(v, 0x0B);
	cr_assert_eq(vdrv_status(v), 0x0B);
	vdrv_setup_queue(v, 0, qsize, desc, avail, used);
	vdrv_set_status(v, 0x0F);
	cr_assert_eq(vdrv_status(v), 0x0F);
}

void blk_fx_wire_event_idx(void)
{
	blk_fx_wire_at(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX, 16, 0x1000,
		       0x2000, 0x10000);
	cr_assert(blk_fx_q()->event_idx);
}

void blk_fx_iops1_drained(void)
{
	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .throttle = {.iops = 1}});
	blk_fx_wire();
	cr_assert(vblk_tb_consume(&blk_fx_state()->ops_tb, 1));
}

struct vq *blk_fx_q(void)
{
	return vdev_queue(blk_fx.d, 0);
}

struct vblk_state *blk_fx_state(void)
{
	return blk_fx.vb->inline_state;
}

struct vblk_stats blk_fx_stats(void)
{
	struct vblk_stats s;

	vblk_counters_snapshot(blk_fx.c, &s);
	return s;
}

void blk_fx_advance(uint64_t ns)
{
	atomic_fetch_add(&blk_fx.now, ns);
}

uint64_t blk_fx_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool blk_fx_wait(bool (*pred)(void *), void *arg, unsigned timeout_ms)
{
	uint64_t end = blk_fx_mono_ms() + timeout_ms;

	while (!pred(arg)) {
		if (blk_fx_mono_ms() > end)
			return false;
		usleep(1000);
	}
	return true;
}

static bool used_reached(void *arg)
{
	return vdrv_used_idx(&blk_fx.v, 0) == *(uint16_t *)arg;
}

bool blk_fx_wait_used(uint16_t idx, unsigned timeout_ms)
{
	return blk_fx_wait(used_reached, &idx, timeout_ms);
}

void blk_fx_file_fill(uint64_t off, uint8_t byte, uint64_t len)
{
	uint8_t buf[4096];

	memset(buf, byte, sizeof(buf));
	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		cr_assert_eq(pwrite(blk_fx.fd, buf, n, (off_t)off), (ssize_t)n);
		off += n;
		len -= n;
	}
}

void blk_fx_file_read(uint64_t off, void *buf, uint64_t len)
{
	cr_assert_eq(pread(blk_fx.fd, buf, len, (off_t)off), (ssize_t)len);
}

/* ---- requests ---- */

uint64_t blk_fx_hdr(uint32_t type, uint64_t sector)
{
	uint64_t gpa = vdrv_alloc(&blk_fx.v, VBLK_OUTHDR_SIZE, 16);
	uint8_t h[VBLK_OUTHDR_SIZE] = {0};
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);

	memcpy(h, &t, 4);
	memcpy(h + 8, &s, 8);
	vdrv_wmem(&blk_fx.v, gpa, h, sizeof(h));
	return gpa;
}

void blk_fx_post(struct blk_req *r, uint32_t type, uint64_t sector, const uint32_t *lens,
		 unsigned n, bool data_write)
{
	struct vdrv *v = &blk_fx.v;
	struct vdrv_buf bufs[VBLK_SCRATCH_CAP + 2];
	uint8_t init = BLK_FX_STATUS_INIT;

	cr_assert_leq(n, VBLK_SCRATCH_CAP);
	memset(r, 0, sizeof(*r));
	r->hdr = blk_fx_hdr(type, sector);
	bufs[0] = (struct vdrv_buf){r->hdr, VBLK_OUTHDR_SIZE, false};
	for (unsigned i = 0; i < n; i++) {
		r->data[i] = vdrv_alloc(v, lens[i] ? lens[i] : 1, 16);
		if (lens[i]) {
			uint8_t *p = vdrv_ptr(v, r->data[i]);

			memset(p, BLK_FX_DATA_INIT, lens[i]);
		}
		bufs[1 + i] = (struct vdrv_buf){r->data[i], lens[i], data_write};
	}
	r->ndata = n;
	r->status = vdrv_alloc(v, 1, 1);
	vdrv_wmem(v, r->status, &init, 1);
	bufs[1 + n] = (struct vdrv_buf){r->status, 1, true};
	r->head = vdrv_post(v, 0, bufs, n + 2);
}

void blk_fx_kick(void)
{
	vdrv_notify(&blk_fx.v, 0);
}

void blk_fx_read(struct blk_req *r, uint64_t sector, uint32_t len)
{
	blk_fx_post(r, VIRTIO_BLK_T_IN, sector, &len, 1, true);
	blk_fx_kick();
}

void blk_fx_write(struct blk_req *r, uint64_t sector, uint32_t len, uint8_t pattern)
{
	blk_fx_post(r, VIRTIO_BLK_T_OUT, sector, &len, 1, false);
	memset(vdrv_ptr(&blk_fx.v, r->data[0]), pattern, len);
	blk_fx_kick();
}

void blk_fx_flush(struct blk_req *r)
{
	blk_fx_post(r, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
	blk_fx_kick();
}

uint8_t blk_fx_status(const struct blk_req *r)
{
	return blk_fx_byte(r->status);
}

uint8_t blk_fx_byte(uint64_t gpa)
{
	uint8_t b;

	vdrv_rmem(&blk_fx.v, gpa, &b, 1);
	return b;
}

bool blk_fx_all(uint64_t gpa, uint8_t byte, uint64_t len)
{
	const uint8_t *p = vdrv_ptr(&blk_fx.v, gpa);

	for (uint64_t i = 0; i < len; i++)
		if (p[i] != byte)
			return false;
	return true;
}

uint32_t blk_fx_used_len(uint16_t slot)
{
	uint32_t len;

	vdrv_used_elem(&blk_fx.v, 0, slot, NULL, &len);
	return len;
}
