/* SPDX-License-Identifier: MIT */
/*
 * tdev: the transport spec's test device (specs/virtio-transport.md §7,
 * fixture "tdev"). A device with no behaviour of its own, plugged into the
 * real transport, whose callbacks record every call so transport tests can
 * assert on what the device saw.
 *
 * Defaults: device id 42, 2 queues, QueueNumMax 256, offered features
 * VERSION_1 | bit 5 | bit 29 (bit 28 too with opts.indirect), 12 config bytes
 * A0..AB, config_write NULL, activate returns 0.
 *
 * Counters are atomics: stress tests call into the transport from several
 * threads, and the callbacks also check the invariants the transport promises
 * (never two callbacks at once, notify only with DRIVER_OK set).
 */
#ifndef KTSTR_TESTS_TDEV_H
#define KTSTR_TESTS_TDEV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "support/vdriver.h"
#include "virtio/mmio.h"

#define TDEV_ID		 42u
#define TDEV_NUM_QUEUES	 2u
#define TDEV_QUEUE_MAX	 256u
#define TDEV_CONFIG_SIZE 12u
#define TDEV_FEAT_BIT5	 5u
/* VERSION_1 | bit 29 | bit 5: page 0 0x20000020, page 1 0x00000001. */
#define TDEV_FEATURES	    ((1ull << 32) | (1ull << 29) | (1ull << TDEV_FEAT_BIT5))
#define TDEV_FEAT_VERSION_1 (1ull << 32)
#define TDEV_FEAT_EVENT_IDX (1ull << 29)
#define TDEV_FEAT_INDIRECT  (1ull << 28)
#define TDEV_LOG_MAX	    64u

struct tdev;

struct tdev_opts {
	bool indirect;	   /* also offer bit 28 (the §7 variant) */
	bool config_write; /* install a recording config_write hook */
	bool no_config;	   /* config_size 0 (§7 #27) */
	int activate_rc;   /* what activate returns */
	/* Optional extra behaviour, called from inside the recording callbacks. */
	void (*on_notify)(struct tdev *t, uint16_t queue);
	int (*on_activate)(struct tdev *t);
	void (*on_reset)(struct tdev *t);
	void *priv;
};

struct tdev_access { /* one config_read / config_write call */
	uint32_t off, len;
};

struct tdev {
	struct vdev vdev;
	struct virtio_dev_ops ops;
	struct tdev_opts opts;
	uint8_t config[TDEV_CONFIG_SIZE];

	_Atomic unsigned notify_calls, activate_calls, reset_calls;
	_Atomic unsigned config_read_calls, config_write_calls;
	uint16_t notify_log[TDEV_LOG_MAX]; /* first TDEV_LOG_MAX notified queues */
	struct tdev_access cread_log[TDEV_LOG_MAX], cwrite_log[TDEV_LOG_MAX];
	uint8_t cwrite_bytes[TDEV_LOG_MAX][16]; /* first 16 bytes of each write */

	/* What the last reset callback saw (§7 #72). */
	uint32_t reset_status;
	uint64_t reset_features;
	uint64_t reset_q0_desc, reset_q0_avail, reset_q0_used;
	/* What the last activate callback saw (§7 #65). */
	uint32_t activate_status;

	/* Invariant violations seen inside callbacks (§7 #115, #209). */
	_Atomic int in_callback;
	_Atomic unsigned overlaps, notify_without_driver_ok, bad_notify_queue;
};

/* opts may be NULL for the defaults. Returns 0 or -errno from vdev_init. */
int tdev_init(struct tdev *t, const struct tdev_opts *opts);
void tdev_destroy(struct tdev *t);
struct tdev *tdev_of(struct vdev *d);

/*
 * Everything of the device a misdirected register access could change, for
 * "nothing changed" assertions. Filled field by field over a zeroed struct so
 * two snapshots compare with memcmp.
 */
struct tdev_snap {
	uint32_t status, isr, generation, queue_sel, dev_features_sel, drv_features_sel;
	uint64_t driver_features;
	struct {
		uint16_t size, next_avail, next_used, num_added;
		bool ready, event_idx, indirect, poisoned;
		uint64_t desc, avail, used;
	} q[TDEV_NUM_QUEUES];
	unsigned notify_calls, activate_calls, reset_calls, config_write_calls;
};

void tdev_snap(struct tdev *t, struct tdev_snap *s);
bool tdev_snap_eq(const struct tdev_snap *a, const struct tdev_snap *b);

/*
 * Criterion fixture shared by the transport test files: one tdev driven by
 * one vdriver over M1, with log capture on (tests count warning texts).
 * Each test runs in its own process, so one global instance is enough.
 */
struct tfx {
	struct tdev t;
	struct vdrv v;
};
extern struct tfx tfx;

void tfx_setup(void);	       /* defaults, M1 bound */
void tfx_setup_unbound(void);  /* no guest memory bound */
void tfx_setup_cw(void);       /* recording config_write hook */
void tfx_setup_indirect(void); /* the variant that also offers bit 28 */
void tfx_teardown(void);

#endif
