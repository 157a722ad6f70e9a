// SPDX-License-Identifier: MIT
/*
 * virtio-net loopback throughput, next to a plain memcpy of the same bytes
 * measured in the same run (prints figures; never fails on time).
 *
 * The guest side is prepared once: 256-entry rings whose descriptor i points
 * at TX frame i and RX buffer i, and avail slot i holding head i. A round
 * then costs the guest two index stores (RX and TX avail.idx += BATCH) and
 * one QUEUE_NOTIFY, so what is timed is the device: pop, chain walk, header
 * skip, copy, RX header, two add_used, one interrupt. The memcpy baseline
 * copies the same frame bytes between the same buffers in the same order.
 * Both copy modes are measured: DIRECT (TX straight into RX, one copy) and
 * STAGED (through the scratch buffer, two copies).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/compiler.h"
#include "base/log.h"
#include "support/vdriver.h"
#include "virtio/net.h"

#define QSIZE	 256u
#define BATCH	 128u /* frames per kick; divides QSIZE so avail slot i always holds head i */
#define TX_BASE	 0x100000ull
#define RX_EXTRA 64u

struct bench {
	struct vnet *n;
	struct vdev *d;
	struct vdrv v;
	uint32_t frame;
	uint64_t tx_stride, rx_base, rx_stride;
};

/*
 * CPU time of this thread, not wall time: the bench machines are shared, and
 * time spent descheduled says nothing about what a frame costs.
 */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int bench_setup(struct bench *b, enum vnet_copy_mode mode, uint32_t frame)
{
	struct vnet_params p = {.copy = mode};
	int rc;

	memset(b, 0, sizeof(*b));
	rc = vnet_create(&p, &b->n);
	if (rc < 0)
		return rc;
	b->d = vnet_vdev(b->n);
	b->frame = frame;
	vdrv_init(&b->v, b->d, VDRV_MEM_BIG, true);
	if (!vdrv_handshake(&b->v, (1ull << 32) | (1ull << 5), 2, QSIZE))
		return -EIO;

	b->tx_stride = align_up(VNET_HDR_LEN + frame, 64);
	b->rx_base = align_up(TX_BASE + QSIZE * b->tx_stride, 4096);
	b->rx_stride = align_up(VNET_HDR_LEN + frame + RX_EXTRA, 64);
	for (uint16_t i = 0; i < QSIZE; i++) {
		uint64_t tx = TX_BASE + i * b->tx_stride, rx = b->rx_base + i * b->rx_stride;
		uint8_t *p8 = vdrv_ptr(&b->v, tx);

		memset(p8, 0, VNET_HDR_LEN);
		for (uint32_t k = 0; k < frame; k++)
			p8[VNET_HDR_LEN + k] = (uint8_t)(k + i);
		vdrv_set_desc(&b->v, VNET_TXQ, i, tx, VNET_HDR_LEN + frame, 0, 0);
		vdrv_set_desc(&b->v, VNET_RXQ, i, rx, (uint32_t)b->rx_stride, 2 /* WRITE */, 0);
		vdrv_set_avail_entry(&b->v, VNET_TXQ, i, i);
		vdrv_set_avail_entry(&b->v, VNET_RXQ, i, i);
	}
	return 0;
}

static void bench_teardown(struct bench *b)
{
	vnet_destroy(b->n);
	vdrv_fini(&b->v);
}

/* One kick moving BATCH frames. */
static void round_trip(struct bench *b)
{
	vdrv_set_avail_idx(&b->v, VNET_RXQ, (uint16_t)(b->v.q[VNET_RXQ].avail_idx + BATCH));
	vdrv_set_avail_idx(&b->v, VNET_TXQ, (uint16_t)(b->v.q[VNET_TXQ].avail_idx + BATCH));
	vdrv_notify(&b->v, VNET_TXQ);
	/* Interrupts are counted, not waited for; drain the eventfd so it cannot saturate. */
	(void)vdrv_irq_count(&b->v);
}

/* Best of REPS alternating device/memcpy slices: the machine is shared and noisy. */
#define REPS	7
#define SLICE_S 0.06

