// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the host's COM2 record parser (specs/guest-protocol.md
 * §2.7, §5.5 #43). COM2 is written by port I/O from a guest that may be
 * crashing, so the parser sees arbitrary bytes cut at arbitrary points.
 *
 * The first input byte picks one of two programs:
 *
 * Arbitrary stream: the input (after a table of feed sizes) is fed in chunks
 * of those sizes, then serial_parser_finish() runs twice. Checked:
 *   - TEXT events carry 1..sizeof(text) bytes; RECORD and TRUNCATED headers
 *     are 1..SERIAL_HEADER_MAX printable bytes, NUL-terminated; a RECORD
 *     body has exactly the length its header announces (<= SERIAL_BODY_MAX);
 *     TRUNCATED comes only from finish, with len < want <= SERIAL_BODY_MAX;
 *   - no event once finish has returned (the second finish is silent);
 *   - nothing is lost or invented: the events, put back on the wire
 *     (RS header LF body for records), rebuild the input byte for byte;
 *   - a plain sentinel RECORD (§2.7 leniency) has no body, a sentinel
 *     header, and follows the text that ends with exactly that line; it adds
 *     nothing to the wire;
 *   - the split does not matter: fed whole, the same records (plain ones
 *     included) come out at the same stream offsets.
 *
 * Round trip: records built from the input (headers with control bytes,
 * bodies up to SERIAL_BODY_MAX holding RS/LF/NUL, unframed text between
 * them) are encoded with serial_record_encode() and fed in random splits;
 * the parser must give back exactly those records and that text, in order.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "proto/serial_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MARKS  (STREAM_MAX / 3 + 1) /* a record takes at least 3 bytes */
#define MAX_SPLITS 16u
#define STREAM_MAX (64u * 1024)

/* Where a record (or the truncated one) sits in the rebuilt stream. */
struct mark {
	enum serial_ev kind;
	size_t start, len;
};

struct sink {
	uint8_t *wire; /* the stream rebuilt from the events */
	size_t len, cap;
	struct mark marks[MAX_MARKS];
	size_t nmarks;
	bool in_finish, finished, truncated;
};

static void wire_put(struct sink *s, const void *b, size_t n)
{
	FZ_CHECK(s->len + n <= s->cap); /* more out than in: the parser invented bytes */
	memcpy(s->wire + s->len, b, n);
	s->len += n;
}

/* The body length a header announces, read independently of the parser. */
static bool announced_len(const char *h, size_t *want)
{
	const char *n = strstr(h, " n=");
	size_t v = 0;

	*want = 0;
	if (!n)
		return true;
	n += 3;
	if (*n < '0' || *n > '9')
		return false;
	for (; *n >= '0' && *n <= '9'; n++) {
		v = v * 10 + (size_t)(*n - '0');
		if (v > SERIAL_BODY_MAX)
			return false;
	}
	*want = v;
	return true;
}

static size_t check_header(const char *h)
{
	size_t hl = strnlen(h, SERIAL_HEADER_MAX + 1);

	FZ_CHECK(hl >= 1 && hl <= SERIAL_HEADER_MAX);
	for (size_t i = 0; i < hl; i++)
		FZ_CHECK((uint8_t)h[i] >= 0x20 && (uint8_t)h[i] != 0x7F);
	return hl;
}

/*
 * A plain sentinel: the wire so far (all text has been flushed before it)
 * ends with the line, then LF or CR LF, or at the end of the stream with
 * nothing or CR; the line itself starts the stream or follows an LF or a
 * record.
 */
