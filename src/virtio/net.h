/* SPDX-License-Identifier: MIT */
/*
 * virtio-net with an in-VMM TX->RX loopback (no host networking).
 * Governing texts: specs/virtio-net.md ("0.15.0 semantics": oversize frames
 * dropped and counted, RX-poison drops counted; 16-field LATER counters) and
 * specs/virtio-transport.md for everything register-, ring- and memory-level.
 *
 * One RX/TX pair (RX = queue 0, TX = queue 1, 256 entries each), VERSION_1
 * and MAC offered, the 12-byte virtio_net_hdr_mrg_rxbuf header in both
 * directions. Every frame the guest sends is copied into the next RX buffer
 * of the same device inline on the vCPU thread that kicked TX.
 *
 * VMM usage: vnet_create(), vdev_set_mem(vnet_vdev(n), gm), register
 * vdev_irq_fd() as an irqfd and the window with vmmio_read/vmmio_write, run;
 * after the vCPUs joined, vnet_snapshot() (and vnet_snapshot_aggregate() over
 * every NIC); vnet_destroy().
 */
#ifndef KTSTR_VIRTIO_NET_H
#define KTSTR_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/mmio.h"
#include "virtio/net_counters.h"

#define VNET_RXQ	 0u
#define VNET_TXQ	 1u
#define VNET_NUM_QUEUES	 2u
#define VNET_QUEUE_SIZE	 256u
#define VNET_HDR_LEN	 12u /* sizeof(struct virtio_net_hdr_mrg_rxbuf) */
#define VNET_CONFIG_SIZE 12u /* mac[6], status, max_virtqueue_pairs, mtu */
/* Largest post-header frame: Ethernet 14 + two VLAN tags 8 + max MTU 65535. */
#define VNET_MAX_FRAME 65557u
/* Highest device index with a derived MAC (02:00:00:ff:ff:ff). */
#define VNET_INDEX_MAX 0xFFFFFEu

/*
 * How a frame travels from the TX chain to the RX chain.
 *  STAGED: TX bytes are copied into a per-device scratch buffer, then into
 *          the RX buffer (two copies; the reference's model).
 *  DIRECT: the TX chain is fully validated first (same checks, same order,
 *          nothing read), then its bytes are copied straight into the RX
 *          buffer (one copy). Guest-visible results are identical except
 *          for a hostile guest whose RX buffer overlaps its own TX frame.
 */
enum vnet_copy_mode { VNET_COPY_DIRECT = 0, VNET_COPY_STAGED = 1 };

struct vnet_params {
	uint32_t index; /* device index: MAC 02:00:00:xx:yy:zz with xxyyzz = index + 1 */
	bool has_mac;	/* use mac[] instead of deriving it from index */
	uint8_t mac[6]; /* unicast, not all-zero */
	enum vnet_copy_mode copy;
};

struct vnet;

/* 0 or -EINVAL (index > VNET_INDEX_MAX, multicast or zero MAC) / -ENOMEM / vdev_init's error. */
int vnet_create(const struct vnet_params *p, struct vnet **out);
/* After the vCPUs stopped. NULL is ignored. */
void vnet_destroy(struct vnet *n);

struct vdev *vnet_vdev(struct vnet *n);
void vnet_mac(const struct vnet *n, uint8_t mac[6]);
/* Deterministic MAC of device `index`: 0 -> 02:00:00:00:00:01. -EINVAL above VNET_INDEX_MAX. */
int vnet_mac_from_index(uint32_t index, uint8_t mac[6]);

/* Live counters, readable from any thread without the device lock; valid until destroy. */
const struct vnet_counters *vnet_counters(const struct vnet *n);
void vnet_snapshot(const struct vnet *n, struct vnet_snapshot *out);

#endif
