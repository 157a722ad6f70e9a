// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the host's dispatch of what the guest sends
 * (src/link/dispatch.c; specs/guest-protocol.md §4.3, §2.7, §4.6).
 *
 * Each input is a small program run against a fresh `struct run`: frames
 * built from the input (tag from the M1 table, an H->G tag, a later or an
 * unknown one, or raw; payload of 0..32 KiB; valid CRC about 5 times in 6,
 * else a flipped CRC, a reserved field, a lower-case tag, a length that
 * overshoots or a frame cut short; fed whole, in two pieces or byte by
 * byte), raw bulk bytes, raw COM2 bytes, COM2 records built with
 * serial_record_encode() for every §2.7 header kind, and COM1 lines. Then
 * run_finish(), run_classify(), the report and the JSON file (to /dev/null).
 *
 * After every step, whatever the guest sent:
 *   - flags only go from false to true, counters never decrease, phases
 *     and IERRs stay within their arrays, strings stay NUL-terminated, the
 *     DMSG dump is NUL-terminated within its 4 MiB cap;
 *   - the reader accounts for every byte fed (offset + buffered == fed);
 *   - the first EXCX and the first damage offset never change afterwards;
 *   - before DONE, the DONE reference counts follow the reader's.
 * When a well-formed frame arrives on an in-sync stream (or a record on an
 * idle COM2 parser) its effect is checked too: exactly one more frame of
 * the right size, and only the field its tag owns changed, by what the
 * payload says (§4.3 table); after DONE it is "data after DONE" only.
 * ASan/UBSan and the leak checker catch the rest.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/compiler.h"
#include "fuzz_input.h"
#include "link/run.h"
#include "proto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_OPS	    256
#define PAYLOAD_MAX 32768u
#define DMESG_LIMIT (4u * 1024 * 1024) /* §4.3: each dump capped at 4 MiB */

static int null_fd = -1;
static FILE *null_file;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	null_file = fopen("/dev/null", "w");
	if (null_fd < 0 || !null_file)
		abort();
	fz_quiet_logs();
	return 0;
}

