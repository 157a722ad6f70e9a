/* SPDX-License-Identifier: MIT */
/*
 * virtio-console: the 3-port multiport device (specs/virtio-console.md).
 *
 *   port 0 "ktstr-console"  queues 0 (RX) / 1 (TX)  guest hvc0
 *   port 1 "ktstr-bulk"     queues 4 / 5            guest->host TLV stream (results, output)
 *   port 2 "ktstr-stats"    queues 6 / 7            scheduler stats relay
 *   control                 queues 2 (c_ivq, to the guest) / 3 (c_ovq, from the guest)
 *
 * The register file, status machine and queue configuration come from the
 * shared transport (virtio/mmio.h); this module adds the multiport protocol,
 * the per-port capture and input buffers and the host-facing API below.
 *
 * Every host-facing function takes the device lock, so the VMM's link thread
 * may call them while vCPU threads run. The wake eventfds follow the spec's
 * §8: tx_fd is written when port 0 or 1 captured bytes, stats_tx_fd when
 * port 2 did; the host waits on them (epoll) instead of polling.
 *
 * Memory is bounded (an addition to the spec, which leaves the capture
 * buffers uncapped): a port's capture buffer stops taking TX chains once it
 * holds `tx_buf_cap` bytes; the chains then wait in the guest's ring (the
 * same "stall" the per-call cap produces) and the next host read of that port
 * resumes the walk. Pending input is refused beyond `rx_pending_cap` bytes
 * (-ENOBUFS, nothing queued). Both events are counted.
 */
#ifndef KTSTR_VIRTIO_CONSOLE_H
#define KTSTR_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct json_object;

#include "virtio/guestmem.h"
#include "virtio/mmio.h"

#define VC_NUM_PORTS	  3
#define VC_NUM_QUEUES	  (2 + 2 * VC_NUM_PORTS)
#define VC_QUEUE_MAX_SIZE 256u
#define VC_CONFIG_SIZE	  12u

/* Per-call and per-descriptor caps of the spec (§1.4). */
#define VC_TX_DESC_MAX		    (32u * 1024)
#define VC_TX_PER_CALL_MAX	    (256u * 1024)
#define VC_CTRL_CHAINS_PER_CALL_MAX 32u
#define VC_RX_CHAINS_PER_CALL_MAX   64u

/* Host-side buffer caps (defaults; see struct vc_limits). */
#define VC_TX_BUF_CAP_DEFAULT	  (16u << 20)
#define VC_RX_PENDING_CAP_DEFAULT (4u << 20)

enum vc_port_id {
	VC_PORT_CONSOLE = 0,
	VC_PORT_BULK = 1,
	VC_PORT_STATS = 2,
};

struct vc_limits {
	size_t tx_buf_cap;     /* capture buffer: walks stall at this many bytes (0 = default) */
	size_t rx_pending_cap; /* pending input: queue_input refused beyond it (0 = default) */
};

/*
 * Counters: cumulative, relaxed atomics in the device, never cleared by a
 * guest reset. The X-lists keep the struct, the snapshot and the JSON keys in
 * one place.
 */
#define VC_PORT_COUNTERS(X)                                                                       \
	X(tx_bytes)		   /* bytes captured from the guest */                            \
	X(tx_chains)		   /* TX chains completed */                                      \
	X(tx_desc_clamped)	   /* readable descriptors longer than 32 KiB */                  \
	X(tx_bytes_clamped)	   /* bytes dropped past the 32 KiB clamp */                      \
	X(tx_read_errors)	   /* unreadable TX segments dropped */                           \
	X(tx_buf_stalls)	   /* walks stopped because the capture buffer was full */        \
	X(tx_call_caps)		   /* walks stopped at the 256 KiB per-call budget */             \
	X(tx_reset_bytes)	   /* bytes captured by the silent reset-time walk */             \
	X(tx_wakes)		   /* host wake eventfd writes for this port */                   \
	X(rx_bytes)		   /* bytes delivered to the guest */                             \
	X(rx_chains)		   /* RX chains completed with a length (0 included) */           \
	X(rx_torn)		   /* RX chains with an unwritable segment (len 0, bytes kept) */ \
	X(rx_call_caps)		   /* drains stopped at 64 chains with bytes still pending */     \
	X(rx_input_rejected)	   /* queue_input calls refused at the pending cap */             \
	X(rx_input_rejected_bytes) /* bytes of those calls */                                     \
	X(rx_cleared_bytes)	   /* pending bytes thrown away by reset or clear_port2 */

