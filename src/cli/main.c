// SPDX-License-Identifier: MIT
/*
 * ktstr entry point. The same binary is the host tool and, inside the VM,
 * PID 1 (design/ARCHITECTURE.md §2); the guest role is added with the guest
 * init.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/compiler.h"
#include "cli/cli.h"
#include "guest/guest.h"

static const struct cli_cmd *const commands[] = {
	&cli_cmd_vm,
	&cli_cmd_shell,
};

static void print_version(void)
{
	printf("ktstr %s (%s)\n", KTSTR_VERSION, KTSTR_GIT_REV);
}

static void print_help(void)
{
	printf("Usage: ktstr [--help] [--version] <command> [<args>]\n"
	       "\n"
	       "A test harness for Linux process schedulers: boots a real kernel in its own\n"
	       "small KVM VMM with the CPU topology you choose.\n"
	       "\n"
	       "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		printf("  %-10s %s\n", commands[i]->name, commands[i]->summary);
	printf("\n"
	       "Options:\n"
	       "  -h, --help     show this help (ktstr <command> --help for a command)\n"
	       "  -V, --version  show the version\n"
	       "\n"
	       "Environment:\n"
	       "  KTSTR_LOG      log level: err, warn (default), info, debug\n"
	       "\n"
	       "Exit status: 0 success; 2 bad usage or input; see a command's --help for others.\n");
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ktstr: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ktstr %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	/* Inside the VM the same binary is /init (design/ARCHITECTURE.md §2). */
	if (getpid() == 1)
		guest_init();

	/* Stop at the first non-option: everything after it belongs to the command. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			print_help();
			return 0;
		case 'V':
			print_version();
			return 0;
		default:
			return cli_usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		print_help();
		return EXIT_USAGE;
	}
	const char *name = argv[optind];
	if (!strcmp(name, "help")) {
		print_help();
		return 0;
	}
	if (!strcmp(name, "version")) {
		print_version();
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(name, commands[i]->name)) {
			int idx = optind;
			optind = 0; /* reset getopt for the command's own parser */
			return commands[i]->run(argc - idx, argv + idx);
		}
	}
	return cli_usage_error(NULL, "unknown command '%s'", name);
}
