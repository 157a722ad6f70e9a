// SPDX-License-Identifier: MIT
/* specs/guest-protocol.md §5.2 #11 and §5.4: fixed payload layouts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "proto/msg.h"

Test(proto_msg, fixed_layouts_have_documented_sizes_and_offsets) /* §5.2 #11 */
{
	uint8_t b[64];

	struct proto_helo h = {.major = 0x0102, .minor = 0x0304, .flags = 0x05060708, .rx_max = 9};
	cr_assert_eq(proto_helo_encode(b, &h), 16u);
	cr_assert(b[0] == 0x02 && b[1] == 0x01 && b[2] == 0x04 && b[4] == 0x08 && b[8] == 9);

	struct proto_life l = {.phase = 18, .flags = 1, .t_ns = 0x1122334455667788ull};
	cr_assert_eq(proto_life_encode(b, &l), 16u);
	cr_assert(b[0] == 18 && b[1] == 1 && b[2] == 0 && b[8] == 0x88 && b[15] == 0x11);

	struct proto_dmsg d = {.dump_id = 2, .flags = PROTO_DMSG_LAST};
	cr_assert_eq(proto_dmsg_encode(b, &d), 8u);
	cr_assert(b[0] == 2 && b[4] == 1);

	struct proto_ierr e = {
		.code = PROTO_IERR_MODULE_LOAD, .severity = PROTO_SEV_ERROR, .err = 2};
	cr_assert_eq(proto_ierr_encode(b, &e), 8u);
	cr_assert(b[0] == 3 && b[2] == 2 && b[3] == 0 && b[4] == 2);

	struct proto_pong p = {.nonce = 7,
			       .t_ns = 8,
			       .state = 1,
			       .procs_running = 3,
			       .procs_blocked = 4,
			       .stdin_pending = 5,
			       .stdout_bytes = 6,
			       .stderr_bytes = 10};
	cr_assert_eq(proto_pong_encode(b, &p), 48u);
	cr_assert(b[0] == 7 && b[8] == 8 && b[16] == 1 && b[20] == 3 && b[24] == 4 && b[28] == 5 &&
		  b[32] == 6 && b[40] == 10);

	struct proto_done dn = {
		.frames = 1, .warnings = 2, .bytes = 3, .result = -1, .flags = 4, .t_ns = 5};
	cr_assert_eq(proto_done_encode(b, &dn), 32u);
	cr_assert(b[0] == 1 && b[4] == 2 && b[8] == 3 && b[16] == 0xFF && b[19] == 0xFF &&
		  b[20] == 4 && b[24] == 5);

	cr_assert_eq(proto_ping_encode(b, 0xABCD), 8u);
	cr_assert(b[0] == 0xCD && b[1] == 0xAB);

	struct proto_shut s = {.reason = 1, .grace_ms = 500, .flags = 2};
	cr_assert_eq(proto_shut_encode(b, &s), 16u);
	cr_assert(b[0] == 1 && b[4] == 0xF4 && b[5] == 1 && b[8] == 2 && b[12] == 0);

	struct proto_sign g = {.signo = SIGINT, .flags = 1};
	cr_assert_eq(proto_sign_encode(b, &g), 8u);
	cr_assert(b[0] == SIGINT && b[4] == 1);
}

static void excx_round_trip(struct proto_excx in, int32_t code)
{
	uint8_t b[PROTO_EXCX_SIZE];
	struct proto_excx out;

	cr_assert_eq(in.code, code);
	proto_excx_encode(b, &in);
	cr_assert_eq(proto_excx_decode(b, sizeof(b), &out), 0);
	cr_assert_eq(out.code, in.code);
	cr_assert_eq(out.how, in.how);
	cr_assert_eq(out.signo, in.signo);
	cr_assert_eq(out.flags, in.flags);
	cr_assert_eq(out.raw, in.raw);
	cr_assert_eq(out.pid, in.pid);
	cr_assert_eq(out.runtime_ns, in.runtime_ns);
}

