// SPDX-License-Identifier: MIT
/* specs/guest-protocol.md §5.3: the incremental frame reader. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/reader.h"

#define MAX_EVENTS 64

struct rec {
	unsigned n;
	struct {
		enum proto_ev kind;
		uint32_t tag, len;
		uint64_t offset, skipped;
		uint8_t payload[64];
		bool known;
	} ev[MAX_EVENTS];
};

static void on_event(void *opaque, const struct proto_event *ev)
{
	struct rec *r = opaque;

	cr_assert_lt(r->n, MAX_EVENTS);
	r->ev[r->n].kind = ev->kind;
	r->ev[r->n].tag = ev->tag;
	r->ev[r->n].len = ev->len;
	r->ev[r->n].offset = ev->offset;
	r->ev[r->n].skipped = ev->skipped;
	r->ev[r->n].known = ev->known;
	if (ev->kind == PROTO_EV_FRAME)
		memcpy(r->ev[r->n].payload, ev->payload, ev->len < 64 ? ev->len : 64);
	r->n++;
}

static const struct proto_reader_cfg host_cfg = {
	.max_payload = PROTO_MAX_PAYLOAD, .resync = true, .dir = PROTO_G2H};

/* A small stream of three G2H frames: SOUT "hi\n", SERR "oops", LIFE. */
static size_t three_frames(uint8_t *s, size_t cap)
{
	uint8_t life[PROTO_LIFE_SIZE];
	struct proto_life l = {.phase = PROTO_PHASE_PAYLOAD_EXITED, .t_ns = 42};
	size_t n = 0;

	proto_life_encode(life, &l);
	n += proto_encode(s + n, cap - n, PROTO_SOUT, "hi\n", 3);
	n += proto_encode(s + n, cap - n, PROTO_SERR, "oops", 4);
	n += proto_encode(s + n, cap - n, PROTO_LIFE, life, sizeof(life));
	return n;
}

static void feed_all(struct proto_reader *r, const uint8_t *s, size_t n, struct rec *rec)
{
	cr_assert_eq(proto_reader_feed(r, s, n, on_event, rec), 0);
}

Test(proto_reader, one_whole_frame_gives_one_frame_event) /* §5.3 #12 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[64];
	size_t n = proto_encode(s, sizeof(s), PROTO_SOUT, "hello", 5);

	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n, &rec);
	cr_assert_eq(rec.n, 1u);
	cr_assert_eq(rec.ev[0].kind, PROTO_EV_FRAME);
	cr_assert_eq(rec.ev[0].tag, (uint32_t)PROTO_SOUT);
	cr_assert_eq(rec.ev[0].len, 5u);
	cr_assert_arr_eq(rec.ev[0].payload, "hello", 5);
	proto_reader_destroy(&r);
}

Test(proto_reader, three_frames_in_one_buffer_arrive_in_order) /* §5.3 #13 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[256];
	size_t n = three_frames(s, sizeof(s));
	struct proto_reader_result res;

	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n, &rec);
	cr_assert_eq(rec.n, 3u);
	cr_assert_eq(rec.ev[0].tag, (uint32_t)PROTO_SOUT);
	cr_assert_eq(rec.ev[1].tag, (uint32_t)PROTO_SERR);
	cr_assert_eq(rec.ev[2].tag, (uint32_t)PROTO_LIFE);
	cr_assert_eq(rec.ev[1].offset, 19u);
	proto_reader_finish(&r, &res);
	cr_assert_eq(res.end, PROTO_END_CLEAN);
	proto_reader_destroy(&r);
}

static void assert_same_events(const struct rec *a, const struct rec *b)
{
	cr_assert_eq(a->n, b->n);
	for (unsigned i = 0; i < a->n; i++) {
		cr_assert_eq(a->ev[i].kind, b->ev[i].kind);
		cr_assert_eq(a->ev[i].tag, b->ev[i].tag);
		cr_assert_eq(a->ev[i].len, b->ev[i].len);
		cr_assert_eq(a->ev[i].offset, b->ev[i].offset);
		cr_assert_arr_eq(a->ev[i].payload, b->ev[i].payload, 64);
	}
}

Test(proto_reader, byte_at_a_time_equals_whole_feed) /* §5.3 #14 */
{
	struct proto_reader r1, r2;
	struct rec whole = {0}, bytes = {0};
	uint8_t s[256];
	size_t n = three_frames(s, sizeof(s));

	proto_reader_init(&r1, &host_cfg);
	proto_reader_init(&r2, &host_cfg);
	feed_all(&r1, s, n, &whole);
	for (size_t i = 0; i < n; i++)
		feed_all(&r2, s + i, 1, &bytes);
	assert_same_events(&whole, &bytes);
	proto_reader_destroy(&r1);
	proto_reader_destroy(&r2);
}

