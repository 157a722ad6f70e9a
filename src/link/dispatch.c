// SPDX-License-Identifier: MIT
/*
 * Host side of the guest link: what each frame and COM2 record does to the
 * run (specs/guest-protocol.md §4.3, §2.7).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/compiler.h"
#include "link/run.h"

#define DMESG_CAP (4u * 1024 * 1024)

static const char *const sev_names[] = {"info", "warning", "error", "fatal"};

static const char *const ierr_names[] = {
	"?",
	"MOUNT",
	"MODULE_OPEN",
	"MODULE_LOAD",
	"MODULE_COMPRESSION",
	"INITRAMFS_INCOMPLETE",
	"CONFIG",
	"PORT",
	"STDIO",
	"SPAWN",
	"DRAIN_TIMEOUT",
	"LEFTOVER_PROCS",
	"HOST_STREAM",
	"PORT_IO",
	"DMESG",
	"SIGNAL_DELIVERY",
	"INTERNAL",
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void run_init(struct run *r, int out_fd, int err_fd, FILE *diag)
{
	struct proto_reader_cfg cfg = {
		.max_payload = PROTO_MAX_PAYLOAD, .resync = true, .dir = PROTO_G2H};

	memset(r, 0, sizeof(*r));
	proto_reader_init(&r->reader, &cfg);
	serial_parser_init(&r->com2);
	r->out_fd = out_fd;
	r->err_fd = err_fd;
	r->diag = diag;
	r->t0_ms = mono_ms();
}

void run_destroy(struct run *r)
{
	proto_reader_destroy(&r->reader);
	free(r->dmesg);
	r->dmesg = NULL;
}

/* Write everything; EPIPE marks the fd broken for the rest of the run (§4.3). */
static void write_out(int fd, bool *broken, const void *b, size_t n)
{
	const uint8_t *p = b;

	while (n && !*broken) {
		ssize_t w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			poll(&pfd, 1, 1000);
		} else {
			*broken = true;
		}
	}
}

static void record_phase(struct run *r, uint8_t phase, uint64_t guest_ns)
{
	r->last_phase = phase;
	if (r->nphases < RUN_MAX_PHASES)
		r->phases[r->nphases++] = (struct run_phase){
			.phase = phase, .guest_ns = guest_ns, .host_ms = mono_ms() - r->t0_ms};
}

static void record_ierr(struct run *r, const struct proto_ierr *m, const char *text, size_t len)
{
	if (m->severity >= PROTO_SEV_FATAL)
		r->fatal_ierr = true;
	if (r->nierr < RUN_MAX_IERR) {
		struct run_ierr *e = &r->ierr[r->nierr++];
		e->m = *m;
		snprintf(e->text, sizeof(e->text), "%.*s", (int)len, text);
	}
	if (m->severity >= PROTO_SEV_WARNING || r->verbose)
		fprintf(r->diag, "ktstr: guest init %s: %s: %.*s%s%s\n",
			sev_names[MIN(m->severity, (unsigned)PROTO_SEV_FATAL)],
			m->code < sizeof(ierr_names) / sizeof(ierr_names[0]) ? ierr_names[m->code]
									     : "?",
			(int)len, text, m->err ? ": " : "", m->err ? strerror(m->err) : "");
}

static void append_dmesg(struct run *r, const struct proto_dmsg *m, const uint8_t *text, size_t len)
{
	if (m->dump_id != r->dmesg_id) {
		/* A new dump replaces the previous one: the report shows the latest. */
		r->dmesg_id = m->dump_id;
		r->dmesg_len = 0;
	}
	if (r->dmesg_len + len > DMESG_CAP)
		len = DMESG_CAP - r->dmesg_len;
	char *nb = realloc(r->dmesg, r->dmesg_len + len + 1);
	if (!nb)
		return;
	r->dmesg = nb;
	memcpy(r->dmesg + r->dmesg_len, text, len);
	r->dmesg_len += len;
	r->dmesg[r->dmesg_len] = '\0';
}

