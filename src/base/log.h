/* SPDX-License-Identifier: MIT */
/*
 * Logging. The level comes from KTSTR_LOG (err, warn, info, debug; default
 * warn). Messages go to stderr unless a test installs a sink with
 * log_set_sink(), which lets unit tests assert on the exact warning texts
 * the specs fix as part of the contract.
 */
#ifndef KTSTR_BASE_LOG_H
#define KTSTR_BASE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

typedef void (*log_sink_fn)(enum log_level lvl, const char *msg, void *opaque);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool log_enabled(enum log_level lvl);
void log_set_level(enum log_level lvl);
/* Route every message (of every level, regardless of the threshold) to fn; NULL restores stderr. */
void log_set_sink(log_sink_fn fn, void *opaque);

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Rate limiting for guest-triggerable messages: at most `burst` messages per
 * `interval_ms`, then silence until the interval rolls over (the number
 * suppressed is reported with the next message that gets through).
 */
struct ratelimit {
	_Atomic uint64_t window_start_ms;
	_Atomic uint32_t emitted;
	_Atomic uint32_t suppressed;
};

#define RATELIMIT_INTERVAL_MS 5000u
#define RATELIMIT_BURST	      10u

bool ratelimit_allow(struct ratelimit *rl);

#define log_ratelimited(rl, lvl, ...)              \
	do {                                       \
		if (ratelimit_allow(rl))           \
			log_msg(lvl, __VA_ARGS__); \
	} while (0)

#endif
