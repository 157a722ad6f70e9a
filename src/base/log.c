// SPDX-License-Identifier: MIT
#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static _Atomic int log_level = -1;
static log_sink_fn log_sink;
static void *log_sink_opaque;
static pthread_mutex_t log_sink_lock = PTHREAD_MUTEX_INITIALIZER;

static int level_from_env(void)
{
	const char *s = getenv("KTSTR_LOG");
	if (!s)
		return LOG_WARN;
	if (!strcasecmp(s, "err") || !strcasecmp(s, "error"))
		return LOG_ERR;
	if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
		return LOG_WARN;
	if (!strcasecmp(s, "info"))
		return LOG_INFO;
	if (!strcasecmp(s, "debug"))
		return LOG_DEBUG;
	return LOG_WARN;
}

static int current_level(void)
{
	int l = atomic_load_explicit(&log_level, memory_order_relaxed);
	if (l < 0) {
		l = level_from_env();
		atomic_store_explicit(&log_level, l, memory_order_relaxed);
	}
	return l;
}

void log_set_level(enum log_level lvl)
{
	atomic_store(&log_level, (int)lvl);
}

bool log_enabled(enum log_level lvl)
{
	return (int)lvl <= current_level() || log_sink;
}

void log_set_sink(log_sink_fn fn, void *opaque)
{
	pthread_mutex_lock(&log_sink_lock);
	log_sink = fn;
	log_sink_opaque = opaque;
	pthread_mutex_unlock(&log_sink_lock);
}

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&log_sink_lock);
	if (log_sink) {
		log_sink(lvl, buf, log_sink_opaque);
		pthread_mutex_unlock(&log_sink_lock);
		return;
	}
	pthread_mutex_unlock(&log_sink_lock);
	if ((int)lvl <= current_level())
		fprintf(stderr, "ktstr: %s: %s\n", level_names[lvl], buf);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool ratelimit_allow(struct ratelimit *rl)
{
	uint64_t now = now_ms();
	uint64_t start = atomic_load_explicit(&rl->window_start_ms, memory_order_relaxed);

	if (start == 0 || now - start >= RATELIMIT_INTERVAL_MS) {
		/* A racing thread may also roll the window; either outcome is fine for a log. */
		atomic_store_explicit(&rl->window_start_ms, now ? now : 1, memory_order_relaxed);
		atomic_store_explicit(&rl->emitted, 0, memory_order_relaxed);
		uint32_t missed =
			atomic_exchange_explicit(&rl->suppressed, 0, memory_order_relaxed);
		if (missed)
			log_warn("(%u similar messages suppressed)", missed);
	}
	if (atomic_fetch_add_explicit(&rl->emitted, 1, memory_order_relaxed) < RATELIMIT_BURST)
		return true;
	atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
	return false;
}
