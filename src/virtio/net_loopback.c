// SPDX-License-Identifier: MIT
/*
 * virtio-net TX->RX loopback: the drain that runs inline on a TX kick, the
 * TX capture, the RX delivery and the queue-poison policy.
 * specs/virtio-net.md §5 (0.15.0 semantics) and §6; ring mechanics come from
 * the shared engine (virtio/virtqueue.h), interrupts from the transport.
 *
 * Everything here runs under the device lock on the kicking vCPU thread and
 * is bounded: at most one ring's worth of descriptors per chain and at most
 * VNET_MAX_FRAME bytes per frame. Nothing allocates, sleeps or blocks.
 */
#include "virtio/net_internal.h"

#include <errno.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "base/compiler.h"

/*
 * The header the device writes in front of every RX frame: all fields zero
 * except num_buffers = 1, so a driver that one day negotiates MRG_RXBUF does
 * not wait for buffers that never come (spec §1.1).
 */
static const uint8_t vnet_rx_hdr[VNET_HDR_LEN] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};

/* A captured frame: its pieces (scratch, or guest RAM in DIRECT mode) and length. */
struct vnet_frame {
	const struct iovec *iov;
	unsigned niov;
	uint32_t len;
};

/* Read position inside a frame; only ever moves forward. */
struct vnet_cursor {
	unsigned i;
	size_t off;
};

enum vnet_tx_pop { VNET_TX_EMPTY, VNET_TX_POISONED, VNET_TX_CHAIN };

enum vnet_rx_result {
	VNET_RX_DELIVERED,	/* written and published: rx_packets */
	VNET_RX_DELIVERED_LOST, /* written, publish failed (already counted) */
	VNET_RX_NO_BUFFER,	/* not ready or empty: the frame is dropped */
	VNET_RX_RECYCLED,	/* unusable chain handed back with length 0 */
	VNET_RX_RECYCLE_LOST,	/* ... and that publish failed (already counted) */
	VNET_RX_POISONED,	/* RX was already poisoned */
	VNET_RX_POISONED_NOW,	/* this pop poisoned RX */
};

static struct vq *vnet_q(struct vnet *n, unsigned idx)
{
	return vdev_queue(&n->vdev, (uint16_t)idx);
}

static void vnet_inc(struct vnet *n, enum vnet_counter k)
{
	vnet_counter_inc(&n->counters, k);
}

/*
 * A failed avail-ring open (index too far ahead, ring not ready or at GPA 0,
 * unreadable index) is structural corruption: latch the queue until reset.
 * Counted once per false->true edge, so the count is per event, not per kick.
 */
static void vnet_poison_queue(struct vnet *n, struct vq *q, const char *which, int err)
{
	if (!vq_poison(q))
		return;
	vnet_inc(n, VNET_CTR_invalid_avail_idx_count);
	log_ratelimited(&n->rl_warn, LOG_WARN,
			"virtio-net: %s queue poisoned (avail ring error %d); NEEDS_RESET until "
			"the driver resets the device",
			which, err);
}

static void vnet_add_used_failed(struct vnet *n, const char *which, uint16_t head, int err)
{
	/* Not a poison: a used-ring mapping problem may be gone by the next kick. */
	log_ratelimited(&n->rl_warn, LOG_WARN, "virtio-net: %s add_used(head %u) failed: %d", which,
			head, err);
}

/* ---- TX side ---------------------------------------------------------- */

static enum vnet_tx_pop vnet_tx_pop(struct vnet *n, const struct gm *gm, uint16_t *head)
{
	struct vq *q = vnet_q(n, VNET_TXQ);
	int rc;

	/* A poisoned TX makes no progress at all until reset: no pop, no count, no signal. */
	if (vq_poisoned(q))
		return VNET_TX_EMPTY;
	/* No ready check on TX by design (spec §6): a kick on a dead TX ring poisons it. */
	rc = vq_pop(q, gm, head);
	if (rc > 0)
		return VNET_TX_CHAIN;
	if (rc == 0)
		return VNET_TX_EMPTY;
	vnet_poison_queue(n, q, "TX", rc);
	return VNET_TX_POISONED;
}

