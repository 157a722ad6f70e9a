// SPDX-License-Identifier: MIT
/*
 * virtio-console device: life cycle, the hooks it plugs into the shared
 * transport (features, config space, notify dispatch, DRIVER_OK and reset
 * side effects) and the host-facing API. Protocol and data paths live in
 * console_ctrl.c and console_port.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "virtio/console_int.h"

static const char *const vc_names[VC_NUM_PORTS] = {"ktstr-console", "ktstr-bulk", "ktstr-stats"};

const char *vc_port_name(unsigned port)
{
	return port < VC_NUM_PORTS ? vc_names[port] : NULL;
}

/* ---- helpers shared by the device files ------------------------------- */

void vc_signal_used(struct vc_dev *d)
{
	vc_count(d, irqs, 1);
	vdev_signal_used(&d->vdev);
}

/*
 * Wake the host reader of a port. Port 2 has its own fd so stats traffic
 * and console/bulk traffic never wake each other's reader (spec §8). A
 * failed write (counter saturated) only delays the host, so it is ignored.
 */
void vc_wake_host(struct vc_dev *d, unsigned port)
{
	uint64_t one = 1;
	int fd = port == VC_PORT_STATS ? d->stats_tx_fd : d->tx_fd;

	vc_pcount(d, port, tx_wakes, 1);
	if (write(fd, &one, sizeof(one)) != sizeof(one))
		log_debug(VC_NAME ": host wake on fd %d failed", fd);
}

/*
 * A pop error is "no chain" for this device (transport spec §3.5): nothing
 * is latched and the next trigger tries again. -ENODEV only means the guest
 * never made the queue usable, which is not worth a count.
 */
int vc_pop(struct vc_dev *d, uint16_t qi, struct vq *q, const struct gm *gm, uint16_t *head)
{
	int rc = vq_pop(q, gm, head);

	if (rc < 0 && rc != -ENODEV) {
		vc_count(d, pop_errors, 1);
		vc_warn(d, "queue %u: avail ring unusable (%d), no chain taken", qi, rc);
	}
	return rc;
}

/* ---- transport hooks -------------------------------------------------- */

static uint64_t vc_features(struct vdev *v)
{
	(void)v;
	return 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_CONSOLE_F_MULTIPORT;
}

/* cols, rows (no F_SIZE), max_nr_ports, emerg_wr (no F_EMERG_WRITE); all LE. */
static void vc_config_read(struct vdev *v, uint32_t off, void *buf, uint32_t len)
{
	uint8_t cfg[VC_CONFIG_SIZE] = {[4] = VC_NUM_PORTS};

	(void)v;
	if (off < sizeof(cfg))
		memcpy(buf, cfg + off, MIN((size_t)len, sizeof(cfg) - off));
}

static void vc_notify(struct vdev *v, uint16_t qi)
{
	struct vc_dev *d = vc_from_vdev(v);

	switch (qi) {
	case VC_Q_CTRL_IN:
		vc_drain_control_in(d);
		break;
	case VC_Q_CTRL_OUT:
		vc_process_control_tx(d);
		break;
	default:
		/* Even queues are RX (the guest posted buffers), odd ones TX. */
		if (qi < VC_NUM_QUEUES && qi % 2 == 0)
			vc_drain_pending_rx(d, qi == VC_Q_PORT0_RX ? 0 : (qi - 2u) / 2);
		else if (qi < VC_NUM_QUEUES)
			vc_process_tx(d, qi == VC_Q_PORT0_TX ? 0 : (qi - 3u) / 2, VC_TX_NOTIFY);
		break;
	}
}

/*
 * DRIVER_OK (spec §3.2 step 6): port-0 input queued before the driver came
 * up goes out now; ports 1 and 2 wait for their PORT_OPEN instead.
 */
static int vc_activate(struct vdev *v)
{
	struct vc_dev *d = vc_from_vdev(v);

	if (!vc_multiport(d))
		vc_warn(d, "DRIVER_OK without MULTIPORT: only hvc0 works, no bulk or stats port");
	vc_drain_pending_rx(d, VC_PORT_CONSOLE);
	vc_drain_control_in(d);
	return 0;
}

/*
 * First step of a reset, while the status, features and rings are still
 * the guest's: capture whatever the guest published on the TX queues
 * without a notify (its last frames before a reboot), silently. Then forget
 * the per-lifecycle protocol state; the capture buffers survive for the host.
 */
static void vc_reset(struct vdev *v)
{
	struct vc_dev *d = vc_from_vdev(v);

	vc_count(d, resets, 1);
	for (unsigned i = 0; i < VC_NUM_PORTS; i++)
		vc_process_tx(d, i, VC_TX_RESET);
	for (unsigned i = 0; i < VC_NUM_PORTS; i++) {
		struct vc_port *p = &d->ports[i];

		vc_pcount(d, i, rx_cleared_bytes, p->rx.len);
		vc_buf_free(&p->rx);
		p->opened = false;
		p->readied = false;
		p->tx_stalled = false;
	}
	vc_ctrl_clear(d);
	d->device_ready = false;
}

