// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the virtio-console control queue and the TX/RX paths of
 * all three ports, driven like a hostile guest through the real transport,
 * interleaved with the host-side API (specs/virtio-console.md §7.4).
 *
 * Each input is a small program run against a fresh device whose guest RAM
 * is two 64 KiB regions with a hole between them. Steps: walk the status
 * ladder with fuzzed features and queue sizes; write descriptors with any
 * address (mapped, straddling the end of a region, in the hole, near 2^64),
 * length, flags and next index (loops included); publish any head; move
 * avail.idx anywhere; post control messages with any id/event/value; poke
 * any register; reset; kick any queue; and on the host side queue input,
 * read, drain, final-drain, push back and clear. After every step:
 *   - the outbound control FIFO never holds more than 10 messages;
 *   - pending input never exceeds its cap;
 *   - a capture buffer never exceeds its cap by more than what one chain
 *     can carry (size x 32 KiB) plus what the host itself pushed back;
 *   - counters never decrease.
 * ASan/UBSan catch the rest.
 */
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "fuzz_input.h"
#include "virtio/console.h"

#define REG_LEN	 0x10000ull
#define R0_GPA	 0x0ull
#define R1_GPA	 0x20000ull /* [0x10000, 0x20000) is a hole */
#define RING_SZ	 0x400ull   /* per queue: desc +0, avail +0x100, used +0x200 */
#define DATA_LO	 0x2000ull
#define TX_CAP	 (64u * 1024)
#define RX_CAP	 4096u
#define MAX_QSZ	 16u
#define PUSH_MAX 64u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct ctx {
	struct vc_dev *d;
	struct vdev *v;
	uint16_t qsize[VC_NUM_QUEUES];
	uint64_t pushed[VC_NUM_PORTS]; /* host-injected bytes still possibly buffered */
	struct vc_counters last;
};

static uint8_t *ram[2];
static struct gm *gm;
static bool debug; /* FUZZ_CONSOLE_DEBUG=1: print the counters after each input (corpus work) */

static void die_if(bool bad, const char *what)
{
	if (bad) {
		log_err("fuzz_console invariant broken: %s", what);
		abort();
	}
}

static uint8_t *host(uint64_t gpa, uint64_t len)
{
	if (len > REG_LEN)
		return NULL;
	if (gpa >= R0_GPA && gpa - R0_GPA <= REG_LEN - len)
		return ram[0] + (gpa - R0_GPA);
	if (gpa >= R1_GPA && gpa - R1_GPA <= REG_LEN - len)
		return ram[1] + (gpa - R1_GPA);
	return NULL;
}

static void w16(uint64_t gpa, uint16_t v)
{
	uint8_t *p = host(gpa, 2);

	if (p) {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
	}
}

