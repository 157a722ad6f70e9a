// SPDX-License-Identifier: MIT
/*
 * Everything init tells the host: frames on the bulk port, COM2 records in
 * serial mode (and always for fatal errors), and its own lines in /dev/kmsg
 * (specs/guest-protocol.md §1.5, §2.2, §2.7, §3.1 steps 9–11).
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <time.h>
#include <unistd.h>

#include "guest/guest.h"
#include "proto/serial_rec.h"

#define DMESG_TAIL	  (64u * 1024)
#define DMESG_TAIL_SERIAL (16u * 1024)
#define DMSG_TEXT_MAX	  (PROTO_CHUNK - PROTO_DMSG_SIZE)

uint64_t guest_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool port_pending(const struct guest *g)
{
	return !g->port_ready && !g->serial_mode;
}

/* Blocking write of everything; a port that stays unwritable for 5 s x scale is dead. */
static int write_all(struct guest *g, int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0 || errno == EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			if (poll(&pfd, 1, 5000 * (int)g->scale) == 1 && (pfd.revents & POLLOUT))
				continue;
			errno = ETIMEDOUT;
		}
		return -errno;
	}
	return 0;
}

int guest_send(struct guest *g, uint32_t tag, const void *payload, size_t len)
{
	static uint8_t frame[PROTO_ATOMIC_FRAME];
	int rc;

	if (!g->port_ready || g->port_fd < 0 || g->port_dead || len > PROTO_MAX_PAYLOAD)
		return -EPIPE;
	if (PROTO_HDR_SIZE + len <= sizeof(frame)) {
		/* One write per frame: it then reaches the host as one piece (§1.5 item 2). */
		size_t n = proto_encode(frame, sizeof(frame), tag, payload, (uint32_t)len);
		rc = write_all(g, g->port_fd, frame, n);
	} else {
		uint8_t hdr[PROTO_HDR_SIZE];
		proto_encode(hdr, sizeof(hdr), tag, NULL, 0);
		/* Patch len and crc in: proto_encode refused nothing, the payload follows separately. */
		uint32_t l = htole32((uint32_t)len), c = htole32(proto_crc32(0, payload, len));
		memcpy(hdr + 4, &l, 4);
		memcpy(hdr + 8, &c, 4);
		rc = write_all(g, g->port_fd, hdr, sizeof(hdr));
		if (!rc)
			rc = write_all(g, g->port_fd, payload, len);
	}
	if (rc) {
		g->port_dead = true;
		guest_fatal(g, PROTO_IERR_PORT_IO, -rc, "write to the bulk port %s failed",
			    g->port_dev);
	}
	g->frames++;
	g->bytes += PROTO_HDR_SIZE + len;
	if (tag == PROTO_IERR)
		g->ierr_frames++;
	return 0;
}

void guest_kmsg(struct guest *g, int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (g->kmsg_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "<%d>ktstr-init: ", prio);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (write(g->kmsg_fd, line, strlen(line)) < 0) {
		/* kmsg is a best-effort diagnostic channel */
	}
}