struct ctx {
	struct run r;
	struct run before; /* shallow copy taken before each step; never destroyed */
	struct fz_in in;
	uint64_t fed_bulk;
	uint8_t frame[PROTO_HDR_SIZE + PAYLOAD_MAX + 64];
	uint8_t buf[PAYLOAD_MAX];
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* n bytes: input first, then a pattern once it runs out. */
static void fill(struct fz_in *in, uint8_t *dst, size_t n)
{
	size_t k = MIN(n, in->n);

	memcpy(dst, in->p, k);
	in->p += k;
	in->n -= k;
	for (size_t i = k; i < n; i++)
		dst[i] = (uint8_t)(i * 131 + 7);
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

#define MONO(field)  FZ_CHECK(!b->field || r->field)
#define GROWS(field) FZ_CHECK(r->field >= b->field)

static void check_run(const struct ctx *c)
{
	const struct run *r = &c->r, *b = &c->before;

	MONO(helo);
	MONO(excx_seen);
	MONO(done_seen);
	MONO(helo_major_mismatch);
	MONO(done_mismatch);
	MONO(data_after_done);
	MONO(stream_damaged);
	MONO(first_frame_not_helo);
	MONO(crash_frame);
	MONO(com2_panic);
	MONO(fatal_ierr);
	MONO(serial_transport);
	FZ_CHECK(!r->out_broken && !r->err_broken); /* /dev/null takes everything */

	GROWS(reader.stats.frames);
	GROWS(reader.stats.bytes);
	GROWS(reader.stats.crc_errors);
	GROWS(reader.stats.desyncs);
	GROWS(reader.stats.skipped_bytes);
	GROWS(reader.stats.unknown_tags);
	GROWS(reader.offset);
	GROWS(out_bytes);
	GROWS(err_bytes);
	GROWS(nierr);
	GROWS(nphases);
	FZ_CHECK(r->nierr <= RUN_MAX_IERR && r->nphases <= RUN_MAX_PHASES);
	FZ_CHECK(r->reader.stats.crc_errors <= r->reader.stats.frames);
	FZ_CHECK(r->reader.stats.bytes >= PROTO_HDR_SIZE * r->reader.stats.frames);

	/* The host reader resynchronises, never stops, and holds exactly what it has not consumed. */
	FZ_CHECK(!r->reader.stopped);
	FZ_CHECK(r->reader.offset + r->reader.len == c->fed_bulk);
	FZ_CHECK(r->reader.len <= r->reader.cap);

	if (b->stream_damaged)
		FZ_CHECK(r->first_bad_offset == b->first_bad_offset);
	FZ_CHECK(!r->stream_damaged || r->first_bad_offset <= c->fed_bulk);
	if (b->excx_seen)
		FZ_CHECK(r->excx.code == b->excx.code && r->excx.how == b->excx.how &&
			 r->excx.signo == b->excx.signo && r->excx.flags == b->excx.flags &&
			 r->excx.raw == b->excx.raw && r->excx.pid == b->excx.pid &&
			 r->excx.runtime_ns == b->excx.runtime_ns);
	if (!r->done_seen) {
		FZ_CHECK(r->frames_before_done == r->reader.stats.frames);
		FZ_CHECK(r->bytes_before_done == r->reader.stats.bytes);
	} else {
		FZ_CHECK(r->frames_before_done <= r->reader.stats.frames);
		if (b->done_seen)
			FZ_CHECK(r->frames_before_done == b->frames_before_done &&
				 r->bytes_before_done == b->bytes_before_done);
	}

	FZ_CHECK(r->dmesg_len <= DMESG_LIMIT);
	FZ_CHECK(r->dmesg ? r->dmesg[r->dmesg_len] == '\0' : r->dmesg_len == 0);
	FZ_CHECK(terminated(r->crash_text, sizeof(r->crash_text)));
	FZ_CHECK(terminated(r->com1_panic, sizeof(r->com1_panic)));
	for (unsigned i = 0; i < r->nierr; i++)
		FZ_CHECK(terminated(r->ierr[i].text, sizeof(r->ierr[i].text)));
	for (unsigned i = 0; i < r->nphases; i++)
		FZ_CHECK(r->phases[i].phase != 0);
	if (r->nphases && r->nphases < RUN_MAX_PHASES)
		FZ_CHECK(r->last_phase == r->phases[r->nphases - 1].phase);
}

/* Everything a frame or record of kind `tag` does not own stayed as it was. */
static void check_untouched(const struct run *r, const struct run *b, uint32_t tag)
{
	if (tag != PROTO_HELO)
		FZ_CHECK(r->helo == b->helo && r->helo_major_mismatch == b->helo_major_mismatch);
	if (tag != PROTO_LIFE)
		FZ_CHECK(r->nphases == b->nphases && r->last_phase == b->last_phase);
	if (tag != PROTO_SOUT)
		FZ_CHECK(r->out_bytes == b->out_bytes);
	if (tag != PROTO_SERR)
		FZ_CHECK(r->err_bytes == b->err_bytes);
	if (tag != PROTO_EXCX)
		FZ_CHECK(r->excx_seen == b->excx_seen);
	if (tag != PROTO_DMSG)
		FZ_CHECK(r->dmesg_len == b->dmesg_len && r->dmesg_id == b->dmesg_id);
	if (tag != PROTO_IERR)
		FZ_CHECK(r->nierr == b->nierr && r->fatal_ierr == b->fatal_ierr);
	if (tag != PROTO_CRSH)
		FZ_CHECK(r->crash_frame == b->crash_frame);
	if (tag != PROTO_DONE)
		FZ_CHECK(r->done_seen == b->done_seen && r->done_mismatch == b->done_mismatch);
}

/* §4.3: what one delivered frame does to a run that has not seen DONE. */
static void check_frame_effect(const struct ctx *c, uint32_t tag, const uint8_t *p, uint32_t n)
{
	const struct run *r = &c->r, *b = &c->before;

	FZ_CHECK(r->first_frame_not_helo ==
		 (b->first_frame_not_helo || (!b->helo && tag != PROTO_HELO)));
	switch (tag) {
	case PROTO_HELO:
		if (n < PROTO_HELO_SIZE)
			tag = 0; /* ignored: nothing may change */
		else
			FZ_CHECK(r->helo && r->helo_msg.major == (p[0] | p[1] << 8) &&
				 r->helo_major_mismatch ==
					 (b->helo_major_mismatch ||
					  r->helo_msg.major != PROTO_VERSION_MAJOR));
		break;
	case PROTO_LIFE:
		if (n < PROTO_LIFE_SIZE || p[0] == 0) {
			tag = 0;
		} else {
			FZ_CHECK(r->last_phase == p[0]);
			FZ_CHECK(r->nphases == MIN(b->nphases + 1, RUN_MAX_PHASES));
			if (b->nphases < RUN_MAX_PHASES)
				FZ_CHECK(r->phases[b->nphases].phase == p[0] &&
					 r->phases[b->nphases].guest_ns == le64(p + 8));
		}
		break;
	case PROTO_SOUT:
		FZ_CHECK(r->out_bytes == b->out_bytes + n);
		break;
	case PROTO_SERR:
		FZ_CHECK(r->err_bytes == b->err_bytes + n);
		break;
	case PROTO_EXCX:
		if (n < PROTO_EXCX_SIZE || b->excx_seen)
			tag = 0;
		else
			FZ_CHECK(r->excx_seen && r->excx.code == (int32_t)le32(p) &&
				 r->excx.how == p[4] && r->excx.pid == le32(p + 12));
		break;
	case PROTO_DMSG:
		if (n < PROTO_DMSG_SIZE) {
			tag = 0;
		} else {
			/* A new dump id starts over; the same id appends, up to the cap. */
			size_t base = le32(p) == b->dmesg_id ? b->dmesg_len : 0;
			size_t add = MIN((size_t)n - PROTO_DMSG_SIZE, DMESG_LIMIT - base);
			FZ_CHECK(r->dmesg_id == le32(p) && r->dmesg_len == base + add);
			FZ_CHECK(!add || !memcmp(r->dmesg + base, p + PROTO_DMSG_SIZE, add));
		}
		break;
	case PROTO_IERR:
		if (n < PROTO_IERR_SIZE) {
			tag = 0;
		} else {
			FZ_CHECK(r->nierr == MIN(b->nierr + 1, RUN_MAX_IERR));
			FZ_CHECK(r->fatal_ierr == (b->fatal_ierr || p[2] >= PROTO_SEV_FATAL));
			if (b->nierr < RUN_MAX_IERR) {
				const struct run_ierr *e = &r->ierr[b->nierr];
				size_t tl = strnlen((const char *)p + PROTO_IERR_SIZE,
						    MIN(n - PROTO_IERR_SIZE, sizeof(e->text) - 1));
				FZ_CHECK(e->m.code == (p[0] | p[1] << 8) && e->m.severity == p[2]);
				FZ_CHECK(strlen(e->text) == tl &&
					 !memcmp(e->text, p + PROTO_IERR_SIZE, tl));
			}
		}
		break;
	case PROTO_CRSH: {
		size_t tl = strnlen((const char *)p, MIN(n, sizeof(r->crash_text) - 1));
		FZ_CHECK(r->crash_frame && strlen(r->crash_text) == tl &&
			 !memcmp(r->crash_text, p, tl));
		break;
	}
	case PROTO_DONE:
		if (n < PROTO_DONE_SIZE) {
			tag = 0;
		} else {
			/* Compared with the counts before this frame (§2.2.9). */
			bool match = le32(p) == b->reader.stats.frames &&
				     le64(p + 8) == b->reader.stats.bytes;
			FZ_CHECK(r->done_seen && r->done_mismatch == !match);
			FZ_CHECK(r->frames_before_done == b->reader.stats.frames);
		}
		break;
	default:
		break;
	}
	check_untouched(r, b, tag);
}

static const uint32_t frame_tags[] = {
	PROTO_HELO,
	PROTO_LIFE,
	PROTO_SOUT,
	PROTO_SERR,
	PROTO_EXCX,
	PROTO_DMSG,
	PROTO_IERR,
	PROTO_CRSH,
	PROTO_PONG,
	PROTO_DONE,
	PROTO_PING,		       /* H->G tag from the guest */
	PROTO_SHUT,		       /* H->G */
	PROTO_KADR,		       /* later milestone: known, not dispatched */
	PROTO_TAG('Z', 'Z', 'Z', 'Z'), /* unknown */
};

enum damage { DMG_NONE, DMG_CRC, DMG_RESERVED, DMG_TAG_CASE, DMG_LEN, DMG_CUT };

static void feed_bulk(struct ctx *c, const uint8_t *b, size_t n)
{
	run_feed_bulk(&c->r, b, n);
	c->fed_bulk += n;
}

static void op_frame(struct ctx *c)
{
	struct fz_in *in = &c->in;
	unsigned sel = fz_take(in, 1) % (ARRAY_SIZE(frame_tags) + 2);
	unsigned lb = fz_take(in, 1), mode = fz_take(in, 1);
	uint32_t tag, n = lb < 248 ? lb : (lb - 247) * 4096;
	enum damage dmg = mode % 24 < 5 ? (enum damage)(mode % 24 + 1) : DMG_NONE;
	uint8_t *p = c->frame + PROTO_HDR_SIZE;
	struct proto_hdr h;
	size_t flen, cut;
	bool in_sync = c->r.reader.len == 0 && !c->r.reader.scanning;

	if (sel < ARRAY_SIZE(frame_tags))
		tag = frame_tags[sel];
	else if (sel == ARRAY_SIZE(frame_tags))
		tag = (uint32_t)fz_take(in, 4);
	else
		tag = PROTO_DONE; /* DONE whose counts match what arrived */
	fill(in, c->buf, n);
	if (sel == ARRAY_SIZE(frame_tags) + 1) {
		struct proto_done d = {.frames = (uint32_t)c->r.reader.stats.frames,
				       .bytes = c->r.reader.stats.bytes,
				       .result = (int32_t)fz_take(in, 1),
				       .flags = PROTO_DONE_RAN};
		n = MAX(n, PROTO_DONE_SIZE);
		proto_done_encode(c->buf, &d);
	}
	flen = proto_encode(c->frame, sizeof(c->frame), tag, c->buf, n);
	FZ_CHECK(flen == PROTO_HDR_SIZE + n);
	switch (dmg) {
	case DMG_CRC:
		c->frame[8] ^= 1u << (fz_take(in, 1) & 7);
		break;
	case DMG_RESERVED:
		c->frame[12 + fz_take(in, 1) % 4] |= 0x40;
		break;
	case DMG_TAG_CASE:
		c->frame[fz_take(in, 1) % 4] |= 0x20; /* 'A'..'Z' become lower case */
		break;
	case DMG_LEN:
		c->frame[4] += (uint8_t)(1 + fz_take(in, 1) % 16);
		break;
	default:
		break;
	}
	proto_hdr_decode(c->frame, &h);
	cut = dmg == DMG_CUT ? fz_take(in, 2) % flen : flen;

	c->before = c->r;
	switch (mode / 24 % 4) {
	case 0:
	case 1:
		feed_bulk(c, c->frame, cut);
		break;
	case 2: {
		size_t at = fz_take(in, 2) % (cut + 1);
		feed_bulk(c, c->frame, at);
		feed_bulk(c, c->frame + at, cut - at);
		break;
	}
	default:
		if (cut > 256) {
			feed_bulk(c, c->frame, cut);
			break;
		}
		for (size_t i = 0; i < cut; i++)
			feed_bulk(c, c->frame + i, 1);
		break;
	}
	check_run(c);

	/* The frame's own effect, when the reader had to take it as one frame. */
	if (!in_sync || cut != flen || dmg == DMG_LEN || !proto_hdr_valid(&h, PROTO_MAX_PAYLOAD))
		return;
	const struct run *r = &c->r, *b = &c->before;
	bool crc_ok = dmg != DMG_CRC; /* a flipped CRC bit is the only damage to it */

	FZ_CHECK(r->reader.stats.frames == b->reader.stats.frames + 1);
	FZ_CHECK(r->reader.stats.bytes == b->reader.stats.bytes + flen);
	FZ_CHECK(r->reader.len == 0 && !r->reader.scanning);
	FZ_CHECK(r->reader.stats.crc_errors == b->reader.stats.crc_errors + !crc_ok);
	FZ_CHECK(r->reader.stats.unknown_tags ==
		 b->reader.stats.unknown_tags + (crc_ok && !proto_tag_known(tag, PROTO_G2H)));
	if (!crc_ok) {
		FZ_CHECK(r->stream_damaged);
		if (!b->stream_damaged)
			FZ_CHECK(r->first_bad_offset == b->reader.offset);
		check_untouched(r, b, 0);
	} else if (b->done_seen) {
		FZ_CHECK(r->data_after_done);
		check_untouched(r, b, 0);
	} else {
		FZ_CHECK(r->stream_damaged == b->stream_damaged);
		check_frame_effect(c, tag, p, n);
	}
}

/* Up to 63 raw input bytes into the bulk port or COM2. */
static void op_raw(struct ctx *c, bool com2)
{
	size_t want = fz_take(&c->in, 1) % 64, n = MIN(want, c->in.n);
	const uint8_t *b = c->in.p;

	c->in.p += n;
	c->in.n -= n;
	c->before = c->r;
	if (com2)
		run_feed_com2(&c->r, b, n);
	else
		feed_bulk(c, b, n);
	check_run(c);
}

/* Up to 63 bytes of free header text; '=' kept only when allowed (it could announce a body). */
static void header_text(struct fz_in *in, char *dst, size_t cap, bool allow_eq)
{
	size_t want = fz_take(in, 1) % 64, n = MIN(want, cap - 1);

	for (size_t i = 0; i < n; i++) {
		char ch = (char)fz_take(in, 1);
		dst[i] = ch == '\0' ? '_' : (ch == '=' && !allow_eq) ? ':' : ch;
	}
	dst[n] = '\0';
}

enum rec_kind {
	REC_SOUT,
	REC_SERR,
	REC_PROTO,
	REC_EXIT,
	REC_IERR,
	REC_PANIC,
	REC_DONE,
	REC_DMESG,
	REC_RAW,
	REC_KINDS
};

static void op_com2_record(struct ctx *c)
{
	static const char *const hows[] = {"exited", "signaled", "notstarted", "other"};
	static const char *const sevs[] = {"info", "warn", "error", "fatal", "bogus"};
	struct fz_in *in = &c->in;
	enum rec_kind kind = fz_take(in, 1) % REC_KINDS;
	int v1 = (int)fz_take(in, 4), v2 = (int)fz_take(in, 1);
	unsigned pick = fz_take(in, 1);
	size_t blen = 0, rec;
	char text[64], hdr[400];

	header_text(in, text, sizeof(text), kind == REC_RAW);
	switch (kind) {
	case REC_SOUT:
	case REC_SERR:
	case REC_DMESG:
		blen = fz_take(in, 2) % (SERIAL_BODY_MAX + 1);
		if (pick & 1)
			blen %= 64;
		fill(in, c->buf, blen);
		snprintf(hdr, sizeof(hdr), "%s n=%zu%s %s",
			 kind == REC_SOUT   ? "KTSTR_SOUT"
			 : kind == REC_SERR ? "KTSTR_SERR"
					    : "KTSTR_DMESG",
			 blen, kind == REC_DMESG ? " last=1" : "", text);
		break;
	case REC_PROTO:
		snprintf(hdr, sizeof(hdr), "KTSTR_PROTO=serial reason=%s", text);
		break;
	case REC_EXIT:
		snprintf(hdr, sizeof(hdr), "KTSTR_EXEC_EXIT=%d how=%s value=%d core=%d%s", v1,
			 hows[pick % 4], v2, (pick >> 2) & 1, text);
		break;
	case REC_IERR:
		snprintf(hdr, sizeof(hdr), "KTSTR_INIT_ERROR code=%u sev=%s errno=%d msg=%s",
			 (unsigned)v1 & 0xffff, sevs[pick % 5], v2, text);
		break;
	case REC_PANIC:
		snprintf(hdr, sizeof(hdr), "PANIC: %s", text);
		break;
	case REC_DONE:
		snprintf(hdr, sizeof(hdr), "KTSTR_DONE result=%d records=%u%s", v1, pick, text);
		break;
	default:
		snprintf(hdr, sizeof(hdr), "%s", text[0] ? text : "X");
		break;
	}
	rec = serial_record_encode(c->frame, sizeof(c->frame), hdr, c->buf, blen);
	FZ_CHECK(rec > 0);

	bool idle = c->r.com2.state == SP_TEXT;
	c->before = c->r;
	run_feed_com2(&c->r, c->frame, rec);
	check_run(c);
	if (!idle || kind == REC_RAW)
		return;

	/* §2.7 via §4.2: a whole record on an idle parser is dispatched at once. */
	const struct run *r = &c->r, *b = &c->before;
	FZ_CHECK(r->com2.state == SP_TEXT);
	switch (kind) {
	case REC_SOUT:
		FZ_CHECK(r->out_bytes == b->out_bytes + blen);
		break;
	case REC_SERR:
		FZ_CHECK(r->err_bytes == b->err_bytes + blen);
		break;
	case REC_DMESG: {
		size_t base = b->dmesg_id ? b->dmesg_len : 0;
		size_t add = MIN(blen, DMESG_LIMIT - base);
		FZ_CHECK(r->dmesg_len == base + add &&
			 r->dmesg_id == (b->dmesg_id ? b->dmesg_id : 1));
		FZ_CHECK(!add || !memcmp(r->dmesg + base, c->buf, add));
		break;
	}
	case REC_PROTO:
		FZ_CHECK(r->serial_transport);
		break;
	case REC_EXIT:
		FZ_CHECK(r->excx_seen);
		if (!b->excx_seen)
			FZ_CHECK(r->excx.code == v1);
		break;
	case REC_IERR:
		FZ_CHECK(r->nierr == MIN(b->nierr + 1, RUN_MAX_IERR));
		FZ_CHECK(r->fatal_ierr == (b->fatal_ierr || pick % 5 == 3));
		break;
	case REC_PANIC:
		FZ_CHECK(r->com2_panic && !strncmp(r->crash_text, "PANIC: ", 7));
		break;
	case REC_DONE:
		FZ_CHECK(r->done_seen == (b->done_seen || b->serial_transport));
		break;
	default:
		break;
	}
}

static void op_console_line(struct ctx *c)
{
	static const char marker[] = "Kernel panic - not syncing";
	char line[300];
	size_t n = fz_take(&c->in, 1) % 200, at = fz_take(&c->in, 1);
	bool panic = at & 1;

	fill(&c->in, (uint8_t *)line, n);
	for (size_t i = 0; i < n; i++)
		line[i] = line[i] ? line[i] : ' ';
	line[n] = '\0';
	if (panic) {
		at %= n + 1;
		memmove(line + at + sizeof(marker) - 1, line + at, n - at + 1);
		memcpy(line + at, marker, sizeof(marker) - 1);
	}
	c->before = c->r;
	run_note_console_line(&c->r, line);
	check_run(c);
	if (c->before.com1_panic[0])
		FZ_CHECK(!strcmp(c->r.com1_panic, c->before.com1_panic));
	else if (panic)
		FZ_CHECK(!strncmp(c->r.com1_panic, marker, sizeof(marker) - 1));
}

static void finish_and_classify(struct ctx *c)
{
	struct run *r = &c->r;
	struct run_verdict v;
	bool pending = r->reader.len || r->reader.scanning;

	c->before = *r;
	run_finish(r);
	check_run(c);
	/* Bytes left in the reader at the end are a truncated or unsynced stream (§4.4). */
	FZ_CHECK(!pending || r->stream_damaged);

	run_classify(r, &v);
	FZ_CHECK(v.outcome <= RUN_INTERRUPTED && terminated(v.cause, sizeof(v.cause)));
	if (v.outcome == RUN_COMMAND)
		FZ_CHECK(r->done_seen && r->excx_seen && !r->stream_damaged && !r->crash_frame &&
			 !r->com2_panic && !r->fatal_ierr && v.exit_code == r->excx.code &&
			 v.exit_code >= 0 && v.exit_code <= 255);
	else
		FZ_CHECK(v.exit_code >= RUN_EXIT_CRASH && v.exit_code <= RUN_EXIT_HOST);
	run_print_report(r, &v, r->dmesg, null_file);
	FZ_CHECK(run_write_json(r, &v, "/dev/null") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctx c;
	unsigned ops = 0;

	c.in = (struct fz_in){data, size};
	c.fed_bulk = 0;
	run_init(&c.r, null_fd, null_fd, null_file);
	c.r.verbose = fz_take(&c.in, 1) & 1;
	c.r.vm_end = RUN_VM_POWEROFF;
	while (c.in.n && ops++ < MAX_OPS) {
		switch (fz_take(&c.in, 1) % 9) {
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
			op_frame(&c);
			break;
		case 5:
			op_raw(&c, false);
			break;
		case 6:
			op_raw(&c, true);
			break;
		case 7:
			op_com2_record(&c);
			break;
		default:
			op_console_line(&c);
			break;
		}
	}
	finish_and_classify(&c);
	run_destroy(&c.r);
	return 0;
}
