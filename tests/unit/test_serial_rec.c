// SPDX-License-Identifier: MIT
/* specs/guest-protocol.md §5.5: COM2 records. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "proto/serial_rec.h"

struct got {
	char kinds[32];
	char headers[8][256];
	uint8_t bodies[8][64];
	size_t blen[8];
	char text[512];
	size_t tlen;
	unsigned nrec;
	size_t want;
};

static void on_ev(void *opaque, const struct serial_event *ev)
{
	struct got *g = opaque;
	size_t k = strlen(g->kinds);

	if (ev->kind == SERIAL_EV_TEXT) {
		memcpy(g->text + g->tlen, ev->data, ev->len);
		g->tlen += ev->len;
		if (!k || g->kinds[k - 1] != 'T')
			g->kinds[k] = 'T';
		return;
	}
	g->kinds[k] = ev->kind == SERIAL_EV_RECORD ? 'R' : 'X';
	snprintf(g->headers[g->nrec], 256, "%s", ev->header);
	memcpy(g->bodies[g->nrec], ev->data, ev->len);
	g->blen[g->nrec] = ev->len;
	g->want = ev->want;
	g->nrec++;
}

Test(serial_rec, round_trip_with_rs_lf_and_nul_in_the_body) /* §5.5 #38 */
{
	uint8_t buf[256];
	const uint8_t body[] = {0x1E, '\n', 0, 'x'};
	struct serial_parser p;
	struct got g = {0};
	size_t n = serial_record_encode(buf, sizeof(buf), "KTSTR_SOUT n=4", body, 4);

	n += serial_record_encode(buf + n, sizeof(buf) - n, "KTSTR_DONE result=0 records=1", NULL,
				  0);
	serial_parser_init(&p);
	serial_parser_feed(&p, buf, n, on_ev, &g);
	serial_parser_finish(&p, on_ev, &g);
	cr_assert_eq(g.nrec, 2u);
	cr_assert_str_eq(g.headers[0], "KTSTR_SOUT n=4");
	cr_assert_eq(g.blen[0], 4u);
	cr_assert_arr_eq(g.bodies[0], body, 4);
	cr_assert_str_eq(g.headers[1], "KTSTR_DONE result=0 records=1");
}

Test(serial_rec, header_control_characters_become_spaces)
{
	uint8_t buf[64];
	size_t n = serial_record_encode(buf, sizeof(buf), "msg=a\nb", NULL, 0);

	cr_assert_eq(n, 9u);
	cr_assert_arr_eq(buf, "\x1emsg=a b\n", 9);
}

Test(serial_rec, unframed_text_around_records_is_kept_in_order) /* §5.5 #39 */
{
	uint8_t buf[256];
	struct serial_parser p;
	struct got g = {0};
	size_t n = 0;

	memcpy(buf, "before ", 7);
	n = 7;
	n += serial_record_encode(buf + n, sizeof(buf) - n, "KTSTR_PROTO=virtio port=x", NULL, 0);
	memcpy(buf + n, "after", 5);
	n += 5;
	serial_parser_init(&p);
	serial_parser_feed(&p, buf, n, on_ev, &g);
	serial_parser_finish(&p, on_ev, &g);
	cr_assert_str_eq(g.kinds, "TRT");
	cr_assert_eq(g.tlen, 12u);
	cr_assert_arr_eq(g.text, "before after", 12);
}

Test(serial_rec, rs_without_a_header_line_is_text) /* §5.5 #40 */
{
	uint8_t buf[400];
	struct serial_parser p;
	struct got g = {0};

	buf[0] = 0x1E;
	memset(buf + 1, 'a', 300);
	memcpy(buf + 301, "\n", 1);
	serial_parser_init(&p);
	serial_parser_feed(&p, buf, 302, on_ev, &g);
	serial_parser_finish(&p, on_ev, &g);
	cr_assert_eq(g.nrec, 0u);
	cr_assert_eq(g.tlen, 302u);
}

Test(serial_rec, body_cut_short_is_reported_truncated) /* §5.5 #41 */
{
	uint8_t buf[64];
	struct serial_parser p;
	struct got g = {0};
	size_t n = serial_record_encode(buf, sizeof(buf), "KTSTR_SOUT n=10", "0123456789", 10);

	serial_parser_init(&p);
	serial_parser_feed(&p, buf, n - 4, on_ev, &g);
	serial_parser_finish(&p, on_ev, &g);
	cr_assert_str_eq(g.kinds, "X");
	cr_assert_eq(g.blen[0], 6u);
	cr_assert_eq(g.want, 10u);
}