void guest_com2(struct guest *g, const void *body, size_t n, const char *fmt, ...)
{
	static uint8_t rec[1 + SERIAL_HEADER_MAX + 1 + SERIAL_BODY_MAX];
	char header[SERIAL_HEADER_MAX + 1];
	va_list ap;
	size_t len;

	if (g->com2_fd < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(header, sizeof(header), fmt, ap);
	va_end(ap);
	len = serial_record_encode(rec, sizeof(rec), header, body, n);
	if (len && write_all(g, g->com2_fd, rec, len) == 0)
		g->com2_records++;
}

static void lower_name(uint8_t phase, char *out, size_t len)
{
	const char *name = proto_phase_name(phase);
	size_t i = 0;

	if (!name) {
		snprintf(out, len, "%u", phase);
		return;
	}
	for (; name[i] && i + 1 < len; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[i] = '\0';
}

static void send_life(struct guest *g, uint8_t phase, uint8_t flags, uint64_t t, const char *detail)
{
	uint8_t p[PROTO_LIFE_SIZE + GUEST_DETAIL_MAX];
	struct proto_life l = {.phase = phase, .flags = flags, .t_ns = t};
	size_t dl = strnlen(detail, GUEST_DETAIL_MAX);
	char name[40];

	if (g->serial_mode) {
		lower_name(phase, name, sizeof(name));
		guest_com2(g, NULL, 0, "KTSTR_PHASE=%s t=%llu", name, (unsigned long long)t);
		return;
	}
	proto_life_encode(p, &l);
	memcpy(p + PROTO_LIFE_SIZE, detail, dl);
	guest_send(g, PROTO_LIFE, p, PROTO_LIFE_SIZE + dl);
}

static struct guest_replay *replay_slot(struct guest *g)
{
	/* Bounded: past 64 entries the oldest detail is what matters less; drop the newest. */
	return g->nreplay < GUEST_REPLAY_MAX ? &g->replay[g->nreplay++] : NULL;
}

void guest_life(struct guest *g, uint8_t phase, uint8_t flags, const char *fmt, ...)
{
	char detail[GUEST_DETAIL_MAX] = "";
	uint64_t t = guest_now_ns();
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	/* t_ns never goes backwards across LIFE frames (§2.4 item 2). */
	if (t < g->last_t_ns)
		t = g->last_t_ns;
	g->last_t_ns = t;
	g->last_phase = phase;
	if (port_pending(g)) {
		struct guest_replay *r = replay_slot(g);
		if (r)
			*r = (struct guest_replay){.is_life = true, .phase = phase, .t_ns = t};
		if (r)
			snprintf(r->text, sizeof(r->text), "%s", detail);
		guest_kmsg(g, 6, "phase %s %s", proto_phase_name(phase), detail);
		return;
	}
	send_life(g, phase, flags, t, detail);
}

static const char *const sev_names[] = {"info", "warn", "error", "fatal"};

static void send_ierr(struct guest *g, uint16_t code, uint8_t sev, int32_t err, const char *text)
{
	uint8_t p[PROTO_IERR_SIZE + GUEST_DETAIL_MAX];
	struct proto_ierr m = {.code = code, .severity = sev, .err = err};
	size_t tl = strnlen(text, GUEST_DETAIL_MAX);

	if (g->serial_mode || !g->port_ready || g->port_dead) {
		guest_com2(g, NULL, 0, "KTSTR_INIT_ERROR code=%u sev=%s errno=%d msg=%s", code,
			   sev_names[sev & 3], err, text);
		return;
	}
	proto_ierr_encode(p, &m);
	memcpy(p + PROTO_IERR_SIZE, text, tl);
	guest_send(g, PROTO_IERR, p, PROTO_IERR_SIZE + tl);
}

void guest_ierr(struct guest *g, uint16_t code, uint8_t severity, int err, const char *fmt, ...)
{
	char text[GUEST_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	guest_kmsg(g, severity >= PROTO_SEV_ERROR ? 3 : 4, "%s%s%s", text, err ? ": " : "",
		   err ? strerror(err) : "");
	if (severity >= PROTO_SEV_ERROR)
		g->error_reported = true;
	/* At most 64 per boot; the 65th becomes one "suppressed" note (§2.2.6). */
	if (g->ierr_count >= GUEST_IERR_MAX)
		return;
	if (++g->ierr_count == GUEST_IERR_MAX) {
		code = PROTO_IERR_INTERNAL;
		severity = PROTO_SEV_WARNING;
		err = 0;
		snprintf(text, sizeof(text), "further errors suppressed");
	}
	if (port_pending(g)) {
		struct guest_replay *r = replay_slot(g);
		if (r) {
			*r = (struct guest_replay){.code = code, .severity = severity, .err = err};
			snprintf(r->text, sizeof(r->text), "%s", text);
		}
		return;
	}
	send_ierr(g, code, severity, err, text);
}

void guest_replay_flush(struct guest *g)
{
	for (unsigned i = 0; i < g->nreplay; i++) {
		const struct guest_replay *r = &g->replay[i];
		if (r->is_life)
			send_life(g, r->phase, PROTO_LIFE_REPLAYED, r->t_ns, r->text);
		else
			send_ierr(g, r->code, r->severity, r->err, r->text);
	}
	g->nreplay = 0;
}

void guest_send_dmesg(struct guest *g, bool whole)
{
	static uint32_t dump_id;
	uint8_t hdr[PROTO_DMSG_SIZE];
	int size = klogctl(10, NULL, 0);
	size_t tail = g->serial_mode ? DMESG_TAIL_SERIAL : DMESG_TAIL;
	char *buf;
	int n;

	if (size <= 0 || !(buf = malloc((size_t)size + PROTO_DMSG_SIZE))) {
		guest_ierr(g, PROTO_IERR_DMESG, PROTO_SEV_WARNING, errno, "klogctl size");
		return;
	}
	n = klogctl(3, buf + PROTO_DMSG_SIZE, size);
	if (n < 0) {
		guest_ierr(g, PROTO_IERR_DMESG, PROTO_SEV_WARNING, errno, "klogctl read");
		free(buf);
		return;
	}
	char *text = buf + PROTO_DMSG_SIZE;
	size_t len = (size_t)n;
	uint32_t flags = 0;
	if (!whole && len > tail) {
		/* Start the tail at a line boundary so the first line is not half a line. */
		char *cut = memchr(text + len - tail, '\n', tail);
		size_t skip = cut ? (size_t)(cut + 1 - text) : len - tail;
		text += skip;
		len -= skip;
		flags |= PROTO_DMSG_TAIL;
	}
	dump_id++;
	size_t chunk = g->serial_mode ? SERIAL_BODY_MAX : DMSG_TEXT_MAX;
	do {
		size_t take = len < chunk ? len : chunk;
		bool last = take == len;
		if (g->serial_mode) {
			guest_com2(g, text, take, "KTSTR_DMESG n=%zu last=%d", take, last);
		} else {
			struct proto_dmsg m = {.dump_id = dump_id,
					       .flags = flags | (last ? PROTO_DMSG_LAST : 0)};
			/* The header sits right before the text: one buffer, one frame. */
			proto_dmsg_encode(hdr, &m);
			memcpy(text - PROTO_DMSG_SIZE, hdr, sizeof(hdr));
			guest_send(g, PROTO_DMSG, text - PROTO_DMSG_SIZE, PROTO_DMSG_SIZE + take);
		}
		text += take;
		len -= take;
	} while (len);
	g->dmsg_sent = true;
	free(buf);
}

static const char *const how_names[] = {"exited", "signaled", "notstarted"};

void guest_send_excx(struct guest *g)
{
	uint8_t p[PROTO_EXCX_SIZE];
	const struct proto_excx *x = &g->excx;

	if (g->serial_mode) {
		guest_com2(g, NULL, 0, "KTSTR_EXEC_EXIT=%d how=%s value=%d core=%d", x->code,
			   how_names[x->how % 3],
			   x->how == PROTO_HOW_SIGNALED ? x->signo
			   : x->how == PROTO_HOW_EXITED ? x->code
							: x->raw,
			   !!(x->flags & PROTO_EXCX_CORE));
		return;
	}
	proto_excx_encode(p, x);
	guest_send(g, PROTO_EXCX, p, sizeof(p));
}

void guest_send_done(struct guest *g, int32_t result, uint32_t flags)
{
	uint8_t p[PROTO_DONE_SIZE];

	if (g->serial_mode || !g->port_ready || g->port_dead) {
		guest_com2(g, NULL, 0, "KTSTR_DONE result=%d records=%u", result, g->com2_records);
		return;
	}
	struct proto_done d = {.frames = g->frames,
			       .warnings = g->ierr_frames,
			       .bytes = g->bytes,
			       .result = result,
			       .flags = flags | (g->dmsg_sent ? PROTO_DONE_DMSG_SENT : 0),
			       .t_ns = guest_now_ns()};
	proto_done_encode(p, &d);
	guest_send(g, PROTO_DONE, p, sizeof(p));
}