static void on_frame(struct run *r, const struct proto_event *ev)
{
	const uint8_t *p = ev->payload;
	uint32_t n = ev->len;

	if (r->done_seen) {
		r->data_after_done = true;
		return;
	}
	if (!r->helo && ev->tag != PROTO_HELO)
		r->first_frame_not_helo = true;
	switch (ev->tag) {
	case PROTO_HELO:
		if (!proto_helo_decode(p, n, &r->helo_msg)) {
			r->helo = true;
			if (r->helo_msg.major != PROTO_VERSION_MAJOR)
				r->helo_major_mismatch = true;
		}
		break;
	case PROTO_LIFE: {
		struct proto_life l;
		if (!proto_life_decode(p, n, &l))
			record_phase(r, l.phase, l.t_ns);
		break;
	}
	case PROTO_SOUT:
		r->out_bytes += n;
		write_out(r->out_fd, &r->out_broken, p, n);
		break;
	case PROTO_SERR:
		r->err_bytes += n;
		write_out(r->err_fd, &r->err_broken, p, n);
		break;
	case PROTO_EXCX:
		/* The first one wins; a second is a protocol warning only. */
		if (!r->excx_seen && !proto_excx_decode(p, n, &r->excx))
			r->excx_seen = true;
		break;
	case PROTO_DMSG: {
		struct proto_dmsg m;
		if (!proto_dmsg_decode(p, n, &m))
			append_dmesg(r, &m, p + PROTO_DMSG_SIZE, n - PROTO_DMSG_SIZE);
		break;
	}
	case PROTO_IERR: {
		struct proto_ierr m;
		if (!proto_ierr_decode(p, n, &m))
			record_ierr(r, &m, (const char *)p + PROTO_IERR_SIZE, n - PROTO_IERR_SIZE);
		break;
	}
	case PROTO_CRSH:
		r->crash_frame = true;
		snprintf(r->crash_text, sizeof(r->crash_text), "%.*s", (int)n, (const char *)p);
		break;
	case PROTO_PONG: {
		struct proto_pong m;
		if (!proto_pong_decode(p, n, &m)) {
			r->pong = m;
			r->pongs++;
			r->pong_host_ms = mono_ms() - r->t0_ms;
		}
		break;
	}
	case PROTO_DONE:
		if (proto_done_decode(p, n, &r->done))
			break;
		r->done_seen = true;
		if (r->done.frames != r->frames_before_done ||
		    r->done.bytes != r->bytes_before_done)
			r->done_mismatch = true;
		break;
	default:
		break;
	}
}

static void on_bulk_event(void *opaque, const struct proto_event *ev)
{
	struct run *r = opaque;

	if (ev->kind == PROTO_EV_FRAME) {
		/* A frame that passed its CRC came from a running init (§4.5.2). */
		r->life_events++;
		on_frame(r, ev);
	} else if (ev->kind != PROTO_EV_RESYNC) {
		if (!r->stream_damaged)
			r->first_bad_offset = ev->offset;
		r->stream_damaged = true;
	}
	/* DONE counts every frame before it, damaged ones included (§2.2.9). */
	if (!r->done_seen) {
		r->frames_before_done = r->reader.stats.frames;
		r->bytes_before_done = r->reader.stats.bytes;
	}
}

void run_feed_bulk(struct run *r, const void *b, size_t n)
{
	proto_reader_feed(&r->reader, b, n, on_bulk_event, r);
}

static bool header_has(const char *h, const char *prefix)
{
	return !strncmp(h, prefix, strlen(prefix));
}

/*
 * Fallback mode reports phases as "KTSTR_PHASE=payload_starting t=<ns>"
 * (§2.7): the lower-case name of a §2.2.2 phase. Recording them gives serial
 * runs the same stage line and, through PAYLOAD_STARTING, the same command
 * --timeout and silence clock as virtio runs.
 */
static void record_named_phase(struct run *r, const char *h)
{
	unsigned long long t = 0;
	char name[40];

	if (!r->serial_transport || sscanf(h, "KTSTR_PHASE=%39s t=%llu", name, &t) < 1)
		return;
	for (unsigned v = 1; v <= UINT8_MAX; v++) {
		const char *known = proto_phase_name((uint8_t)v);
		if (known && !strcasecmp(known, name)) {
			record_phase(r, (uint8_t)v, t);
			return;
		}
	}
}