Test(proto_reader, every_two_way_split_equals_whole_feed) /* §5.3 #15 */
{
	struct proto_reader r;
	struct rec whole = {0};
	uint8_t s[256];
	size_t n = three_frames(s, sizeof(s));

	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n, &whole);
	proto_reader_destroy(&r);
	for (size_t k = 0; k <= n; k++) {
		struct rec split = {0};
		proto_reader_init(&r, &host_cfg);
		feed_all(&r, s, k, &split);
		feed_all(&r, s + k, n - k, &split);
		assert_same_events(&whole, &split);
		proto_reader_destroy(&r);
	}
}

Test(proto_reader, unknown_tag_with_empty_payload_is_delivered_and_counted) /* §5.3 #16 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[64];
	size_t n = proto_encode(s, sizeof(s), PROTO_TAG('Z', 'Z', 'Z', 'Z'), NULL, 0);

	n += proto_encode(s + n, sizeof(s) - n, PROTO_SOUT, "x", 1);
	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n, &rec);
	cr_assert_eq(rec.n, 2u);
	cr_assert_eq(rec.ev[0].kind, PROTO_EV_FRAME);
	cr_assert_eq(rec.ev[0].len, 0u);
	cr_assert_not(rec.ev[0].known);
	cr_assert_eq(rec.ev[1].tag, (uint32_t)PROTO_SOUT);
	cr_assert(rec.ev[1].known);
	cr_assert_eq(r.stats.unknown_tags, 1u);
	proto_reader_destroy(&r);
}

Test(proto_reader, flipped_payload_byte_is_a_crc_error_and_the_next_frame_survives) /* §5.3 #17 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[256];
	size_t n = three_frames(s, sizeof(s));

	s[16] ^= 0x01; /* first payload byte of SOUT */
	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n, &rec);
	cr_assert_eq(rec.n, 3u);
	cr_assert_eq(rec.ev[0].kind, PROTO_EV_CRC_ERROR);
	cr_assert_eq(rec.ev[0].tag, (uint32_t)PROTO_SOUT);
	cr_assert_eq(rec.ev[1].kind, PROTO_EV_FRAME);
	cr_assert_eq(rec.ev[1].tag, (uint32_t)PROTO_SERR);
	cr_assert_eq(r.stats.crc_errors, 1u);
	proto_reader_destroy(&r);
}

Test(proto_reader, nonzero_reserved_desyncs_and_resync_counts_skipped_bytes) /* §5.3 #18 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[256];
	size_t n = three_frames(s, sizeof(s));

	s[12] = 1; /* reserved of the first frame (19 bytes) */
	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n, &rec);
	cr_assert_eq(rec.n, 4u);
	cr_assert_eq(rec.ev[0].kind, PROTO_EV_DESYNC);
	cr_assert_eq(rec.ev[0].offset, 0u);
	cr_assert_eq(rec.ev[1].kind, PROTO_EV_RESYNC);
	cr_assert_eq(rec.ev[1].skipped, 19u);
	cr_assert_eq(rec.ev[1].offset, 19u);
	cr_assert_eq(rec.ev[2].tag, (uint32_t)PROTO_SERR);
	cr_assert_eq(r.stats.skipped_bytes, 19u);
	proto_reader_destroy(&r);
}

Test(proto_reader, lower_case_tag_desyncs) /* §5.3 #19 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[64];
	size_t n = proto_encode(s, sizeof(s), PROTO_TAG('S', 'o', 'U', 'T'), "a", 1);

	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n, &rec);
	cr_assert_geq(rec.n, 1u);
	cr_assert_eq(rec.ev[0].kind, PROTO_EV_DESYNC);
	proto_reader_destroy(&r);
}

Test(proto_reader, huge_len_desyncs_at_once_without_allocating) /* §5.3 #20 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[16] = {'T', 'U', 'O', 'S', 0xFF, 0xFF, 0xFF, 0xFF};

	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, sizeof(s), &rec);
	cr_assert_eq(rec.n, 1u);
	cr_assert_eq(rec.ev[0].kind, PROTO_EV_DESYNC);
	/* The buffer holds at most what was fed: no allocation for the announced 4 GiB. */
	cr_assert_leq(r.cap, sizeof(s));
	proto_reader_destroy(&r);
}

