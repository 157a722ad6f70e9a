/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of the virtio-blk unit tests (specs/virtio-blk.md §12).
 *
 * Defaults follow the spec's test notation: capacity 4096 bytes (8 sectors),
 * backing file filled with 0xAB, 1 MiB of guest memory at GPA 0, inline
 * engine, no throttle. The backing file lives in a mkdtemp directory under
 * /tmp that the suite's fini removes. A fault-injecting backing wraps the
 * file so EINTR, short writes, zero-progress writes and flush errors can be
 * produced on demand; a pinned clock drives the token buckets.
 */
#ifndef KTSTR_TESTS_UNIT_TEST_BLK_H
#define KTSTR_TESTS_UNIT_TEST_BLK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "support/vdriver.h"
#include "virtio/blk.h"
#include "virtio/blk_priv.h"

#define BLK_FX_STATUS_INIT 0xEE /* a status byte the device never writes */
#define BLK_FX_DATA_INIT   0xFF /* data buffers start like this */

struct blk_fx_cfg {
	uint64_t capacity; /* 0: 4096 */
	uint64_t file_len; /* 0: the capacity; UINT64_MAX: empty file */
	unsigned fill;	   /* 0: 0xAB */
	bool read_only;
	struct vblk_throttle throttle;
	enum vblk_engine engine; /* default (0) is THREAD: tests ask for it explicitly */
	bool inline_engine;	 /* the usual choice */
	enum vdrv_mem_kind mem;
	bool no_bind;
};

struct blk_faults {
	int read_eintr;	 /* EINTRs before a real preadv; -1 forever */
	bool write_half; /* the first pwritev writes only half of its first iovec */
	bool write_zero; /* pwritev returns 0 */
	int sync_errno;	 /* sync_data fails with this */
	unsigned preadv_calls, pwritev_calls, sync_calls;
};

struct blk_fx {
	char dir[64];
	char path[128];
	int fd; /* the test's own handle on the backing file */
	struct vblk *vb;
	struct vdev *d;
	struct vdrv v;
	struct blk_faults faults;
	_Atomic uint64_t now; /* the pinned clock, ns; a worker thread reads it */
	struct vblk_clock clk;
	struct vblk_counters *c;
};

struct blk_req {
	uint16_t head;
	uint64_t hdr, status;
	uint64_t data[VBLK_SCRATCH_CAP];
	unsigned ndata;
};

extern struct blk_fx blk_fx;

/* Criterion suite hooks: build nothing / tear down whatever blk_fx holds. */
void blk_fx_fini(void);

void blk_fx_setup(const struct blk_fx_cfg *cfg);
/* Inline engine, every default. */
void blk_fx_default(void);
/* Linux handshake with VERSION_1, queue 0 of size 256 at the default place; asserts 0x0F. */
void blk_fx_wire(void);
/* Handshake with the given features and queue 0 placement; asserts 0x0F. */
void blk_fx_wire_at(uint64_t features, uint16_t qsize, uint64_t desc, uint64_t avail,
		    uint64_t used);
/* Same with EVENT_IDX acked, QueueNum 16 and the used ring at 0x10000. */
void blk_fx_wire_event_idx(void);

/* Inline engine with iops=1, wired, its one token spent: the next request stalls. */
void blk_fx_iops1_drained(void);

struct vq *blk_fx_q(void);
struct vblk_state *blk_fx_state(void);
struct vblk_stats blk_fx_stats(void);
void blk_fx_advance(uint64_t ns);

/* Threaded engine: poll used.idx until it reaches idx (false after timeout_ms). */
bool blk_fx_wait_used(uint16_t idx, unsigned timeout_ms);
/* Poll until pred(arg) holds (false after timeout_ms). */
bool blk_fx_wait(bool (*pred)(void *), void *arg, unsigned timeout_ms);
uint64_t blk_fx_mono_ms(void);

/* Backing file access. */
void blk_fx_file_fill(uint64_t off, uint8_t byte, uint64_t len);
void blk_fx_file_read(uint64_t off, void *buf, uint64_t len);

/*
 * Post a H / D... / S chain (not notified): a 16-byte readable header with
 * type and sector, n data buffers of lens[i] bytes (device-writable iff
 * data_write, pre-filled with BLK_FX_DATA_INIT), a 1-byte writable status
 * pre-filled with BLK_FX_STATUS_INIT.
 */
void blk_fx_post(struct blk_req *r, uint32_t type, uint64_t sector, const uint32_t *lens,
		 unsigned n, bool data_write);
/* One-buffer shorthands, posted and kicked. */
void blk_fx_read(struct blk_req *r, uint64_t sector, uint32_t len);
void blk_fx_write(struct blk_req *r, uint64_t sector, uint32_t len, uint8_t pattern);
void blk_fx_flush(struct blk_req *r);
void blk_fx_kick(void);

uint8_t blk_fx_status(const struct blk_req *r);
uint8_t blk_fx_byte(uint64_t gpa);
/* True iff len bytes at gpa all equal byte. */
bool blk_fx_all(uint64_t gpa, uint8_t byte, uint64_t len);
uint32_t blk_fx_used_len(uint16_t slot);
uint64_t blk_fx_hdr(uint32_t type, uint64_t sector); /* a header in fresh guest memory */

#endif