static void on_com2_record(struct run *r, const struct serial_event *ev)
{
	const char *h = ev->header;

	if (header_has(h, "KTSTR_SOUT ")) {
		r->out_bytes += ev->len;
		write_out(r->out_fd, &r->out_broken, ev->data, ev->len);
	} else if (header_has(h, "KTSTR_SERR ")) {
		r->err_bytes += ev->len;
		write_out(r->err_fd, &r->err_broken, ev->data, ev->len);
	} else if (header_has(h, "KTSTR_PROTO=serial")) {
		r->serial_transport = true;
		fprintf(r->diag,
			"ktstr: warning: bulk port unavailable (%s); using the serial "
			"channel\n",
			strstr(h, "reason=") ? strstr(h, "reason=") + 7 : "unknown");
	} else if (header_has(h, "KTSTR_PHASE=")) {
		record_named_phase(r, h);
	} else if (header_has(h, "KTSTR_EXEC_EXIT=")) {
		int code = 0, value = 0, core = 0;
		char how[16] = "";
		/* ev->plain: the reference's bare "KTSTR_EXEC_EXIT=<code>" line (§2.7). */
		int fields = sscanf(h, "KTSTR_EXEC_EXIT=%d how=%15s value=%d core=%d", &code, how,
				    &value, &core);
		if ((fields >= 2 || (fields == 1 && ev->plain)) && !r->excx_seen) {
			r->excx_seen = true;
			r->excx.code = code;
			r->excx.how = !strcmp(how, "signaled")	   ? PROTO_HOW_SIGNALED
				      : !strcmp(how, "notstarted") ? PROTO_HOW_NOT_STARTED
								   : PROTO_HOW_EXITED;
			if (r->excx.how == PROTO_HOW_SIGNALED)
				r->excx.signo = (uint8_t)value;
			if (core)
				r->excx.flags |= PROTO_EXCX_CORE;
		}
	} else if (header_has(h, "KTSTR_INIT_ERROR ")) {
		struct proto_ierr m = {0};
		unsigned code = 0;
		char sev[8] = "";
		int err = 0;
		const char *msg = strstr(h, " msg=");
		sscanf(h, "KTSTR_INIT_ERROR code=%u sev=%7s errno=%d", &code, sev, &err);
		m.code = (uint16_t)code;
		m.err = err;
		m.severity = !strcmp(sev, "fatal")   ? PROTO_SEV_FATAL
			     : !strcmp(sev, "error") ? PROTO_SEV_ERROR
			     : !strcmp(sev, "warn")  ? PROTO_SEV_WARNING
						     : PROTO_SEV_INFO;
		msg = msg ? msg + 5 : "";
		record_ierr(r, &m, msg, strlen(msg));
	} else if (header_has(h, "PANIC:")) {
		r->com2_panic = true;
		snprintf(r->crash_text, sizeof(r->crash_text), "%s", h);
	} else if (header_has(h, "KTSTR_DONE ")) {
		int result = 0;
		if (sscanf(h, "KTSTR_DONE result=%d", &result) == 1 && r->serial_transport) {
			r->done_seen = true;
			r->done.result = result;
		}
	} else if (header_has(h, "KTSTR_DMESG ")) {
		struct proto_dmsg m = {.dump_id = r->dmesg_id ? r->dmesg_id : 1};
		append_dmesg(r, &m, ev->data, ev->len);
	}
}

static void on_com2_event(void *opaque, const struct serial_event *ev)
{
	struct run *r = opaque;

	if (ev->kind == SERIAL_EV_RECORD) {
		/* Only init writes records; stray kernel text on COM2 is not one. */
		r->life_events++;
		on_com2_record(r, ev);
	} else if (ev->kind == SERIAL_EV_TRUNCATED && r->serial_transport)
		r->stream_damaged = true;
	/* Unframed COM2 text is only diagnostic. */
}

void run_feed_com2(struct run *r, const void *b, size_t n)
{
	serial_parser_feed(&r->com2, b, n, on_com2_event, r);
}

void run_note_console_line(struct run *r, const char *line)
{
	const char *p = strstr(line, "Kernel panic - not syncing");

	if (p && !r->com1_panic[0])
		snprintf(r->com1_panic, sizeof(r->com1_panic), "%s", p);
}

void run_finish(struct run *r)
{
	struct proto_reader_result res;

	serial_parser_finish(&r->com2, on_com2_event, r);
	proto_reader_finish(&r->reader, &res);
	if (res.end != PROTO_END_CLEAN) {
		if (!r->stream_damaged)
			r->first_bad_offset = r->reader.offset;
		r->stream_damaged = true;
	}
}
