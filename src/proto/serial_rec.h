/* SPDX-License-Identifier: MIT */
/*
 * COM2 records (specs/guest-protocol.md §2.7): RS, a printable header, LF,
 * and a raw body of n bytes when the header carries n=<decimal>. COM2 cannot
 * block on the host, so it carries what must survive a broken virtio path.
 */
#ifndef KTSTR_PROTO_SERIAL_REC_H
#define KTSTR_PROTO_SERIAL_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_RS	  0x1E
#define SERIAL_HEADER_MAX 255u
#define SERIAL_BODY_MAX	  4096u

/*
 * Encode one record into dst. The header is copied with LF/CR and other
 * control characters replaced by spaces and cut at SERIAL_HEADER_MAX. Returns
 * the record size, or 0 if it does not fit in cap.
 */
size_t serial_record_encode(uint8_t *dst, size_t cap, const char *header, const void *body,
			    size_t n);

/*
 * Host-side parser: a state machine over the COM2 byte stream. Records come
 * out whole; bytes outside records come out as unframed text (in order); an
 * RS not followed by a valid header within 255 bytes is unframed text too.
 * For leniency (§2.7) an unframed line that starts, at a line start, with
 * one of the plain sentinels (KTSTR_EXEC_EXIT=, KTSTR_INIT_STARTED, PANIC:)
 * also comes out as a bodiless RECORD with `plain` set, right after its text.
 */
enum serial_ev { SERIAL_EV_RECORD, SERIAL_EV_TEXT, SERIAL_EV_TRUNCATED };

struct serial_event {
	enum serial_ev kind;
	const char *header;  /* RECORD / TRUNCATED: NUL-terminated header */
	const uint8_t *data; /* RECORD: body; TEXT: the unframed bytes */
	size_t len;
	size_t want; /* TRUNCATED: body length announced */
	bool plain;  /* RECORD: a plain sentinel line, already delivered as TEXT */
};

typedef void (*serial_event_fn)(void *opaque, const struct serial_event *ev);

struct serial_parser {
	enum { SP_TEXT, SP_HEADER, SP_BODY } state;
	char header[SERIAL_HEADER_MAX + 1];
	size_t hlen;
	uint8_t body[SERIAL_BODY_MAX];
	size_t blen, bwant;
	uint8_t text[256];
	size_t tlen;
	bool line_start;
	/* The unframed line being read, while it can still be a plain sentinel. */
	char line[SERIAL_HEADER_MAX + 1];
	size_t llen;
	bool line_ok;
};

void serial_parser_init(struct serial_parser *p);
void serial_parser_feed(struct serial_parser *p, const uint8_t *b, size_t n, serial_event_fn fn,
			void *opaque);
/* End of stream: flushes text, reports a record cut short. */
void serial_parser_finish(struct serial_parser *p, serial_event_fn fn, void *opaque);

#endif