Test(proto_msg, excx_codes_follow_the_shell_convention) /* §5.4 #32 */
{
	excx_round_trip(proto_excx_from_wait(0, 10, 1), 0);
	excx_round_trip(proto_excx_from_wait(255 << 8, 11, 2), 255);
	struct proto_excx k = proto_excx_from_wait(SIGKILL | 0x80, 12, 3);
	cr_assert_eq(k.how, PROTO_HOW_SIGNALED);
	cr_assert_eq(k.signo, SIGKILL);
	cr_assert(k.flags & PROTO_EXCX_CORE);
	excx_round_trip(k, 137);
	struct proto_excx ns = proto_excx_not_started(ENOENT);
	cr_assert_eq(ns.how, PROTO_HOW_NOT_STARTED);
	cr_assert_eq(ns.raw, ENOENT);
	excx_round_trip(ns, 127);
	cr_assert_eq(proto_excx_not_started(EACCES).code, 126);
}

Test(proto_msg, short_payloads_are_rejected_and_trailing_bytes_ignored) /* §5.4 #33 */
{
	uint8_t b[64 + 8];
	struct proto_helo h;
	struct proto_life l;
	struct proto_excx x;
	struct proto_dmsg d;
	struct proto_ierr e;
	struct proto_pong p;
	struct proto_done dn;
	struct proto_shut s;
	struct proto_sign g;
	uint64_t nonce;

	memset(b, 0x11, sizeof(b));
	cr_assert_eq(proto_helo_decode(b, 15, &h), -EMSGSIZE);
	cr_assert_eq(proto_helo_decode(b, 16 + 8, &h), 0);
	cr_assert_eq(h.major, 0x1111);
	cr_assert_eq(proto_life_decode(b, 15, &l), -EMSGSIZE);
	cr_assert_eq(proto_life_decode(b, 16 + 8, &l), 0);
	cr_assert_eq(l.phase, 0x11);
	cr_assert_eq(proto_excx_decode(b, 23, &x), -EMSGSIZE);
	cr_assert_eq(proto_excx_decode(b, 24 + 8, &x), 0);
	cr_assert_eq(x.pid, 0x11111111u);
	cr_assert_eq(proto_dmsg_decode(b, 7, &d), -EMSGSIZE);
	cr_assert_eq(proto_dmsg_decode(b, 8 + 8, &d), 0);
	cr_assert_eq(proto_ierr_decode(b, 7, &e), -EMSGSIZE);
	cr_assert_eq(proto_ierr_decode(b, 8 + 8, &e), 0);
	cr_assert_eq(proto_pong_decode(b, 47, &p), -EMSGSIZE);
	cr_assert_eq(proto_pong_decode(b, 48 + 8, &p), 0);
	cr_assert_eq(p.stderr_bytes, 0x1111111111111111ull);
	cr_assert_eq(proto_done_decode(b, 31, &dn), -EMSGSIZE);
	cr_assert_eq(proto_done_decode(b, 32 + 8, &dn), 0);
	cr_assert_eq(proto_ping_decode(b, 7, &nonce), -EMSGSIZE);
	cr_assert_eq(proto_ping_decode(b, 8 + 8, &nonce), 0);
	cr_assert_eq(proto_shut_decode(b, 15, &s), -EMSGSIZE);
	cr_assert_eq(proto_shut_decode(b, 16 + 8, &s), 0);
	cr_assert_eq(proto_sign_decode(b, 7, &g), -EMSGSIZE);
	cr_assert_eq(proto_sign_decode(b, 8 + 8, &g), 0);
}

Test(proto_msg, life_phase_zero_is_rejected_and_unknown_phases_have_no_name) /* §5.4 #34 */
{
	uint8_t b[PROTO_LIFE_SIZE + 5];
	struct proto_life l = {.phase = PROTO_PHASE_MODULES_LOADED}, out;

	proto_life_encode(b, &l);
	memcpy(b + PROTO_LIFE_SIZE, "ok=1", 4);
	cr_assert_eq(proto_life_decode(b, PROTO_LIFE_SIZE + 4, &out), 0); /* with detail */
	cr_assert_eq(proto_life_decode(b, PROTO_LIFE_SIZE, &out), 0);	  /* without */
	cr_assert_str_eq(proto_phase_name(out.phase), "MODULES_LOADED");
	b[0] = 0;
	cr_assert_eq(proto_life_decode(b, PROTO_LIFE_SIZE, &out), -EINVAL);
	b[0] = 99;
	cr_assert_eq(proto_life_decode(b, PROTO_LIFE_SIZE, &out), 0);
	cr_assert_null(proto_phase_name(99));
}
