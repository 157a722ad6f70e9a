// SPDX-License-Identifier: MIT
/*
 * vdriver: the guest side of every device test.
 *
 * The simulator plays the part of a Linux guest: it owns "guest RAM" in host
 * buffers, drives the transport only through vmmio_read/vmmio_write, and
 * reads and writes rings the way drivers/virtio/virtio_ring.c does (payload
 * first, then a release store of avail.idx). Guest-side memory access goes
 * straight to the host buffers through this file's own region table, not
 * through the gm gateway, so a gateway bug cannot hide itself in a test that
 * uses the simulator to set up or inspect memory.
 *
 * This file is also linked into fuzzers and benchmarks, so it must not use
 * Criterion: misuse by a test (an unmapped GPA passed to vdrv_ptr, a failed
 * allocation) aborts, which Criterion reports as a crashed test.
 */
#include "support/vdriver.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

#define MIB (1024ull * 1024ull)

/* Linux polls STATUS after writing 0; our transport resets synchronously. */
#define VDRV_RESET_POLLS 1000

static void __attribute__((noreturn, format(printf, 1, 2))) vdrv_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vdriver: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static uint8_t *vdrv_host_alloc(uint64_t len)
{
	/* Page aligned, so host and GPA agree modulo 8 (the gm rule). */
	void *p = NULL;

	if (posix_memalign(&p, 4096, len))
		vdrv_die("cannot allocate %llu bytes of guest RAM", (unsigned long long)len);
	memset(p, 0, len);
	return p;
}

/* ------------------------------------------------------------------------ */
/* Guest memory                                                             */

void vdrv_mem_init(struct vdrv *v, enum vdrv_mem_kind kind)
{
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	switch (kind) {
	case VDRV_MEM_M1:
		v->nregions = 1;
		v->gpa[0] = 0;
		v->host_len[0] = MIB;
		break;
	case VDRV_MEM_MA:
		v->nregions = 2;
		v->gpa[0] = 0;
		v->host_len[0] = MIB;
		v->gpa[1] = MIB;
		v->host_len[1] = MIB;
		break;
	case VDRV_MEM_MH:
		v->nregions = 2;
		v->gpa[0] = 0;
		v->host_len[0] = MIB;
		v->gpa[1] = 2 * MIB;
		v->host_len[1] = MIB;
		break;
	case VDRV_MEM_BIG:
		v->nregions = 1;
		v->gpa[0] = 0;
		v->host_len[0] = 64 * MIB;
		break;
	default:
		vdrv_die("unknown memory kind %d", (int)kind);
	}

	v->gm = gm_new();
	if (!v->gm)
		vdrv_die("gm_new failed");
	for (unsigned i = 0; i < v->nregions; i++) {
		v->host[i] = vdrv_host_alloc(v->host_len[i]);
		int rc = gm_add_region(v->gm, v->gpa[i], v->host_len[i], v->host[i]);
		if (rc)
			vdrv_die("gm_add_region(%u) failed: %d", i, rc);
	}

	/* Data buffers live in region 0 above the ring area. */
	v->alloc_next = VDRV_DATA_BASE;
	v->alloc_end = v->gpa[0] + v->host_len[0];
}

void vdrv_init(struct vdrv *v, struct vdev *dev, enum vdrv_mem_kind kind, bool bind)
{
	vdrv_mem_init(v, kind);
	v->dev = dev;
	if (bind)
		vdev_set_mem(dev, v->gm);
}

void vdrv_fini(struct vdrv *v)
{
	/* The device keeps its own reference to the map; the RAM is ours. */
	gm_put(v->gm);
	v->gm = NULL;
	for (unsigned i = 0; i < v->nregions; i++) {
		free(v->host[i]);
		v->host[i] = NULL;
	}
	v->nregions = 0;
}

/* Host address of gpa and how many bytes follow it in the same region. */
static uint8_t *vdrv_lookup(struct vdrv *v, uint64_t gpa, uint64_t *avail)
{
	for (unsigned i = 0; i < v->nregions; i++) {
		if (gpa >= v->gpa[i] && gpa - v->gpa[i] < v->host_len[i]) {
			uint64_t off = gpa - v->gpa[i];
			if (avail)
				*avail = v->host_len[i] - off;
			return v->host[i] + off;
		}
	}
	return NULL;
}

static bool vdrv_mapped(struct vdrv *v, uint64_t gpa, uint64_t len)
{
	while (len) {
		uint64_t n = 0;
		if (!vdrv_lookup(v, gpa, &n))
			return false;
		if (n >= len)
			return true;
		len -= n;
		gpa += n;
	}
	return true;
}

