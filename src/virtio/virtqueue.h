/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue engine (virtio 1.2 §2.7), the behaviour of rust-vmm
 * virtio-queue 0.17 as fixed by specs/virtio-transport.md §3.
 *
 * The engine knows nothing about devices, counters or interrupts; it reports
 * outcomes and the device decides what they mean. It takes no locks itself:
 * `lock` is for callers that share a queue between threads (§3.13).
 */
#ifndef KTSTR_VIRTIO_VIRTQUEUE_H
#define KTSTR_VIRTIO_VIRTQUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/guestmem.h"

#define VQ_MAX_SIZE	    32768u
#define VQ_MAX_INDIRECT_LEN 65535u

enum vq_ring { VQ_DESC, VQ_AVAIL, VQ_USED };

struct vq_desc { /* host-endian copy of one guest descriptor */
	uint64_t addr;
	uint32_t len;
	uint16_t flags; /* VRING_DESC_F_* */
	uint16_t next;
};

struct vq {
	uint16_t max_size, size;
	bool ready, event_idx, indirect, poisoned;
	uint64_t desc, avail, used;
	uint16_t next_avail, next_used, num_added;
	pthread_mutex_t lock;
};

enum vq_stop {
	VQ_STOP_NONE,
	VQ_STOP_END,
	VQ_STOP_TTL,
	VQ_STOP_INDEX,
	VQ_STOP_READ,
	VQ_STOP_OVERFLOW,
	VQ_STOP_INDIRECT_OFF,
	VQ_STOP_NESTED,
	VQ_STOP_BAD_INDIRECT,
};

struct vq_chain { /* walk state; a snapshot, independent of the queue */
	const struct gm *gm;
	uint64_t table;
	uint16_t head, next;
	uint32_t table_size, ttl; /* 32-bit: an indirect table holds up to 65535 entries */
	uint32_t total;
	bool indirect_ok, in_indirect;
	enum vq_stop stop; /* diagnostics only */
};

int vq_init(struct vq *q, uint16_t max_size);
void vq_destroy(struct vq *q);
void vq_reset(struct vq *q);
void vq_lock(struct vq *q);
void vq_unlock(struct vq *q);

int vq_set_size(struct vq *q, uint16_t size);
void vq_set_ready(struct vq *q, bool ready);
int vq_set_addr_half(struct vq *q, enum vq_ring ring, bool high, uint32_t val);
void vq_set_event_idx(struct vq *q, bool on);
void vq_set_indirect(struct vq *q, bool on);
/* ready and avail != 0 (§3.4). */
bool vq_is_ready(const struct vq *q);

/* 1 = head popped, 0 = nothing, -ENODEV / -EOVERFLOW / -EFAULT / -ERANGE (§3.5). */
int vq_pop(struct vq *q, const struct gm *gm, uint16_t *head);
void vq_rewind(struct vq *q);
uint16_t vq_next_avail(const struct vq *q);
void vq_set_next_avail(struct vq *q, uint16_t v);

void vq_chain_start(struct vq_chain *c, const struct vq *q, const struct gm *gm, uint16_t head);
bool vq_chain_next(struct vq_chain *c, struct vq_desc *out);

/* -EINVAL (head >= size), -EOVERFLOW, -EFAULT (§3.8). */
int vq_add_used(struct vq *q, const struct gm *gm, uint16_t head, uint32_t len);
int vq_disable_notify(struct vq *q, const struct gm *gm);
int vq_enable_notify(struct vq *q, const struct gm *gm, bool *more);
int vq_needs_notify(struct vq *q, const struct gm *gm, bool *notify);

bool vq_poison(struct vq *q);
bool vq_poisoned(const struct vq *q);

#endif
