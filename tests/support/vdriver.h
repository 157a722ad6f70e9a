/* SPDX-License-Identifier: MIT */
/*
 * vdriver: a guest-driver simulator for device tests.
 *
 * It owns a malloc'd "guest RAM" (optionally with a hole), binds it to a
 * device through vdev_set_mem, runs the Linux-style virtio-mmio handshake
 * through vmmio_read/vmmio_write exactly as drivers/virtio/virtio_mmio.c
 * does, lays out split rings, posts chains (well-formed and hostile), reads
 * back the used ring and the irq eventfd. Every device test is written on it.
 *
 * Memory layouts (the fixtures of specs/virtio-transport.md §7):
 *   VDRV_MEM_M1: one 1 MiB region at GPA 0.
 *   VDRV_MEM_MA: [0, 1 MiB) and [1 MiB, 2 MiB) from two host buffers (adjacent).
 *   VDRV_MEM_MH: [0, 1 MiB) and [2 MiB, 3 MiB), a hole in between.
 *   VDRV_MEM_BIG: [0, 64 MiB) in one region, for bulk-data device tests.
 *
 * Default ring placement for queue q (size <= 256): desc 0x1000 + q*0x3000,
 * avail +0x1000, used +0x2000 — the transport spec's walk() fixture for
 * queues 0 and 1. Data buffers come from vdrv_alloc(), above 0x40000.
 */
#ifndef KTSTR_TESTS_VDRIVER_H
#define KTSTR_TESTS_VDRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/guestmem.h"
#include "virtio/mmio.h"

enum vdrv_mem_kind { VDRV_MEM_M1, VDRV_MEM_MA, VDRV_MEM_MH, VDRV_MEM_BIG };

#define VDRV_MAX_QUEUES 16
#define VDRV_DATA_BASE	0x40000ull

struct vdrv_queue {
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* driver's shadow of avail.idx */
	uint16_t last_used; /* next used element the driver will consume */
	uint16_t next_free; /* next descriptor slot vdrv_post uses (wraps at size) */
};

struct vdrv {
	struct vdev *dev;
	struct gm *gm;
	enum vdrv_mem_kind kind;
	uint8_t *host[2]; /* host buffers backing the regions */
	uint64_t host_len[2];
	uint64_t gpa[2];
	unsigned nregions;
	uint64_t alloc_next; /* bump allocator for data buffers */
	uint64_t alloc_end;
	struct vdrv_queue q[VDRV_MAX_QUEUES];
};

/* One buffer of a chain to post: guest address, length, device-writable or not. */
struct vdrv_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* Memory only (no device): for guestmem and virtqueue tests. */
void vdrv_mem_init(struct vdrv *v, enum vdrv_mem_kind kind);
/* Memory plus a device; binds the map with vdev_set_mem unless bind is false. */
void vdrv_init(struct vdrv *v, struct vdev *dev, enum vdrv_mem_kind kind, bool bind);
void vdrv_fini(struct vdrv *v);

/* Host pointer for a GPA inside guest RAM (asserts it is mapped). */
void *vdrv_ptr(struct vdrv *v, uint64_t gpa);
/* Bump-allocate len bytes of guest RAM (aligned), zeroed; returns the GPA. */
uint64_t vdrv_alloc(struct vdrv *v, uint64_t len, uint64_t align);
void vdrv_wmem(struct vdrv *v, uint64_t gpa, const void *src, size_t len);
void vdrv_rmem(struct vdrv *v, uint64_t gpa, void *dst, size_t len);

/* Raw register access through the transport. */
uint32_t vdrv_r32(struct vdrv *v, uint64_t off);
void vdrv_w32(struct vdrv *v, uint64_t off, uint32_t val);
void vdrv_rn(struct vdrv *v, uint64_t off, void *buf, uint32_t len);
void vdrv_wn(struct vdrv *v, uint64_t off, const void *buf, uint32_t len);
uint32_t vdrv_status(struct vdrv *v);
void vdrv_set_status(struct vdrv *v, uint32_t status);

/* Driver features write, as Linux does: Sel 0 / low, Sel 1 / high. */
void vdrv_write_features(struct vdrv *v, uint64_t features);
uint64_t vdrv_read_device_features(struct vdrv *v);