void *vdrv_ptr(struct vdrv *v, uint64_t gpa)
{
	void *p = vdrv_lookup(v, gpa, NULL);

	if (!p)
		vdrv_die("vdrv_ptr: GPA 0x%llx is not guest RAM", (unsigned long long)gpa);
	return p;
}

uint64_t vdrv_alloc(struct vdrv *v, uint64_t len, uint64_t align)
{
	uint64_t a;

	if (!align)
		align = 1;
	if (align & (align - 1))
		vdrv_die("vdrv_alloc: alignment %llu is not a power of two",
			 (unsigned long long)align);
	a = (v->alloc_next + align - 1) & ~(align - 1);
	if (a < v->alloc_next || len > v->alloc_end - a || a > v->alloc_end)
		vdrv_die("vdrv_alloc: out of guest RAM (%llu bytes)", (unsigned long long)len);
	v->alloc_next = a + len;
	memset(vdrv_ptr(v, a), 0, len);
	return a;
}

enum vdrv_copy_op { VDRV_TO_GUEST, VDRV_FROM_GUEST, VDRV_ZERO };

/* Guest-side copy that may cross seams between regions; the caller checked the range. */
static void vdrv_copy(struct vdrv *v, uint64_t gpa, void *buf, uint64_t len, enum vdrv_copy_op op)
{
	uint8_t *b = buf;

	while (len) {
		uint64_t n = 0;
		uint8_t *p = vdrv_lookup(v, gpa, &n);

		if (!p)
			vdrv_die("guest access at unmapped GPA 0x%llx", (unsigned long long)gpa);
		if (n > len)
			n = len;
		if (op == VDRV_TO_GUEST)
			memcpy(p, b, n);
		else if (op == VDRV_FROM_GUEST)
			memcpy(b, p, n);
		else
			memset(p, 0, n);
		if (b)
			b += n;
		gpa += n;
		len -= n;
	}
}

void vdrv_wmem(struct vdrv *v, uint64_t gpa, const void *src, size_t len)
{
	if (!vdrv_mapped(v, gpa, len))
		vdrv_die("vdrv_wmem: [0x%llx, +%zu) is not guest RAM", (unsigned long long)gpa,
			 len);
	vdrv_copy(v, gpa, (void *)(uintptr_t)src, len, VDRV_TO_GUEST);
}

void vdrv_rmem(struct vdrv *v, uint64_t gpa, void *dst, size_t len)
{
	if (!vdrv_mapped(v, gpa, len))
		vdrv_die("vdrv_rmem: [0x%llx, +%zu) is not guest RAM", (unsigned long long)gpa,
			 len);
	vdrv_copy(v, gpa, dst, len, VDRV_FROM_GUEST);
}

/*
 * 16-bit ring fields are published with release stores and observed with
 * acquire loads, like the kernel's virt_store_release / virt_load_acquire.
 */
static uint16_t *vdrv_ring16(struct vdrv *v, uint64_t gpa)
{
	uint64_t n = 0;
	uint8_t *p = vdrv_lookup(v, gpa, &n);

	if (!p || n < 2 || (gpa & 1))
		vdrv_die("ring field at GPA 0x%llx is not mapped or misaligned",
			 (unsigned long long)gpa);
	return (uint16_t *)(void *)p;
}

static void vdrv_st16(struct vdrv *v, uint64_t gpa, uint16_t val)
{
	__atomic_store_n(vdrv_ring16(v, gpa), htole16(val), __ATOMIC_RELEASE);
}

static uint16_t vdrv_ld16(struct vdrv *v, uint64_t gpa)
{
	return le16toh(__atomic_load_n(vdrv_ring16(v, gpa), __ATOMIC_ACQUIRE));
}

/* ------------------------------------------------------------------------ */
/* Registers                                                                */

uint32_t vdrv_r32(struct vdrv *v, uint64_t off)
{
	uint32_t le = 0;

	vmmio_read(v->dev, off, &le, sizeof(le));
	return le32toh(le);
}

void vdrv_w32(struct vdrv *v, uint64_t off, uint32_t val)
{
	uint32_t le = htole32(val);

	vmmio_write(v->dev, off, &le, sizeof(le));
}

void vdrv_rn(struct vdrv *v, uint64_t off, void *buf, uint32_t len)
{
	vmmio_read(v->dev, off, buf, len);
}

void vdrv_wn(struct vdrv *v, uint64_t off, const void *buf, uint32_t len)
{
	vmmio_write(v->dev, off, buf, len);
}

