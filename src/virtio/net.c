// SPDX-License-Identifier: MIT
/*
 * virtio-net device: construction, the ops table the shared transport calls,
 * and the 12-byte config space (specs/virtio-net.md §2, specs/virtio-transport.md
 * §5.2 "net"). The data path lives in net_loopback.c.
 */
#include "virtio/net_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "base/compiler.h"

_Static_assert(sizeof(struct virtio_net_hdr_mrg_rxbuf) == VNET_HDR_LEN,
	       "VERSION_1 drivers use the 12-byte header in both directions");

/* Config layout (spec §2): packed, so status sits at 6, not at a padded 8. */
#define VNET_CFG_MAC	0u
#define VNET_CFG_STATUS 6u
#define VNET_CFG_PAIRS	8u
#define VNET_CFG_MTU	10u
_Static_assert(VNET_CFG_MTU + 2 == VNET_CONFIG_SIZE, "config is 12 bytes");

static uint64_t vnet_features(struct vdev *d UNUSED)
{
	/*
	 * VERSION_1 is what makes the header 12 bytes; MAC pins the guest's
	 * address across runs. Nothing else (no CSUM, MRG_RXBUF, STATUS, MQ,
	 * CTRL_VQ): the loopback and the single pair need none of them.
	 */
	return (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MAC);
}

static void vnet_config_read(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
	struct vnet *n = container_of(d, struct vnet, vdev);

	/* The transport clipped [off, off+len) to VNET_CONFIG_SIZE and zero-fills the rest. */
	memcpy(buf, n->config + off, len);
}

static void vnet_notify(struct vdev *d, uint16_t queue)
{
	struct vnet *n = container_of(d, struct vnet, vdev);
	const struct gm *gm = vdev_mem(d);

	/*
	 * Only a TX kick has work: RX buffers are consumed by the next TX. The
	 * transport already dropped kicks before DRIVER_OK or before memory was
	 * bound (transport §4.9); the gate is repeated here because the drain
	 * must never run on rings the driver has not finished programming.
	 */
	if (queue != VNET_TXQ || !vdev_driver_ok(d) || !gm)
		return;
	vnet_drain(n, gm);
}

/*
 * No reset hook: the transport's reset clears the rings and both poison
 * latches (vq_reset), the drain keeps no state between kicks, and the
 * counters, MAC and scratch buffer are deliberately kept (spec §3.8).
 */
static const struct virtio_dev_ops vnet_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.queue_max_size = VNET_QUEUE_SIZE,
	.config_size = VNET_CONFIG_SIZE,
	.features = vnet_features,
	.config_read = vnet_config_read,
	.notify = vnet_notify,
};

int vnet_mac_from_index(uint32_t index, uint8_t mac[6])
{
	uint32_t v;

	if (index > VNET_INDEX_MAX)
		return -EINVAL;
	/* 02: locally administered unicast; index 0 gets the reference default ...:01. */
	v = index + 1;
	mac[0] = 0x02;
	mac[1] = 0;
	mac[2] = 0;
	mac[3] = (uint8_t)(v >> 16);
	mac[4] = (uint8_t)(v >> 8);
	mac[5] = (uint8_t)v;
	return 0;
}

static bool vnet_mac_usable(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	/* Linux replaces a multicast or all-zero MAC by a random one, losing determinism. */
	return !(mac[0] & 1) && memcmp(mac, zero, sizeof(zero)) != 0;
}

int vnet_create(const struct vnet_params *p, struct vnet **out)
{
	uint8_t mac[6];
	struct vnet *n;
	int rc;

	if (p->has_mac) {
		if (!vnet_mac_usable(p->mac))
			return -EINVAL;
		memcpy(mac, p->mac, sizeof(mac));
	} else {
		rc = vnet_mac_from_index(p->index, mac);
		if (rc < 0)
			return rc;
	}
	if (p->copy != VNET_COPY_DIRECT && p->copy != VNET_COPY_STAGED)
		return -EINVAL;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	/* Both buffers up front: the kick path never allocates (spec §5.3, §10.1). */
	n->scratch = malloc(VNET_MAX_FRAME);
	n->frame_iov = calloc(VNET_FRAME_IOV_MAX, sizeof(*n->frame_iov));
	if (!n->scratch || !n->frame_iov) {
		rc = -ENOMEM;
		goto err_free;
	}
	n->copy = p->copy;
	/* status, max_virtqueue_pairs (single pair) and mtu stay 0. */
	memcpy(n->config + VNET_CFG_MAC, mac, sizeof(mac));

	rc = vdev_init(&n->vdev, &vnet_ops, VNET_NUM_QUEUES);
	if (rc < 0)
		goto err_free;
	*out = n;
	return 0;

err_free:
	free(n->frame_iov);
	free(n->scratch);
	free(n);
	return rc;
}

void vnet_destroy(struct vnet *n)
{
	if (!n)
		return;
	vdev_destroy(&n->vdev);
	free(n->frame_iov);
	free(n->scratch);
	free(n);
}

struct vdev *vnet_vdev(struct vnet *n)
{
	return &n->vdev;
}

void vnet_mac(const struct vnet *n, uint8_t mac[6])
{
	memcpy(mac, n->config + VNET_CFG_MAC, 6);
}

const struct vnet_counters *vnet_counters(const struct vnet *n)
{
	return &n->counters;
}

void vnet_snapshot(const struct vnet *n, struct vnet_snapshot *out)
{
	vnet_counters_snapshot(&n->counters, out);
}
