/* SPDX-License-Identifier: MIT */
/*
 * Fixed payload layouts of the M1 messages (specs/guest-protocol.md §2.2–§2.3).
 *
 * Encoders write exactly the documented size and return it. Decoders reject a
 * payload shorter than the minimum with -EMSGSIZE and ignore trailing bytes
 * (that is how a minor version adds fields, §1.8).
 */
#ifndef KTSTR_PROTO_MSG_H
#define KTSTR_PROTO_MSG_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_HELO_SIZE 16u
#define PROTO_LIFE_SIZE 16u
#define PROTO_EXCX_SIZE 24u
#define PROTO_DMSG_SIZE 8u
#define PROTO_IERR_SIZE 8u
#define PROTO_PONG_SIZE 48u
#define PROTO_DONE_SIZE 32u
#define PROTO_PING_SIZE 8u
#define PROTO_SHUT_SIZE 16u
#define PROTO_SIGN_SIZE 8u

/* HELO: fixed part; the key=value text follows it in the payload. */
#define PROTO_HELO_STDIO_MERGED	   (1u << 0)
#define PROTO_HELO_STDIN_FORWARDED (1u << 1)
struct proto_helo {
	uint16_t major, minor;
	uint32_t flags;
	uint32_t rx_max;
};

enum proto_phase {
	PROTO_PHASE_INIT_STARTED = 1,
	PROTO_PHASE_PAYLOAD_STARTING = 2,
	PROTO_PHASE_SCHED_DIED = 3,
	PROTO_PHASE_SCHED_NOT_ATTACHED = 4,
	PROTO_PHASE_MOUNTS_DONE = 16,
	PROTO_PHASE_MODULES_LOADED = 17,
	PROTO_PHASE_PORT_READY = 18,
	PROTO_PHASE_PAYLOAD_EXITED = 19,
	PROTO_PHASE_OUTPUT_DRAINED = 20,
	PROTO_PHASE_SHUTDOWN_REQUESTED = 21,
	PROTO_PHASE_SCHED_STARTING = 32,
	PROTO_PHASE_SCHED_ATTACHED = 33,
	PROTO_PHASE_SCHED_STOPPED = 34,
};
#define PROTO_LIFE_REPLAYED  (1u << 0)
#define PROTO_LIFE_TIMED_OUT (1u << 1)
struct proto_life {
	uint8_t phase, flags;
	uint64_t t_ns;
};
/* NULL for a phase value this version does not know (printed numerically). */
const char *proto_phase_name(uint8_t phase);

enum proto_how { PROTO_HOW_EXITED = 0, PROTO_HOW_SIGNALED = 1, PROTO_HOW_NOT_STARTED = 2 };
#define PROTO_EXCX_CORE	     (1u << 0)
#define PROTO_EXCX_KILLED    (1u << 1)
#define PROTO_EXCX_LEFTOVERS (1u << 2)
#define PROTO_EXCX_DRAIN_TO  (1u << 3)
struct proto_excx {
	int32_t code;
	uint8_t how, signo, flags;
	int32_t raw;
	uint32_t pid;
	uint64_t runtime_ns;
};
/* Shell-convention code from a waitpid() status (0-255, 128+signal). */
struct proto_excx proto_excx_from_wait(int status, uint32_t pid, uint64_t runtime_ns);
/* 127 for ENOENT, 126 for any other execve error. */
struct proto_excx proto_excx_not_started(int err);

#define PROTO_DMSG_LAST	 (1u << 0)
#define PROTO_DMSG_TAIL	 (1u << 1)
#define PROTO_DMSG_SYSRQ (1u << 2)
struct proto_dmsg {
	uint32_t dump_id, flags;
};

enum proto_ierr_code {
	PROTO_IERR_MOUNT = 1,
	PROTO_IERR_MODULE_OPEN,
	PROTO_IERR_MODULE_LOAD,
	PROTO_IERR_MODULE_COMPRESSION,
	PROTO_IERR_INITRAMFS_INCOMPLETE,
	PROTO_IERR_CONFIG,
	PROTO_IERR_PORT,
	PROTO_IERR_STDIO,
	PROTO_IERR_SPAWN,
	PROTO_IERR_DRAIN_TIMEOUT,
	PROTO_IERR_LEFTOVER_PROCS,
	PROTO_IERR_HOST_STREAM,
	PROTO_IERR_PORT_IO,
	PROTO_IERR_DMESG,
	PROTO_IERR_SIGNAL_DELIVERY,
	PROTO_IERR_INTERNAL,
};
enum proto_severity { PROTO_SEV_INFO, PROTO_SEV_WARNING, PROTO_SEV_ERROR, PROTO_SEV_FATAL };
struct proto_ierr {
	uint16_t code;
	uint8_t severity;
	int32_t err;
};

struct proto_pong {
	uint64_t nonce, t_ns;
	uint8_t state;
	uint32_t procs_running, procs_blocked, stdin_pending;
	uint64_t stdout_bytes, stderr_bytes;
};

#define PROTO_DONE_RAN	     (1u << 0)
#define PROTO_DONE_SHUT	     (1u << 1)
#define PROTO_DONE_FATAL     (1u << 2)
#define PROTO_DONE_DMSG_SENT (1u << 3)
struct proto_done {
	uint32_t frames, warnings;
	uint64_t bytes;
	int32_t result;
	uint32_t flags;
	uint64_t t_ns;
};

struct proto_shut {
	uint32_t reason, grace_ms, flags;
};

struct proto_sign {
	uint32_t signo, flags;
};

size_t proto_helo_encode(uint8_t out[PROTO_HELO_SIZE], const struct proto_helo *m);
int proto_helo_decode(const uint8_t *p, size_t n, struct proto_helo *m);
size_t proto_life_encode(uint8_t out[PROTO_LIFE_SIZE], const struct proto_life *m);
int proto_life_decode(const uint8_t *p, size_t n, struct proto_life *m); /* phase 0: -EINVAL */
size_t proto_excx_encode(uint8_t out[PROTO_EXCX_SIZE], const struct proto_excx *m);
int proto_excx_decode(const uint8_t *p, size_t n, struct proto_excx *m);
size_t proto_dmsg_encode(uint8_t out[PROTO_DMSG_SIZE], const struct proto_dmsg *m);
int proto_dmsg_decode(const uint8_t *p, size_t n, struct proto_dmsg *m);
size_t proto_ierr_encode(uint8_t out[PROTO_IERR_SIZE], const struct proto_ierr *m);
int proto_ierr_decode(const uint8_t *p, size_t n, struct proto_ierr *m);
size_t proto_pong_encode(uint8_t out[PROTO_PONG_SIZE], const struct proto_pong *m);
int proto_pong_decode(const uint8_t *p, size_t n, struct proto_pong *m);
size_t proto_done_encode(uint8_t out[PROTO_DONE_SIZE], const struct proto_done *m);
int proto_done_decode(const uint8_t *p, size_t n, struct proto_done *m);
size_t proto_ping_encode(uint8_t out[PROTO_PING_SIZE], uint64_t nonce);
int proto_ping_decode(const uint8_t *p, size_t n, uint64_t *nonce);
size_t proto_shut_encode(uint8_t out[PROTO_SHUT_SIZE], const struct proto_shut *m);
int proto_shut_decode(const uint8_t *p, size_t n, struct proto_shut *m);
size_t proto_sign_encode(uint8_t out[PROTO_SIGN_SIZE], const struct proto_sign *m);
int proto_sign_decode(const uint8_t *p, size_t n, struct proto_sign *m);

#endif