uint32_t vdrv_status(struct vdrv *v)
{
	return vdrv_r32(v, VIRTIO_MMIO_STATUS);
}

void vdrv_set_status(struct vdrv *v, uint32_t status)
{
	vdrv_w32(v, VIRTIO_MMIO_STATUS, status);
}

void vdrv_write_features(struct vdrv *v, uint64_t features)
{
	vdrv_w32(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdrv_w32(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	vdrv_w32(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdrv_w32(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
}

uint64_t vdrv_read_device_features(struct vdrv *v)
{
	uint64_t f;

	/* virtio_mmio.c reads the high page first and leaves the selector at 0. */
	vdrv_w32(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)vdrv_r32(v, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	vdrv_w32(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f |= vdrv_r32(v, VIRTIO_MMIO_DEVICE_FEATURES);
	return f;
}

/* ------------------------------------------------------------------------ */
/* Queue set-up and the handshake                                           */

static uint64_t vdrv_ring_bytes(enum vq_ring ring, uint16_t size)
{
	switch (ring) {
	case VQ_DESC:
		return 16ull * size;
	case VQ_AVAIL:
		return 6ull + 2ull * size;
	case VQ_USED:
	default:
		return 6ull + 8ull * size;
	}
}

/* Fresh rings are zeroed, as vring_create_virtqueue hands out zeroed pages. */
static void vdrv_zero_ring(struct vdrv *v, uint64_t gpa, enum vq_ring ring, uint16_t size)
{
	uint64_t len = vdrv_ring_bytes(ring, size);
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end) || !vdrv_mapped(v, gpa, len))
		return; /* hostile placement: nothing of ours to clear */
	vdrv_copy(v, gpa, NULL, len, VDRV_ZERO);
}

static void vdrv_w64_pair(struct vdrv *v, uint64_t lo_off, uint64_t val)
{
	vdrv_w32(v, lo_off, (uint32_t)val);
	vdrv_w32(v, lo_off + 4, (uint32_t)(val >> 32));
}

void vdrv_queue_layout(struct vdrv *v, uint16_t q, uint16_t size, uint64_t desc, uint64_t avail,
		       uint64_t used)
{
	struct vdrv_queue *vq;

	if (q >= VDRV_MAX_QUEUES || !size)
		vdrv_die("vdrv_queue_layout: queue %u, size %u", q, size);
	vq = &v->q[q];
	vq->size = size;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->avail_idx = 0;
	vq->last_used = 0;
	vq->next_free = 0;
	vdrv_zero_ring(v, desc, VQ_DESC, size);
	vdrv_zero_ring(v, avail, VQ_AVAIL, size);
	vdrv_zero_ring(v, used, VQ_USED, size);
}

void vdrv_setup_queue(struct vdrv *v, uint16_t q, uint16_t size, uint64_t desc, uint64_t avail,
		      uint64_t used)
{
	uint32_t max;

	if (q >= VDRV_MAX_QUEUES)
		vdrv_die("vdrv_setup_queue: queue %u beyond VDRV_MAX_QUEUES", q);
	if (!desc && !avail && !used) {
		desc = 0x1000ull + (uint64_t)q * 0x3000ull;
		avail = desc + 0x1000;
		used = desc + 0x2000;
	}

	/* vm_setup_vq: select, make sure it is not live, learn the maximum. */
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_SEL, q);
	(void)vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY);
	max = vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX);
	vdrv_queue_layout(v, q, size ? size : (uint16_t)(max ? max : 256), desc, avail, used);

	if (size)
		vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, size);
	vdrv_w64_pair(v, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
	vdrv_w64_pair(v, VIRTIO_MMIO_QUEUE_AVAIL_LOW, avail);
	vdrv_w64_pair(v, VIRTIO_MMIO_QUEUE_USED_LOW, used);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* virtio.c's add_status: read, OR, write back. */
static void vdrv_add_status(struct vdrv *v, uint32_t bits)
{
	vdrv_set_status(v, vdrv_status(v) | bits);
}

static void vdrv_reset(struct vdrv *v)
{
	vdrv_set_status(v, 0);
	for (int i = 0; i < VDRV_RESET_POLLS && vdrv_status(v); i++)
		;
}

bool vdrv_walk_to(struct vdrv *v, uint64_t features, uint32_t rung)
{
	if (rung & VIRTIO_CONFIG_S_DRIVER_OK)
		return vdrv_walk(v, features) && rung == vdrv_status(v);
	vdrv_reset(v);
	if (rung & VIRTIO_CONFIG_S_ACKNOWLEDGE)
		vdrv_add_status(v, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	if (rung & VIRTIO_CONFIG_S_DRIVER)
		vdrv_add_status(v, VIRTIO_CONFIG_S_DRIVER);
	if (rung & VIRTIO_CONFIG_S_FEATURES_OK) {
		(void)vdrv_read_device_features(v);
		vdrv_write_features(v, features);
		vdrv_add_status(v, VIRTIO_CONFIG_S_FEATURES_OK);
	}
	return vdrv_status(v) == rung;
}

bool vdrv_handshake(struct vdrv *v, uint64_t features, uint16_t nqueues, uint16_t qsize)
{
	const uint32_t r3 =
		VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;

	/* virtio_features_ok: the device may refuse; Linux re-reads to find out. */
	if (!vdrv_walk_to(v, features, r3))
		return false;
	for (uint16_t q = 0; q < nqueues; q++)
		vdrv_setup_queue(v, q, qsize, 0, 0, 0);
	vdrv_add_status(v, VIRTIO_CONFIG_S_DRIVER_OK);
	return vdrv_status(v) == (r3 | VIRTIO_CONFIG_S_DRIVER_OK);
}

bool vdrv_walk(struct vdrv *v, uint64_t features)
{
	return vdrv_handshake(v, features, 2, 16);
}

/* ------------------------------------------------------------------------ */
/* Rings, guest side                                                        */

static struct vdrv_queue *vdrv_q(struct vdrv *v, uint16_t q)
{
	if (q >= VDRV_MAX_QUEUES || !v->q[q].size)
		vdrv_die("queue %u was not set up through vdriver", q);
	return &v->q[q];
}

void vdrv_set_desc_at(struct vdrv *v, uint64_t table, uint32_t idx, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	uint8_t d[16];
	uint64_t a64 = htole64(addr);
	uint32_t l32 = htole32(len);
	uint16_t f16 = htole16(flags), n16 = htole16(next);

	memcpy(d, &a64, 8);
	memcpy(d + 8, &l32, 4);
	memcpy(d + 12, &f16, 2);
	memcpy(d + 14, &n16, 2);
	vdrv_wmem(v, table + 16ull * idx, d, sizeof(d));
}

void vdrv_set_desc(struct vdrv *v, uint16_t q, uint32_t idx, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next)
{
	vdrv_set_desc_at(v, vdrv_q(v, q)->desc, idx, addr, len, flags, next);
}

void vdrv_set_avail_entry(struct vdrv *v, uint16_t q, uint16_t slot, uint16_t head)
{
	struct vdrv_queue *vq = vdrv_q(v, q);
	uint16_t le = htole16(head);

	vdrv_wmem(v, vq->avail + 4 + 2ull * (slot % vq->size), &le, 2);
}

void vdrv_set_avail_idx(struct vdrv *v, uint16_t q, uint16_t idx)
{
	struct vdrv_queue *vq = vdrv_q(v, q);

	vdrv_st16(v, vq->avail + 2, idx);
	vq->avail_idx = idx;
}

void vdrv_publish(struct vdrv *v, uint16_t q, uint16_t head)
{
	struct vdrv_queue *vq = vdrv_q(v, q);

	/* Entry first, then the index with release (virtio_ring.c order). */
	vdrv_set_avail_entry(v, q, vq->avail_idx, head);
	vdrv_set_avail_idx(v, q, (uint16_t)(vq->avail_idx + 1));
}

void vdrv_set_used_event(struct vdrv *v, uint16_t q, uint16_t val)
{
	struct vdrv_queue *vq = vdrv_q(v, q);

	vdrv_st16(v, vq->avail + 4 + 2ull * vq->size, val);
}

uint16_t vdrv_avail_event(struct vdrv *v, uint16_t q)
{
	struct vdrv_queue *vq = vdrv_q(v, q);

	return vdrv_ld16(v, vq->used + 4 + 8ull * vq->size);
}

uint16_t vdrv_used_flags(struct vdrv *v, uint16_t q)
{
	return vdrv_ld16(v, vdrv_q(v, q)->used);
}

uint16_t vdrv_post(struct vdrv *v, uint16_t q, const struct vdrv_buf *bufs, unsigned n)
{
	struct vdrv_queue *vq = vdrv_q(v, q);
	uint16_t head = vq->next_free;

	if (!n || n > vq->size)
		vdrv_die("vdrv_post: %u buffers on a queue of %u", n, vq->size);
	for (unsigned i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)((head + i) % vq->size);
		uint16_t next = (uint16_t)((slot + 1) % vq->size);
		uint16_t flags = bufs[i].write ? VRING_DESC_F_WRITE : 0;

		if (i + 1 < n)
			flags |= VRING_DESC_F_NEXT;
		vdrv_set_desc(v, q, slot, bufs[i].gpa, bufs[i].len, flags, i + 1 < n ? next : 0);
	}
	vq->next_free = (uint16_t)((head + n) % vq->size);
	vdrv_publish(v, q, head);
	return head;
}

void vdrv_notify(struct vdrv *v, uint16_t q)
{
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

uint16_t vdrv_post_notify(struct vdrv *v, uint16_t q, const struct vdrv_buf *bufs, unsigned n)
{
	uint16_t head = vdrv_post(v, q, bufs, n);

	vdrv_notify(v, q);
	return head;
}

uint16_t vdrv_used_idx(struct vdrv *v, uint16_t q)
{
	return vdrv_ld16(v, vdrv_q(v, q)->used + 2);
}

void vdrv_used_elem(struct vdrv *v, uint16_t q, uint16_t slot, uint32_t *id, uint32_t *len)
{
	struct vdrv_queue *vq = vdrv_q(v, q);
	uint32_t e[2];

	vdrv_rmem(v, vq->used + 4 + 8ull * (slot % vq->size), e, sizeof(e));
	if (id)
		*id = le32toh(e[0]);
	if (len)
		*len = le32toh(e[1]);
}

bool vdrv_pop_used(struct vdrv *v, uint16_t q, uint32_t *id, uint32_t *len)
{
	struct vdrv_queue *vq = vdrv_q(v, q);

	/* The acquire load of used.idx orders the element read after it. */
	if (vdrv_used_idx(v, q) == vq->last_used)
		return false;
	vdrv_used_elem(v, q, vq->last_used, id, len);
	vq->last_used++;
	return true;
}

/* ------------------------------------------------------------------------ */
/* Interrupts                                                               */

uint64_t vdrv_irq_count(struct vdrv *v)
{
	uint64_t val = 0;
	ssize_t r = read(vdev_irq_fd(v->dev), &val, sizeof(val));

	return r == (ssize_t)sizeof(val) ? val : 0;
}

uint32_t vdrv_isr(struct vdrv *v)
{
	return vdrv_r32(v, VIRTIO_MMIO_INTERRUPT_STATUS);
}

void vdrv_ack(struct vdrv *v, uint32_t bits)
{
	vdrv_w32(v, VIRTIO_MMIO_INTERRUPT_ACK, bits);
}

/* ------------------------------------------------------------------------ */
/* Log capture                                                              */

#define VDRV_LOG_MAX_LINES 65536u

static pthread_mutex_t vdrv_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char **vdrv_log_lines;
static unsigned vdrv_log_n, vdrv_log_cap;

static void vdrv_log_sink(enum log_level lvl, const char *msg, void *opaque)
{
	(void)lvl;
	(void)opaque;
	pthread_mutex_lock(&vdrv_log_lock);
	if (vdrv_log_n == vdrv_log_cap && vdrv_log_cap < VDRV_LOG_MAX_LINES) {
		unsigned cap = vdrv_log_cap ? vdrv_log_cap * 2 : 64;
		char **n = realloc(vdrv_log_lines, cap * sizeof(*n));
		if (n) {
			vdrv_log_lines = n;
			vdrv_log_cap = cap;
		}
	}
	if (vdrv_log_n < vdrv_log_cap) {
		char *copy = strdup(msg);
		if (copy)
			vdrv_log_lines[vdrv_log_n++] = copy;
	}
	pthread_mutex_unlock(&vdrv_log_lock);
}

void vdrv_log_capture_start(void)
{
	log_set_sink(vdrv_log_sink, NULL);
}

void vdrv_log_capture_stop(void)
{
	log_set_sink(NULL, NULL);
}

unsigned vdrv_log_count(const char *substr)
{
	unsigned count = 0;

	pthread_mutex_lock(&vdrv_log_lock);
	for (unsigned i = 0; i < vdrv_log_n; i++)
		if (strstr(vdrv_log_lines[i], substr))
			count++;
	pthread_mutex_unlock(&vdrv_log_lock);
	return count;
}

void vdrv_log_clear(void)
{
	pthread_mutex_lock(&vdrv_log_lock);
	for (unsigned i = 0; i < vdrv_log_n; i++)
		free(vdrv_log_lines[i]);
	free(vdrv_log_lines);
	vdrv_log_lines = NULL;
	vdrv_log_n = vdrv_log_cap = 0;
	pthread_mutex_unlock(&vdrv_log_lock);
}