/*
 * Program queue q in the config window: QueueSel, QueueNum, the six address
 * registers and READY 1. size 0 means "do not write QueueNum".
 * Addresses 0 pick the default placement. The ring areas are zeroed first
 * where they lie in guest RAM (Linux hands out fresh zeroed rings), and the
 * driver's shadows (avail_idx, last_used, next_free) restart at 0.
 */
void vdrv_setup_queue(struct vdrv *v, uint16_t q, uint16_t size, uint64_t desc, uint64_t avail,
		      uint64_t used);

/*
 * Record queue q's ring layout for the guest-side helpers below without
 * touching any register (bare-engine tests, hostile placements); zeroes the
 * rings where they lie in guest RAM and resets the driver's shadows.
 */
void vdrv_queue_layout(struct vdrv *v, uint16_t q, uint16_t size, uint64_t desc, uint64_t avail,
		       uint64_t used);

/*
 * The whole Linux handshake: reset, ACK, DRIVER, features, FEATURES_OK
 * (returns false if it did not stick), every queue in [0, nqueues) set up with
 * `qsize` at the default placement, DRIVER_OK. Returns true on 0x0F.
 */
bool vdrv_handshake(struct vdrv *v, uint64_t features, uint16_t nqueues, uint16_t qsize);
/*
 * Reset, then climb the status ladder up to `rung` (0, 0x01, 0x03, 0x0B or
 * 0x0F) the way virtio.c does, writing `features` on the way to FEATURES_OK.
 * 0x0F sets up the walk(F) queues. Returns true if the status reads `rung`.
 */
bool vdrv_walk_to(struct vdrv *v, uint64_t features, uint32_t rung);
/* The transport spec's walk(F) fixture: 2 queues of 16 at the default placement. */
bool vdrv_walk(struct vdrv *v, uint64_t features);

/* Descriptor-level access (for hostile chains). */
void vdrv_set_desc(struct vdrv *v, uint16_t q, uint32_t idx, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next);
/* Same, into an arbitrary table (indirect tables). */
void vdrv_set_desc_at(struct vdrv *v, uint64_t table, uint32_t idx, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next);
/* Put head in the next avail slot and bump avail.idx (release order). */
void vdrv_publish(struct vdrv *v, uint16_t q, uint16_t head);
/* Write avail.idx directly (index jumps); the shadow follows. */
void vdrv_set_avail_idx(struct vdrv *v, uint16_t q, uint16_t idx);
void vdrv_set_avail_entry(struct vdrv *v, uint16_t q, uint16_t slot, uint16_t head);
void vdrv_set_used_event(struct vdrv *v, uint16_t q, uint16_t val);
uint16_t vdrv_avail_event(struct vdrv *v, uint16_t q);
uint16_t vdrv_used_flags(struct vdrv *v, uint16_t q);

/*
 * Post a well-formed chain of n buffers using consecutive descriptor slots
 * (NEXT-linked), publish it and return the head. Does not notify.
 */
uint16_t vdrv_post(struct vdrv *v, uint16_t q, const struct vdrv_buf *bufs, unsigned n);
/* Post, then QueueNotify. */
uint16_t vdrv_post_notify(struct vdrv *v, uint16_t q, const struct vdrv_buf *bufs, unsigned n);
void vdrv_notify(struct vdrv *v, uint16_t q);

/* Used ring. */
uint16_t vdrv_used_idx(struct vdrv *v, uint16_t q);
void vdrv_used_elem(struct vdrv *v, uint16_t q, uint16_t slot, uint32_t *id, uint32_t *len);
/* Consume the next used element if there is one. */
bool vdrv_pop_used(struct vdrv *v, uint16_t q, uint32_t *id, uint32_t *len);

/* Non-blocking read of the irq eventfd: the count since the last read, 0 if empty. */
uint64_t vdrv_irq_count(struct vdrv *v);
uint32_t vdrv_isr(struct vdrv *v);
void vdrv_ack(struct vdrv *v, uint32_t bits);

/*
 * Log capture for asserting on warning texts: while active, every log line is
 * recorded (all levels). vdrv_log_count(substr) counts lines containing substr.
 */
void vdrv_log_capture_start(void);
void vdrv_log_capture_stop(void);
unsigned vdrv_log_count(const char *substr);
void vdrv_log_clear(void);

#endif