Test(proto_reader, max_payload_is_accepted_and_one_more_desyncs) /* §5.3 #21 */
{
	struct proto_reader r;
	struct rec rec = {0};
	size_t cap = PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD;
	uint8_t *s = calloc(1, cap);
	uint8_t hdr[16];

	cr_assert_not_null(s);
	cr_assert_eq(proto_encode(s, cap, PROTO_SOUT, s + PROTO_HDR_SIZE, PROTO_MAX_PAYLOAD), cap);
	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, cap, &rec);
	cr_assert_eq(rec.n, 1u);
	cr_assert_eq(rec.ev[0].kind, PROTO_EV_FRAME);
	cr_assert_eq(rec.ev[0].len, PROTO_MAX_PAYLOAD);
	proto_reader_destroy(&r);

	memcpy(hdr, s, 16);
	hdr[4] = (uint8_t)(PROTO_MAX_PAYLOAD + 1);
	hdr[5] = (uint8_t)((PROTO_MAX_PAYLOAD + 1) >> 8);
	hdr[6] = (uint8_t)((PROTO_MAX_PAYLOAD + 1) >> 16);
	hdr[7] = (uint8_t)((PROTO_MAX_PAYLOAD + 1) >> 24);
	rec.n = 0;
	proto_reader_init(&r, &host_cfg);
	feed_all(&r, hdr, 16, &rec);
	cr_assert_eq(rec.n, 1u);
	cr_assert_eq(rec.ev[0].kind, PROTO_EV_DESYNC);
	proto_reader_destroy(&r);
	free(s);
}

Test(proto_reader, resync_skips_a_known_candidate_with_bad_crc) /* §5.3 #22 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[256];
	size_t n = 0;

	s[n++] = 0x00; /* one byte of garbage puts the reader in SCAN */
	memset(s + n, 0xEE, 15);
	n += 15;
	size_t bad = n;
	n += proto_encode(s + n, sizeof(s) - n, PROTO_SOUT, "abc", 3);
	s[bad + 16] ^= 0xFF; /* candidate: valid, known tag, wrong CRC */
	size_t good = n;
	n += proto_encode(s + n, sizeof(s) - n, PROTO_SERR, "def", 3);

	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n, &rec);
	cr_assert_eq(rec.ev[0].kind, PROTO_EV_DESYNC);
	cr_assert_eq(rec.ev[1].kind, PROTO_EV_RESYNC);
	cr_assert_eq(rec.ev[1].skipped, good);
	cr_assert_eq(rec.ev[2].tag, (uint32_t)PROTO_SERR);
	cr_assert_eq(rec.n, 3u);
	proto_reader_destroy(&r);
}

Test(proto_reader, resync_ignores_a_candidate_with_an_unknown_tag) /* §5.3 #23 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[128] = {0};
	size_t n = 0;

	s[n++] = 0x01;
	memcpy(s + n, "QQQQ", 4); /* valid characters, zero len/crc/reserved: unknown tag */
	n += 16;
	size_t good = n;
	n += proto_encode(s + n, sizeof(s) - n, PROTO_SOUT, "z", 1);

	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n, &rec);
	cr_assert_eq(rec.n, 3u);
	cr_assert_eq(rec.ev[1].kind, PROTO_EV_RESYNC);
	cr_assert_eq(rec.ev[1].skipped, good);
	cr_assert_eq(rec.ev[2].tag, (uint32_t)PROTO_SOUT);
	proto_reader_destroy(&r);
}

Test(proto_reader, resync_waits_for_an_incomplete_candidate) /* §5.3 #24 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[128];
	size_t n = 0;

	memset(s, 0x07, 5);
	n = 5;
	n += proto_encode(s + n, sizeof(s) - n, PROTO_SOUT, "0123456789", 10);

	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n - 4, &rec);
	cr_assert_eq(rec.n, 1u); /* DESYNC only, waiting on the candidate */
	feed_all(&r, s + n - 4, 4, &rec);
	cr_assert_eq(rec.n, 3u);
	cr_assert_eq(rec.ev[1].kind, PROTO_EV_RESYNC);
	cr_assert_eq(rec.ev[1].skipped, 5u);
	cr_assert_arr_eq(rec.ev[2].payload, "0123456789", 10);
	proto_reader_destroy(&r);
}

Test(proto_reader, finish_with_seven_bytes_is_a_truncated_header) /* §5.3 #25 */
{
	struct proto_reader r;
	struct proto_reader_result res;
	uint8_t s[32];

	proto_encode(s, sizeof(s), PROTO_SOUT, "abc", 3);
	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, 7, &(struct rec){0});
	proto_reader_finish(&r, &res);
	cr_assert_eq(res.end, PROTO_END_TRUNCATED_HEADER);
	cr_assert_eq(res.have, 7u);
	proto_reader_destroy(&r);
}

