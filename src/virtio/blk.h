/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk: a file-backed block device on the shared virtio-mmio transport
 * (specs/virtio-blk.md, with specs/virtio-transport.md governing everything
 * register-, ring- and memory-level).
 *
 * The VMM creates a device from a backing path, registers vblk_vdev() on its
 * MMIO bus, binds guest memory with vdev_set_mem(), wires vdev_irq_fd() as a
 * KVM irqfd and vblk_notify_fd() as the ioeventfd for QueueNotify == 0.
 * Requests run on a worker thread that exists from DRIVER_OK until the next
 * reset; an inline engine that drains on the notifying thread exists for tests.
 */
#ifndef KTSTR_VIRTIO_BLK_H
#define KTSTR_VIRTIO_BLK_H

#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/blk_throttle.h"
#include "virtio/mmio.h"

#define VBLK_SECTOR_SIZE      512u
#define VBLK_QUEUE_SIZE	      256u
#define VBLK_SEG_MAX	      128u
#define VBLK_SIZE_MAX	      (1u << 20)
#define VBLK_CONFIG_SIZE      24u
#define VBLK_DEFAULT_CAPACITY (256ull << 20)

struct vblk;

enum vblk_engine {
	VBLK_ENGINE_THREAD, /* production: a worker thread fed by the kick eventfd */
	VBLK_ENGINE_INLINE, /* tests: drain synchronously inside QueueNotify */
};

/* Where the worker thread runs; read at each (re)spawn. */
struct vblk_placement {
	bool has_service_cpu; /* pin to service_cpu alone */
	int service_cpu;
	bool has_cpus; /* else, if set: restrict to this mask */
	cpu_set_t cpus;
};

struct vblk_opts {
	const char *path;	 /* regular file or block device */
	bool read_only;		 /* opened O_RDONLY, RO feature offered, never written */
	uint64_t capacity_bytes; /* 0: the size of the backing */
	struct vblk_throttle throttle;
	enum vblk_engine engine;
	struct vblk_placement placement; /* all zero: inherit the creator's affinity */
};

/* Counters (specs/virtio-blk.md §9): cumulative, shared by reference, never reset by the guest. */
struct vblk_counters;

struct vblk_stats {
	uint64_t reads_completed;
	uint64_t writes_completed;
	uint64_t flushes_completed;
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t throttled_count;
	uint64_t io_errors;
	uint64_t currently_throttled_gauge;
	uint64_t invalid_avail_idx_count;
};

/* Default options: no throttle, threaded engine, inherited placement. */
void vblk_opts_init(struct vblk_opts *o);
/* 0 or -errno; on error a one-line reason naming the path goes to err (and the log). */
int vblk_create(const struct vblk_opts *o, struct vblk **out, char *err, size_t errlen);
/* Stops the worker (bounded join), then frees; a wedged worker keeps what it uses alive. */
void vblk_destroy(struct vblk *vb);

struct vdev *vblk_vdev(struct vblk *vb);
int vblk_notify_fd(struct vblk *vb);
uint64_t vblk_capacity_sectors(const struct vblk *vb);
bool vblk_read_only(const struct vblk *vb);

/* Freeze handshake (§7.7). */
void vblk_pause(struct vblk *vb);
bool vblk_resume(struct vblk *vb);
bool vblk_is_paused(const struct vblk *vb);
/* An eventfd written once each time the worker parks; -1 clears. The fd stays the caller's. */
void vblk_set_parked_evt(struct vblk *vb, int fd);
/* Takes effect at the next worker spawn. */
void vblk_set_placement(struct vblk *vb, const struct vblk_placement *p);

/* A new reference to the device's counters; drop it with vblk_counters_put. */
struct vblk_counters *vblk_counters(struct vblk *vb);
void vblk_counters_put(struct vblk_counters *c);
void vblk_counters_snapshot(const struct vblk_counters *c, struct vblk_stats *s);
/* JSON object with every field as an exact unsigned 64-bit integer; malloc'd, NULL on ENOMEM. */
char *vblk_stats_json(const struct vblk_stats *s);

/* CLI syntax FILE[,ro][,iops=N][,bps=N][,iops_burst=N][,bps_burst=N]. */
struct vblk_spec {
	char path[PATH_MAX];
	bool read_only;
	struct vblk_throttle throttle;
};
/* 0 or -EINVAL with a message naming the offending part in err. */
int vblk_parse_spec(const char *spec, struct vblk_spec *out, char *err, size_t errlen);

#endif