/* Append one validated frame range; 0 or -EFAULT (treated as a failed read). */
static int vnet_frame_add(struct vnet *n, const struct gm *gm, struct vnet_frame *f, uint64_t gpa,
			  uint32_t len)
{
	struct iovec *iov = n->frame_iov;
	unsigned got = 0;
	int rc;

	if (n->copy == VNET_COPY_STAGED)
		return gm_read(gm, gpa, n->scratch + f->len, len);
	/*
	 * DIRECT: resolve the range now, so every TX failure is known before any
	 * RX buffer is touched; -E2BIG cannot happen (see VNET_FRAME_IOV_MAX) but
	 * is treated like an unreadable range rather than trusted.
	 */
	rc = gm_iov(gm, gpa, len, iov + f->niov, VNET_FRAME_IOV_MAX - f->niov, &got);
	if (rc < 0)
		return -EFAULT;
	f->niov += got;
	return 0;
}

/*
 * Walk a TX chain: skip (never read) the 12 header bytes wherever they fall,
 * then gather the frame. Returns true with *f filled when the frame is
 * usable; otherwise exactly one of tx_oversize_dropped / tx_chain_invalid
 * was counted (spec §5.3).
 */
static bool vnet_tx_capture(struct vnet *n, const struct gm *gm, uint16_t head,
			    struct vnet_frame *f)
{
	uint32_t hdr_left = VNET_HDR_LEN;
	struct vq_chain c;
	struct vq_desc d;

	f->iov = n->frame_iov;
	f->niov = 0;
	f->len = 0;
	vq_chain_start(&c, vnet_q(n, VNET_TXQ), gm, head);
	while (vq_chain_next(&c, &d)) {
		uint64_t gpa = d.addr;
		uint32_t len = d.len;

		if (d.flags & VRING_DESC_F_WRITE)
			goto invalid;
		if (hdr_left) {
			uint32_t skip = MIN(hdr_left, len);

			if (__builtin_add_overflow(gpa, skip, &gpa))
				goto invalid;
			hdr_left -= skip;
			len -= skip;
		}
		if (!len)
			continue;
		/* Before any read: an oversize frame is dropped whole, never truncated. */
		if (len > VNET_MAX_FRAME - f->len) {
			vnet_inc(n, VNET_CTR_tx_oversize_dropped);
			return false;
		}
		if (vnet_frame_add(n, gm, f, gpa, len) < 0)
			goto invalid;
		f->len += len;
	}
	/* Fewer than 12 bytes in the whole chain (an empty walk included). */
	if (hdr_left)
		goto invalid;
	if (n->copy == VNET_COPY_STAGED) {
		n->frame_iov[0] = (struct iovec){.iov_base = n->scratch, .iov_len = f->len};
		f->niov = 1;
	}
	return true;

invalid:
	vnet_inc(n, VNET_CTR_tx_chain_invalid);
	return false;
}

/* ---- RX side ---------------------------------------------------------- */

/*
 * Copy the next `len` frame bytes to guest [gpa, gpa+len): all or nothing,
 * like gm_write. memmove, because in DIRECT mode a hostile guest may point
 * its RX buffer at its own TX frame.
 */
static int vnet_frame_copy_out(const struct gm *gm, uint64_t gpa, const struct vnet_frame *f,
			       struct vnet_cursor *cur, uint32_t len)
{
	struct iovec dst[GM_MAX_REGIONS];
	unsigned ndst = 0;

	if (gm_iov(gm, gpa, len, dst, ARRAY_SIZE(dst), &ndst) < 0)
		return -EFAULT;
	for (unsigned i = 0; i < ndst; i++) {
		uint8_t *to = dst[i].iov_base;
		size_t left = dst[i].iov_len;

		while (left) {
			const struct iovec *src = &f->iov[cur->i];
			size_t k = MIN(left, src->iov_len - cur->off);

			memmove(to, (const uint8_t *)src->iov_base + cur->off, k);
			to += k;
			left -= k;
			cur->off += k;
			if (cur->off == src->iov_len) {
				cur->i++;
				cur->off = 0;
			}
		}
	}
	return 0;
}

