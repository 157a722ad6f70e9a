/* SPDX-License-Identifier: MIT */
/*
 * A minimal stand-in for <criterion/criterion.h>, used only to run the
 * virtio-blk unit tests under ThreadSanitizer: Criterion itself aborts at
 * start-up under TSan ("Could not initialize inheritable arena",
 * Snaipe/Criterion#274). Same macros, each test forked like Criterion does;
 * messages of failed assertions are reduced to the expression. See run.sh.
 */
#ifndef KTSTR_TESTS_BLK_TSAN_CRITERION_H
#define KTSTR_TESTS_BLK_TSAN_CRITERION_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct shim_suite {
	void (*init)(void);
	void (*fini)(void);
};

void shim_register(const char *suite, const char *name, void (*fn)(void));
void shim_register_suite(const char *suite, const struct shim_suite *s);
void shim_fail(const char *file, int line, const char *expr) __attribute__((noreturn));
void shim_skip(void) __attribute__((noreturn));

#define Test(suite, name, ...)                                              \
	static void suite##_##name##_impl(void);                            \
	__attribute__((constructor)) static void suite##_##name##_reg(void) \
	{                                                                   \
		shim_register(#suite, #name, suite##_##name##_impl);        \
	}                                                                   \
	static void suite##_##name##_impl(void)

#define TestSuite(suite, ...)                                           \
	static const struct shim_suite suite##_shim = {__VA_ARGS__};    \
	__attribute__((constructor)) static void suite##_shim_reg(void) \
	{                                                               \
		shim_register_suite(#suite, &suite##_shim);             \
	}

#define cr_assert(c, ...)                                  \
	do {                                               \
		if (!(c))                                  \
			shim_fail(__FILE__, __LINE__, #c); \
	} while (0)
#define cr_assert_not(c, ...)	       cr_assert(!(c))
#define cr_assert_eq(a, b, ...)	       cr_assert((a) == (b))
#define cr_assert_neq(a, b, ...)       cr_assert((a) != (b))
#define cr_assert_lt(a, b, ...)	       cr_assert((a) < (b))
#define cr_assert_leq(a, b, ...)       cr_assert((a) <= (b))
#define cr_assert_gt(a, b, ...)	       cr_assert((a) > (b))
#define cr_assert_geq(a, b, ...)       cr_assert((a) >= (b))
#define cr_assert_null(p, ...)	       cr_assert((p) == NULL)
#define cr_assert_not_null(p, ...)     cr_assert((p) != NULL)
#define cr_assert_str_eq(a, b, ...)    cr_assert(strcmp((a), (b)) == 0)
#define cr_assert_arr_eq(a, b, n, ...) cr_assert(memcmp((a), (b), (n)) == 0)
#define cr_skip_test(...)	       shim_skip()

#endif
