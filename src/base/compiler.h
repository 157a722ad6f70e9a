/* SPDX-License-Identifier: MIT */
/* Small language helpers shared by every layer. */
#ifndef KTSTR_BASE_COMPILER_H
#define KTSTR_BASE_COMPILER_H

#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline unsigned long long min_u64(unsigned long long a, unsigned long long b)
{
	return a < b ? a : b;
}

#define unlikely(x) __builtin_expect(!!(x), 0)
#define likely(x)   __builtin_expect(!!(x), 1)

#define UNUSED __attribute__((unused))

#endif
