// SPDX-License-Identifier: MIT
/*
 * fuzz_mmio: random register-access sequences against tdev on the real
 * transport (specs/virtio-transport.md §4, test cases §7 #209 and #214).
 *
 * Each 8-byte record is one step: a read or write of 0-16 bytes at an offset
 * in 0...0x1100 (biased towards real registers), a device-side helper call
 * (signal, poison, NEEDS_RESET), a Linux-style walk, or a guest write into
 * the ring area. tdev's notify hook acts as a small device (pop, walk,
 * add_used, signal), so queue addresses the fuzzer programs get exercised.
 *
 * Invariants (trap on violation):
 *   - the status only holds values the machine can produce: rungs 0, 1, 3,
 *     0x0B, 0x0F, optionally with FAILED, NEEDS_RESET only after the device
 *     set it, never 0x10/0x20;
 *   - a status write either changes nothing, resets to 0, or commits exactly
 *     the written value adding one bit;
 *   - activate calls <= accepted DRIVER_OK transitions; reset callbacks ==
 *     4-byte writes of 0 to STATUS;
 *   - callbacks never overlap, notify only with DRIVER_OK, only valid queues;
 *   - §7 #214: afterwards, STATUS=0 and a walk reach 0x0F and a notify
 *     reaches the device.
 */
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz_input.h"
#include "support/tdev.h"
#include "support/vdriver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_STEPS 256

static const uint16_t fz_regs[] = {
	VIRTIO_MMIO_MAGIC_VALUE,
	VIRTIO_MMIO_DEVICE_FEATURES,
	VIRTIO_MMIO_DEVICE_FEATURES_SEL,
	VIRTIO_MMIO_DRIVER_FEATURES,
	VIRTIO_MMIO_DRIVER_FEATURES_SEL,
	VIRTIO_MMIO_QUEUE_SEL,
	VIRTIO_MMIO_QUEUE_NUM_MAX,
	VIRTIO_MMIO_QUEUE_NUM,
	VIRTIO_MMIO_QUEUE_READY,
	VIRTIO_MMIO_QUEUE_NOTIFY,
	VIRTIO_MMIO_INTERRUPT_STATUS,
	VIRTIO_MMIO_INTERRUPT_ACK,
	VIRTIO_MMIO_STATUS,
	VIRTIO_MMIO_QUEUE_DESC_LOW,
	VIRTIO_MMIO_QUEUE_DESC_HIGH,
	VIRTIO_MMIO_QUEUE_AVAIL_LOW,
	VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
	VIRTIO_MMIO_QUEUE_USED_LOW,
	VIRTIO_MMIO_QUEUE_USED_HIGH,
	VIRTIO_MMIO_CONFIG_GENERATION,
	VIRTIO_MMIO_CONFIG,
	VIRTIO_MMIO_CONFIG + 8,
	0x0FE,
	0x1070,
};

struct fz_state {
	struct tdev t;
	struct vdrv v;
	bool nr_set;		/* the device set NEEDS_RESET in this lifecycle */
	unsigned zero_writes;	/* 4-byte writes of 0 to STATUS */
	unsigned driver_ok_acc; /* accepted DRIVER_OK transitions */
};

static struct fz_state fz;

/* A minimal device: complete whatever the guest posted, bounded by the ring size. */
static void fz_notify(struct tdev *t, uint16_t queue)
{
	struct vq *q = vdev_queue(&t->vdev, queue);
	struct gm *gm = vdev_mem(&t->vdev);
	bool published = false, notify = true;
	uint16_t head;

	FZ_CHECK(q && gm);
	for (unsigned i = 0; i < q->size && !vq_poisoned(q); i++) {
		struct vq_chain c;
		struct vq_desc d;
		uint32_t total = 0, yields = 0;
		int rc = vq_pop(q, gm, &head);

		if (rc < 0) {
			if (vq_poison(q)) {
				vdev_poison(&t->vdev);
				fz.nr_set = true;
			}
			break;
		}
		if (rc == 0)
			break;
		vq_chain_start(&c, q, gm, head);
		while (vq_chain_next(&c, &d)) {
			total += d.len;
			FZ_CHECK(++yields <= q->size);
		}
		if (!vq_add_used(q, gm, head, total))
			published = true;
	}
	if (published) {
		vdev_mark_used(&t->vdev);
		if (vq_needs_notify(q, gm, &notify) || notify)
			vdev_fire_irq(&t->vdev);
	}
}

static bool status_reachable(const struct fz_state *s, uint32_t st)
{
	uint32_t rung = st & ~(uint32_t)(VIRTIO_CONFIG_S_FAILED | VIRTIO_CONFIG_S_NEEDS_RESET);

	if (st & 0x30)
		return false;
	if ((st & VIRTIO_CONFIG_S_NEEDS_RESET) && !s->nr_set)
		return false;
	return rung == 0 || rung == 0x01 || rung == 0x03 || rung == 0x0B || rung == 0x0F;
}

static void status_written(struct fz_state *s, uint32_t before, uint32_t val, uint32_t after)
{
	if (val == 0) {
		FZ_CHECK(after == 0);
		s->zero_writes++;
		s->nr_set = false;
		return;
	}
	if (after == before)
		return;
	/* Committed: exactly the written value, a superset adding one bit. */
	FZ_CHECK(after == val);
	FZ_CHECK((val & before) == before);
	uint32_t added = val & ~before;
	FZ_CHECK(added && !(added & (added - 1)));
	FZ_CHECK(!(added & (0x30 | VIRTIO_CONFIG_S_NEEDS_RESET)));
	if (added == VIRTIO_CONFIG_S_DRIVER_OK)
		s->driver_ok_acc++;
}

