// SPDX-License-Identifier: MIT
/*
 * `ktstr shell`: boot a kernel like `ktstr vm --exec` and give the user an
 * interactive busybox shell on the guest's console port (hvc0), with the
 * terminal in raw mode so every key (Ctrl-C included) reaches the guest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd_vm.h"

/*
 * The guest init starts the command as a session leader without a controlling
 * terminal, so opening hvc0 here (without O_NOCTTY) makes it the shell's
 * controlling terminal: job control and ^C work. (busybox setsid would fork
 * and exit at once, ending the run.)
 */
#define SHELL_CMD "exec /bin/sh </dev/hvc0 >/dev/hvc0 2>&1"

static void shell_usage(void)
{
	printf("Usage: ktstr shell --kernel PATH [options]\n"
	       "\n"
	       "Boot a kernel in the ktstr VMM and open an interactive busybox shell in it, on\n"
	       "the virtio console (hvc0). The terminal is put in raw mode (every key, Ctrl-C\n"
	       "included, goes to the guest) and restored on exit. Leave with 'exit' or Ctrl-D:\n"
	       "the guest powers off and ktstr exits with the shell's status.\n"
	       "\n"
	       "Options: those of 'ktstr vm' (see 'ktstr vm --help'): --kernel, --topology,\n"
	       "--memory, --cmdline, --disk, --net, --include, --modules, --busybox, --scale,\n"
	       "--console, --stats, --result-json, --verbose; not --exec or --initramfs.\n");
}

static int shell_main(int argc, char **argv)
{
	struct vm_cli_opts o;
	struct termios saved, raw;
	char err[512], term[128];
	bool tty = isatty(STDIN_FILENO);
	char **args = calloc((size_t)argc + 3, sizeof(*args));
	int code;

	if (!args)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			free(args);
			shell_usage();
			return 0;
		}
		if (!strncmp(argv[i], "--exec", 6) || !strcmp(argv[i], "-e") ||
		    !strncmp(argv[i], "--initramfs", 11)) {
			free(args);
			fprintf(stderr,
				"ktstr: 'shell' runs its own command: drop '%s'\n"
				"Try 'ktstr shell --help'.\n",
				argv[i]);
			return EXIT_USAGE;
		}
	}
	args[0] = (char *)"shell";
	args[1] = (char *)"--exec";
	args[2] = (char *)SHELL_CMD;
	for (int i = 1; i < argc; i++)
		args[i + 2] = argv[i];
	int r = vm_cli_parse(argc + 2, args, &o, err, sizeof(err));
	if (r) {
		free(args);
		fprintf(stderr, "ktstr: %s\nTry 'ktstr shell --help'.\n", err);
		return EXIT_USAGE;
	}
	vm_cli_fill_exec(&o, 0);
	o.exec.timeout_s = 0; /* an interactive session has no command deadline */
	o.exec.shell = true;
	snprintf(term, sizeof(term), "TERM=%s", getenv("TERM") ? getenv("TERM") : "vt100");
	o.exec.env[o.exec.nenv++] = term;

	if (tty) {
		fprintf(stderr,
			"ktstr: booting %s; 'exit' or Ctrl-D in the guest shell ends the "
			"VM\r\n",
			o.kernel);
		tcgetattr(STDIN_FILENO, &saved);
		raw = saved;
		cfmakeraw(&raw);
		/* Output post-processing stays on, so the guest's \n still returns the carriage. */
		raw.c_oflag |= OPOST;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	code = vm_exec_main(&o.exec);
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	free(args);
	return code;
}

const struct cli_cmd cli_cmd_shell = {
	.name = "shell",
	.summary = "boot a kernel and open an interactive shell in it",
	.run = shell_main,
	.usage = shell_usage,
};
