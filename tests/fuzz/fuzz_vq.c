// SPDX-License-Identifier: MIT
/*
 * fuzz_vq: the split-virtqueue engine over hostile guest memory
 * (specs/virtio-transport.md §3, test case §7 #210).
 *
 * Input: a queue configuration (size, ring addresses, ready, event_idx,
 * indirect, start indices, memory layout), 64 KiB of guest memory, then a
 * sequence of engine calls. Invariants checked after every call:
 *   - every call returns, with one of its documented codes;
 *   - pop moves next_avail by exactly one on success and not at all otherwise;
 *   - a walk yields at most `size` descriptors (size + 65535 with indirect
 *     on), never more than 2^32-1 bytes in total, and never touches the queue;
 *   - add_used moves next_used/num_added by one on success only;
 *   - needs_notify with EVENT_IDX clears num_added on success and keeps it on
 *     failure; without EVENT_IDX it always says "notify" and keeps it.
 * Guest RAM is malloc'd with the exact region sizes, so ASan reports any
 * host access outside the map.
 */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_input.h"
#include "virtio/guestmem.h"
#include "virtio/virtqueue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MEM	   0x10000ull /* 64 KiB of guest memory */
#define FZ_MAX_OPS 32

/*
 * Guest memory layouts: one region; two with a hole between them; two
 * adjacent regions from separate buffers (a seam in the middle of rings).
 */
struct fz_mem {
	uint8_t *buf[2];
	struct gm *gm;
};

static void mem_build(struct fz_mem *m, uint8_t layout, struct fz_in *in)
{
	uint64_t half = FZ_MEM / 2;
	uint64_t gpa1 = (layout % 3 == 1) ? half + 0x1000 : half;

	m->gm = gm_new();
	FZ_CHECK(m->gm);
	if (layout % 3 == 0) {
		m->buf[0] = malloc(FZ_MEM);
		m->buf[1] = NULL;
		FZ_CHECK(!gm_add_region(m->gm, 0, FZ_MEM, m->buf[0]));
	} else {
		m->buf[0] = malloc(half);
		m->buf[1] = malloc(half);
		FZ_CHECK(!gm_add_region(m->gm, 0, half, m->buf[0]));
		FZ_CHECK(!gm_add_region(m->gm, gpa1, half, m->buf[1]));
	}
	/* Guest RAM is the input's bytes, zero past its end. */
	for (int b = 0; b < 2; b++) {
		uint64_t len = (b == 0 && layout % 3 == 0) ? FZ_MEM : half;
		if (!m->buf[b])
			continue;
		uint64_t n = in->n < len ? in->n : len;
		memcpy(m->buf[b], in->p, n);
		memset(m->buf[b] + n, 0, len - n);
		in->p += n;
		in->n -= n;
	}
}

static void mem_free(struct fz_mem *m)
{
	gm_put(m->gm);
	free(m->buf[0]);
	free(m->buf[1]);
}

/* Ring addresses: mostly inside the 64 KiB (and so often overlapping), sometimes wild. */
static uint64_t pick_addr(struct fz_in *in)
{
	uint8_t mode = (uint8_t)fz_take(in, 1);
	uint64_t raw = fz_take(in, 2);

	switch (mode % 8) {
	case 0:
		return fz_take(in, 8);
	case 1:
		return UINT64_MAX - (raw & 0xFFF);
	case 2:
		return FZ_MEM / 2 - (raw & 0xFF); /* across the seam or hole */
	default:
		return raw % (FZ_MEM + 0x1000);
	}
}

static int set_addr(struct vq *q, enum vq_ring ring, uint64_t a)
{
	int rc = vq_set_addr_half(q, ring, true, (uint32_t)(a >> 32));

	if (!rc)
		rc = vq_set_addr_half(q, ring, false, (uint32_t)a);
	return rc;
}

static void walk(struct vq *q, const struct gm *gm, uint16_t head)
{
	struct vq q_before = *q;
	struct vq_chain c;
	struct vq_desc d;
	uint64_t yields = 0, total = 0;
	uint64_t bound = q->size + (q->indirect ? VQ_MAX_INDIRECT_LEN : 0);

	vq_chain_start(&c, q, gm, head);
	while (vq_chain_next(&c, &d)) {
		yields++;
		total += d.len;
		FZ_CHECK(yields <= bound);
		FZ_CHECK(total <= UINT32_MAX);
		FZ_CHECK(!(d.flags & VRING_DESC_F_INDIRECT)); /* tables are never yielded */
	}
	FZ_CHECK(!vq_chain_next(&c, &d)); /* over means over */
	FZ_CHECK(q->next_avail == q_before.next_avail && q->next_used == q_before.next_used &&
		 q->num_added == q_before.num_added);
}

