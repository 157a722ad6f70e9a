/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of the virtio-net unit tests (test_net_*.c), built on the
 * vdriver guest simulator. Layout (specs/virtio-net.md §12 fixture):
 *   1 MiB of guest RAM at GPA 0, default MAC 02:00:00:00:00:01,
 *   RX (queue 0): desc 0x6000, avail 0x7000, used 0x8000, buffers from 0x9000;
 *   TX (queue 1): desc 0x1000, avail 0x2000, used 0x3000, frames at 0x4000;
 *   both queues of size 4, walked to DRIVER_OK with VERSION_1 | MAC.
 */
#ifndef KTSTR_TESTS_UNIT_TEST_NET_H
#define KTSTR_TESTS_UNIT_TEST_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "support/vdriver.h"
#include "virtio/net.h"

#define NT_RX_DESC  0x6000ull
#define NT_RX_AVAIL 0x7000ull
#define NT_RX_USED  0x8000ull
#define NT_RX_BUF   0x9000ull
#define NT_TX_DESC  0x1000ull
#define NT_TX_AVAIL 0x2000ull
#define NT_TX_USED  0x3000ull
#define NT_TX_BUF   0x4000ull
#define NT_UNMAPPED 0x200000ull /* first byte past the 1 MiB of RAM */
#define NT_PAYLOAD  42u

#define NT_FEATURES ((1ull << 32) | (1ull << 5))

#define ST_ACK	   0x01u
#define ST_DRV	   0x03u
#define ST_FEAT	   0x0Bu
#define ST_OK	   0x0Fu
#define ST_NEEDS_R 0x40u

struct nt {
	struct vnet *n;
	struct vdev *d;
	struct vdrv v;
};

extern struct nt NT;

/* Device + memory (bound unless told otherwise); no walk. */
void nt_make(enum vnet_copy_mode mode, const struct vnet_params *p, bool bind);
void nt_make_default(void);
/* Walk to FEATURES_OK, program both queues (size 0 = leave QueueNum at 256). */
void nt_walk_to_features_ok(void);
void nt_setup_rx(uint16_t size);
void nt_setup_tx(uint16_t size);
void nt_driver_ok(void);
/* The standard fixture: make, walk, both queues of size 4, DRIVER_OK. */
void nt_std_setup(void);
void nt_std_setup_staged(void);
void nt_teardown(void);

/* Guest-side helpers. */
void nt_fill(uint64_t gpa, uint8_t byte, size_t len);
/* 12 zero header bytes then the payload 0x00..0x29 at gpa; returns 54. */
uint32_t nt_write_std_frame(uint64_t gpa);
uint16_t nt_post_std_tx(void);
uint16_t nt_post_std_rx(void);
uint16_t nt_post1(uint16_t q, uint64_t gpa, uint32_t len, bool write);
void nt_kick_tx(void);
void nt_expect_std_rx(uint64_t gpa);

struct vnet_snapshot nt_snap(void);
/* Every one of the 16 fields equal to want (which lists only the non-zero ones). */
void nt_expect(const struct vnet_snapshot *want);
#define NT_EXPECT(...) nt_expect(&(struct vnet_snapshot){__VA_ARGS__})
void nt_expect_used(uint16_t q, uint16_t idx, uint16_t slot, uint32_t id, uint32_t len);
bool nt_needs_reset(void);
uint32_t nt_status(void);

#endif
