// SPDX-License-Identifier: MIT
/* Runner for the Criterion stand-in (see criterion/criterion.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criterion/criterion.h"

#define MAX_TESTS  512
#define MAX_SUITES 32

static struct {
	const char *suite, *name;
	void (*fn)(void);
} tests[MAX_TESTS];
static unsigned ntests;

static struct {
	const char *name;
	const struct shim_suite *s;
} suites[MAX_SUITES];
static unsigned nsuites;

void shim_register(const char *suite, const char *name, void (*fn)(void))
{
	if (ntests < MAX_TESTS)
		tests[ntests++] = (typeof(tests[0])){suite, name, fn};
}

void shim_register_suite(const char *suite, const struct shim_suite *s)
{
	if (nsuites < MAX_SUITES)
		suites[nsuites++] = (typeof(suites[0])){suite, s};
}

void shim_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
	exit(1);
}

void shim_skip(void)
{
	exit(77);
}

static const struct shim_suite *suite_of(const char *name)
{
	for (unsigned i = 0; i < nsuites; i++)
		if (!strcmp(suites[i].name, name))
			return suites[i].s;
	return NULL;
}

/* Usage: runner [suite-prefix]. Each test runs in its own child, as under Criterion. */
int main(int argc, char **argv)
{
	unsigned pass = 0, fail = 0, skip = 0;

	for (unsigned i = 0; i < ntests; i++) {
		const struct shim_suite *s = suite_of(tests[i].suite);
		int status;
		pid_t pid;

		if (argc > 1 && strncmp(tests[i].suite, argv[1], strlen(argv[1])))
			continue;
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			if (s && s->init)
				s->init();
			tests[i].fn();
			if (s && s->fini)
				s->fini();
			exit(0);
		}
		waitpid(pid, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			pass++;
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
			skip++;
		} else {
			fail++;
			fprintf(stderr, "FAIL %s/%s (status 0x%x)\n", tests[i].suite, tests[i].name,
				status);
		}
	}
	printf("tsan-shim: %u passed, %u failed, %u skipped\n", pass, fail, skip);
	return fail ? 1 : 0;
}
