/* SPDX-License-Identifier: MIT */
/* Command-line front end: one file per command (cmd_<name>.c). */
#ifndef KTSTR_CLI_CLI_H
#define KTSTR_CLI_CLI_H

/* Exit code for bad usage or bad input (unknown command/option, invalid value). */
#define EXIT_USAGE 2

struct cli_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
	void (*usage)(void);
};

extern const struct cli_cmd cli_cmd_vm;
extern const struct cli_cmd cli_cmd_shell;

/* Print "ktstr: <msg>" and a hint to run --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