/* Where header bytes landed, so a failed delivery can wipe them again. */
struct vnet_hdr_slot {
	uint64_t gpa;
	uint32_t len;
};

enum vnet_rx_fault { VNET_RX_OK, VNET_RX_SHAPE, VNET_RX_WRITE };

/*
 * Hand a chain that could not take the frame back to the guest: zero every
 * header byte already written (never leave a num_buffers = 1 header in a
 * buffer returned as empty) and publish it with length 0. No poison.
 */
static enum vnet_rx_result vnet_rx_recycle(struct vnet *n, const struct gm *gm, struct vq *q,
					   uint16_t head, enum vnet_rx_fault why,
					   const struct vnet_hdr_slot *slots, unsigned nslots)
{
	int rc;

	vnet_inc(n, why == VNET_RX_SHAPE ? VNET_CTR_rx_chain_invalid : VNET_CTR_rx_write_failed);
	for (unsigned i = 0; i < nslots; i++)
		(void)gm_fill(gm, slots[i].gpa, 0, slots[i].len);
	rc = vq_add_used(q, gm, head, 0);
	if (rc < 0) {
		vnet_inc(n, VNET_CTR_rx_add_used_failures);
		vnet_add_used_failed(n, "RX", head, rc);
		return VNET_RX_RECYCLE_LOST;
	}
	return VNET_RX_RECYCLED;
}

/*
 * Deliver one captured frame into the next RX chain (spec §5.4). On
 * VNET_RX_DELIVERED, *l2 is the number of frame bytes the guest can read.
 */
static enum vnet_rx_result vnet_rx_deliver(struct vnet *n, const struct gm *gm,
					   const struct vnet_frame *f, uint32_t *l2)
{
	struct vnet_hdr_slot slots[VNET_HDR_LEN];
	struct vq *q = vnet_q(n, VNET_RXQ);
	enum vnet_rx_fault why = VNET_RX_OK;
	uint32_t written = 0, hdr_left = VNET_HDR_LEN, pos = 0;
	struct vnet_cursor cur = {0};
	unsigned nslots = 0;
	struct vq_chain c;
	struct vq_desc d;
	uint16_t head;
	int rc;

	if (vq_poisoned(q))
		return VNET_RX_POISONED;
	/*
	 * RX, unlike TX, checks readiness itself: a driver that has not set up
	 * RX yet is "no buffer", not corruption. (struct vq has no accessor for
	 * the bare flag; vq_is_ready also folds in avail != 0, which must poison.)
	 */
	if (!q->ready)
		return VNET_RX_NO_BUFFER;
	rc = vq_pop(q, gm, &head);
	if (rc < 0) {
		vnet_poison_queue(n, q, "RX", rc);
		return VNET_RX_POISONED_NOW;
	}
	if (rc == 0)
		return VNET_RX_NO_BUFFER;

	vq_chain_start(&c, q, gm, head);
	while (vq_chain_next(&c, &d)) {
		uint64_t gpa = d.addr;
		uint32_t len = d.len, take;

		if (!(d.flags & VRING_DESC_F_WRITE)) {
			why = VNET_RX_SHAPE;
			break;
		}
		if (hdr_left) {
			take = MIN(hdr_left, len);
			if (gm_write(gm, gpa, vnet_rx_hdr + (VNET_HDR_LEN - hdr_left), take) < 0) {
				why = VNET_RX_WRITE;
				break;
			}
			/*
			 * Only non-empty pieces are recorded: each takes at least one of
			 * the 12 header bytes, so `slots` cannot overflow however many
			 * zero-length descriptors the guest chains in (spec §11 item 1).
			 */
			if (take)
				slots[nslots++] = (struct vnet_hdr_slot){gpa, take};
			/* Checked after the write, as the reference does (spec §5.4 QUIRK). */
			if (__builtin_add_overflow(gpa, take, &gpa)) {
				why = VNET_RX_SHAPE;
				break;
			}
			written += take;
			hdr_left -= take;
			len -= take;
		}
		/*
		 * With a zero-length frame this never breaks out early, so the
		 * whole chain is inspected (a read-only tail still counts as shape).
		 */
		if (!len || pos == f->len)
			continue;
		take = MIN(len, f->len - pos);
		if (vnet_frame_copy_out(gm, gpa, f, &cur, take) < 0) {
			why = VNET_RX_WRITE;
			break;
		}
		written += take;
		pos += take;
		if (pos == f->len && !hdr_left)
			break;
	}
	if (why != VNET_RX_OK)
		return vnet_rx_recycle(n, gm, q, head, why, slots, nslots);

	/* Without MRG_RXBUF a frame must fit one chain: the rest is dropped. */
	if (pos < f->len || hdr_left)
		log_debug("virtio-net: RX buffer too small (%u of %u frame bytes, header %u/%u)",
			  pos, f->len, VNET_HDR_LEN - hdr_left, VNET_HDR_LEN);
	rc = vq_add_used(q, gm, head, written);
	if (rc < 0) {
		vnet_inc(n, VNET_CTR_rx_add_used_failures);
		vnet_add_used_failed(n, "RX", head, rc);
		return VNET_RX_DELIVERED_LOST;
	}
	/* Frame bytes only follow a complete header, so pos is what the guest can read. */
	*l2 = pos;
	return VNET_RX_DELIVERED;
}

