/* SPDX-License-Identifier: MIT */
/*
 * virtio-net internals shared by net.c (device, ops, config) and
 * net_loopback.c (the TX->RX data path). Not for use outside src/virtio/net*.
 */
#ifndef KTSTR_VIRTIO_NET_INTERNAL_H
#define KTSTR_VIRTIO_NET_INTERNAL_H

#include <sys/uio.h>

#include "base/log.h"
#include "virtio/net.h"

/*
 * Source pieces of one frame in DIRECT mode: a chain yields at most
 * VNET_QUEUE_SIZE descriptors (the walk's TTL is the ring size and net never
 * enables indirect tables), and each range splits into at most one piece per
 * guest-memory region.
 */
#define VNET_FRAME_IOV_MAX (VNET_QUEUE_SIZE * GM_MAX_REGIONS)

struct vnet {
	struct vdev vdev; /* first: the transport's view of this device */
	uint8_t config[VNET_CONFIG_SIZE];
	enum vnet_copy_mode copy;
	struct vnet_counters counters;
	uint8_t *scratch;	 /* VNET_MAX_FRAME bytes (STAGED) */
	struct iovec *frame_iov; /* VNET_FRAME_IOV_MAX pieces */
	struct ratelimit rl_warn;
};

/* Run the TX->RX loopback until TX is empty; device lock held (spec §5.2). */
void vnet_drain(struct vnet *n, const struct gm *gm);

#endif
