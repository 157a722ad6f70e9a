// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the fixed-layout payload decoders of src/proto/msg.h on
 * arbitrary bytes and lengths (specs/guest-protocol.md §5.4 #37).
 *
 * The first input byte picks a decoder; the rest is the payload, so its
 * length is whatever the input's is and ASan sees any read past it. What
 * must hold for every decoder:
 *   - it fails with -EMSGSIZE exactly when the payload is shorter than the
 *     documented size (LIFE also refuses phase 0 with -EINVAL), otherwise
 *     succeeds;
 *   - trailing bytes change nothing (§1.8: a minor version appends fields);
 *   - re-encoding writes exactly the documented size, reproduces every
 *     non-reserved input byte at its offset and zeroes the reserved ones
 *     (so decoder and encoder agree on the §2.2/§2.3 offsets);
 *   - decode(encode(m)) == m, field by field.
 * One extra selector drives proto_excx_from_wait()/proto_excx_not_started()
 * with arbitrary wait statuses: the shell-convention code stays in 0-255.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include "base/compiler.h"
#include "fuzz_input.h"
#include "proto/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

union msg {
	struct proto_helo helo;
	struct proto_life life;
	struct proto_excx excx;
	struct proto_dmsg dmsg;
	struct proto_ierr ierr;
	struct proto_pong pong;
	struct proto_done done;
	uint64_t ping;
	struct proto_shut shut;
	struct proto_sign sign;
};

struct codec {
	size_t size;
	uint64_t reserved; /* bit i: payload byte i is reserved (the encoder writes 0) */
	int (*decode)(const uint8_t *p, size_t n, union msg *m);
	size_t (*encode)(uint8_t *out, const union msg *m);
	bool (*eq)(const union msg *a, const union msg *b);
};

/* Bytes lo..hi (inclusive) of a payload. */
#define RSV(lo, hi) ((~0ull >> (63 - (hi))) & (~0ull << (lo)))

#define CODEC_GLUE(name)                                                \
	static int name##_dec(const uint8_t *p, size_t n, union msg *m) \
	{                                                               \
		return proto_##name##_decode(p, n, &m->name);           \
	}                                                               \
	static size_t name##_enc(uint8_t *out, const union msg *m)      \
	{                                                               \
		return proto_##name##_encode(out, &m->name);            \
	}

CODEC_GLUE(helo)
CODEC_GLUE(life)
CODEC_GLUE(excx)
CODEC_GLUE(dmsg)
CODEC_GLUE(ierr)
CODEC_GLUE(pong)
CODEC_GLUE(done)
CODEC_GLUE(shut)
CODEC_GLUE(sign)

static int ping_dec(const uint8_t *p, size_t n, union msg *m)
{
	return proto_ping_decode(p, n, &m->ping);
}

static size_t ping_enc(uint8_t *out, const union msg *m)
{
	return proto_ping_encode(out, m->ping);
}

/* Field-wise, so padding never decides equality. */
#define F(field) (a->field == b->field)

static bool helo_eq(const union msg *a, const union msg *b)
{
	return F(helo.major) && F(helo.minor) && F(helo.flags) && F(helo.rx_max);
}

static bool life_eq(const union msg *a, const union msg *b)
{
	return F(life.phase) && F(life.flags) && F(life.t_ns);
}

static bool excx_eq(const union msg *a, const union msg *b)
{
	return F(excx.code) && F(excx.how) && F(excx.signo) && F(excx.flags) && F(excx.raw) &&
	       F(excx.pid) && F(excx.runtime_ns);
}

static bool dmsg_eq(const union msg *a, const union msg *b)
{
	return F(dmsg.dump_id) && F(dmsg.flags);
}

static bool ierr_eq(const union msg *a, const union msg *b)
{
	return F(ierr.code) && F(ierr.severity) && F(ierr.err);
}

static bool pong_eq(const union msg *a, const union msg *b)
{
	return F(pong.nonce) && F(pong.t_ns) && F(pong.state) && F(pong.procs_running) &&
	       F(pong.procs_blocked) && F(pong.stdin_pending) && F(pong.stdout_bytes) &&
	       F(pong.stderr_bytes);
}

static bool done_eq(const union msg *a, const union msg *b)
{
	return F(done.frames) && F(done.warnings) && F(done.bytes) && F(done.result) &&
	       F(done.flags) && F(done.t_ns);
}

static bool ping_eq(const union msg *a, const union msg *b)
{
	return F(ping);
}

static bool shut_eq(const union msg *a, const union msg *b)
{
	return F(shut.reason) && F(shut.grace_ms) && F(shut.flags);
}

static bool sign_eq(const union msg *a, const union msg *b)
{
	return F(sign.signo) && F(sign.flags);
}

#undef F

/* Reserved offsets from the layout tables of §2.2 and §2.3. */
static const struct codec codecs[] = {
	{PROTO_HELO_SIZE, RSV(12, 15), helo_dec, helo_enc, helo_eq},
	{PROTO_LIFE_SIZE, RSV(2, 7), life_dec, life_enc, life_eq},
	{PROTO_EXCX_SIZE, RSV(7, 7), excx_dec, excx_enc, excx_eq},
	{PROTO_DMSG_SIZE, 0, dmsg_dec, dmsg_enc, dmsg_eq},
	{PROTO_IERR_SIZE, RSV(3, 3), ierr_dec, ierr_enc, ierr_eq},
	{PROTO_PONG_SIZE, RSV(17, 19), pong_dec, pong_enc, pong_eq},
	{PROTO_DONE_SIZE, 0, done_dec, done_enc, done_eq},
	{PROTO_PING_SIZE, 0, ping_dec, ping_enc, ping_eq},
	{PROTO_SHUT_SIZE, RSV(12, 15), shut_dec, shut_enc, shut_eq},
	{PROTO_SIGN_SIZE, 0, sign_dec, sign_enc, sign_eq},
};

#define SLACK	   16u
#define OUT_CANARY 0xA5

static void check_codec(const struct codec *c, const uint8_t *p, size_t n)
{
	union msg m, whole, back;
	uint8_t out[PROTO_PONG_SIZE + SLACK];
	int want = 0;

	if (n < c->size)
		want = -EMSGSIZE;
	else if (c->decode == life_dec && p[0] == 0)
		want = -EINVAL;
	memset(&m, 0, sizeof(m));
	FZ_CHECK(c->decode(p, n, &m) == want);
	if (want)
		return;

	/* Decoding only the documented size gives the same message. */
	memset(&whole, 0, sizeof(whole));
	FZ_CHECK(c->decode(p, c->size, &whole) == 0);
	FZ_CHECK(c->eq(&m, &whole));

	/* Exactly size bytes, input bytes at the same offsets, reserved bytes zeroed. */
	memset(out, OUT_CANARY, sizeof(out));
	FZ_CHECK(c->encode(out, &m) == c->size);
	for (size_t i = 0; i < sizeof(out); i++) {
		if (i >= c->size)
			FZ_CHECK(out[i] == OUT_CANARY);
		else if (c->reserved >> i & 1)
			FZ_CHECK(out[i] == 0);
		else
			FZ_CHECK(out[i] == p[i]);
	}

	memset(&back, 0, sizeof(back));
	FZ_CHECK(c->decode(out, c->size, &back) == 0);
	FZ_CHECK(c->eq(&m, &back));

	if (c->decode == life_dec) {
		const char *name = proto_phase_name(m.life.phase);
		FZ_CHECK(!name || name[0]);
	}
}

/* The guest builds EXCX from waitpid(); any status must map to a shell code. */
static void check_excx_builders(struct fz_in *in)
{
	int status = (int)fz_take(in, 4);
	uint32_t pid = (uint32_t)fz_take(in, 4);
	uint64_t rt = fz_take(in, 8);
	int err = (int)fz_take(in, 4);
	union msg m, back;
	uint8_t out[PROTO_EXCX_SIZE];

	m.excx = proto_excx_from_wait(status, pid, rt);
	FZ_CHECK(m.excx.code >= 0 && m.excx.code <= 255);
	FZ_CHECK(m.excx.raw == status && m.excx.pid == pid && m.excx.runtime_ns == rt);
	if (WIFSIGNALED(status))
		FZ_CHECK(m.excx.how == PROTO_HOW_SIGNALED && m.excx.code == 128 + m.excx.signo);
	else
		FZ_CHECK(m.excx.how == PROTO_HOW_EXITED && m.excx.signo == 0);
	FZ_CHECK(excx_enc(out, &m) == PROTO_EXCX_SIZE);
	FZ_CHECK(excx_dec(out, sizeof(out), &back) == 0 && excx_eq(&m, &back));

	m.excx = proto_excx_not_started(err);
	FZ_CHECK(m.excx.how == PROTO_HOW_NOT_STARTED && m.excx.raw == err);
	FZ_CHECK(m.excx.code == (err == ENOENT ? 127 : 126));
	FZ_CHECK(excx_enc(out, &m) == PROTO_EXCX_SIZE);
	FZ_CHECK(excx_dec(out, sizeof(out), &back) == 0 && excx_eq(&m, &back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned pick;

	if (size < 1)
		return 0;
	pick = data[0] % (ARRAY_SIZE(codecs) + 1);
	if (pick < ARRAY_SIZE(codecs)) {
		check_codec(&codecs[pick], data + 1, size - 1);
	} else {
		struct fz_in in = {data + 1, size - 1};
		check_excx_builders(&in);
	}
	return 0;
}
