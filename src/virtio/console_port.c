// SPDX-License-Identifier: MIT
/*
 * Data paths of the console ports: the TX capture walk (guest -> host,
 * spec §5) and the RX delivery drain (host -> guest, spec §6). Both run
 * with the device lock held, on the vCPU thread for a notify or on a host
 * thread for the host-facing API.
 */
#include <linux/virtio_ring.h>

#include "virtio/console_int.h"

/* Copy the readable descriptors of one chain into the port's capture buffer. */
static uint64_t vc_tx_chain(struct vc_dev *d, unsigned port, const struct vq *q,
			    const struct gm *gm, uint16_t head)
{
	struct vc_buf *tx = &d->ports[port].tx;
	struct vq_chain c;
	struct vq_desc desc;
	uint64_t got = 0;

	vq_chain_start(&c, q, gm, head);
	while (vq_chain_next(&c, &desc)) {
		uint32_t n = desc.len;
		uint8_t *dst;

		/* Device-writable buffers carry nothing for the host on a TX queue. */
		if (desc.flags & VRING_DESC_F_WRITE)
			continue;
		/* The clamp bounds one allocation step; the tail is dropped, not carried. */
		if (n > VC_TX_DESC_MAX) {
			vc_pcount(d, port, tx_desc_clamped, 1);
			vc_pcount(d, port, tx_bytes_clamped, n - VC_TX_DESC_MAX);
			n = VC_TX_DESC_MAX;
		}
		/* Zero-length segments never count: no interrupt amplification. */
		if (!n)
			continue;
		dst = vc_buf_reserve(tx, n);
		if (!dst) {
			vc_pcount(d, port, tx_read_errors, 1);
			vc_warn(d, "port %u: no memory for a %u-byte TX segment, dropped", port, n);
			continue;
		}
		if (gm_read(gm, desc.addr, dst, n)) {
			vc_pcount(d, port, tx_read_errors, 1);
			vc_warn(d, "port %u: TX segment 0x%llx+%u not in guest memory, dropped",
				port, (unsigned long long)desc.addr, n);
			continue;
		}
		vc_buf_commit(tx, n);
		got += n;
	}
	return got;
}

/*
 * One TX walk (spec §5.1). VC_TX_RESET is the silent reset-time capture of
 * §5.3: same gates and caps, but no interrupt and no host wake, because the
 * guest is going away and the vCPU holds the device lock. Returns whether
 * any byte was captured.
 */
bool vc_process_tx(struct vc_dev *d, unsigned port, enum vc_tx_mode mode)
{
	struct vc_port *p = &d->ports[port];
	uint16_t qi = vc_txq(port), head;
	uint64_t total = 0;
	struct vq *q;
	struct gm *gm;

	if (!vdev_driver_ok(&d->vdev))
		return false;
	if (port != 0 && !vc_multiport(d)) {
		vc_warn(d, "port %u TX without MULTIPORT negotiated, ignored", port);
		return false;
	}
	gm = vdev_mem(&d->vdev);
	if (!gm)
		return false;
	q = vdev_queue(&d->vdev, qi);
	p->tx_stalled = false;

	for (;;) {
		if (vc_pop(d, qi, q, gm, &head) <= 0)
			break;
		/*
		 * Full capture buffer: give the chain back and leave the rest in
		 * the ring until the host reads this port (bounded memory). At
		 * reset those chains are lost; a guest looping publish+reset
		 * must not grow the buffer without the host ever being woken.
		 */
		if (mode != VC_TX_FINAL && p->tx.len >= d->lim.tx_buf_cap) {
			vq_rewind(q);
			p->tx_stalled = true;
			vc_pcount(d, port, tx_buf_stalls, 1);
			break;
		}
		total += vc_tx_chain(d, port, q, gm, head);
		/* TX buffers are device-readable: the used length is always 0. */
		if (vq_add_used(q, gm, head, 0)) {
			vc_count(d, add_used_failures, 1);
			vc_warn(d, "port %u: TX head %u not returned to the guest", port, head);
		}
		vc_pcount(d, port, tx_chains, 1);
		/* The budget is checked between chains, so one chain may overshoot it. */
		if (total >= VC_TX_PER_CALL_MAX) {
			vc_pcount(d, port, tx_call_caps, 1);
			break;
		}
	}

	if (!total)
		return false;
	vc_pcount(d, port, tx_bytes, total);
	if (mode != VC_TX_RESET) {
		vc_signal_used(d);
		vc_wake_host(d, port);
	} else {
		vc_pcount(d, port, tx_reset_bytes, total);
	}
	return true;
}

/*
 * Write pending bytes of a port into the guest's RX chains (spec §6.2). A
 * chain that cannot be written completely is returned empty and the bytes
 * stay queued for the next chain.
 */
void vc_drain_pending_rx(struct vc_dev *d, unsigned port)
{
	struct vc_port *p = &d->ports[port];
	uint16_t qi = vc_rxq(port), head;
	uint64_t total = 0;
	unsigned chains = 0;
	struct vq *q;
	struct gm *gm;

	if (!p->rx.len || !vdev_driver_ok(&d->vdev))
		return;
	if (port != 0 && !vc_multiport(d)) {
		vc_warn(d, "port %u RX without MULTIPORT negotiated, input kept", port);
		return;
	}
	/* Ports 1 and 2 only take input once a guest process has them open. */
	if (port != 0 && !p->opened)
		return;
	gm = vdev_mem(&d->vdev);
	q = vdev_queue(&d->vdev, qi);
	if (!gm || !vq_is_ready(q))
		return;

	while (p->rx.len) {
		struct vq_chain c;
		struct vq_desc desc;
		uint32_t done = 0;
		bool torn = false;

		if (vc_pop(d, qi, q, gm, &head) <= 0)
			break;
		vq_chain_start(&c, q, gm, head);
		while (done < p->rx.len && vq_chain_next(&c, &desc)) {
			uint32_t chunk;

			if (!(desc.flags & VRING_DESC_F_WRITE))
				continue;
			chunk = (uint32_t)MIN((size_t)desc.len, p->rx.len - done);
			if (gm_write(gm, desc.addr, vc_buf_data(&p->rx) + done, chunk)) {
				torn = true;
				break;
			}
			done += chunk;
		}
		/*
		 * A torn chain goes back empty so its descriptors are not leaked;
		 * nothing is consumed and the next chain is left for a later
		 * trigger, which resends the same bytes from the start.
		 */
		if (torn) {
			vc_pcount(d, port, rx_torn, 1);
			vc_warn(d, "port %u: RX chain %u not writable, returned empty", port, head);
			if (vq_add_used(q, gm, head, 0))
				vc_count(d, add_used_failures, 1);
			break;
		}
		if (vq_add_used(q, gm, head, done)) {
			vc_count(d, add_used_failures, 1);
			vc_warn(d, "port %u: RX head %u not returned, input kept", port, head);
			break;
		}
		vc_buf_consume(&p->rx, done);
		total += done;
		vc_pcount(d, port, rx_chains, 1);
		if (++chains == VC_RX_CHAINS_PER_CALL_MAX) {
			if (p->rx.len)
				vc_pcount(d, port, rx_call_caps, 1);
			break;
		}
	}

	if (total) {
		vc_pcount(d, port, rx_bytes, total);
		vc_signal_used(d);
	}
}