static void device_action(struct fz_state *s, uint8_t which)
{
	struct vdev *d = &s->t.vdev;

	switch (which % 6) {
	case 0:
		vdev_signal_used(d);
		break;
	case 1:
		vdev_mark_used(d);
		break;
	case 2:
		vdev_fire_irq(d);
		break;
	case 3:
		vdev_signal_config(d);
		break;
	case 4:
		vdev_set_needs_reset(d);
		s->nr_set = true;
		break;
	default:
		vdev_poison(d);
		s->nr_set = true;
		break;
	}
}

static void step(struct fz_state *s, const uint8_t *r)
{
	uint8_t kind = r[0];
	uint32_t val =
		(uint32_t)r[4] | (uint32_t)r[5] << 8 | (uint32_t)r[6] << 16 | (uint32_t)r[7] << 24;
	uint64_t off = (r[2] & 0x80) ? fz_regs[r[1] % (sizeof(fz_regs) / sizeof(fz_regs[0]))]
				     : ((uint64_t)r[1] | (uint64_t)(r[2] & 0x1F) << 8) % 0x1101;
	uint32_t len = (r[3] & 0x80) ? 4 : r[3] % 17;
	uint32_t before = vdrv_status(&s->v);
	uint8_t buf[16];

	switch (kind % 16) {
	case 0:
		device_action(s, r[4]);
		break;
	case 1: { /* a whole Linux walk, with sane or arbitrary features */
		uint64_t f = (r[3] & 1) ? ((uint64_t)val | (uint64_t)r[2] << 32)
					: (TDEV_FEAT_VERSION_1 | (val & 0x30000020u));
		bool up = vdrv_walk(&s->v, f);

		s->zero_writes++;
		s->nr_set = false;
		if (up)
			s->driver_ok_acc++;
		break;
	}
	case 2: { /* the guest scribbles over its ring area */
		uint64_t gpa = 0x1000 + (((uint64_t)r[1] | (uint64_t)r[2] << 8) % 0x6000);

		vdrv_wmem(&s->v, gpa, r + 3, 5);
		break;
	}
	case 3:
	case 4:
	case 5:
		memset(buf, 0x6B, sizeof(buf));
		vdrv_rn(&s->v, off, buf, len);
		/* Only 0 returns nothing; non-4 register reads fill 0xFF. */
		if (len && len != 4 && off < VMMIO_CONFIG_BASE)
			for (uint32_t i = 0; i < len; i++)
				FZ_CHECK(buf[i] == 0xFF);
		break;
	default:
		for (uint32_t i = 0; i < sizeof(buf); i++)
			buf[i] = r[4 + i % 4];
		vdrv_wn(&s->v, off, buf, len);
		if (off == VIRTIO_MMIO_STATUS && len == 4) {
			status_written(s, before, val, vdrv_status(&s->v));
		} else {
			/* Only a kick can change the status: the device may poison. */
			uint32_t now = vdrv_status(&s->v);
			FZ_CHECK(now == before || (off == VIRTIO_MMIO_QUEUE_NOTIFY && len == 4 &&
						   now == (before | VIRTIO_CONFIG_S_NEEDS_RESET)));
		}
		break;
	}
	FZ_CHECK(status_reachable(s, vdrv_status(&s->v)));
	FZ_CHECK(s->t.activate_calls <= s->driver_ok_acc);
	FZ_CHECK(s->t.reset_calls == s->zero_writes);
	FZ_CHECK(!s->t.overlaps && !s->t.notify_without_driver_ok && !s->t.bad_notify_queue);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_state *s = &fz;
	const struct tdev_opts opts = {.indirect = size && (data[0] & 1), .on_notify = fz_notify};
	unsigned before;

	fz_quiet_logs();
	/*
	 * Guest RAM is allocated once and wiped per input (a fresh 1 MiB
	 * allocation per run costs more than the whole sequence); the device
	 * and the driver's shadows are rebuilt from scratch every time.
	 */
	if (!s->v.gm)
		vdrv_mem_init(&s->v, VDRV_MEM_M1);
	memset(s->v.host[0], 0, s->v.host_len[0]);
	memset(s->v.q, 0, sizeof(s->v.q));
	s->v.alloc_next = VDRV_DATA_BASE;
	memset(&s->t, 0, sizeof(s->t));
	s->nr_set = false;
	s->zero_writes = s->driver_ok_acc = 0;
	FZ_CHECK(!tdev_init(&s->t, &opts));
	s->v.dev = &s->t.vdev;
	vdev_set_mem(&s->t.vdev, s->v.gm);

	for (size_t i = 1, n = 0; i + 8 <= size && n < FZ_MAX_STEPS; i += 8, n++)
		step(s, data + i);

	/* §7 #214: whatever happened, a reset and a clean walk bring the device back. */
	vdrv_set_status(&s->v, 0);
	FZ_CHECK(vdrv_status(&s->v) == 0 && vdrv_isr(&s->v) == 0);
	FZ_CHECK(vdrv_walk(&s->v, TDEV_FEAT_VERSION_1));
	before = s->t.notify_calls;
	vdrv_notify(&s->v, 1);
	FZ_CHECK(s->t.notify_calls == before + 1);

	tdev_destroy(&s->t);
	return 0;
}
