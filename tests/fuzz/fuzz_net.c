// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the virtio-net TX and RX paths, driven like a hostile
 * guest through the real transport (specs/virtio-net.md §12 #132–#134, §7.3).
 *
 * Each input is a small program run against a fresh device: write
 * descriptors anywhere (mapped, across the seam or hole between two memory
 * regions, unmapped, near 2^64), publish heads (in range or not), move
 * avail.idx arbitrarily, post well-formed frames and buffers, scribble over
 * guest memory, poke registers, reset and re-walk, and kick. After every
 * step it checks what must hold whatever the guest does:
 *   - no counter ever decreases, and the ctrl_* counters stay 0 on MMIO;
 *   - tx_bytes <= 65557 * tx_packets;
 *   - a TX kick with a chain published (DRIVER_OK, TX not poisoned) moves
 *     the TX used index or an event counter: no silent drop.
 * ASan/UBSan catch the rest (out-of-bounds, the 12-slot header rollback,
 * overlapping copies).
 */
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "fuzz_input.h"
#include "support/vdriver.h"
#include "virtio/net.h"

#define MIB	    (1ull << 20)
#define RX_DESC	    0x6000ull
#define RX_AVAIL    0x7000ull
#define RX_USED	    0x8000ull
#define TX_DESC	    0x1000ull
#define TX_AVAIL    0x2000ull
#define TX_USED	    0x3000ull
#define FRAME_AREA  0x40000ull /* well-formed TX frames */
#define RXBUF_AREA  0x80000ull /* well-formed RX buffers */
#define SCRIBBLE_LO 0x10000ull /* data scribbles never hit the rings */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct ctx {
	struct vnet *n;
	struct vdev *d;
	struct vdrv v;
	struct vnet_snapshot last;
};

static void die_if(bool bad, const char *what)
{
	if (bad) {
		log_err("fuzz_net invariant broken: %s", what);
		abort();
	}
}

static void walk(struct ctx *c, struct fz_in *in)
{
	uint16_t rx = (uint16_t)(1u << (fz_take(in, 1) % 9)); /* 1 .. 256 */
	uint16_t tx = (uint16_t)(1u << (fz_take(in, 1) % 9));

	vdrv_set_status(&c->v, 0);
	vdrv_set_status(&c->v, 0x01);
	vdrv_set_status(&c->v, 0x03);
	vdrv_write_features(&c->v, (1ull << 32) | (1ull << 5));
	vdrv_set_status(&c->v, 0x0B);
	vdrv_setup_queue(&c->v, VNET_RXQ, rx, RX_DESC, RX_AVAIL, RX_USED);
	vdrv_setup_queue(&c->v, VNET_TXQ, tx, TX_DESC, TX_AVAIL, TX_USED);
	vdrv_set_status(&c->v, 0x0F);
}

static uint64_t pick_addr(struct ctx *c, struct fz_in *in)
{
	uint64_t r = fz_take(in, 4);

	switch (fz_take(in, 1) % 7) {
	case 0:
		return FRAME_AREA + r % (MIB - FRAME_AREA);
	case 1: /* around the end of region 0: seam (MA) or hole (MH) */
		return MIB - 128 + r % 256;
	case 2:
		return MIB + r % (3 * MIB);
	case 3:
		return fz_take(in, 8);
	case 4:
		return UINT64_MAX - r % 128;
	case 5: /* the rings themselves */
		return r % 0x10000;
	default:
		return c->v.gpa[c->v.nregions - 1] + r % c->v.host_len[c->v.nregions - 1];
	}
}

static uint32_t pick_len(struct fz_in *in)
{
	uint32_t r = (uint32_t)fz_take(in, 4);

	switch (fz_take(in, 1) % 5) {
	case 0:
		return r;
	case 1:
		return r % 70000;
	case 2:
		return VNET_MAX_FRAME + VNET_HDR_LEN - 2 + r % 4; /* around the limit */
	default:
		return r % 300;
	}
}

static uint16_t qsize(struct ctx *c, uint16_t q)
{
	return c->v.q[q].size;
}

/* A frame the guest wrote properly, split into up to 3 read-only descriptors. */
static void post_good_tx(struct ctx *c, struct fz_in *in)
{
	uint32_t total = VNET_HDR_LEN + (uint32_t)(fz_take(in, 3) % (VNET_MAX_FRAME + 8));
	unsigned parts = 1 + (unsigned)(fz_take(in, 1) % 3);
	struct vdrv_buf b[3];
	uint32_t off = 0;

	if (parts > qsize(c, VNET_TXQ))
		parts = qsize(c, VNET_TXQ);
	for (unsigned i = 0; i < parts; i++) {
		uint32_t len = i + 1 < parts ? (uint32_t)(fz_take(in, 2) % (total - off + 1))
					     : total - off;

		b[i] = (struct vdrv_buf){FRAME_AREA + off, len, false};
		off += len;
	}
	vdrv_post(&c->v, VNET_TXQ, b, parts);
}

static void post_good_rx(struct ctx *c, struct fz_in *in)
{
	uint32_t len = (uint32_t)(fz_take(in, 3) % (VNET_MAX_FRAME + 64));
	struct vdrv_buf b = {RXBUF_AREA, len, true};

	vdrv_post(&c->v, VNET_RXQ, &b, 1);
}

