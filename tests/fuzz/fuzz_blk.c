// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the virtio-blk request path (inline engine) driven like a
 * hostile guest through the real transport (specs/virtio-blk.md §6, §13).
 *
 * Each input is a small program against a fresh device over a real backing
 * file: post well-formed and malformed requests (every type, odd lengths,
 * wrong directions, huge sectors, 1 MiB + 1 descriptors, too-long chains),
 * write raw descriptors anywhere (mapped, across the seam or into the hole
 * between two memory regions, unmapped, near 2^64), publish any head, move
 * avail.idx and used_event, reset and re-walk with or without EVENT_IDX,
 * run the throttle clock, make the backing return EINTR, short or
 * zero-progress writes and flush errors, and kick. After every step:
 *   - no cumulative counter decreases and the stall gauge stays <= 1;
 *   - the backing file keeps its size (no write past the capacity);
 *   - a read-only device never issues a write;
 *   - bytes_read <= reads_completed * 128 MiB (seg_max * size_max).
 * ASan/UBSan catch the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/log.h"
#include "fuzz_input.h"
#include "support/vdriver.h"
#include "virtio/blk_priv.h"

#define MIB	    (1ull << 20)
#define CAPACITY    (64ull * 1024)
#define DATA_WIN    0x40000ull
#define DATA_WIN_SZ 0x40000ull
#define SEAM_WIN    (MIB - 0x8000ull)
#define SEAM_WIN_SZ 0x10000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- a backing over the shared file, with injectable faults ---- */

struct fuzz_backing {
	int fd;
	unsigned eintr;	  /* EINTRs still to inject */
	bool short_write; /* next pwritev writes half its first iovec */
	bool zero_write;
	bool sync_fail;
	unsigned writes;
};

static ssize_t fb_preadv(void *o, const struct iovec *iov, int cnt, uint64_t off)
{
	struct fuzz_backing *b = o;
	ssize_t r;

	if (b->eintr) {
		b->eintr--;
		return -EINTR;
	}
	r = preadv(b->fd, iov, cnt, (off_t)off);
	return r < 0 ? -errno : r;
}

static ssize_t fb_pwritev(void *o, const struct iovec *iov, int cnt, uint64_t off)
{
	struct fuzz_backing *b = o;
	ssize_t r;

	b->writes++;
	if (b->eintr) {
		b->eintr--;
		return -EINTR;
	}
	if (b->zero_write)
		return 0;
	if (b->short_write && iov[0].iov_len > 1) {
		b->short_write = false;
		r = pwrite(b->fd, iov[0].iov_base, iov[0].iov_len / 2, (off_t)off);
	} else {
		r = pwritev(b->fd, iov, cnt, (off_t)off);
	}
	return r < 0 ? -errno : r;
}

static int fb_sync(void *o)
{
	return ((struct fuzz_backing *)o)->sync_fail ? -EIO : 0; /* no fdatasync: keep it fast */
}

static const struct vblk_backing_ops fb_ops = {
	.preadv = fb_preadv,
	.pwritev = fb_pwritev,
	.sync_data = fb_sync,
};

/* ---- state shared across runs ---- */

static struct fuzz_backing backing;
static struct vdrv mem_ma, mem_mh; /* adjacent regions / a hole */
static uint64_t now_ns;

static uint64_t fuzz_now(void *o)
{
	(void)o;
	return now_ns;
}

static const struct vblk_clock fuzz_clock = {fuzz_now, NULL};

struct ctx {
	struct vblk *vb;
	struct vdrv *v;
	bool ro;
	uint16_t qsize;
	struct vblk_stats last;
};

static void die_if(bool bad, const char *what)
{
	if (bad) {
		log_err("fuzz_blk invariant broken: %s", what);
		abort();
	}
}

static void check(struct ctx *c)
{
	struct vblk_counters *cnt = c->vb->counters;
	struct vblk_stats s;
	struct stat st;

	vblk_counters_snapshot(cnt, &s);
	die_if(s.reads_completed < c->last.reads_completed, "reads went back");
	die_if(s.writes_completed < c->last.writes_completed, "writes went back");
	die_if(s.flushes_completed < c->last.flushes_completed, "flushes went back");
	die_if(s.bytes_read < c->last.bytes_read, "bytes_read went back");
	die_if(s.bytes_written < c->last.bytes_written, "bytes_written went back");
	die_if(s.throttled_count < c->last.throttled_count, "throttled went back");
	die_if(s.io_errors < c->last.io_errors, "io_errors went back");
	die_if(s.invalid_avail_idx_count < c->last.invalid_avail_idx_count,
	       "poison count went back");
	die_if(s.invalid_avail_idx_count > 1 + c->last.invalid_avail_idx_count, "poison twice");
	die_if(s.currently_throttled_gauge > 1, "gauge above one");
	die_if(s.bytes_read > s.reads_completed * 128 * MIB, "more bytes than a read can carry");
	die_if(c->ro && backing.writes, "read-only device wrote");
	die_if(fstat(backing.fd, &st) || (uint64_t)st.st_size != CAPACITY, "file size changed");
	c->last = s;
}

