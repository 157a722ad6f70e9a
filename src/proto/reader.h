/* SPDX-License-Identifier: MIT */
/*
 * Incremental frame reader for either direction (specs/guest-protocol.md §1.6).
 *
 * It never trusts a length before the header is valid, never buffers more
 * than it was fed, and reports every byte it skips. The host side
 * resynchronises after damage (for diagnosis); the guest side (resync off)
 * stops at the first damaged frame (§1.7).
 */
#ifndef KTSTR_PROTO_READER_H
#define KTSTR_PROTO_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/frame.h"

enum proto_ev {
	PROTO_EV_FRAME,	    /* tag, len, payload */
	PROTO_EV_CRC_ERROR, /* tag, len, offset; payload not delivered */
	PROTO_EV_DESYNC,    /* offset of the invalid header */
	PROTO_EV_RESYNC,    /* offset of the frame found, skipped bytes since the desync */
};

struct proto_event {
	enum proto_ev kind;
	uint32_t tag, len;
	uint64_t offset;	/* absolute stream offset of the frame / header */
	uint64_t skipped;	/* RESYNC only */
	bool known;		/* FRAME: the tag is known for this direction */
	const uint8_t *payload; /* FRAME only; valid during the callback */
};

typedef void (*proto_event_fn)(void *opaque, const struct proto_event *ev);

struct proto_reader_cfg {
	uint32_t max_payload; /* PROTO_MAX_PAYLOAD on the host, PROTO_GUEST_RX_MAX in the guest */
	bool resync;	      /* host: true; guest: false */
	enum proto_dir dir;   /* direction of the frames this reader receives */
};

struct proto_reader_stats {
	uint64_t frames; /* frames consumed with a valid header (delivered or CRC error) */
	uint64_t bytes;	 /* header + payload bytes of those frames */
	uint64_t crc_errors;
	uint64_t desyncs;
	uint64_t skipped_bytes;
	uint64_t unknown_tags;
};

enum proto_end {
	PROTO_END_CLEAN,
	PROTO_END_TRUNCATED_HEADER,  /* have */
	PROTO_END_TRUNCATED_PAYLOAD, /* tag, len, have */
	PROTO_END_UNSYNCED,	     /* skipped */
	PROTO_END_STOPPED,	     /* resync off and the stream was damaged */
};

struct proto_reader_result {
	enum proto_end end;
	uint32_t tag, len;
	uint64_t have, skipped;
};

struct proto_reader {
	struct proto_reader_cfg cfg;
	uint8_t *buf;
	size_t len, cap;
	uint64_t offset; /* stream offset of buf[0] */
	bool scanning, stopped;
	size_t q;	       /* SCAN position inside buf */
	uint64_t scan_skipped; /* bytes skipped since the last DESYNC */
	struct proto_reader_stats stats;
};

void proto_reader_init(struct proto_reader *r, const struct proto_reader_cfg *cfg);
/* 0, or -ENOMEM (the input is then dropped). Events are emitted through fn. */
int proto_reader_feed(struct proto_reader *r, const void *bytes, size_t n, proto_event_fn fn,
		      void *opaque);
void proto_reader_finish(const struct proto_reader *r, struct proto_reader_result *out);
void proto_reader_destroy(struct proto_reader *r);

#endif