#define VC_DEV_COUNTERS(X)                                                                        \
	X(ctrl_rx_msgs)	     /* control messages parsed from c_ovq */                             \
	X(ctrl_rx_chains)    /* c_ovq chains completed */                                         \
	X(ctrl_rx_short)     /* c_ovq chains with fewer than 8 readable bytes (dropped) */        \
	X(ctrl_read_errors)  /* unreadable c_ovq segments */                                      \
	X(ctrl_call_caps)    /* c_ovq walks stopped at 32 chains */                               \
	X(ctrl_ignored)	     /* events with no device action (unknown, device-only, bad value) */ \
	X(ctrl_bad_port)     /* PORT_READY / PORT_OPEN with a port id >= 3 */                     \
	X(ctrl_repeats)	     /* DEVICE_READY / PORT_READY repeats refused */                      \
	X(ctrl_tx_msgs)	     /* control messages delivered into c_ivq */                          \
	X(ctrl_tx_small)     /* c_ivq chains too small for the front message (len 0) */           \
	X(ctrl_tx_torn)	     /* c_ivq chains with an unwritable segment (len 0) */                \
	X(ctrl_out_overflow) /* outbound messages dropped because the FIFO was full */            \
	X(pop_errors)	     /* avail ring unreadable or index ran ahead ("no chain") */          \
	X(add_used_failures) /* used-ring publications that failed */                             \
	X(irqs)		     /* used-ring interrupts signalled */                                 \
	X(resets)	     /* device resets (STATUS 0) */

#define VC_X_FIELD(n) uint64_t n;
struct vc_port_counters {
	VC_PORT_COUNTERS(VC_X_FIELD)
};

struct vc_counters {
	struct vc_port_counters port[VC_NUM_PORTS];
	VC_DEV_COUNTERS(VC_X_FIELD)
};
#undef VC_X_FIELD

struct vc_dev; /* opaque */

/* Life cycle. NULL limits = defaults. Returns NULL with errno set on failure. */
struct vc_dev *vc_new(const struct vc_limits *limits);
void vc_free(struct vc_dev *d);
/* The transport object: for the VMM's bus adapter (vmmio_read/vmmio_write) and tests. */
struct vdev *vc_vdev(struct vc_dev *d);
void vc_set_mem(struct vc_dev *d, struct gm *gm);

/* Eventfds: guest interrupt (KVM irqfd), port 0/1 output wake, port 2 output wake. */
int vc_irq_fd(const struct vc_dev *d);
int vc_tx_fd(const struct vc_dev *d);
int vc_stats_tx_fd(const struct vc_dev *d);

/*
 * Output (guest -> host). vc_read_port copies and removes up to len bytes;
 * vc_drain_port hands over everything captured (*out malloc'd, caller frees;
 * NULL when 0 is returned). Either may resume a walk stalled on a full buffer.
 */
ssize_t vc_read_port(struct vc_dev *d, unsigned port, void *buf, size_t len);
size_t vc_drain_port(struct vc_dev *d, unsigned port, uint8_t **out);
size_t vc_drain_output(struct vc_dev *d, uint8_t **out); /* port 0 */
size_t vc_drain_bulk(struct vc_dev *d, uint8_t **out);	 /* port 1 */
size_t vc_drain_port2(struct vc_dev *d, uint8_t **out);	 /* port 2 */
/* Port 1 only: walk queue 5 once more (chains published without a notify), then drain. */
size_t vc_final_drain(struct vc_dev *d, uint8_t **out);
/* Put bytes back in front of port 1's capture (an unfinished frame). 0 / -ENOMEM. */
int vc_push_back_bulk(struct vc_dev *d, const void *b, size_t n);

/* Input (host -> guest). 0, -EINVAL (port), -ENOBUFS (cap, nothing queued), -ENOMEM. */
int vc_queue_input_port(struct vc_dev *d, unsigned port, const void *b, size_t n);
int vc_queue_input(struct vc_dev *d, const void *b, size_t n); /* port 0 */
int vc_queue_input_port1(struct vc_dev *d, const void *b, size_t n);
int vc_queue_input_port2(struct vc_dev *d, const void *b, size_t n);
/* Drop port 2's stale request bytes; returns how many were dropped. */
size_t vc_clear_port2_pending_rx(struct vc_dev *d);

/* Counters. */
void vc_counters_snapshot(struct vc_dev *d, struct vc_counters *out);
struct json_object *vc_counters_to_json(const struct vc_counters *c);
/* 0, or -EINVAL if a key is missing or not an integer (unknown keys are ignored). */
int vc_counters_from_json(const struct json_object *obj, struct vc_counters *out);

/*
 * Inspection and test hooks (cheap, locked). The control-event entry point is
 * the one c_ovq uses, without its DRIVER_OK/MULTIPORT gates (spec §4.2).
 */
void vc_handle_control_event(struct vc_dev *d, uint32_t id, uint16_t event, uint16_t value);
size_t vc_pending_rx_len(struct vc_dev *d, unsigned port);
size_t vc_pending_rx_copy(struct vc_dev *d, unsigned port, void *buf, size_t len);
size_t vc_tx_buf_len(struct vc_dev *d, unsigned port);
int vc_inject_tx(struct vc_dev *d, unsigned port, const void *b, size_t n);
bool vc_port_opened(struct vc_dev *d, unsigned port);
bool vc_port_readied(struct vc_dev *d, unsigned port);
bool vc_device_ready(struct vc_dev *d);
/* Outbound control FIFO: length, and the serialized bytes of entry i (returns its size). */
unsigned vc_ctrl_out_len(struct vc_dev *d);
size_t vc_ctrl_out_peek(struct vc_dev *d, unsigned i, void *buf, size_t len);

const char *vc_port_name(unsigned port);

#endif
