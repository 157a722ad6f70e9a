// SPDX-License-Identifier: MIT
/*
 * Benchmark: guest->host throughput of the console's bulk port (port 1,
 * queue 5), the path that carries test results and payload output.
 *
 * A simulated guest posts TX chains of 4 KiB (one descriptor) or 64 KiB
 * (two 32 KiB descriptors, the per-descriptor cap) into a 256-entry ring,
 * one per-call budget (256 KiB) per notify; the host then takes the bytes,
 * either by handing the capture buffer over (vc_drain_bulk) or by copying
 * it into a fixed buffer (vc_read_port). Next to it, in the same run, a
 * plain memcpy of the same bytes gives the floor; the ratio says what the
 * ring walk, the capture buffer and the locking cost on top of the copy.
 * Prints figures only; never fails on a timing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "support/vdriver.h"
#include "virtio/console.h"

#define KIB	  1024u
#define ROUND	  (256u * KIB) /* one TX per-call budget */
#define SLICE_NS  40000000ull  /* device and memcpy alternate in slices of this length */
#define SLICES	  10
#define BULK_TXQ  5
#define RING_SIZE 256

enum host_mode { HOST_DRAIN, HOST_READ };

struct result {
	uint64_t bytes, chains, ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double mib_s(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes / (1024.0 * 1024.0) / ((double)ns / 1e9) : 0.0;
}

/* Guest publishes one budget's worth of chains and kicks; the host takes the bytes. */
static void run_device(struct vdrv *v, struct vc_dev *d, uint64_t src, uint32_t chain,
		       enum host_mode mode, uint8_t *sink, struct result *r)
{
	uint32_t per_desc = chain > 32 * KIB ? 32 * KIB : chain;
	unsigned ndesc = chain / per_desc, nchains = ROUND / chain;
	struct vdrv_buf bufs[4];
	uint64_t t0 = now_ns(), t;

	do {
		for (unsigned c = 0; c < nchains; c++) {
			for (unsigned i = 0; i < ndesc; i++)
				bufs[i] = (struct vdrv_buf){.gpa = src + (uint64_t)c * chain +
								   (uint64_t)i * per_desc,
							    .len = per_desc};
			vdrv_post(v, BULK_TXQ, bufs, ndesc);
		}
		vdrv_notify(v, BULK_TXQ);
		if (mode == HOST_DRAIN) {
			uint8_t *out = NULL;

			r->bytes += vc_drain_bulk(d, &out);
			free(out);
		} else {
			ssize_t n;

			while ((n = vc_read_port(d, VC_PORT_BULK, sink, ROUND)) > 0)
				r->bytes += (uint64_t)n;
		}
		r->chains += nchains;
		t = now_ns();
	} while (t - t0 < SLICE_NS);
	r->ns += t - t0;
}

static void run_memcpy(const uint8_t *src, uint8_t *dst, struct result *r)
{
	uint64_t t0 = now_ns(), t;

	do {
		memcpy(dst, src, ROUND);
		__asm__ volatile("" : : "r"(dst) : "memory"); /* keep the copy */
		r->bytes += ROUND;
		t = now_ns();
	} while (t - t0 < SLICE_NS);
	r->ns += t - t0;
}

int main(void)
{
	static const uint32_t chains[] = {4 * KIB, 64 * KIB};
	static const char *const modes[] = {"drain (handover)", "read (copy out)"};
	struct vdrv v;
	struct vc_dev *d;
	uint8_t *sink = malloc(ROUND);
	uint64_t src;

	log_set_level(LOG_ERR);
	d = vc_new(NULL);
	if (!d || !sink) {
		fprintf(stderr, "bench_console: set-up failed\n");
		return 1;
	}
	vdrv_init(&v, vc_vdev(d), VDRV_MEM_BIG, true);
	vdrv_set_status(&v, 0);
	vdrv_set_status(&v, 0x01);
	vdrv_set_status(&v, 0x03);
	vdrv_write_features(&v, (1ull << 32) | (1ull << 1));
	vdrv_set_status(&v, 0x0B);
	vdrv_setup_queue(&v, BULK_TXQ, RING_SIZE, 0, 0, 0);
	vdrv_set_status(&v, 0x0F);
	if (vdrv_status(&v) != 0x0F) {
		fprintf(stderr, "bench_console: device did not reach DRIVER_OK\n");
		return 1;
	}
	src = vdrv_alloc(&v, ROUND, 4096);
	for (uint32_t i = 0; i < ROUND; i++)
		((uint8_t *)vdrv_ptr(&v, src))[i] = (uint8_t)(i * 31 + 7);

	printf("virtio-console port 1 (guest->host), %u KiB per notify; device and memcpy\n"
	       "alternate in %d slices of %.0f ms each per row (a shared machine hits both alike)\n",
	       ROUND / KIB, SLICES, (double)SLICE_NS / 1e6);
	printf("  %-9s %-18s %12s %12s %14s %8s\n", "chain", "host side", "MiB/s", "chains/s",
	       "memcpy MiB/s", "ratio");
	for (size_t c = 0; c < sizeof(chains) / sizeof(chains[0]); c++) {
		for (int m = HOST_DRAIN; m <= HOST_READ; m++) {
			struct result r = {0}, copy = {0};
			double dev;

			for (int i = 0; i < SLICES; i++) {
				run_device(&v, d, src, chains[c], (enum host_mode)m, sink, &r);
				run_memcpy(vdrv_ptr(&v, src), sink, &copy);
			}
			dev = mib_s(r.bytes, r.ns);
			printf("  %4u KiB  %-18s %12.0f %12.0f %14.0f %7.2fx\n", chains[c] / KIB,
			       modes[m], dev, (double)r.chains / ((double)r.ns / 1e9),
			       mib_s(copy.bytes, copy.ns),
			       dev > 0 ? mib_s(copy.bytes, copy.ns) / dev : 0.0);
		}
	}
	printf("  (ratio = memcpy throughput / device throughput; 1.00x means the device costs\n"
	       "   no more than copying the bytes once)\n");
	vc_free(d);
	vdrv_fini(&v);
	free(sink);
	return 0;
}
