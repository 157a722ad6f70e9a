// SPDX-License-Identifier: MIT
/*
 * Benchmark: virtio-blk reads through the device, next to raw preadv on the
 * same file in the same run.
 *
 * The device is built the production way (vblk_create on a real file,
 * threaded engine: a worker thread fed by the kick eventfd). A simulated
 * guest keeps a fixed number of read requests in flight on a 256-entry ring,
 * kicks only when the device has notifications enabled (as Linux's
 * virtqueue_kick_prepare does), sleeps on the irq eventfd like a halted
 * vCPU, and refills the ring as completions come back.
 * The baseline issues the same preadv calls (same sizes, same offsets) on the
 * same page-cache-warm file from one thread. Two workloads:
 *   4 KiB random reads  -> IOPS
 *   1 MiB sequential reads -> MB/s
 * Device and baseline alternate in slices; the best slice of each is kept,
 * which filters out interference from other work on the machine. Prints
 * figures only; never fails on a timing.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "support/vdriver.h"
#include "virtio/blk.h"

#define KIB	   1024ull
#define MIB	   (1024ull * KIB)
#define FILE_SIZE  (64 * MIB)
#define SLICE_NS   300000000ull /* each side runs this long per slice */
#define SLICES	   5
#define QSIZE	   256
#define MAX_QD	   64
#define KICK_BATCH 8

struct workload {
	const char *name;
	uint32_t len;
	unsigned qd;
	bool random;
};

struct slot {
	uint64_t hdr, data, status;
};

struct bench {
	char dir[64], path[96];
	int fd;
	struct vblk *vb;
	struct vdrv v;
	struct slot slots[MAX_QD];
	uint64_t *offsets;
	size_t noffsets;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_blk: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The offset of request i: a fixed pseudo-random sequence, or a sequential sweep. */
static uint64_t offset_of(const struct bench *b, const struct workload *w, uint64_t i)
{
	if (w->random)
		return b->offsets[i % b->noffsets];
	return (i * w->len) % FILE_SIZE;
}

static void make_file(struct bench *b)
{
	static uint8_t buf[MIB];
	uint64_t x = 0x9E3779B97F4A7C15ull;

	strcpy(b->dir, "/tmp/ktstr-bench-blk-XXXXXX");
	if (!mkdtemp(b->dir))
		die("mkdtemp");
	snprintf(b->path, sizeof(b->path), "%s/disk.img", b->dir);
	b->fd = open(b->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (b->fd < 0)
		die("open");
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (uint64_t off = 0; off < FILE_SIZE; off += sizeof(buf))
		if (pwrite(b->fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf))
			die("pwrite");
	/* Warm the page cache: both sides then read memory, not the disk. */
	for (uint64_t off = 0; off < FILE_SIZE; off += sizeof(buf))
		if (pread(b->fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf))
			die("pread");
	b->noffsets = 1 << 16;
	b->offsets = malloc(b->noffsets * sizeof(*b->offsets));
	if (!b->offsets)
		die("malloc");
	for (size_t i = 0; i < b->noffsets; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b->offsets[i] = (x % (FILE_SIZE / (4 * KIB))) * 4 * KIB;
	}
}

/* ---- raw baseline ---- */

static uint64_t raw_slice(struct bench *b, const struct workload *w, uint64_t *start, uint64_t *ns)
{
	uint64_t t0 = now_ns(), n = 0;

	do {
		for (int k = 0; k < 64; k++, n++) {
			/* The same destination buffers the device uses, in the same rotation. */
			struct iovec iov = {vdrv_ptr(&b->v, b->slots[n % w->qd].data), w->len};

			if (preadv(b->fd, &iov, 1, (off_t)offset_of(b, w, *start + n)) !=
			    (ssize_t)w->len)
				die("preadv");
		}
	} while (now_ns() - t0 < SLICE_NS);
	*ns = now_ns() - t0;
	*start += n;
	return n;
}

/* ---- through the device ---- */

static void device_setup(struct bench *b)
{
	struct vblk_opts o;
	char err[256];

	vblk_opts_init(&o);
	o.path = b->path;
	if (vblk_create(&o, &b->vb, err, sizeof(err))) {
		fprintf(stderr, "bench_blk: %s\n", err);
		exit(1);
	}
	vdrv_init(&b->v, vblk_vdev(b->vb), VDRV_MEM_BIG, true);
	if (!vdrv_handshake(&b->v, 1ull << VIRTIO_F_VERSION_1, 1, QSIZE)) {
		fprintf(stderr, "bench_blk: handshake failed\n");
		exit(1);
	}
	for (unsigned i = 0; i < MAX_QD; i++) {
		uint8_t st = 0xEE;

		b->slots[i].hdr = vdrv_alloc(&b->v, 16, 16);
		/* Only the 1 MiB workload's few slots need 1 MiB buffers. */
		b->slots[i].data = vdrv_alloc(&b->v, i < 8 ? MIB : 4 * KIB, 4096);
		b->slots[i].status = vdrv_alloc(&b->v, 1, 1);
		vdrv_wmem(&b->v, b->slots[i].status, &st, 1);
	}
}

static void post_read(struct bench *b, unsigned slot, uint64_t off, uint32_t len)
{
	struct slot *s = &b->slots[slot];
	uint32_t hdr[4] = {htole32(VIRTIO_BLK_T_IN), 0, 0, 0};
	uint64_t sector = htole64(off / 512);

	memcpy(&hdr[2], &sector, 8);
	vdrv_wmem(&b->v, s->hdr, hdr, sizeof(hdr));
	vdrv_post(&b->v, 0,
		  (struct vdrv_buf[]){
			  {s->hdr, 16, false}, {s->data, len, true}, {s->status, 1, true}},
		  3);
}

/* Linux's rule: after publishing, kick only if the device asked to be told. */
static void kick_if_needed(struct bench *b)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(vdrv_used_flags(&b->v, 0) & VRING_USED_F_NO_NOTIFY))
		vdrv_notify(&b->v, 0);
}

