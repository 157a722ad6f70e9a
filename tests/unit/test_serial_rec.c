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