static void check_counters(struct ctx *c, struct vnet_snapshot *now)
{
	vnet_snapshot(c->n, now);
	for (unsigned k = 0; k < VNET_CTR_COUNT; k++)
		die_if(vnet_snapshot_field(now, k) < vnet_snapshot_field(&c->last, k),
		       "a counter decreased");
	die_if(now->ctrl_mq_set || now->ctrl_chain_invalid || now->ctrl_add_used_failures,
	       "ctrl_* counter moved on MMIO");
	die_if(now->tx_bytes > (uint64_t)VNET_MAX_FRAME * now->tx_packets, "tx_bytes too large");
	c->last = *now;
}

/*
 * Whether the next TX pop will find something: a chain, or an avail-ring
 * error that poisons TX. Follows the engine's rules (transport §3.5) from the
 * device's own ring address, since register pokes may have moved the ring.
 */
static bool tx_has_work(struct ctx *c, const struct vq *tx)
{
	const struct gm *gm = vdev_mem(c->d);
	uint16_t next = vq_next_avail(tx), idx, head;
	uint64_t entry;

	if (!vdev_driver_ok(c->d) || vq_poisoned(tx))
		return false;
	if (!tx->ready || !tx->avail || gm_load16_acquire(gm, tx->avail + 2, &idx) < 0)
		return true;
	if ((uint16_t)(idx - next) > tx->size)
		return true;
	if (idx == next)
		return false;
	/* An unreadable avail entry counts as an empty ring. */
	if (__builtin_add_overflow(tx->avail, 4 + 2ull * (next % tx->size), &entry))
		return false;
	return gm_load16_acquire(gm, entry, &head) == 0;
}

static void kick_tx(struct ctx *c)
{
	struct vq *tx = vdev_queue(c->d, VNET_TXQ);
	bool expect = tx_has_work(c, tx);
	uint16_t used = tx->next_used;
	uint64_t ev = vnet_snapshot_events(&c->last);
	struct vnet_snapshot now;

	vdrv_notify(&c->v, VNET_TXQ);
	check_counters(c, &now);
	if (expect)
		die_if(tx->next_used == used && vnet_snapshot_events(&now) == ev,
		       "TX kick made no progress");
}

static void step(struct ctx *c, struct fz_in *in)
{
	uint16_t q = (uint16_t)(fz_take(in, 1) & 1);
	struct vnet_snapshot now;

	switch (fz_take(in, 1) % 11) {
	case 0: {
		uint16_t slot = (uint16_t)(fz_take(in, 1) % qsize(c, q));
		uint64_t addr = pick_addr(c, in);
		uint32_t len = pick_len(in);
		uint16_t flags = (uint16_t)(fz_take(in, 1) & 7);

		vdrv_set_desc(&c->v, q, slot, addr, len, flags, (uint16_t)fz_take(in, 1));
		break;
	}
	case 1:
		vdrv_publish(&c->v, q, (uint16_t)fz_take(in, 1));
		break;
	case 2:
		vdrv_set_avail_idx(&c->v, q, (uint16_t)fz_take(in, 2));
		break;
	case 3:
	case 4:
		kick_tx(c);
		break;
	case 5:
		vdrv_w32(&c->v, VIRTIO_MMIO_QUEUE_NOTIFY,
			 fz_take(in, 1) & 1 ? (uint32_t)fz_take(in, 4) : 0);
		break;
	case 6: {
		uint8_t buf[64];
		unsigned len = (unsigned)(fz_take(in, 1) % sizeof(buf));
		uint64_t gpa = SCRIBBLE_LO + fz_take(in, 3) % (MIB - SCRIBBLE_LO - sizeof(buf));

		for (unsigned i = 0; i < len; i++)
			buf[i] = (uint8_t)fz_take(in, 1);
		vdrv_wmem(&c->v, gpa, buf, len);
		break;
	}
	case 7:
		walk(c, in);
		break;
	case 8:
		post_good_tx(c, in);
		break;
	case 9:
		post_good_rx(c, in);
		break;
	default:
		/* Any 4-byte register write; the transport decides what it means. */
		vdrv_w32(&c->v, (fz_take(in, 1) & 0x3F) * 4, (uint32_t)fz_take(in, 4));
		break;
	}
	check_counters(c, &now);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Hostile chains warn by design; keep the fuzzer's output readable. */
	log_set_level(LOG_ERR);
	return 0;
}

/*
 * One device per (memory layout, copy mode), kept across inputs: building
 * megabytes of guest RAM per input would cost more than the run itself. Each
 * input starts with a reset and a fresh walk, which zeroes the rings and
 * clears both poison latches; leftover frame bytes cannot steer the device.
 * Counters keep growing across inputs, which the monotonic check allows.
 */
static struct ctx *get_ctx(uint8_t sel)
{
	static const enum vdrv_mem_kind kinds[] = {VDRV_MEM_M1, VDRV_MEM_MA, VDRV_MEM_MH};
	static struct ctx ctxs[6];
	struct ctx *c = &ctxs[sel % 6];

	if (!c->n) {
		struct vnet_params p = {.copy = sel % 2 ? VNET_COPY_STAGED : VNET_COPY_DIRECT};

		if (vnet_create(&p, &c->n) < 0)
			abort();
		c->d = vnet_vdev(c->n);
		vdrv_init(&c->v, c->d, kinds[(sel % 6) / 2], true);
	}
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	struct ctx *c = get_ctx((uint8_t)fz_take(&in, 1));

	walk(c, &in);
	(void)vdrv_irq_count(&c->v);
	for (unsigned steps = 0; in.n && steps < 256; steps++)
		step(c, &in);
	return 0;
}