/* An address from a menu of interesting places; offsets stay inside windows we reset. */
static uint64_t pick_addr(struct fz_in *in)
{
	uint64_t off = fz_take(in, 2);

	switch (fz_take(in, 1) % 8) {
	case 0:
	case 1:
	case 2:
		return DATA_WIN + off % DATA_WIN_SZ;
	case 3:
		return SEAM_WIN + off % SEAM_WIN_SZ; /* across the seam, or into the hole */
	case 4:
		return 0x1000 + off % 0x3000; /* the rings themselves */
	case 5:
		return 0x300000 + off; /* unmapped in both layouts */
	case 6:
		return UINT64_MAX - (off & 0xFFF);
	default:
		return 0;
	}
}

static uint32_t pick_len(struct fz_in *in)
{
	static const uint32_t lens[] = {0,   1,	   15,	 16,   19,  20,	     511,  512,
					513, 1024, 4096, 8192, MIB, MIB + 1, 4096, 0x80000000u};
	uint8_t k = (uint8_t)fz_take(in, 1);

	return k < 2 * ARRAY_SIZE(lens) ? lens[k % ARRAY_SIZE(lens)] : (uint32_t)fz_take(in, 4);
}

static void walk(struct ctx *c, struct fz_in *in)
{
	uint8_t f = (uint8_t)fz_take(in, 1);
	uint64_t feats = 1ull << VIRTIO_F_VERSION_1;

	c->qsize = (uint16_t)(1u << (2 + f % 7)); /* 4 .. 256 */
	if (f & 0x80)
		feats |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if ((f & 0x40) && c->ro)
		feats |= 1ull << VIRTIO_BLK_F_RO;
	vdrv_set_status(c->v, 0);
	vdrv_set_status(c->v, 1);
	vdrv_set_status(c->v, 3);
	vdrv_write_features(c->v, feats);
	vdrv_set_status(c->v, 0x0B);
	vdrv_setup_queue(c->v, 0, c->qsize, 0, 0, 0);
	vdrv_set_status(c->v, 0x0F);
}

/* A request chain shaped by the input: header, data segments, status. */
static void post_request(struct ctx *c, struct fz_in *in)
{
	static const uint32_t types[] = {VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
					 VIRTIO_BLK_T_GET_ID};
	struct vdrv_buf b[VBLK_SCRATCH_CAP + 4];
	uint8_t shape = (uint8_t)fz_take(in, 1);
	uint8_t t8 = (uint8_t)fz_take(in, 1);
	uint32_t type = t8 < 240 ? types[t8 % 4] : (uint32_t)fz_take(in, 4);
	uint64_t sector = shape & 0x80 ? fz_take(in, 8) : fz_take(in, 1) % 140;
	unsigned nseg = shape & 0x40 ? (unsigned)fz_take(in, 1) : shape % 5;
	uint8_t hdr[16] = {0};
	uint64_t hdr_gpa = DATA_WIN + (fz_take(in, 2) % (DATA_WIN_SZ - 16));
	unsigned n = 0;

	if (nseg + 2 > c->qsize)
		nseg = c->qsize > 2 ? c->qsize - 2u : 0;
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	vdrv_wmem(c->v, hdr_gpa, hdr, sizeof(hdr));
	b[n++] = (struct vdrv_buf){hdr_gpa, (shape & 0x20) ? pick_len(in) : 16,
				   (shape & 0x10) != 0 && (t8 & 1)};
	for (unsigned i = 0; i < nseg && n < ARRAY_SIZE(b) - 1; i++) {
		bool want = type != VIRTIO_BLK_T_OUT;
		uint8_t d = (uint8_t)fz_take(in, 1);

		b[n++] = (struct vdrv_buf){d & 1 ? pick_addr(in) : DATA_WIN + (d * 2048ull),
					   d & 2 ? pick_len(in) : 512, (d & 4) ? !want : want};
	}
	if (n < c->qsize)
		b[n++] = (struct vdrv_buf){shape & 8 ? pick_addr(in) : DATA_WIN_SZ + DATA_WIN - 64,
					   shape & 4 ? pick_len(in) : 1, !(shape & 2) || (t8 & 2)};
	vdrv_post(c->v, 0, b, n);
}