/* ---- the drain ---------------------------------------------------------- */

void vnet_drain(struct vnet *n, const struct gm *gm)
{
	bool published = false, poisoned = false;
	struct vq *txq = vnet_q(n, VNET_TXQ);

	for (;;) {
		struct vnet_frame f;
		bool captured, rx_poisoned_now = false;
		uint32_t l2 = 0;
		uint16_t head;
		int rc;

		/* Each pop re-reads avail.idx, so chains posted meanwhile are taken too. */
		switch (vnet_tx_pop(n, gm, &head)) {
		case VNET_TX_EMPTY:
			goto out;
		case VNET_TX_POISONED:
			poisoned = true;
			goto out;
		case VNET_TX_CHAIN:
			break;
		}

		/* RX first: counters follow publication, and a bad TX chain never touches RX. */
		captured = vnet_tx_capture(n, gm, head, &f);
		if (captured) {
			switch (vnet_rx_deliver(n, gm, &f, &l2)) {
			case VNET_RX_DELIVERED:
				vnet_count_rx_delivered(&n->counters, l2);
				published = true;
				break;
			case VNET_RX_RECYCLED:
				published = true;
				break;
			case VNET_RX_DELIVERED_LOST:
			case VNET_RX_RECYCLE_LOST:
				break;
			case VNET_RX_NO_BUFFER:
				vnet_inc(n, VNET_CTR_tx_dropped_no_rx_buffer);
				break;
			case VNET_RX_POISONED_NOW:
				rx_poisoned_now = true;
				/* fallthrough */
			case VNET_RX_POISONED:
				vnet_inc(n, VNET_CTR_tx_dropped_rx_poisoned);
				break;
			}
		}

		/* Every popped chain is completed, captured or not, so the guest never hangs. */
		rc = vq_add_used(txq, gm, head, 0);
		if (rc == 0) {
			if (captured)
				vnet_count_tx_completed(&n->counters, f.len);
			published = true;
		} else {
			vnet_inc(n, VNET_CTR_tx_add_used_failures);
			vnet_add_used_failed(n, "TX", head, rc);
		}
		/* Finish this chain honestly, leave the rest for the next kick. */
		if (rx_poisoned_now) {
			poisoned = true;
			break;
		}
	}
out:
	/* Completions first, then the death notice; at most one of each per drain. */
	if (published)
		vdev_signal_used(&n->vdev);
	if (poisoned)
		vdev_poison(&n->vdev);
}