static double run_device(struct bench *b, uint64_t *frames)
{
	double t0 = now(), t;
	uint64_t rounds = 0;

	do {
		for (int i = 0; i < 8; i++)
			round_trip(b);
		rounds += 8;
		t = now();
	} while (t - t0 < SLICE_S);
	*frames = rounds * BATCH;
	return t - t0;
}

static double run_memcpy(struct bench *b, uint64_t *frames)
{
	uint8_t *tx = vdrv_ptr(&b->v, TX_BASE), *rx = vdrv_ptr(&b->v, b->rx_base);
	double t0, t;
	uint64_t n = 0;

	t0 = now();
	do {
		for (unsigned i = 0; i < 8 * BATCH; i++) {
			unsigned slot = i % QSIZE;

			memcpy(rx + slot * b->rx_stride + VNET_HDR_LEN,
			       tx + slot * b->tx_stride + VNET_HDR_LEN, b->frame);
			/* Keep the compiler from merging or dropping the copies. */
			__asm__ volatile("" : : "r"(rx) : "memory");
		}
		n += 8 * BATCH;
		t = now();
	} while (t - t0 < SLICE_S);
	*frames = n;
	return t - t0;
}

static int measure(enum vnet_copy_mode mode, uint32_t frame, const char *label)
{
	struct vnet_snapshot s;
	uint64_t dev_frames, cpy_frames, dev_total;
	double dev_t, cpy_t, dev_fps, cpy_fps;
	struct bench b;
	int rc;

	rc = bench_setup(&b, mode, frame);
	if (rc < 0) {
		fprintf(stderr, "bench_net: setup failed: %d\n", rc);
		return rc;
	}
	round_trip(&b); /* warm-up: faults in every buffer */
	dev_fps = cpy_fps = 0;
	dev_total = 0;
	for (int r = 0; r < REPS; r++) {
		dev_t = run_device(&b, &dev_frames);
		cpy_t = run_memcpy(&b, &cpy_frames);
		dev_total += dev_frames;
		dev_fps = MAX(dev_fps, (double)dev_frames / dev_t);
		cpy_fps = MAX(cpy_fps, (double)cpy_frames / cpy_t);
	}
	vnet_snapshot(b.n, &s);
	bench_teardown(&b);
	/* Every frame must have made the round trip, or the figures mean nothing. */
	if (s.rx_packets != dev_total + BATCH || s.rx_bytes != s.rx_packets * frame) {
		fprintf(stderr, "bench_net: frames were not all delivered (%llu of %llu)\n",
			(unsigned long long)s.rx_packets, (unsigned long long)(dev_total + BATCH));
		return -EIO;
	}
	printf("%-8s %-7s %12.0f %10.1f %9.1f %12.1f %9.1f %8.2fx\n", label,
	       mode == VNET_COPY_DIRECT ? "direct" : "staged", dev_fps, dev_fps * frame / 1e6,
	       1e9 / dev_fps, cpy_fps * frame / 1e6, 1e9 / cpy_fps, cpy_fps / dev_fps);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		uint32_t frame;
		const char *label;
	} sizes[] = {{64, "64 B"}, {1500, "1500 B"}, {65536, "64 KiB"}};
	int rc = 0;

	log_set_level(LOG_ERR);
	printf("virtio-net TX->RX loopback, %u frames per kick, %u-entry rings, one thread, "
	       "thread CPU time, best of %d\n",
	       BATCH, QSIZE, REPS);
	printf("ratio = memcpy frames/s / device frames/s (time per frame relative to a bare copy)\n");
	printf("%-8s %-7s %12s %10s %9s %12s %9s %9s\n", "frame", "mode", "frames/s", "MB/s",
	       "ns/frame", "memcpy MB/s", "ns/copy", "ratio");
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* Optional arguments pick frame sizes (e.g. "64"), for perf stat runs. */
		bool want = argc < 2;

		for (int a = 1; a < argc; a++)
			want |= strtoul(argv[a], NULL, 0) == sizes[i].frame;
		if (!want)
			continue;
		rc |= measure(VNET_COPY_DIRECT, sizes[i].frame, sizes[i].label);
		rc |= measure(VNET_COPY_STAGED, sizes[i].frame, sizes[i].label);
	}
	return rc ? 1 : 0;
}
