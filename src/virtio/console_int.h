/* SPDX-License-Identifier: MIT */
/*
 * virtio-console internals shared by console.c (life cycle, transport hooks,
 * host API), console_port.c (TX capture and RX delivery), console_ctrl.c
 * (multiport control protocol), console_buf.c (byte buffers) and
 * console_stats.c (counters). Not for use outside src/virtio/console*.c.
 */
#ifndef KTSTR_VIRTIO_CONSOLE_INT_H
#define KTSTR_VIRTIO_CONSOLE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_console.h>

#include "base/compiler.h"
#include "base/log.h"
#include "virtio/console.h"
#include "virtio/mmio.h"

#define VC_NAME "virtio-console"

/* Queue indices (spec §1.2). */
#define VC_Q_PORT0_RX 0
#define VC_Q_PORT0_TX 1
#define VC_Q_CTRL_IN  2 /* c_ivq: device -> guest */
#define VC_Q_CTRL_OUT 3 /* c_ovq: guest -> device */

#define VC_CTRL_HDR_SIZE 8u
/*
 * The outbound FIFO can only grow through DEVICE_READY (once) and PORT_READY
 * (once per port) per lifecycle: 3 + 3 + 2 + 2 = 10 messages. 16 slots leave
 * room; an overflow would be a device bug and is counted, never a crash.
 */
#define VC_CTRL_OUT_MAX 16u
/* Longest serialized outbound message: header + "ktstr-console" + NUL. */
#define VC_CTRL_MSG_MAX 32u

/*
 * Byte buffer with cheap consumption at the front, appends at the tail and
 * an occasional prepend; the bytes are always contiguous at mem[off, off+len)
 * so guest copies go straight in or out with one gm_read/gm_write.
 */
struct vc_buf {
	uint8_t *mem;
	size_t off, len, cap;
	size_t hint; /* first allocation after a handover: the last size, up to 256 KiB */
};

void vc_buf_free(struct vc_buf *b);
uint8_t *vc_buf_reserve(struct vc_buf *b, size_t n); /* n writable bytes at the tail, or NULL */
void vc_buf_commit(struct vc_buf *b, size_t n);
int vc_buf_append(struct vc_buf *b, const void *p, size_t n);
int vc_buf_prepend(struct vc_buf *b, const void *p, size_t n);
void vc_buf_consume(struct vc_buf *b, size_t n);
size_t vc_buf_take(struct vc_buf *b, uint8_t **out);
size_t vc_buf_read(struct vc_buf *b, void *dst, size_t n);
static inline const uint8_t *vc_buf_data(const struct vc_buf *b)
{
	return b->mem + b->off;
}

struct vc_port {
	struct vc_buf tx; /* guest -> host capture; survives a guest reset */
	struct vc_buf rx; /* host -> guest bytes not yet delivered */
	bool opened;	  /* last guest PORT_OPEN said 1 */
	bool readied;	  /* PORT_READY(1) accepted this lifecycle */
	bool tx_stalled;  /* a walk stopped on a full capture buffer; a host read resumes it */
};

struct vc_msg {
	uint32_t id;
	uint16_t event, value;
};

#define VC_X_ATOMIC(n) _Atomic uint64_t n;
struct vc_port_counters_atomic {
	VC_PORT_COUNTERS(VC_X_ATOMIC)
};
struct vc_counters_atomic {
	struct vc_port_counters_atomic port[VC_NUM_PORTS];
	VC_DEV_COUNTERS(VC_X_ATOMIC)
};
#undef VC_X_ATOMIC

struct vc_dev {
	struct vdev vdev; /* transport; its lock guards everything below */
	struct vc_limits lim;
	int tx_fd, stats_tx_fd;
	struct vc_port ports[VC_NUM_PORTS];
	struct vc_msg ctrl_out[VC_CTRL_OUT_MAX]; /* FIFO ring */
	unsigned ctrl_head, ctrl_len;
	bool device_ready;
	struct vc_counters_atomic cnt;
	struct ratelimit rl;
};

#define vc_count(d, field, n) atomic_fetch_add_explicit(&(d)->cnt.field, (n), memory_order_relaxed)
#define vc_pcount(d, p, field, n) \
	atomic_fetch_add_explicit(&(d)->cnt.port[p].field, (n), memory_order_relaxed)
/* Guest-triggerable warnings share one rate limit per device. */
#define vc_warn(d, fmt, ...) log_ratelimited(&(d)->rl, LOG_WARN, VC_NAME ": " fmt, ##__VA_ARGS__)

static inline struct vc_dev *vc_from_vdev(struct vdev *v)
{
	return container_of(v, struct vc_dev, vdev);
}

static inline bool vc_multiport(const struct vc_dev *d)
{
	return vdev_has_feature(&d->vdev, VIRTIO_CONSOLE_F_MULTIPORT);
}

/* Queue pair of a port (spec §1.2): 0 -> 0/1, n -> 2+2n / 3+2n. */
static inline uint16_t vc_rxq(unsigned port)
{
	return port == 0 ? VC_Q_PORT0_RX : (uint16_t)(2 + 2 * port);
}
static inline uint16_t vc_txq(unsigned port)
{
	return (uint16_t)(vc_rxq(port) + 1);
}

/* console.c */
void vc_signal_used(struct vc_dev *d);
void vc_wake_host(struct vc_dev *d, unsigned port);
int vc_pop(struct vc_dev *d, uint16_t qi, struct vq *q, const struct gm *gm, uint16_t *head);

/*
 * How a TX walk was started. The final walk ignores the capture-buffer cap:
 * the host is taking everything at that moment, and the walk stays bounded
 * by the per-call budget. The others stop at the cap.
 */
enum vc_tx_mode {
	VC_TX_NOTIFY, /* guest notify or host resume: signal the guest, wake the host */
	VC_TX_RESET,  /* silent capture at reset (spec §5.3) */
	VC_TX_FINAL,  /* final_drain: signals like a notify */
};

/* console_port.c; device lock held. */
bool vc_process_tx(struct vc_dev *d, unsigned port, enum vc_tx_mode mode);
void vc_drain_pending_rx(struct vc_dev *d, unsigned port);

/* console_ctrl.c; device lock held. */
void vc_ctrl_handle_event(struct vc_dev *d, const struct vc_msg *m);
void vc_process_control_tx(struct vc_dev *d);
void vc_drain_control_in(struct vc_dev *d);
size_t vc_ctrl_serialize(const struct vc_msg *m, uint8_t *buf);
void vc_ctrl_clear(struct vc_dev *d);

#endif