/*
 * Wait for a completion like a guest that halts until its interrupt: sleep
 * on the irq eventfd rather than spin, so the worker has a CPU to itself
 * even on a busy machine. The eventfd counts, so no wake-up is lost.
 */
static void wait_used(struct bench *b, uint32_t *id, uint32_t *len)
{
	struct pollfd p = {.fd = vdev_irq_fd(vblk_vdev(b->vb)), .events = POLLIN};

	while (!vdrv_pop_used(&b->v, 0, id, len)) {
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			die("poll");
		(void)vdrv_irq_count(&b->v);
	}
}

static uint64_t device_slice(struct bench *b, const struct workload *w, uint64_t *start,
			     uint64_t *ns)
{
	unsigned ring[MAX_QD], head = 0, tail = 0, inflight = 0, free_n = w->qd;
	unsigned free_slots[MAX_QD];
	uint64_t t0 = now_ns(), issued = 0, done = 0;
	bool stop = false;

	for (unsigned i = 0; i < w->qd; i++)
		free_slots[i] = i;
	while (!stop || inflight) {
		unsigned posted = 0;
		uint32_t id, len;

		while (!stop && free_n) {
			unsigned s = free_slots[--free_n];

			post_read(b, s, offset_of(b, w, *start + issued++), w->len);
			ring[tail++ % MAX_QD] = s;
			inflight++;
			/* Kick every few requests, so the worker starts while we keep posting. */
			if (++posted % KICK_BATCH == 0)
				kick_if_needed(b);
		}
		if (posted % KICK_BATCH)
			kick_if_needed(b);
		wait_used(b, &id, &len);
		do {
			/* Completions come back in order: the worker serves one request at a time. */
			free_slots[free_n++] = ring[head++ % MAX_QD];
			inflight--;
			done++;
			if (len != w->len + 1 ||
			    *(volatile uint8_t *)vdrv_ptr(
				    &b->v, b->slots[ring[(head - 1) % MAX_QD]].status))
				die("bad completion");
		} while (vdrv_pop_used(&b->v, 0, &id, &len));
		if (!stop && now_ns() - t0 >= SLICE_NS)
			stop = true;
	}
	*ns = now_ns() - t0;
	*start += issued;
	return done;
}

static void run(struct bench *b, const struct workload *w)
{
	double best_raw = 0, best_dev = 0;
	uint64_t raw_pos = 0, dev_pos = 0;

	for (int s = 0; s < SLICES; s++) {
		uint64_t ns, n;
		double rate;

		n = raw_slice(b, w, &raw_pos, &ns);
		rate = (double)n * 1e9 / (double)ns;
		best_raw = rate > best_raw ? rate : best_raw;
		n = device_slice(b, w, &dev_pos, &ns);
		rate = (double)n * 1e9 / (double)ns;
		best_dev = rate > best_dev ? rate : best_dev;
	}
	if (w->len < MIB)
		printf("  %-26s raw preadv %9.0f IOPS   device %9.0f IOPS   ratio %.2f  (qd %u)\n",
		       w->name, best_raw, best_dev, best_dev / best_raw, w->qd);
	else
		printf("  %-26s raw preadv %9.0f MB/s   device %9.0f MB/s   ratio %.2f  (qd %u)\n",
		       w->name, best_raw * w->len / 1e6, best_dev * w->len / 1e6,
		       best_dev / best_raw, w->qd);
}

int main(void)
{
	static const struct workload loads[] = {
		{"4 KiB random read", 4 * KIB, 64, true},
		{"1 MiB sequential read", MIB, 4, false},
	};
	struct bench b = {0};

	log_set_level(LOG_ERR);
	make_file(&b);
	device_setup(&b);
	printf("virtio-blk reads, %llu MiB page-cache-warm file, worker engine, ring %u\n",
	       (unsigned long long)(FILE_SIZE / MIB), QSIZE);
	for (size_t i = 0; i < sizeof(loads) / sizeof(loads[0]); i++)
		run(&b, &loads[i]);
	vblk_destroy(b.vb);
	vdrv_fini(&b.v);
	close(b.fd);
	unlink(b.path);
	rmdir(b.dir);
	free(b.offsets);
	return 0;
}
