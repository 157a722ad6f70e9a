// SPDX-License-Identifier: MIT
/*
 * The multiport control protocol (spec §4): control messages from the guest
 * on c_ovq (queue 3), the device's replies queued in a small FIFO and pushed
 * into c_ivq (queue 2). Everything here runs with the device lock held.
 */
#include <string.h>
#include <linux/virtio_ring.h>

#include "virtio/console_int.h"

/* ---- outbound FIFO ---------------------------------------------------- */

static void vc_ctrl_push(struct vc_dev *d, uint32_t id, uint16_t event)
{
	if (d->ctrl_len == VC_CTRL_OUT_MAX) {
		vc_count(d, ctrl_out_overflow, 1);
		log_err(VC_NAME ": control FIFO full, event %u for port %u dropped", event, id);
		return;
	}
	/* Every device-originated message carries value 1, as QEMU's do. */
	d->ctrl_out[(d->ctrl_head + d->ctrl_len) % VC_CTRL_OUT_MAX] =
		(struct vc_msg){.id = id, .event = event, .value = 1};
	d->ctrl_len++;
}

static void vc_ctrl_pop(struct vc_dev *d)
{
	d->ctrl_head = (d->ctrl_head + 1) % VC_CTRL_OUT_MAX;
	d->ctrl_len--;
}

void vc_ctrl_clear(struct vc_dev *d)
{
	d->ctrl_head = 0;
	d->ctrl_len = 0;
}

/* Header (LE id, event, value), then for PORT_NAME the name and one NUL. */
size_t vc_ctrl_serialize(const struct vc_msg *m, uint8_t *buf)
{
	size_t n = VC_CTRL_HDR_SIZE;

	buf[0] = (uint8_t)m->id;
	buf[1] = (uint8_t)(m->id >> 8);
	buf[2] = (uint8_t)(m->id >> 16);
	buf[3] = (uint8_t)(m->id >> 24);
	buf[4] = (uint8_t)m->event;
	buf[5] = (uint8_t)(m->event >> 8);
	buf[6] = (uint8_t)m->value;
	buf[7] = (uint8_t)(m->value >> 8);
	if (m->event == VIRTIO_CONSOLE_PORT_NAME) {
		const char *name = vc_port_name(m->id);
		size_t len = strlen(name) + 1;

		memcpy(buf + n, name, len);
		n += len;
	}
	return n;
}

/* ---- inbound events (spec §4.2) --------------------------------------- */

static void vc_ev_device_ready(struct vc_dev *d, const struct vc_msg *m)
{
	if (m->value != 1) {
		vc_count(d, ctrl_ignored, 1);
		vc_warn(d, "DEVICE_READY with value %u ignored", m->value);
		return;
	}
	/* Once per lifecycle: a repeating guest must not grow the FIFO. */
	if (d->device_ready) {
		vc_count(d, ctrl_repeats, 1);
		vc_warn(d, "repeated DEVICE_READY ignored");
		return;
	}
	d->device_ready = true;
	for (uint32_t i = 0; i < VC_NUM_PORTS; i++)
		vc_ctrl_push(d, i, VIRTIO_CONSOLE_PORT_ADD);
}

static void vc_ev_port_ready(struct vc_dev *d, const struct vc_msg *m)
{
	/* The checks run value, then id, then repeat, so a failed add can be retried. */
	if (m->value != 1) {
		vc_count(d, ctrl_ignored, 1);
		if (m->value == 0)
			log_ratelimited(&d->rl, LOG_ERR,
					VC_NAME ": guest failed to add port %u; it will not work",
					m->id);
		else
			vc_warn(d, "PORT_READY(%u) with value %u ignored", m->id, m->value);
		return;
	}
	if (m->id >= VC_NUM_PORTS) {
		vc_count(d, ctrl_bad_port, 1);
		vc_warn(d, "PORT_READY for unknown port %u ignored", m->id);
		return;
	}
	if (d->ports[m->id].readied) {
		vc_count(d, ctrl_repeats, 1);
		vc_warn(d, "repeated PORT_READY for port %u ignored", m->id);
		return;
	}
	d->ports[m->id].readied = true;
	/*
	 * CONSOLE_PORT first so the guest binds hvc0 to port 0; the name before
	 * the open so udev sees the sysfs name before anyone can open the node.
	 */
	if (m->id == VC_PORT_CONSOLE)
		vc_ctrl_push(d, m->id, VIRTIO_CONSOLE_CONSOLE_PORT);
	vc_ctrl_push(d, m->id, VIRTIO_CONSOLE_PORT_NAME);
	vc_ctrl_push(d, m->id, VIRTIO_CONSOLE_PORT_OPEN);
}