static void one_op(struct fz_in *in, struct vq *q, const struct gm *gm, uint16_t *last_head)
{
	uint8_t op = (uint8_t)fz_take(in, 1);
	uint16_t na = q->next_avail, nu = q->next_used, nadd = q->num_added;
	bool flag = false;
	int rc;

	switch (op % 9) {
	case 0:
	case 1: {
		uint16_t head = 0xBEEF;

		rc = vq_pop(q, gm, &head);
		FZ_CHECK(rc == 1 || rc == 0 || rc == -ENODEV || rc == -EOVERFLOW || rc == -EFAULT ||
			 rc == -ERANGE);
		FZ_CHECK(q->next_avail == (uint16_t)(na + (rc == 1)));
		if (rc == 1) {
			*last_head = head;
			walk(q, gm, head);
		}
		break;
	}
	case 2:
		walk(q, gm, (op & 0x80) ? (uint16_t)fz_take(in, 2) : *last_head);
		break;
	case 3:
	case 4: {
		uint16_t head = (op & 0x80) ? (uint16_t)fz_take(in, 2) : *last_head;

		rc = vq_add_used(q, gm, head, (uint32_t)fz_take(in, 4));
		FZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EOVERFLOW || rc == -EFAULT);
		FZ_CHECK(rc != -EINVAL || head >= q->size);
		FZ_CHECK(q->next_used == (uint16_t)(nu + !rc));
		FZ_CHECK(q->num_added == (uint16_t)(nadd + !rc));
		break;
	}
	case 5:
		rc = vq_needs_notify(q, gm, &flag);
		FZ_CHECK(rc <= 0);
		/* Only the EVENT_IDX computation consumes num_added (§3.9, as the crate). */
		FZ_CHECK(q->num_added == ((!rc && q->event_idx) ? 0 : nadd));
		FZ_CHECK(rc || q->event_idx || flag); /* without EVENT_IDX always notify */
		break;
	case 6:
		rc = (op & 0x80) ? vq_enable_notify(q, gm, &flag) : vq_disable_notify(q, gm);
		FZ_CHECK(rc <= 0);
		FZ_CHECK(q->next_avail == na && q->next_used == nu && q->num_added == nadd);
		break;
	case 7:
		vq_rewind(q);
		FZ_CHECK(q->next_avail == (uint16_t)(na - 1));
		break;
	default:
		vq_set_next_avail(q, (uint16_t)fz_take(in, 2));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	struct fz_mem mem;
	struct vq q;
	uint16_t last_head = 0;
	uint8_t cfg = (uint8_t)fz_take(&in, 1);
	uint8_t layout = (uint8_t)fz_take(&in, 1);
	/* Up to 1024 entries: the invariants scale, and the run stays fast. */
	uint16_t qsize = (uint16_t)(1u << (fz_take(&in, 1) % 11));
	uint64_t desc = pick_addr(&in), avail = pick_addr(&in), used = pick_addr(&in);
	uint16_t next_avail = (uint16_t)fz_take(&in, 2), next_used = (uint16_t)fz_take(&in, 2);
	struct fz_in ops = {in.p, in.n < 128 ? in.n : 128};

	fz_quiet_logs();
	/* The op stream comes first so it survives any memory size. */
	in.p += ops.n;
	in.n -= ops.n;
	FZ_CHECK(!vq_init(&q, 1024));
	FZ_CHECK(!vq_set_size(&q, qsize));
	/* Misaligned addresses are refused, whatever half carries them. */
	set_addr(&q, VQ_DESC, desc);
	set_addr(&q, VQ_AVAIL, avail);
	set_addr(&q, VQ_USED, used);
	FZ_CHECK(!(q.desc & 15) && !(q.avail & 1) && !(q.used & 3));
	vq_set_ready(&q, cfg & 1);
	vq_set_event_idx(&q, cfg & 2);
	vq_set_indirect(&q, cfg & 4);
	vq_set_next_avail(&q, (cfg & 8) ? next_avail : 0);
	q.next_used = (cfg & 16) ? next_used : 0;
	if (cfg & 32)
		vq_poison(&q);

	mem_build(&mem, layout, &in);
	for (unsigned i = 0; i < FZ_MAX_OPS && ops.n; i++)
		one_op(&ops, &q, mem.gm, &last_head);

	vq_reset(&q);
	FZ_CHECK(q.size == 1024 && !q.ready && !q.poisoned && !q.num_added);
	vq_destroy(&q);
	mem_free(&mem);
	return 0;
}