static void feed_str(struct serial_parser *p, const char *s, struct got *g, bool bytewise)
{
	size_t n = strlen(s);

	if (!bytewise) {
		serial_parser_feed(p, (const uint8_t *)s, n, on_ev, g);
		return;
	}
	for (size_t i = 0; i < n; i++)
		serial_parser_feed(p, (const uint8_t *)s + i, 1, on_ev, g);
}

/* §5.5 #42: the reference's plain sentinel lines are records too, after their text. */
Test(serial_rec, plain_exec_exit_line_at_a_line_start_is_recognised) /* §5.5 #42 */
{
	static const char in[] = "boot noise\nKTSTR_EXEC_EXIT=7\nmore";

	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct serial_parser p;
		struct got g = {0};

		serial_parser_init(&p);
		feed_str(&p, in, &g, bytewise);
		serial_parser_finish(&p, on_ev, &g);
		cr_assert_str_eq(g.kinds, "TRT", "bytewise=%d", bytewise);
		cr_assert_str_eq(g.headers[0], "KTSTR_EXEC_EXIT=7");
		cr_assert_eq(g.blen[0], 0u);
		/* The line is still unframed text, in order, byte for byte. */
		cr_assert_eq(g.tlen, sizeof(in) - 1);
		cr_assert_arr_eq(g.text, in, sizeof(in) - 1);
	}
}

Test(serial_rec, plain_exec_exit_in_mid_line_is_not_recognised) /* §5.5 #42 */
{
	struct serial_parser p;
	struct got g = {0};

	serial_parser_init(&p);
	feed_str(&p, "echo KTSTR_EXEC_EXIT=7\nx PANIC: no\n", &g, false);
	serial_parser_finish(&p, on_ev, &g);
	cr_assert_eq(g.nrec, 0u);
	cr_assert_str_eq(g.kinds, "T");
}

Test(serial_rec, plain_panic_and_init_started_lines_with_crlf_are_recognised)
{
	struct serial_parser p;
	struct got g = {0};

	serial_parser_init(&p);
	feed_str(&p, "KTSTR_INIT_STARTED\r\nPANIC: attempted to kill init\r\n", &g, true);
	serial_parser_finish(&p, on_ev, &g);
	cr_assert_eq(g.nrec, 2u);
	cr_assert_str_eq(g.headers[0], "KTSTR_INIT_STARTED");
	cr_assert_str_eq(g.headers[1], "PANIC: attempted to kill init");
}

Test(serial_rec, plain_sentinel_cut_by_the_end_of_the_stream_still_counts)
{
	struct serial_parser p;
	struct got g = {0};

	serial_parser_init(&p);
	feed_str(&p, "x\nKTSTR_EXEC_EXIT=3", &g, false);
	cr_assert_eq(g.nrec, 0u, "not before the line or the stream ends");
	serial_parser_finish(&p, on_ev, &g);
	cr_assert_eq(g.nrec, 1u);
	cr_assert_str_eq(g.headers[0], "KTSTR_EXEC_EXIT=3");
}

Test(serial_rec, plain_line_after_a_framed_record_is_at_a_line_start)
{
	uint8_t buf[128];
	struct serial_parser p;
	struct got g = {0};
	size_t n = serial_record_encode(buf, sizeof(buf), "KTSTR_PAYLOAD_STARTING t=1", NULL, 0);

	memcpy(buf + n, "PANIC: oops\n", 12);
	serial_parser_init(&p);
	serial_parser_feed(&p, buf, n + 12, on_ev, &g);
	serial_parser_finish(&p, on_ev, &g);
	cr_assert_eq(g.nrec, 2u);
	cr_assert_str_eq(g.headers[1], "PANIC: oops");
}

Test(serial_rec, text_given_back_by_a_broken_header_is_mid_line)
{
	static const uint8_t in[] = {SERIAL_RS, 'x', '\t', 'K', 'T', 'S', 'T', 'R', '_', 'E', 'X',
				     'E',	'C', '_',  'E', 'X', 'I', 'T', '=', '1', '\n'};
	struct serial_parser p;
	struct got g = {0};

	serial_parser_init(&p);
	serial_parser_feed(&p, in, sizeof(in), on_ev, &g);
	serial_parser_finish(&p, on_ev, &g);
	cr_assert_eq(g.nrec, 0u);
	cr_assert_eq(g.tlen, sizeof(in));
}

Test(serial_rec, overlong_plain_line_is_only_text)
{
	char in[400];
	struct serial_parser p;
	struct got g = {0};

	memset(in, 'A', sizeof(in));
	memcpy(in, "PANIC:", 6);
	in[sizeof(in) - 1] = '\n';
	serial_parser_init(&p);
	serial_parser_feed(&p, (const uint8_t *)in, sizeof(in), on_ev, &g);
	serial_parser_finish(&p, on_ev, &g);
	cr_assert_eq(g.nrec, 0u);
}