static void check_plain(const struct sink *s, const char *h, size_t hl, size_t len)
{
	static const char *const words[] = {"KTSTR_EXEC_EXIT=", "KTSTR_INIT_STARTED", "PANIC:"};
	size_t end = s->len, tail = 0;
	bool word = false;

	FZ_CHECK(len == 0);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		word |= !strncmp(h, words[i], strlen(words[i]));
	FZ_CHECK(word);
	if (end && s->wire[end - 1] == '\n')
		tail = 1;
	else
		FZ_CHECK(s->in_finish);
	if (end > tail && s->wire[end - tail - 1] == '\r')
		tail++;
	FZ_CHECK(end >= tail + hl && !memcmp(s->wire + end - tail - hl, h, hl));
	size_t p0 = end - tail - hl;
	bool at_start = p0 == 0 || s->wire[p0 - 1] == '\n';
	for (size_t i = s->nmarks; i-- > 0 && !at_start;)
		at_start = s->marks[i].len && s->marks[i].start + s->marks[i].len == p0;
	FZ_CHECK(at_start);
}

static void on_event(void *opaque, const struct serial_event *ev)
{
	struct sink *s = opaque;
	uint8_t rs = SERIAL_RS, lf = '\n';
	size_t hl, want, start = s->len;

	FZ_CHECK(!s->finished);
	switch (ev->kind) {
	case SERIAL_EV_TEXT:
		FZ_CHECK(ev->data && ev->len >= 1 &&
			 ev->len <= sizeof(((struct serial_parser *)0)->text));
		wire_put(s, ev->data, ev->len);
		return;
	case SERIAL_EV_RECORD:
		hl = check_header(ev->header);
		if (ev->plain) {
			check_plain(s, ev->header, hl, ev->len);
			FZ_CHECK(s->nmarks < MAX_MARKS);
			s->marks[s->nmarks++] = (struct mark){ev->kind, start, 0};
			return;
		}
		FZ_CHECK(announced_len(ev->header, &want));
		FZ_CHECK(ev->len == want);
		break;
	case SERIAL_EV_TRUNCATED:
		FZ_CHECK(s->in_finish && !s->truncated);
		s->truncated = true;
		hl = check_header(ev->header);
		FZ_CHECK(announced_len(ev->header, &want));
		FZ_CHECK(ev->want == want && ev->len < ev->want && ev->want <= SERIAL_BODY_MAX);
		break;
	default:
		FZ_CHECK(0);
		return;
	}
	wire_put(s, &rs, 1);
	wire_put(s, ev->header, hl);
	wire_put(s, &lf, 1);
	if (ev->len)
		wire_put(s, ev->data, ev->len);
	FZ_CHECK(s->nmarks < MAX_MARKS);
	s->marks[s->nmarks++] = (struct mark){ev->kind, start, s->len - start};
}

static void sink_init(struct sink *s, uint8_t *wire, size_t cap)
{
	/* Field by field: clearing marks[] on every run would dominate the cost. */
	s->wire = wire;
	s->len = 0;
	s->cap = cap;
	s->nmarks = 0;
	s->in_finish = s->finished = s->truncated = false;
}

static void finish_twice(struct serial_parser *p, struct sink *s)
{
	s->in_finish = true;
	serial_parser_finish(p, on_event, s);
	s->in_finish = false;
	s->finished = true;
	serial_parser_finish(p, on_event, s);
}

/*
 * Feed b in chunks whose sizes cycle through sizes[] (0 is a legal empty
 * feed); with no non-zero size the rest goes in one piece.
 */
static void feed_split(struct serial_parser *p, struct sink *s, const uint8_t *b, size_t n,
		       const size_t *sizes, size_t nsizes)
{
	bool any = false;
	size_t pos = 0;

	for (size_t i = 0; i < nsizes; i++)
		any |= sizes[i] != 0;
	for (size_t i = 0; pos < n; i++) {
		size_t c = any ? sizes[i % nsizes] : n - pos;
		if (c > n - pos)
			c = n - pos;
		serial_parser_feed(p, b + pos, c, on_event, s);
		pos += c;
	}
}