static void vc_ev_port_open(struct vc_dev *d, const struct vc_msg *m)
{
	struct vc_port *p;
	bool was_open;

	if (m->id >= VC_NUM_PORTS) {
		vc_count(d, ctrl_bad_port, 1);
		vc_warn(d, "PORT_OPEN for unknown port %u ignored", m->id);
		return;
	}
	p = &d->ports[m->id];
	was_open = p->opened;
	p->opened = m->value == 1;
	/* Input queued before the open goes out now; port 0 has no open gate. */
	if (!was_open && p->opened && m->id != VC_PORT_CONSOLE)
		vc_drain_pending_rx(d, m->id);
}

void vc_ctrl_handle_event(struct vc_dev *d, const struct vc_msg *m)
{
	vc_count(d, ctrl_rx_msgs, 1);
	switch (m->event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		vc_ev_device_ready(d, m);
		break;
	case VIRTIO_CONSOLE_PORT_READY:
		vc_ev_port_ready(d, m);
		break;
	case VIRTIO_CONSOLE_PORT_OPEN:
		vc_ev_port_open(d, m);
		break;
	default:
		/* Device-to-guest events and unknown codes: nothing to do. */
		vc_count(d, ctrl_ignored, 1);
		log_debug(VC_NAME ": control event %u from the guest ignored", m->event);
		break;
	}
}

/* ---- c_ovq: guest -> device (spec §4.3) ------------------------------- */

/* Gather the first 8 readable bytes of a chain; true if all 8 were there. */
static bool vc_ctrl_gather(struct vc_dev *d, const struct vq *q, const struct gm *gm, uint16_t head,
			   struct vc_msg *m)
{
	uint8_t hdr[VC_CTRL_HDR_SIZE];
	struct vq_chain c;
	struct vq_desc desc;
	uint32_t got = 0;

	vq_chain_start(&c, q, gm, head);
	while (got < sizeof(hdr) && vq_chain_next(&c, &desc)) {
		uint32_t n;

		if (desc.flags & VRING_DESC_F_WRITE)
			continue;
		n = MIN(desc.len, (uint32_t)sizeof(hdr) - got);
		if (!n)
			continue;
		if (gm_read(gm, desc.addr, hdr + got, n)) {
			vc_count(d, ctrl_read_errors, 1);
			vc_warn(d, "control chain %u not readable, message dropped", head);
			return false;
		}
		got += n;
	}
	if (got < sizeof(hdr)) {
		vc_count(d, ctrl_rx_short, 1);
		return false;
	}
	m->id = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
		(uint32_t)hdr[3] << 24;
	m->event = (uint16_t)(hdr[4] | hdr[5] << 8);
	m->value = (uint16_t)(hdr[6] | hdr[7] << 8);
	return true;
}

void vc_process_control_tx(struct vc_dev *d)
{
	struct vc_msg ev[VC_CTRL_CHAINS_PER_CALL_MAX];
	unsigned nev = 0, chains = 0;
	bool published = false;
	uint16_t head;
	struct vq *q;
	struct gm *gm;

	if (!vdev_driver_ok(&d->vdev))
		return;
	if (!vc_multiport(d)) {
		vc_warn(d, "control message without MULTIPORT negotiated, ignored");
		return;
	}
	gm = vdev_mem(&d->vdev);
	if (!gm)
		return;
	q = vdev_queue(&d->vdev, VC_Q_CTRL_OUT);

	/* Collect first and act afterwards, so the handlers see a settled ring. */
	while (chains < VC_CTRL_CHAINS_PER_CALL_MAX) {
		if (vc_pop(d, VC_Q_CTRL_OUT, q, gm, &head) <= 0)
			break;
		if (vc_ctrl_gather(d, q, gm, head, &ev[nev]))
			nev++;
		/* c_ovq buffers are device-readable: used length 0. */
		if (vq_add_used(q, gm, head, 0)) {
			vc_count(d, add_used_failures, 1);
			vc_warn(d, "control head %u not returned to the guest", head);
		} else {
			published = true;
		}
		vc_count(d, ctrl_rx_chains, 1);
		if (++chains == VC_CTRL_CHAINS_PER_CALL_MAX)
			vc_count(d, ctrl_call_caps, 1);
	}

	for (unsigned i = 0; i < nev; i++)
		vc_ctrl_handle_event(d, &ev[i]);
	if (published)
		vc_signal_used(d);
	/* Replies are usually waiting, and the guest may have refilled c_ivq. */
	vc_drain_control_in(d);
}