static const struct virtio_dev_ops vc_ops = {
	.name = VC_NAME,
	.device_id = VIRTIO_ID_CONSOLE,
	.queue_max_size = VC_QUEUE_MAX_SIZE,
	.config_size = VC_CONFIG_SIZE,
	.features = vc_features,
	.config_read = vc_config_read,
	.notify = vc_notify,
	.activate = vc_activate,
	.reset = vc_reset,
};

/* ---- life cycle ------------------------------------------------------- */

struct vc_dev *vc_new(const struct vc_limits *limits)
{
	struct vc_dev *d = calloc(1, sizeof(*d));
	int rc = -ENOMEM;

	if (!d)
		goto fail;
	d->lim.tx_buf_cap =
		limits && limits->tx_buf_cap ? limits->tx_buf_cap : VC_TX_BUF_CAP_DEFAULT;
	d->lim.rx_pending_cap = limits && limits->rx_pending_cap ? limits->rx_pending_cap
								 : VC_RX_PENDING_CAP_DEFAULT;
	d->stats_tx_fd = -1;
	d->tx_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->tx_fd < 0)
		goto fail_errno;
	d->stats_tx_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->stats_tx_fd < 0)
		goto fail_errno;
	rc = vdev_init(&d->vdev, &vc_ops, VC_NUM_QUEUES);
	if (rc)
		goto fail;
	return d;

fail_errno:
	rc = -errno;
fail:
	if (d) {
		if (d->tx_fd >= 0)
			close(d->tx_fd);
		if (d->stats_tx_fd >= 0)
			close(d->stats_tx_fd);
		free(d);
	}
	errno = -rc;
	return NULL;
}

void vc_free(struct vc_dev *d)
{
	if (!d)
		return;
	vdev_destroy(&d->vdev);
	for (unsigned i = 0; i < VC_NUM_PORTS; i++) {
		vc_buf_free(&d->ports[i].tx);
		vc_buf_free(&d->ports[i].rx);
	}
	close(d->tx_fd);
	close(d->stats_tx_fd);
	free(d);
}

struct vdev *vc_vdev(struct vc_dev *d)
{
	return &d->vdev;
}

void vc_set_mem(struct vc_dev *d, struct gm *gm)
{
	vdev_set_mem(&d->vdev, gm);
}

int vc_irq_fd(const struct vc_dev *d)
{
	return vdev_irq_fd(&d->vdev);
}

int vc_tx_fd(const struct vc_dev *d)
{
	return d->tx_fd;
}

int vc_stats_tx_fd(const struct vc_dev *d)
{
	return d->stats_tx_fd;
}

/* ---- host side: output ------------------------------------------------ */

/* A host read made room: take the chains a full buffer left in the ring. */
static void vc_resume_tx(struct vc_dev *d, unsigned port)
{
	if (d->ports[port].tx_stalled)
		vc_process_tx(d, port, VC_TX_NOTIFY);
}

ssize_t vc_read_port(struct vc_dev *d, unsigned port, void *buf, size_t len)
{
	size_t n;

	if (port >= VC_NUM_PORTS)
		return -EINVAL;
	vdev_lock(&d->vdev);
	n = vc_buf_read(&d->ports[port].tx, buf, len);
	vc_resume_tx(d, port);
	vdev_unlock(&d->vdev);
	return (ssize_t)n;
}

size_t vc_drain_port(struct vc_dev *d, unsigned port, uint8_t **out)
{
	size_t n;

	*out = NULL;
	if (port >= VC_NUM_PORTS)
		return 0;
	vdev_lock(&d->vdev);
	n = vc_buf_take(&d->ports[port].tx, out);
	vc_resume_tx(d, port);
	vdev_unlock(&d->vdev);
	return n;
}

size_t vc_drain_output(struct vc_dev *d, uint8_t **out)
{
	return vc_drain_port(d, VC_PORT_CONSOLE, out);
}

size_t vc_drain_bulk(struct vc_dev *d, uint8_t **out)
{
	return vc_drain_port(d, VC_PORT_BULK, out);
}

size_t vc_drain_port2(struct vc_dev *d, uint8_t **out)
{
	return vc_drain_port(d, VC_PORT_STATS, out);
}

/*
 * After the VM stopped: chains the guest published on port 1 but never
 * notified (its last frames) are walked with every normal gate, then all of
 * port 1 is handed over. Once the guest has reset, the gates fail and only
 * the reset-time capture comes back.
 */
size_t vc_final_drain(struct vc_dev *d, uint8_t **out)
{
	size_t n;

	vdev_lock(&d->vdev);
	vc_process_tx(d, VC_PORT_BULK, VC_TX_FINAL);
	n = vc_buf_take(&d->ports[VC_PORT_BULK].tx, out);
	vdev_unlock(&d->vdev);
	return n;
}

int vc_push_back_bulk(struct vc_dev *d, const void *b, size_t n)
{
	int rc;

	vdev_lock(&d->vdev);
	rc = vc_buf_prepend(&d->ports[VC_PORT_BULK].tx, b, n);
	vdev_unlock(&d->vdev);
	return rc;
}