static void run_stream(struct fz_in *in)
{
	static struct serial_parser p;
	static struct sink split, whole;
	size_t sizes[MAX_SPLITS], nsizes = fz_take(in, 1) % (MAX_SPLITS + 1);
	uint8_t *wire1, *wire2;

	for (size_t i = 0; i < nsizes; i++)
		sizes[i] = fz_take(in, 2) % 1024;
	wire1 = malloc(in->n + 1);
	wire2 = malloc(in->n + 1);
	FZ_CHECK(wire1 && wire2);

	serial_parser_init(&p);
	sink_init(&split, wire1, in->n);
	feed_split(&p, &split, in->p, in->n, sizes, nsizes);
	finish_twice(&p, &split);
	FZ_CHECK(split.len == in->n && !memcmp(split.wire, in->p, in->n));

	serial_parser_init(&p);
	sink_init(&whole, wire2, in->n);
	serial_parser_feed(&p, in->p, in->n, on_event, &whole);
	finish_twice(&p, &whole);
	FZ_CHECK(whole.len == in->n);
	FZ_CHECK(whole.nmarks == split.nmarks);
	for (size_t i = 0; i < whole.nmarks; i++)
		FZ_CHECK(whole.marks[i].kind == split.marks[i].kind &&
			 whole.marks[i].start == split.marks[i].start &&
			 whole.marks[i].len == split.marks[i].len);
	free(wire1);
	free(wire2);
}

/* Small deterministic generator for bodies and splits larger than the input. */
static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

#define RT_MAX_RECORDS 8u

struct rt_item {
	bool record;
	char header[SERIAL_HEADER_MAX + 1];
	size_t off, len; /* body or text, inside the stream */
};

struct rt_sink {
	const uint8_t *stream;
	struct rt_item *want;
	size_t nwant, next;
	uint8_t text[STREAM_MAX]; /* unframed text since the last record */
	size_t tlen;
};

/* Compare pending text with the expected text item, if any. */
static void rt_close_text(struct rt_sink *s)
{
	if (!s->tlen)
		return;
	FZ_CHECK(s->next < s->nwant && !s->want[s->next].record);
	FZ_CHECK(s->want[s->next].len == s->tlen &&
		 !memcmp(s->stream + s->want[s->next].off, s->text, s->tlen));
	s->next++;
	s->tlen = 0;
}

static void rt_event(void *opaque, const struct serial_event *ev)
{
	struct rt_sink *s = opaque;
	const struct rt_item *w;

	if (ev->kind == SERIAL_EV_TEXT) {
		FZ_CHECK(s->tlen + ev->len <= sizeof(s->text));
		memcpy(s->text + s->tlen, ev->data, ev->len);
		s->tlen += ev->len;
		return;
	}
	FZ_CHECK(ev->kind == SERIAL_EV_RECORD);
	if (ev->plain)
		return; /* generated text may hold a sentinel line; not one of ours */
	rt_close_text(s);
	FZ_CHECK(s->next < s->nwant);
	w = &s->want[s->next++];
	FZ_CHECK(w->record && !strcmp(w->header, ev->header));
	FZ_CHECK(ev->len == w->len && !memcmp(s->stream + w->off, ev->data, ev->len));
}

/*
 * A header the parser will read back unchanged apart from the encoder's
 * documented sanitising: no NUL (it would end the C string), no '=' in the
 * free text (so the only " n=" is ours), the length suffix when a body
 * follows, and at most SERIAL_HEADER_MAX bytes unless the test wants the
 * encoder's cut (then no body).
 */
static size_t rt_header(struct fz_in *in, char *raw, size_t cap, char *expect, size_t body)
{
	size_t n = fz_take(in, 1), len = 0;
	bool suffix = body || (n & 1);

	if (!suffix)
		n = n + fz_take(in, 1); /* up to 510: past the header cap */
	else
		n %= 200;
	for (size_t i = 0; i < n && len + 1 < cap; i++) {
		char c = (char)fz_take(in, 1);
		raw[len++] = c == '\0' ? 'x' : c == '=' ? ':' : c;
	}
	if (suffix)
		len += (size_t)snprintf(raw + len, cap - len, " n=%zu", body);
	if (len == 0)
		raw[len++] = 'K';
	raw[len] = '\0';
	/* What the parser must report: control bytes as spaces, cut at the cap. */
	size_t hl = len < SERIAL_HEADER_MAX ? len : SERIAL_HEADER_MAX;
	for (size_t i = 0; i < hl; i++) {
		uint8_t c = (uint8_t)raw[i];
		expect[i] = (c < 0x20 || c == 0x7F) ? ' ' : (char)c;
	}
	expect[hl] = '\0';
	return hl;
}

