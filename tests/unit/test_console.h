/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of the virtio-console unit tests (test_console_*.c), on the
 * vdriver guest simulator. Follows specs/virtio-console.md §9's helpers:
 *   init   = STATUS 1, 3, features VERSION_1 | MULTIPORT, 0x0B, 0x0F
 *   wire(q)= the same, with queue(s) q programmed (size 16 unless told) at
 *            the vdriver default placement before DRIVER_OK.
 * Guest RAM is vdriver's 1 MiB map (M1) unless a test asks for BIG;
 * "unmapped" is CT_UNMAPPED (4 MiB, outside every map used here).
 */
#ifndef KTSTR_TESTS_UNIT_TEST_CONSOLE_H
#define KTSTR_TESTS_UNIT_TEST_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support/vdriver.h"
#include "virtio/console.h"

#define CT_F_V1	      (1ull << 32)
#define CT_F_MP	      (1ull << 1)
#define CT_FEATURES   (CT_F_V1 | CT_F_MP)
#define CT_UNMAPPED   0x400000ull
#define CT_ALL_QUEUES 0xFFu

#define ST_ACK	0x01u
#define ST_DRV	0x03u
#define ST_FEAT 0x0Bu
#define ST_OK	0x0Fu

#define CT_INT_VRING 0x1u

/* Control events (linux/virtio_console.h names are long). */
#define EV_DEVICE_READY 0
#define EV_PORT_ADD	1
#define EV_PORT_READY	3
#define EV_CONSOLE_PORT 4
#define EV_PORT_OPEN	6
#define EV_PORT_NAME	7

struct ct {
	struct vc_dev *d;
	struct vdrv v;
};

extern struct ct CT;

/* Device and memory (bound when bind); lim NULL = defaults. */
void ct_make(enum vdrv_mem_kind kind, const struct vc_limits *lim, bool bind);
void ct_teardown(void);
/*
 * Bring the device up: reset, ACK, DRIVER, features, FEATURES_OK, program
 * every queue in qmask with qsize, then DRIVER_OK if driver_ok.
 */
void ct_up(uint64_t features, uint32_t qmask, uint16_t qsize, bool driver_ok);
/* ct_make(M1, defaults, bound) + ct_up(CT_FEATURES, qmask, 16, true). */
void ct_wire(uint32_t qmask);

/* Guest-side helpers. */
uint64_t ct_buf(size_t len, uint8_t fill); /* allocate guest bytes filled with `fill` */
uint64_t ct_data(const void *src, size_t len);
uint16_t ct_post1(uint16_t q, uint64_t gpa, uint32_t len, bool write);
uint16_t ct_post1_notify(uint16_t q, uint64_t gpa, uint32_t len, bool write);
/* A one-descriptor c_ovq message {id, event, value}; posted, and notified if notify. */
uint16_t ct_ctrl_send(uint32_t id, uint16_t event, uint16_t value, bool notify);
uint32_t ct_used_len(uint16_t q, uint16_t slot);
/* Non-blocking read of an eventfd: the count since the last read, 0 if none. */
uint64_t ct_fd_count(int fd);

/* Host-side helpers (free the drained bytes and compare). */
void ct_expect_drain(size_t (*drain)(struct vc_dev *, uint8_t **), const void *want, size_t n);
void ct_expect_pending(unsigned port, const void *want, size_t n);
/* Expected bytes of an outbound message {id, event, 1}[+name+NUL]; returns its length. */
size_t ct_ctrl_frame(uint32_t id, uint16_t event, uint8_t *buf);
/* Serialized entry i of the outbound control FIFO must equal {id, event, 1}[+name]. */
void ct_expect_ctrl_out(unsigned i, uint32_t id, uint16_t event);
/* The guest buffer at gpa must hold that message. */
void ct_expect_guest_frame(uint64_t gpa, uint32_t id, uint16_t event);

#endif