Test(proto_reader, finish_inside_excx_payload_is_a_truncated_payload) /* §5.3 #26 */
{
	struct proto_reader r;
	struct proto_reader_result res;
	uint8_t p[PROTO_EXCX_SIZE] = {0}, s[64];

	proto_encode(s, sizeof(s), PROTO_EXCX, p, sizeof(p));
	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, 16 + 12, &(struct rec){0});
	proto_reader_finish(&r, &res);
	cr_assert_eq(res.end, PROTO_END_TRUNCATED_PAYLOAD);
	cr_assert_eq(res.tag, (uint32_t)PROTO_EXCX);
	cr_assert_eq(res.len, 24u);
	cr_assert_eq(res.have, 12u);
	proto_reader_destroy(&r);
}

Test(proto_reader, finish_while_scanning_is_unsynced) /* §5.3 #27 */
{
	struct proto_reader r;
	struct proto_reader_result res;
	uint8_t junk[40];

	memset(junk, 0x01, sizeof(junk));
	proto_reader_init(&r, &host_cfg);
	feed_all(&r, junk, sizeof(junk), &(struct rec){0});
	proto_reader_finish(&r, &res);
	cr_assert_eq(res.end, PROTO_END_UNSYNCED);
	cr_assert_eq(res.skipped, sizeof(junk));
	proto_reader_destroy(&r);
}

Test(proto_reader, garbage_prefix_gives_one_desync_one_resync_then_all_frames) /* §5.3 #28 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[512];
	unsigned seed = 7;

	for (int i = 0; i < 100; i++)
		s[i] = (uint8_t)(rand_r(&seed) & 0x7F) | 0x80; /* never a tag character */
	size_t n = 100 + three_frames(s + 100, sizeof(s) - 100);

	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n, &rec);
	cr_assert_eq(rec.n, 5u);
	cr_assert_eq(rec.ev[0].kind, PROTO_EV_DESYNC);
	cr_assert_eq(rec.ev[1].kind, PROTO_EV_RESYNC);
	cr_assert_eq(rec.ev[1].skipped, 100u);
	cr_assert_eq(rec.ev[2].tag, (uint32_t)PROTO_SOUT);
	cr_assert_eq(rec.ev[4].tag, (uint32_t)PROTO_LIFE);
	proto_reader_destroy(&r);
}

Test(proto_reader, guest_reader_rejects_a_frame_over_one_mebibyte) /* §5.3 #29 */
{
	const struct proto_reader_cfg guest = {
		.max_payload = PROTO_GUEST_RX_MAX, .resync = false, .dir = PROTO_H2G};
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t hdr[16] = {'P', 'N', 'I', 'S'};
	uint32_t len = PROTO_GUEST_RX_MAX + 1;
	struct proto_reader_result res;

	memcpy(hdr + 4, &len, 4);
	proto_reader_init(&r, &guest);
	feed_all(&r, hdr, sizeof(hdr), &rec);
	cr_assert_eq(rec.n, 1u);
	cr_assert_eq(rec.ev[0].kind, PROTO_EV_DESYNC);
	/* The guest does not resynchronise: it stops reading the host stream (§1.7). */
	proto_reader_finish(&r, &res);
	cr_assert_eq(res.end, PROTO_END_STOPPED);
	proto_reader_destroy(&r);
}

Test(proto_reader, statistics_are_exact_for_a_mixed_stream) /* §5.3 #30 */
{
	struct proto_reader r;
	struct rec rec = {0};
	uint8_t s[512];
	size_t n = 0;

	n += proto_encode(s + n, sizeof(s) - n, PROTO_SOUT, "abc", 3); /* 19, ok */
	n += proto_encode(s + n, sizeof(s) - n, PROTO_TAG('Z', 'Z', '9', '9'), "q",
			  1); /* 17, unknown */
	size_t crc_at = n;
	n += proto_encode(s + n, sizeof(s) - n, PROTO_SERR, "de", 2); /* 18, CRC error */
	s[crc_at + 16] ^= 1;
	memset(s + n, 0x80, 10); /* 10 bytes of garbage */
	n += 10;
	n += proto_encode(s + n, sizeof(s) - n, PROTO_SOUT, "fghij", 5); /* 21, ok after resync */

	proto_reader_init(&r, &host_cfg);
	feed_all(&r, s, n, &rec);
	cr_assert_eq(r.stats.frames, 4u);
	cr_assert_eq(r.stats.bytes, 19u + 17u + 18u + 21u);
	cr_assert_eq(r.stats.crc_errors, 1u);
	cr_assert_eq(r.stats.desyncs, 1u);
	cr_assert_eq(r.stats.skipped_bytes, 10u);
	cr_assert_eq(r.stats.unknown_tags, 1u);
	proto_reader_destroy(&r);
}