/* ---- c_ivq: device -> guest (spec §4.4) ------------------------------- */

enum vc_put { VC_PUT_OK, VC_PUT_SMALL, VC_PUT_TORN };

/* Write one serialized message across the chain's device-writable segments. */
static enum vc_put vc_ctrl_put(const struct vq *q, const struct gm *gm, uint16_t head,
			       const uint8_t *msg, size_t need)
{
	struct vq_desc seg[VC_QUEUE_MAX_SIZE];
	unsigned nseg = 0;
	uint64_t room = 0;
	struct vq_chain c;
	struct vq_desc desc;
	size_t done = 0;

	/* One walk into a local list: the capacity check and the copy use the same view. */
	vq_chain_start(&c, q, gm, head);
	while (nseg < VC_QUEUE_MAX_SIZE && vq_chain_next(&c, &desc)) {
		if (!(desc.flags & VRING_DESC_F_WRITE))
			continue;
		seg[nseg++] = desc;
		room += desc.len;
	}
	if (room < need)
		return VC_PUT_SMALL;
	for (unsigned i = 0; i < nseg && done < need; i++) {
		size_t n = MIN((size_t)seg[i].len, need - done);

		if (gm_write(gm, seg[i].addr, msg + done, n))
			return VC_PUT_TORN;
		done += n;
	}
	return VC_PUT_OK;
}

void vc_drain_control_in(struct vc_dev *d)
{
	uint8_t msg[VC_CTRL_MSG_MAX];
	bool published = false;
	uint16_t head;
	struct vq *q;
	struct gm *gm;

	/* Nothing to send: leave the guest's buffers posted. */
	if (!d->ctrl_len || !vdev_driver_ok(&d->vdev))
		return;
	if (!vc_multiport(d)) {
		vc_warn(d, "control replies pending without MULTIPORT negotiated, kept");
		return;
	}
	gm = vdev_mem(&d->vdev);
	q = vdev_queue(&d->vdev, VC_Q_CTRL_IN);
	if (!gm || !vq_is_ready(q))
		return;

	while (d->ctrl_len) {
		size_t need = vc_ctrl_serialize(&d->ctrl_out[d->ctrl_head], msg);
		enum vc_put put;

		if (vc_pop(d, VC_Q_CTRL_IN, q, gm, &head) <= 0)
			break;
		put = vc_ctrl_put(q, gm, head, msg, need);
		if (put != VC_PUT_OK) {
			/* Returned empty so the guest can reclaim the buffer. */
			if (vq_add_used(q, gm, head, 0))
				vc_count(d, add_used_failures, 1);
			else
				published = true;
			if (put == VC_PUT_SMALL) {
				/* A later, larger buffer may still take this message. */
				vc_count(d, ctrl_tx_small, 1);
				vc_warn(d, "control buffer %u too small for %zu bytes", head, need);
				continue;
			}
			/* Torn: keep the message at the front for a later chain. */
			vc_count(d, ctrl_tx_torn, 1);
			vc_warn(d, "control buffer %u not writable, message kept", head);
			break;
		}
		if (vq_add_used(q, gm, head, (uint32_t)need)) {
			/* The chain is lost; the message stays for the next one. */
			vc_count(d, add_used_failures, 1);
			vc_warn(d, "control head %u not returned, message kept", head);
			break;
		}
		published = true;
		vc_count(d, ctrl_tx_msgs, 1);
		vc_ctrl_pop(d);
	}
	if (published)
		vc_signal_used(d);
}