static uint16_t r16(uint64_t gpa)
{
	uint8_t *p = host(gpa, 2);

	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

static void reg_w(struct ctx *c, uint32_t off, uint32_t val)
{
	vmmio_write(c->v, off, &val, 4);
}

static uint64_t q_desc(unsigned q)
{
	return R0_GPA + q * RING_SZ;
}

/* Addresses a hostile guest would pick: data in both regions, edges, hole, far away. */
static uint64_t pick_addr(struct fz_in *in)
{
	uint64_t off = fz_take(in, 2);

	switch (fz_take(in, 1) % 8) {
	case 0:
	case 1:
	case 2:
		return R0_GPA + DATA_LO + off % (REG_LEN - DATA_LO);
	case 3:
		return R1_GPA + off % REG_LEN;
	case 4:
		return R0_GPA + REG_LEN - (off % 64); /* straddles into the hole */
	case 5:
		return R1_GPA - (off % 64);
	case 6:
		return UINT64_MAX - (off % 64);
	default:
		return q_desc(off % VC_NUM_QUEUES) + (off >> 3) % RING_SZ; /* over the rings */
	}
}

static uint32_t pick_len(struct fz_in *in)
{
	switch (fz_take(in, 1) % 6) {
	case 0:
		return 0;
	case 1:
		return 8;
	case 2:
		return (uint32_t)fz_take(in, 1);
	case 3:
		return (uint32_t)fz_take(in, 2);
	case 4:
		return 32 * 1024 + (uint32_t)fz_take(in, 1);
	default:
		return (uint32_t)fz_take(in, 4);
	}
}

static void walk(struct ctx *c, struct fz_in *in)
{
	uint64_t feat = 1ull << 32 | (fz_take(in, 1) & 1 ? 1ull << 1 : 0);
	uint8_t mask = (uint8_t)fz_take(in, 1);
	bool ok = fz_take(in, 1) % 8 != 0;

	reg_w(c, VIRTIO_MMIO_STATUS, 0);
	reg_w(c, VIRTIO_MMIO_STATUS, 1);
	reg_w(c, VIRTIO_MMIO_STATUS, 3);
	reg_w(c, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_w(c, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	reg_w(c, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_w(c, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	reg_w(c, VIRTIO_MMIO_STATUS, 0xB);
	for (unsigned q = 0; q < VC_NUM_QUEUES; q++) {
		uint64_t desc = q_desc(q);

		c->qsize[q] = 0;
		if (!(mask & (1u << q)))
			continue;
		c->qsize[q] = (uint16_t)(1u << (fz_take(in, 1) % 5)); /* 1 .. 16 */
		memset(host(desc, RING_SZ), 0, RING_SZ);
		reg_w(c, VIRTIO_MMIO_QUEUE_SEL, q);
		reg_w(c, VIRTIO_MMIO_QUEUE_NUM, c->qsize[q]);
		reg_w(c, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
		reg_w(c, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		reg_w(c, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)(desc + 0x100));
		reg_w(c, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		reg_w(c, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)(desc + 0x200));
		reg_w(c, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		reg_w(c, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	if (ok)
		reg_w(c, VIRTIO_MMIO_STATUS, 0xF);
}

static void set_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *p = host(q_desc(q) + 16ull * (i % MAX_QSZ), 16);

	for (int b = 0; b < 8; b++)
		p[b] = (uint8_t)(addr >> (8 * b));
	for (int b = 0; b < 4; b++)
		p[8 + b] = (uint8_t)(len >> (8 * b));
	p[12] = (uint8_t)flags;
	p[13] = (uint8_t)(flags >> 8);
	p[14] = (uint8_t)next;
	p[15] = (uint8_t)(next >> 8);
}

static void publish(struct ctx *c, unsigned q, uint16_t head)
{
	uint64_t avail = q_desc(q) + 0x100;
	uint16_t idx = r16(avail + 2);
	uint16_t size = c->qsize[q] ? c->qsize[q] : MAX_QSZ;

	w16(avail + 4 + 2ull * (idx % size), head);
	w16(avail + 2, (uint16_t)(idx + 1));
}

/* A chain of up to 4 descriptors at a fuzzed slot, linked (or not) as the input says. */
static void post_chain(struct ctx *c, struct fz_in *in)
{
	unsigned q = fz_take(in, 1) % VC_NUM_QUEUES;
	uint16_t head = (uint16_t)(fz_take(in, 1) % MAX_QSZ);
	unsigned n = 1 + fz_take(in, 1) % 4;

	for (unsigned i = 0; i < n; i++) {
		uint8_t f = (uint8_t)fz_take(in, 1);
		uint16_t flags =
			(f & 1 ? VRING_DESC_F_WRITE : 0) | (i + 1 < n ? VRING_DESC_F_NEXT : 0);
		uint16_t next = (uint16_t)(head + i + 1);

		if (f & 2) /* hostile link: anywhere, including loops and out of range */
			next = (uint16_t)fz_take(in, 1);
		if (f & 4)
			flags = (uint16_t)fz_take(in, 2);
		set_desc(q, (uint16_t)(head + i), pick_addr(in), pick_len(in), flags, next);
	}
	publish(c, q, head);
	if (fz_take(in, 1) & 1)
		reg_w(c, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* An 8-byte control message on c_ovq, optionally split in two descriptors. */
static void post_ctrl(struct ctx *c, struct fz_in *in)
{
	uint8_t msg[8];
	uint64_t gpa = R0_GPA + DATA_LO + fz_take(in, 1) * 16;
	uint16_t head = (uint16_t)(fz_take(in, 1) % MAX_QSZ);
	uint8_t *p = host(gpa, 8);
	unsigned split = fz_take(in, 1) % 9;

	msg[0] = (uint8_t)(fz_take(in, 1) % 5); /* mostly real port ids */
	msg[1] = msg[2] = msg[3] = msg[0] == 4 ? 0xFF : 0;
	msg[4] = (uint8_t)(fz_take(in, 1) % 9);
	msg[5] = 0;
	msg[6] = (uint8_t)(fz_take(in, 1) % 3);
	msg[7] = 0;
	memcpy(p, msg, 8);
	if (split && split < 8) {
		set_desc(3, head, gpa, split, VRING_DESC_F_NEXT, (uint16_t)(head + 1));
		set_desc(3, (uint16_t)(head + 1), gpa + split, 8 - split, 0, 0);
	} else {
		set_desc(3, head, gpa, 8, 0, 0);
	}
	publish(c, 3, head);
	reg_w(c, VIRTIO_MMIO_QUEUE_NOTIFY, 3);
}

static void host_op(struct ctx *c, struct fz_in *in)
{
	static uint8_t buf[PUSH_MAX * 64];
	uint8_t *out = NULL;
	unsigned port = fz_take(in, 1) % (VC_NUM_PORTS + 1); /* one past the end on purpose */
	size_t n = fz_take(in, 1) % PUSH_MAX;

	memset(buf, (int)n, sizeof(buf));
	switch (fz_take(in, 1) % 8) {
	case 0:
	case 1:
		(void)vc_queue_input_port(c->d, port, buf, (fz_take(in, 1) & 1) ? n : n * 64);
		break;
	case 2:
		(void)vc_read_port(c->d, port, buf, n);
		break;
	case 3:
		vc_drain_port(c->d, port, &out);
		if (port < VC_NUM_PORTS)
			c->pushed[port] = 0;
		break;
	case 4:
		vc_final_drain(c->d, &out);
		c->pushed[1] = 0;
		break;
	case 5:
		if (!vc_push_back_bulk(c->d, buf, n))
			c->pushed[1] += n;
		break;
	case 6:
		vc_clear_port2_pending_rx(c->d);
		break;
	default:
		vc_handle_control_event(c->d, (uint32_t)fz_take(in, 1) % 5,
					(uint16_t)(fz_take(in, 1) % 9),
					(uint16_t)(fz_take(in, 1) % 3));
		break;
	}
	free(out);
}

static void check(struct ctx *c)
{
	struct vc_counters now;
	const uint64_t *a = (const uint64_t *)&c->last, *b = (const uint64_t *)&now;

	die_if(vc_ctrl_out_len(c->d) > 10, "control FIFO above 10 messages");
	for (unsigned p = 0; p < VC_NUM_PORTS; p++) {
		die_if(vc_pending_rx_len(c->d, p) > RX_CAP, "pending input above its cap");
		die_if(vc_tx_buf_len(c->d, p) >
			       TX_CAP + VC_QUEUE_MAX_SIZE * VC_TX_DESC_MAX + c->pushed[p],
		       "capture buffer above its bound");
	}
	vc_counters_snapshot(c->d, &now);
	for (size_t i = 0; i < sizeof(now) / sizeof(uint64_t); i++)
		die_if(b[i] < a[i], "a counter went down");
	c->last = now;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERR);
	debug = getenv("FUZZ_CONSOLE_DEBUG") != NULL;
	ram[0] = aligned_alloc(4096, REG_LEN);
	ram[1] = aligned_alloc(4096, REG_LEN);
	gm = gm_new();
	if (!ram[0] || !ram[1] || !gm || gm_add_region(gm, R0_GPA, REG_LEN, ram[0]) ||
	    gm_add_region(gm, R1_GPA, REG_LEN, ram[1]))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vc_limits lim = {.tx_buf_cap = TX_CAP, .rx_pending_cap = RX_CAP};
	struct fz_in in = {data, size};
	struct ctx c = {0};
	unsigned steps = 0;

	memset(ram[0], 0, REG_LEN);
	memset(ram[1], 0, REG_LEN);
	c.d = vc_new(&lim);
	if (!c.d)
		abort();
	c.v = vc_vdev(c.d);
	vc_set_mem(c.d, gm);
	walk(&c, &in);
	while (in.n && steps++ < 256) {
		switch (fz_take(&in, 1) % 10) {
		case 0:
			walk(&c, &in);
			break;
		case 1:
		case 2:
			post_chain(&c, &in);
			break;
		case 3:
			post_ctrl(&c, &in);
			break;
		case 4:
			reg_w(&c, VIRTIO_MMIO_QUEUE_NOTIFY, (uint32_t)fz_take(&in, 1) % 9);
			break;
		case 5: { /* move avail.idx anywhere */
			unsigned q = fz_take(&in, 1) % VC_NUM_QUEUES;

			w16(q_desc(q) + 0x102, (uint16_t)fz_take(&in, 2));
			break;
		}
		case 6: /* any register, any value */
			reg_w(&c, (uint32_t)(fz_take(&in, 1) * 4) & 0x1FC,
			      (uint32_t)fz_take(&in, 4));
			break;
		case 7: { /* scribble over guest memory, rings included */
			uint64_t gpa = pick_addr(&in);
			uint8_t *p = host(gpa, 8);
			uint64_t v = fz_take(&in, 8);

			if (p)
				memcpy(p, &v, 8);
			break;
		}
		default:
			host_op(&c, &in);
			break;
		}
		check(&c);
	}
	if (debug) {
		struct json_object *j = vc_counters_to_json(&c.last);

		fprintf(stderr, "%s\n", json_object_to_json_string(j));
		json_object_put(j);
	}
	vc_free(c.d);
	return 0;
}
