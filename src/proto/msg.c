// SPDX-License-Identifier: MIT
/* Fixed payload layouts (specs/guest-protocol.md §2.2–§2.3), little-endian, packed by hand. */
#include "proto/msg.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>

static void put8(uint8_t *p, size_t off, uint8_t v)
{
	p[off] = v;
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	put16(p, off, (uint16_t)v);
	put16(p, off + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	put32(p, off, (uint32_t)v);
	put32(p, off + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p, size_t off)
{
	return (uint16_t)(p[off] | p[off + 1] << 8);
}

static uint32_t get32(const uint8_t *p, size_t off)
{
	return get16(p, off) | (uint32_t)get16(p, off + 2) << 16;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
	return get32(p, off) | (uint64_t)get32(p, off + 4) << 32;
}

size_t proto_helo_encode(uint8_t out[PROTO_HELO_SIZE], const struct proto_helo *m)
{
	memset(out, 0, PROTO_HELO_SIZE);
	put16(out, 0, m->major);
	put16(out, 2, m->minor);
	put32(out, 4, m->flags);
	put32(out, 8, m->rx_max);
	return PROTO_HELO_SIZE;
}

int proto_helo_decode(const uint8_t *p, size_t n, struct proto_helo *m)
{
	if (n < PROTO_HELO_SIZE)
		return -EMSGSIZE;
	m->major = get16(p, 0);
	m->minor = get16(p, 2);
	m->flags = get32(p, 4);
	m->rx_max = get32(p, 8);
	return 0;
}

static const struct {
	uint8_t phase;
	const char *name;
} phase_names[] = {
	{PROTO_PHASE_INIT_STARTED, "INIT_STARTED"},
	{PROTO_PHASE_PAYLOAD_STARTING, "PAYLOAD_STARTING"},
	{PROTO_PHASE_SCHED_DIED, "SCHED_DIED"},
	{PROTO_PHASE_SCHED_NOT_ATTACHED, "SCHED_NOT_ATTACHED"},
	{PROTO_PHASE_MOUNTS_DONE, "MOUNTS_DONE"},
	{PROTO_PHASE_MODULES_LOADED, "MODULES_LOADED"},
	{PROTO_PHASE_PORT_READY, "PORT_READY"},
	{PROTO_PHASE_PAYLOAD_EXITED, "PAYLOAD_EXITED"},
	{PROTO_PHASE_OUTPUT_DRAINED, "OUTPUT_DRAINED"},
	{PROTO_PHASE_SHUTDOWN_REQUESTED, "SHUTDOWN_REQUESTED"},
	{PROTO_PHASE_SCHED_STARTING, "SCHED_STARTING"},
	{PROTO_PHASE_SCHED_ATTACHED, "SCHED_ATTACHED"},
	{PROTO_PHASE_SCHED_STOPPED, "SCHED_STOPPED"},
};

const char *proto_phase_name(uint8_t phase)
{
	for (size_t i = 0; i < sizeof(phase_names) / sizeof(phase_names[0]); i++)
		if (phase_names[i].phase == phase)
			return phase_names[i].name;
	return NULL;
}

size_t proto_life_encode(uint8_t out[PROTO_LIFE_SIZE], const struct proto_life *m)
{
	memset(out, 0, PROTO_LIFE_SIZE);
	put8(out, 0, m->phase);
	put8(out, 1, m->flags);
	put64(out, 8, m->t_ns);
	return PROTO_LIFE_SIZE;
}

int proto_life_decode(const uint8_t *p, size_t n, struct proto_life *m)
{
	if (n < PROTO_LIFE_SIZE)
		return -EMSGSIZE;
	if (p[0] == 0)
		return -EINVAL;
	m->phase = p[0];
	m->flags = p[1];
	m->t_ns = get64(p, 8);
	return 0;
}

struct proto_excx proto_excx_from_wait(int status, uint32_t pid, uint64_t runtime_ns)
{
	struct proto_excx m = {.raw = status, .pid = pid, .runtime_ns = runtime_ns};

	if (WIFSIGNALED(status)) {
		m.how = PROTO_HOW_SIGNALED;
		m.signo = (uint8_t)WTERMSIG(status);
		m.code = 128 + WTERMSIG(status);
		if (WCOREDUMP(status))
			m.flags |= PROTO_EXCX_CORE;
	} else {
		m.how = PROTO_HOW_EXITED;
		m.code = WEXITSTATUS(status);
	}
	return m;
}

struct proto_excx proto_excx_not_started(int err)
{
	struct proto_excx m = {.how = PROTO_HOW_NOT_STARTED, .raw = err};

	m.code = err == ENOENT ? 127 : 126;
	return m;
}

size_t proto_excx_encode(uint8_t out[PROTO_EXCX_SIZE], const struct proto_excx *m)
{
	memset(out, 0, PROTO_EXCX_SIZE);
	put32(out, 0, (uint32_t)m->code);
	put8(out, 4, m->how);
	put8(out, 5, m->signo);
	put8(out, 6, m->flags);
	put32(out, 8, (uint32_t)m->raw);
	put32(out, 12, m->pid);
	put64(out, 16, m->runtime_ns);
	return PROTO_EXCX_SIZE;
}

int proto_excx_decode(const uint8_t *p, size_t n, struct proto_excx *m)
{
	if (n < PROTO_EXCX_SIZE)
		return -EMSGSIZE;
	m->code = (int32_t)get32(p, 0);
	m->how = p[4];
	m->signo = p[5];
	m->flags = p[6];
	m->raw = (int32_t)get32(p, 8);
	m->pid = get32(p, 12);
	m->runtime_ns = get64(p, 16);
	return 0;
}

size_t proto_dmsg_encode(uint8_t out[PROTO_DMSG_SIZE], const struct proto_dmsg *m)
{
	put32(out, 0, m->dump_id);
	put32(out, 4, m->flags);
	return PROTO_DMSG_SIZE;
}

int proto_dmsg_decode(const uint8_t *p, size_t n, struct proto_dmsg *m)
{
	if (n < PROTO_DMSG_SIZE)
		return -EMSGSIZE;
	m->dump_id = get32(p, 0);
	m->flags = get32(p, 4);
	return 0;
}

size_t proto_ierr_encode(uint8_t out[PROTO_IERR_SIZE], const struct proto_ierr *m)
{
	memset(out, 0, PROTO_IERR_SIZE);
	put16(out, 0, m->code);
	put8(out, 2, m->severity);
	put32(out, 4, (uint32_t)m->err);
	return PROTO_IERR_SIZE;
}

int proto_ierr_decode(const uint8_t *p, size_t n, struct proto_ierr *m)
{
	if (n < PROTO_IERR_SIZE)
		return -EMSGSIZE;
	m->code = get16(p, 0);
	m->severity = p[2];
	m->err = (int32_t)get32(p, 4);
	return 0;
}

size_t proto_pong_encode(uint8_t out[PROTO_PONG_SIZE], const struct proto_pong *m)
{
	memset(out, 0, PROTO_PONG_SIZE);
	put64(out, 0, m->nonce);
	put64(out, 8, m->t_ns);
	put8(out, 16, m->state);
	put32(out, 20, m->procs_running);
	put32(out, 24, m->procs_blocked);
	put32(out, 28, m->stdin_pending);
	put64(out, 32, m->stdout_bytes);
	put64(out, 40, m->stderr_bytes);
	return PROTO_PONG_SIZE;
}

int proto_pong_decode(const uint8_t *p, size_t n, struct proto_pong *m)
{
	if (n < PROTO_PONG_SIZE)
		return -EMSGSIZE;
	m->nonce = get64(p, 0);
	m->t_ns = get64(p, 8);
	m->state = p[16];
	m->procs_running = get32(p, 20);
	m->procs_blocked = get32(p, 24);
	m->stdin_pending = get32(p, 28);
	m->stdout_bytes = get64(p, 32);
	m->stderr_bytes = get64(p, 40);
	return 0;
}

size_t proto_done_encode(uint8_t out[PROTO_DONE_SIZE], const struct proto_done *m)
{
	put32(out, 0, m->frames);
	put32(out, 4, m->warnings);
	put64(out, 8, m->bytes);
	put32(out, 16, (uint32_t)m->result);
	put32(out, 20, m->flags);
	put64(out, 24, m->t_ns);
	return PROTO_DONE_SIZE;
}

int proto_done_decode(const uint8_t *p, size_t n, struct proto_done *m)
{
	if (n < PROTO_DONE_SIZE)
		return -EMSGSIZE;
	m->frames = get32(p, 0);
	m->warnings = get32(p, 4);
	m->bytes = get64(p, 8);
	m->result = (int32_t)get32(p, 16);
	m->flags = get32(p, 20);
	m->t_ns = get64(p, 24);
	return 0;
}

size_t proto_ping_encode(uint8_t out[PROTO_PING_SIZE], uint64_t nonce)
{
	put64(out, 0, nonce);
	return PROTO_PING_SIZE;
}

int proto_ping_decode(const uint8_t *p, size_t n, uint64_t *nonce)
{
	if (n < PROTO_PING_SIZE)
		return -EMSGSIZE;
	*nonce = get64(p, 0);
	return 0;
}

size_t proto_shut_encode(uint8_t out[PROTO_SHUT_SIZE], const struct proto_shut *m)
{
	memset(out, 0, PROTO_SHUT_SIZE);
	put32(out, 0, m->reason);
	put32(out, 4, m->grace_ms);
	put32(out, 8, m->flags);
	return PROTO_SHUT_SIZE;
}

int proto_shut_decode(const uint8_t *p, size_t n, struct proto_shut *m)
{
	if (n < PROTO_SHUT_SIZE)
		return -EMSGSIZE;
	m->reason = get32(p, 0);
	m->grace_ms = get32(p, 4);
	m->flags = get32(p, 8);
	return 0;
}

size_t proto_sign_encode(uint8_t out[PROTO_SIGN_SIZE], const struct proto_sign *m)
{
	put32(out, 0, m->signo);
	put32(out, 4, m->flags);
	return PROTO_SIGN_SIZE;
}

int proto_sign_decode(const uint8_t *p, size_t n, struct proto_sign *m)
{
	if (n < PROTO_SIGN_SIZE)
		return -EMSGSIZE;
	m->signo = get32(p, 0);
	m->flags = get32(p, 4);
	return 0;
}