static void run_roundtrip(struct fz_in *in)
{
	static uint8_t stream[STREAM_MAX];
	static struct rt_item items[2 * RT_MAX_RECORDS + 1];
	static struct rt_sink sink;
	static struct serial_parser p;
	char raw[600];
	size_t nrec = 1 + fz_take(in, 1) % RT_MAX_RECORDS, len = 0, nitems = 0;
	uint32_t rng = (uint32_t)fz_take(in, 4) | 1;

	for (size_t r = 0; r < nrec; r++) {
		size_t tn = fz_take(in, 1) % 48, body, hl, rec;
		struct rt_item *it;

		/* Unframed text before the record; an RS there would open a header. */
		if (tn) {
			it = &items[nitems++];
			it->record = false;
			it->off = len;
			it->len = tn;
			for (size_t i = 0; i < tn; i++) {
				uint8_t c = (uint8_t)fz_take(in, 1);
				stream[len++] = c == SERIAL_RS ? '.' : c;
			}
		}
		body = fz_take(in, 2) % (SERIAL_BODY_MAX + 1);
		if (fz_take(in, 1) & 1)
			body %= 32;
		it = &items[nitems++];
		it->record = true;
		hl = rt_header(in, raw, sizeof(raw), it->header, body);
		uint8_t *b = malloc(body + 1);
		FZ_CHECK(b);
		for (size_t i = 0; i < body; i++)
			b[i] = (uint8_t)(xorshift(&rng) >> 24);

		/* The encoder refuses one byte too few and fills exactly what it returns. */
		FZ_CHECK(serial_record_encode(stream + len, hl + 1 + body, raw, b, body) == 0);
		rec = serial_record_encode(stream + len, sizeof(stream) - len, raw, b, body);
		FZ_CHECK(rec == 1 + hl + 1 + body);
		FZ_CHECK(stream[len] == SERIAL_RS && stream[len + 1 + hl] == '\n');
		FZ_CHECK(!memcmp(stream + len + 1, it->header, hl));
		FZ_CHECK(!memcmp(stream + len + 2 + hl, b, body));
		it->off = len + 2 + hl;
		it->len = body;
		len += rec;
		free(b);
	}
	/* Text after the last record comes out at the end of the feed or at finish. */
	size_t tail = fz_take(in, 1) % 48;
	if (tail) {
		items[nitems++] = (struct rt_item){.record = false, .off = len, .len = tail};
		for (size_t i = 0; i < tail; i++) {
			uint8_t c = (uint8_t)(xorshift(&rng) >> 24);
			stream[len++] = c == SERIAL_RS ? '.' : c;
		}
	}

	sink.stream = stream;
	sink.want = items;
	sink.nwant = nitems;
	sink.next = sink.tlen = 0;
	serial_parser_init(&p);
	for (size_t pos = 0; pos < len;) {
		size_t c = xorshift(&rng) % 700;
		if (c > len - pos)
			c = len - pos;
		serial_parser_feed(&p, stream + pos, c, rt_event, &sink);
		pos += c;
	}
	serial_parser_finish(&p, rt_event, &sink);
	rt_close_text(&sink);
	FZ_CHECK(sink.next == nitems);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};

	if (size > STREAM_MAX)
		return 0;
	if (fz_take(&in, 1) & 1)
		run_roundtrip(&in);
	else
		run_stream(&in);
	return 0;
}