static void run_program(struct ctx *c, struct fz_in *in)
{
	uint64_t word;

	for (unsigned steps = 0; in->n && steps < 64; steps++) {
		switch (fz_take(in, 1) % 12) {
		case 0:
		case 1:
		case 2:
			post_request(c, in);
			break;
		case 3: /* raw descriptor */
			word = fz_take(in, 2) % c->qsize;
			vdrv_set_desc(c->v, 0, (uint32_t)word, pick_addr(in), pick_len(in),
				      (uint16_t)(fz_take(in, 1) & 7), (uint16_t)fz_take(in, 2));
			break;
		case 4:
			vdrv_publish(c->v, 0, (uint16_t)fz_take(in, 2));
			break;
		case 5:
			vdrv_set_avail_idx(c->v, 0, (uint16_t)fz_take(in, 2));
			break;
		case 6:
			vdrv_set_used_event(c->v, 0, (uint16_t)fz_take(in, 2));
			break;
		case 7:
			now_ns += fz_take(in, 4) * 1000;
			break;
		case 8:
			word = fz_take(in, 1);
			backing.eintr = word & 0x10 ? (unsigned)(word & 0x1F) : 0;
			backing.short_write = word & 0x20;
			backing.zero_write = (word & 0xC0) == 0xC0;
			backing.sync_fail = word & 0x40;
			break;
		case 9:
			walk(c, in);
			break;
		case 10:
			vdrv_w32(c->v, 0x050, (uint32_t)fz_take(in, 1) % 3); /* notify 0, 1, 2 */
			break;
		default:
			vdrv_notify(c->v, 0);
			break;
		}
		check(c);
	}
	vdrv_notify(c->v, 0);
	check(c);
}

/* With half the file exposed, the other half must be exactly as created. */
static void check_tail(uint64_t cap)
{
	static uint8_t buf[CAPACITY];
	uint64_t n = CAPACITY - cap;

	if (!n)
		return;
	die_if(pread(backing.fd, buf, n, (off_t)cap) != (ssize_t)n, "tail unreadable");
	for (uint64_t i = 0; i < n; i++)
		die_if(buf[i] != 0xAB, "write past the capacity");
}

static uint8_t fill[CAPACITY];

/* Every run starts from the same file, so a crash replays on its own. */
static void reset_file(void)
{
	if (pwrite(backing.fd, fill, sizeof(fill), 0) != (ssize_t)sizeof(fill))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/ktstr-fuzz-blk-XXXXXX", path[64];

	(void)argc;
	(void)argv;
	log_set_level(LOG_ERR);
	if (!mkdtemp(dir))
		abort();
	strcpy(path, dir);
	strcat(path, "/disk.img");
	backing.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	memset(fill, 0xAB, sizeof(fill));
	if (backing.fd < 0)
		abort();
	/* The file stays open; its name is not needed any more. */
	unlink(path);
	rmdir(dir);
	vdrv_mem_init(&mem_ma, VDRV_MEM_MA);
	vdrv_mem_init(&mem_mh, VDRV_MEM_MH);
	return 0;
}

static void reset_memory(struct vdrv *v)
{
	memset(v->host[0], 0, DATA_WIN + DATA_WIN_SZ);
	memset(v->host[0] + SEAM_WIN, 0, MIB - SEAM_WIN);
	memset(v->host[1], 0, SEAM_WIN_SZ);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	uint8_t cfg = (uint8_t)fz_take(&in, 1);
	struct vblk_throttle t = {0};
	struct vblk_backing b = {&fb_ops, &backing};
	struct ctx c = {0};

	c.ro = cfg & 1;
	c.v = cfg & 2 ? &mem_mh : &mem_ma;
	if (cfg & 4)
		t.iops = 1 + fz_take(&in, 1) % 8;
	if (cfg & 8)
		t.bytes_per_sec = 512 * (1 + fz_take(&in, 1) % 16);
	backing = (struct fuzz_backing){.fd = backing.fd};
	now_ns = 1000000000ull;
	reset_file();
	reset_memory(c.v);
	c.v->alloc_next = VDRV_DATA_BASE;
	uint64_t cap = cfg & 16 ? CAPACITY / 2 : CAPACITY;

	if (vblk_new(&b, cap, c.ro, &t, VBLK_ENGINE_INLINE, &fuzz_clock, &c.vb))
		abort();
	c.v->dev = vblk_vdev(c.vb);
	vdev_set_mem(c.v->dev, c.v->gm);
	walk(&c, &in);
	run_program(&c, &in);
	if (getenv("FUZZ_BLK_VERBOSE")) { /* to check what a seed really exercises */
		char *js = vblk_stats_json(&c.last);

		fprintf(stderr, "fuzz_blk: %s\n", js ? js : "?");
		free(js);
	}
	vblk_destroy(c.vb);
	check_tail(cap);
	return 0;
}