/* ---- host side: input ------------------------------------------------- */

int vc_queue_input_port(struct vc_dev *d, unsigned port, const void *b, size_t n)
{
	struct vc_port *p;
	int rc = 0;

	if (port >= VC_NUM_PORTS)
		return -EINVAL;
	p = &d->ports[port];
	vdev_lock(&d->vdev);
	if (n > d->lim.rx_pending_cap - MIN(p->rx.len, d->lim.rx_pending_cap)) {
		vc_pcount(d, port, rx_input_rejected, 1);
		vc_pcount(d, port, rx_input_rejected_bytes, n);
		rc = -ENOBUFS;
	} else {
		rc = vc_buf_append(&p->rx, b, n);
	}
	if (!rc)
		vc_drain_pending_rx(d, port);
	vdev_unlock(&d->vdev);
	return rc;
}

int vc_queue_input(struct vc_dev *d, const void *b, size_t n)
{
	return vc_queue_input_port(d, VC_PORT_CONSOLE, b, n);
}

int vc_queue_input_port1(struct vc_dev *d, const void *b, size_t n)
{
	return vc_queue_input_port(d, VC_PORT_BULK, b, n);
}

int vc_queue_input_port2(struct vc_dev *d, const void *b, size_t n)
{
	return vc_queue_input_port(d, VC_PORT_STATS, b, n);
}

/* The stats client starts every request clean: half an old request must not prefix it. */
size_t vc_clear_port2_pending_rx(struct vc_dev *d)
{
	struct vc_buf *rx = &d->ports[VC_PORT_STATS].rx;
	size_t n;

	vdev_lock(&d->vdev);
	n = rx->len;
	vc_buf_consume(rx, n);
	vc_pcount(d, VC_PORT_STATS, rx_cleared_bytes, n);
	vdev_unlock(&d->vdev);
	return n;
}

/* ---- inspection and test hooks ---------------------------------------- */

void vc_handle_control_event(struct vc_dev *d, uint32_t id, uint16_t event, uint16_t value)
{
	struct vc_msg m = {.id = id, .event = event, .value = value};

	vdev_lock(&d->vdev);
	vc_ctrl_handle_event(d, &m);
	vdev_unlock(&d->vdev);
}

size_t vc_pending_rx_copy(struct vc_dev *d, unsigned port, void *buf, size_t len)
{
	size_t n = 0;

	if (port >= VC_NUM_PORTS)
		return 0;
	vdev_lock(&d->vdev);
	n = MIN(len, d->ports[port].rx.len);
	if (n)
		memcpy(buf, vc_buf_data(&d->ports[port].rx), n);
	vdev_unlock(&d->vdev);
	return n;
}

/* One locked copy of the per-port and protocol state the getters below report. */
struct vc_peek {
	size_t rx_len, tx_len;
	bool opened, readied, device_ready;
	unsigned ctrl_len;
};

static struct vc_peek vc_peek(struct vc_dev *d, unsigned port)
{
	struct vc_peek pk = {0};

	vdev_lock(&d->vdev);
	if (port < VC_NUM_PORTS) {
		pk.rx_len = d->ports[port].rx.len;
		pk.tx_len = d->ports[port].tx.len;
		pk.opened = d->ports[port].opened;
		pk.readied = d->ports[port].readied;
	}
	pk.device_ready = d->device_ready;
	pk.ctrl_len = d->ctrl_len;
	vdev_unlock(&d->vdev);
	return pk;
}

size_t vc_pending_rx_len(struct vc_dev *d, unsigned port)
{
	return vc_peek(d, port).rx_len;
}

size_t vc_tx_buf_len(struct vc_dev *d, unsigned port)
{
	return vc_peek(d, port).tx_len;
}

bool vc_port_opened(struct vc_dev *d, unsigned port)
{
	return vc_peek(d, port).opened;
}

bool vc_port_readied(struct vc_dev *d, unsigned port)
{
	return vc_peek(d, port).readied;
}

bool vc_device_ready(struct vc_dev *d)
{
	return vc_peek(d, 0).device_ready;
}

unsigned vc_ctrl_out_len(struct vc_dev *d)
{
	return vc_peek(d, 0).ctrl_len;
}

int vc_inject_tx(struct vc_dev *d, unsigned port, const void *b, size_t n)
{
	int rc;

	if (port >= VC_NUM_PORTS)
		return -EINVAL;
	vdev_lock(&d->vdev);
	rc = vc_buf_append(&d->ports[port].tx, b, n);
	vdev_unlock(&d->vdev);
	return rc;
}

size_t vc_ctrl_out_peek(struct vc_dev *d, unsigned i, void *buf, size_t len)
{
	uint8_t msg[VC_CTRL_MSG_MAX];
	size_t n = 0;

	vdev_lock(&d->vdev);
	if (i < d->ctrl_len) {
		n = vc_ctrl_serialize(&d->ctrl_out[(d->ctrl_head + i) % VC_CTRL_OUT_MAX], msg);
		memcpy(buf, msg, MIN(n, len));
	}
	vdev_unlock(&d->vdev);
	return n;
}
