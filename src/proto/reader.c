// SPDX-License-Identifier: MIT
/* The NORMAL/SCAN reader of specs/guest-protocol.md §1.6. */
#include "proto/reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void proto_reader_init(struct proto_reader *r, const struct proto_reader_cfg *cfg)
{
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	if (r->cfg.max_payload > PROTO_MAX_PAYLOAD)
		r->cfg.max_payload = PROTO_MAX_PAYLOAD;
}

void proto_reader_destroy(struct proto_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

static void emit(proto_event_fn fn, void *opaque, const struct proto_event *ev)
{
	if (fn)
		fn(opaque, ev);
}

/* Drop n bytes from the front (they were consumed or skipped). */
static void drop(struct proto_reader *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
	r->offset += n;
}

static bool header_at(const struct proto_reader *r, size_t at, struct proto_hdr *h)
{
	if (r->len - at < PROTO_HDR_SIZE)
		return false;
	proto_hdr_decode(r->buf + at, h);
	return true;
}

static bool crc_ok(const struct proto_reader *r, size_t at, const struct proto_hdr *h)
{
	return proto_crc32(0, r->buf + at + PROTO_HDR_SIZE, h->len) == h->crc;
}

/* NORMAL mode at buf[pos]; returns bytes consumed, 0 to wait; may switch to SCAN. */
static size_t step_normal(struct proto_reader *r, size_t pos, proto_event_fn fn, void *opaque)
{
	struct proto_event ev = {.offset = r->offset + pos};
	struct proto_hdr h;

	if (!header_at(r, pos, &h))
		return 0;
	if (!proto_hdr_valid(&h, r->cfg.max_payload)) {
		r->stats.desyncs++;
		ev.kind = PROTO_EV_DESYNC;
		emit(fn, opaque, &ev);
		if (!r->cfg.resync) {
			r->stopped = true;
			return 0;
		}
		r->scanning = true;
		r->q = pos + 1;
		r->scan_skipped = 0;
		return 0;
	}
	if (r->len - pos - PROTO_HDR_SIZE < h.len)
		return 0; /* bounded: a valid header promises at most max_payload */
	ev.tag = h.tag;
	ev.len = h.len;
	r->stats.frames++;
	r->stats.bytes += PROTO_HDR_SIZE + (uint64_t)h.len;
	if (!crc_ok(r, pos, &h)) {
		r->stats.crc_errors++;
		ev.kind = PROTO_EV_CRC_ERROR;
		emit(fn, opaque, &ev);
		if (!r->cfg.resync)
			r->stopped = true;
		return PROTO_HDR_SIZE + h.len;
	}
	ev.kind = PROTO_EV_FRAME;
	ev.known = proto_tag_known(h.tag, r->cfg.dir);
	if (!ev.known)
		r->stats.unknown_tags++;
	ev.payload = r->buf + pos + PROTO_HDR_SIZE;
	emit(fn, opaque, &ev);
	return PROTO_HDR_SIZE + h.len;
}

/*
 * SCAN mode: look for a header that is valid, has a known tag and a matching
 * CRC. Returns true when NORMAL mode can take over at buf[0].
 */
static bool step_scan(struct proto_reader *r, proto_event_fn fn, void *opaque)
{
	struct proto_hdr h;

	for (;;) {
		if (r->len < r->q + PROTO_HDR_SIZE) {
			r->scan_skipped += r->q;
			r->stats.skipped_bytes += r->q;
			drop(r, r->q);
			r->q = 0;
			return false;
		}
		header_at(r, r->q, &h);
		if (proto_hdr_valid(&h, r->cfg.max_payload) && proto_tag_known(h.tag, r->cfg.dir)) {
			if (r->len - r->q - PROTO_HDR_SIZE < h.len) {
				r->scan_skipped += r->q;
				r->stats.skipped_bytes += r->q;
				drop(r, r->q);
				r->q = 0;
				return false; /* plausible but incomplete: wait for more */
			}
			if (crc_ok(r, r->q, &h))
				break;
		}
		r->q++;
	}
	r->scan_skipped += r->q;
	r->stats.skipped_bytes += r->q;
	drop(r, r->q);
	r->q = 0;
	r->scanning = false;
	struct proto_event ev = {
		.kind = PROTO_EV_RESYNC, .offset = r->offset, .skipped = r->scan_skipped};
	emit(fn, opaque, &ev);
	return true;
}

int proto_reader_feed(struct proto_reader *r, const void *bytes, size_t n, proto_event_fn fn,
		      void *opaque)
{
	size_t pos = 0, used;

	if (r->stopped || n == 0)
		return 0;
	if (r->len + n > r->cap) {
		size_t cap = r->len + n;
		uint8_t *nb = realloc(r->buf, cap);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, bytes, n);
	r->len += n;

	for (;;) {
		if (r->stopped) {
			r->len = 0;
			return 0;
		}
		if (r->scanning) {
			/* Consumed frames first, so SCAN positions are relative to buf[0]. */
			if (pos) {
				drop(r, pos);
				r->q -= pos;
				pos = 0;
			}
			if (!step_scan(r, fn, opaque))
				return 0;
			continue;
		}
		used = step_normal(r, pos, fn, opaque);
		if (!used && !r->scanning)
			break;
		pos += used;
	}
	drop(r, pos);
	return 0;
}

void proto_reader_finish(const struct proto_reader *r, struct proto_reader_result *out)
{
	struct proto_hdr h;

	memset(out, 0, sizeof(*out));
	out->have = r->len;
	if (r->stopped) {
		out->end = PROTO_END_STOPPED;
	} else if (r->scanning) {
		out->end = PROTO_END_UNSYNCED;
		out->skipped = r->scan_skipped + r->len;
	} else if (r->len == 0) {
		out->end = PROTO_END_CLEAN;
	} else if (r->len < PROTO_HDR_SIZE) {
		out->end = PROTO_END_TRUNCATED_HEADER;
	} else {
		proto_hdr_decode(r->buf, &h);
		out->end = PROTO_END_TRUNCATED_PAYLOAD;
		out->tag = h.tag;
		out->len = h.len;
		out->have = r->len - PROTO_HDR_SIZE;
	}
}
