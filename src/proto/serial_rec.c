// SPDX-License-Identifier: MIT
#include "proto/serial_rec.h"

#include <string.h>

size_t serial_record_encode(uint8_t *dst, size_t cap, const char *header, const void *body,
			    size_t n)
{
	size_t h = strnlen(header, SERIAL_HEADER_MAX);
	size_t total = 1 + h + 1 + n;

	if (h == 0 || total > cap)
		return 0;
	dst[0] = SERIAL_RS;
	for (size_t i = 0; i < h; i++) {
		unsigned char c = (unsigned char)header[i];
		/* A stray LF would end the header early and turn the rest into unframed text. */
		dst[1 + i] = (c < 0x20 || c == 0x7F) ? ' ' : c;
	}
	dst[1 + h] = '\n';
	if (n)
		memcpy(dst + 2 + h, body, n);
	return total;
}

void serial_parser_init(struct serial_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->line_start = true;
	p->line_ok = true;
}

static void flush_text(struct serial_parser *p, serial_event_fn fn, void *opaque)
{
	if (!p->tlen)
		return;
	struct serial_event ev = {.kind = SERIAL_EV_TEXT, .data = p->text, .len = p->tlen};
	fn(opaque, &ev);
	p->tlen = 0;
}

static void add_text(struct serial_parser *p, const uint8_t *b, size_t n, serial_event_fn fn,
		     void *opaque)
{
	for (size_t i = 0; i < n; i++) {
		if (p->tlen == sizeof(p->text))
			flush_text(p, fn, opaque);
		p->text[p->tlen++] = b[i];
	}
}

/* Body length from " n=<decimal>" in the header; 0 when absent. Bounded by SERIAL_BODY_MAX. */
static bool header_body_len(const char *h, size_t *want)
{
	const char *n = strstr(h, " n=");
	unsigned long v = 0;

	*want = 0;
	if (!n)
		return true;
	n += 3;
	if (*n < '0' || *n > '9')
		return false;
	while (*n >= '0' && *n <= '9') {
		v = v * 10 + (unsigned long)(*n++ - '0');
		if (v > SERIAL_BODY_MAX)
			return false;
	}
	*want = v;
	return true;
}

static void emit_record(struct serial_parser *p, serial_event_fn fn, void *opaque)
{
	struct serial_event ev = {
		.kind = SERIAL_EV_RECORD, .header = p->header, .data = p->body, .len = p->blen};
	fn(opaque, &ev);
	p->state = SP_TEXT;
	p->line_start = true;
	p->llen = 0;
	p->line_ok = true;
}

/*
 * The reference's guests print their sentinels as plain lines; §2.7 asks the
 * host to accept those too, but only at a line start, so that the same words
 * quoted inside other output are not taken for a verdict.
 */
static bool plain_sentinel(const char *l)
{
	static const char *const words[] = {"KTSTR_EXEC_EXIT=", "KTSTR_INIT_STARTED", "PANIC:"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strncmp(l, words[i], strlen(words[i])))
			return true;
	return false;
}

/* End of an unframed line (LF or end of stream): report it if it is a sentinel. */
static void end_line(struct serial_parser *p, serial_event_fn fn, void *opaque)
{
	if (p->line_ok && p->llen && p->line[p->llen - 1] == '\r')
		p->llen--;
	if (p->line_ok && p->llen) {
		p->line[p->llen] = '\0';
		if (plain_sentinel(p->line)) {
			struct serial_event ev = {
				.kind = SERIAL_EV_RECORD,
				.header = p->line,
				.data = (const uint8_t *)p->line, /* len 0: never read */
				.plain = true};
			flush_text(p, fn, opaque);
			fn(opaque, &ev);
		}
	}
	p->llen = 0;
	p->line_ok = true;
}

/* One unframed byte: text, and part of the current line while that can be a sentinel. */
static void text_byte(struct serial_parser *p, uint8_t c, serial_event_fn fn, void *opaque)
{
	add_text(p, &c, 1, fn, opaque);
	p->line_start = c == '\n';
	if (c == '\n') {
		end_line(p, fn, opaque);
		return;
	}
	if (!p->line_ok)
		return;
	/* Printable bytes, and one CR only as the last before LF (a tty's CR LF). */
	if (p->llen == SERIAL_HEADER_MAX || (c < 0x20 && c != '\r') || c == 0x7F ||
	    (p->llen && p->line[p->llen - 1] == '\r'))
		p->line_ok = false;
	else
		p->line[p->llen++] = (char)c;
}

void serial_parser_feed(struct serial_parser *p, const uint8_t *b, size_t n, serial_event_fn fn,
			void *opaque)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = b[i];

		switch (p->state) {
		case SP_TEXT:
			if (c == SERIAL_RS) {
				flush_text(p, fn, opaque);
				p->state = SP_HEADER;
				p->hlen = 0;
				/* Whatever follows is no longer at a line start. */
				p->line_ok = false;
			} else {
				text_byte(p, c, fn, opaque);
			}
			break;
		case SP_HEADER:
			if (c == '\n' && p->hlen > 0) {
				p->header[p->hlen] = '\0';
				if (!header_body_len(p->header, &p->bwant)) {
					/* Not a record after all: give the bytes back as text. */
					uint8_t rs = SERIAL_RS;
					add_text(p, &rs, 1, fn, opaque);
					add_text(p, (const uint8_t *)p->header, p->hlen, fn,
						 opaque);
					add_text(p, &c, 1, fn, opaque);
					p->state = SP_TEXT;
					break;
				}
				p->blen = 0;
				if (p->bwant == 0)
					emit_record(p, fn, opaque);
				else
					p->state = SP_BODY;
			} else if (c < 0x20 || c == 0x7F || p->hlen == SERIAL_HEADER_MAX) {
				uint8_t rs = SERIAL_RS;
				add_text(p, &rs, 1, fn, opaque);
				add_text(p, (const uint8_t *)p->header, p->hlen, fn, opaque);
				p->state = SP_TEXT;
				i--; /* re-read this byte as text (it may be another RS) */
			} else {
				p->header[p->hlen++] = (char)c;
			}
			break;
		case SP_BODY:
			p->body[p->blen++] = c;
			if (p->blen == p->bwant)
				emit_record(p, fn, opaque);
			break;
		}
	}
	if (p->state == SP_TEXT)
		flush_text(p, fn, opaque);
}

void serial_parser_finish(struct serial_parser *p, serial_event_fn fn, void *opaque)
{
	if (p->state == SP_HEADER) {
		uint8_t rs = SERIAL_RS;
		add_text(p, &rs, 1, fn, opaque);
		add_text(p, (const uint8_t *)p->header, p->hlen, fn, opaque);
	} else if (p->state == SP_BODY) {
		p->header[p->hlen] = '\0';
		struct serial_event ev = {.kind = SERIAL_EV_TRUNCATED,
					  .header = p->header,
					  .data = p->body,
					  .len = p->blen,
					  .want = p->bwant};
		fn(opaque, &ev);
	}
	p->state = SP_TEXT;
	/* A sentinel line cut by the end of the stream still counts (a guest that died mid-line). */
	end_line(p, fn, opaque);
	flush_text(p, fn, opaque);
}
