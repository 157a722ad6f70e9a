// SPDX-License-Identifier: MIT
/* Kernel command-line keys and /ktstr/exec.* (specs/guest-protocol.md §3.0, §3.5). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/guest.h"

static bool key_is(const char *tok, size_t len, const char *key, const char **val)
{
	size_t k = strlen(key);

	if (len <= k || strncmp(tok, key, k) || tok[k] != '=')
		return false;
	*val = tok + k + 1;
	return true;
}

static bool val_is(const char *val, size_t vlen, const char *word)
{
	return strlen(word) == vlen && !strncmp(val, word, vlen);
}

int guest_parse_cmdline(struct guest *g, const char *cmdline)
{
	const char *p = cmdline;

	while (*p) {
		const char *val;
		size_t len = strcspn(p, " \t\n");

		if (key_is(p, len, "KTSTR_SCALE", &val)) {
			long s = strtol(val, NULL, 10);
			g->scale = (s >= 1 && s <= 1000) ? (unsigned)s : 1;
		} else if (key_is(p, len, "KTSTR_DMESG", &val)) {
			size_t vl = len - (size_t)(val - p);
			g->dmesg = val_is(val, vl, "off")    ? GUEST_DMESG_OFF
				   : val_is(val, vl, "tail") ? GUEST_DMESG_TAIL
				   : val_is(val, vl, "all")  ? GUEST_DMESG_ALL
							     : GUEST_DMESG_AUTO;
		} else if (key_is(p, len, "KTSTR_STDIO", &val)) {
			g->merged = val_is(val, len - (size_t)(val - p), "merged");
		} else if (key_is(p, len, "KTSTR_STDIN", &val)) {
			g->stdin_fwd = val_is(val, len - (size_t)(val - p), "1");
		} else if (key_is(p, len, "KTSTR_PROTO", &val)) {
			g->force_serial = val_is(val, len - (size_t)(val - p), "serial");
		}
		p += len;
		p += strspn(p, " \t\n");
	}
	return 0;
}

/* Read a whole small file; returns the length or -errno. *out is NUL-terminated. */
static ssize_t read_file(const char *path, char **out, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 4096;
	char *buf;

	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	for (;;) {
		if (!buf) {
			close(fd);
			return -ENOMEM;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			free(buf);
			close(fd);
			return -err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			free(buf);
			close(fd);
			return -EFBIG;
		}
		if (len == cap) {
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	return (ssize_t)len;
}

/*
 * NUL-separated strings -> NULL-terminated vector pointing into buf. The file
 * must end in a NUL, so a truncated write is caught rather than half-used.
 */
static char **split_nul(char *buf, size_t len, bool allow_empty_list)
{
	size_t n = 0;
	char **v;

	if (len == 0)
		return allow_empty_list ? calloc(1, sizeof(char *)) : NULL;
	if (buf[len - 1] != '\0')
		return NULL;
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\0';
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	n = 0;
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
		v[n++] = buf + i;
	return v;
}

int guest_load_exec_config(struct guest *g)
{
	char path[512];
	char *buf = NULL;
	ssize_t n;

	n = read_file(guest_path(g, "/ktstr/exec.argv", path, sizeof(path)), &buf, GUEST_ARGV_MAX);
	if (n < 0)
		guest_fatal(g, PROTO_IERR_CONFIG, (int)-n, "cannot read /ktstr/exec.argv");
	g->argv = split_nul(buf, (size_t)n, false);
	if (!g->argv || !g->argv[0] || !g->argv[0][0]) {
		free(buf);
		guest_fatal(
			g, PROTO_IERR_CONFIG, EINVAL,
			"/ktstr/exec.argv must hold NUL-terminated strings, the first non-empty");
	}
	g->argv_buf = buf;

	buf = NULL;
	n = read_file(guest_path(g, "/ktstr/exec.env", path, sizeof(path)), &buf, GUEST_ARGV_MAX);
	if (n >= 0) {
		char **env = split_nul(buf, (size_t)n, true);
		bool ok = env != NULL;
		for (char **e = env; ok && *e; e++)
			ok = strchr(*e, '=') != NULL && **e != '=';
		if (!ok) {
			free(env);
			free(buf);
		}
		g->env_extra = ok ? env : NULL;
		if (!ok)
			guest_fatal(g, PROTO_IERR_CONFIG, EINVAL,
				    "/ktstr/exec.env must hold NUL-terminated KEY=VALUE strings");
		g->env_buf = buf;
	} else if (n != -ENOENT) {
		guest_fatal(g, PROTO_IERR_CONFIG, (int)-n, "cannot read /ktstr/exec.env");
	}

	buf = NULL;
	n = read_file(guest_path(g, "/ktstr/exec.cwd", path, sizeof(path)), &buf, 4096);
	if (n > 0) {
		buf[strcspn(buf, "\n")] = '\0';
		g->cwd = buf;
	} else {
		free(buf);
		g->cwd = strdup("/");
	}
	return 0;
}

static const char *const default_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"SHELL=/bin/sh",
	"USER=root",
	"LOGNAME=root",
	"TERM=dumb",
	"LANG=C",
	"TMPDIR=/tmp",
};

static int env_set(char **env, size_t *n, const char *kv)
{
	size_t klen = strcspn(kv, "=");
	char *dup = strdup(kv);

	if (!dup)
		return -ENOMEM;
	for (size_t i = 0; i < *n; i++) {
		if (!strncmp(env[i], kv, klen) && env[i][klen] == '=') {
			free(env[i]);
			env[i] = dup;
			return 0;
		}
	}
	env[(*n)++] = dup;
	return 0;
}

char **guest_build_env(const struct guest *g, long ncpus)
{
	size_t extra = 0, n = 0;
	char kv[4200];
	char **env;

	for (char **e = g->env_extra; e && *e; e++)
		extra++;
	env = calloc(sizeof(default_env) / sizeof(default_env[0]) + 3 + extra + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < sizeof(default_env) / sizeof(default_env[0]); i++)
		env_set(env, &n, default_env[i]);
	snprintf(kv, sizeof(kv), "PWD=%s", g->cwd ? g->cwd : "/");
	env_set(env, &n, kv);
	env_set(env, &n, "KTSTR_GUEST=1");
	snprintf(kv, sizeof(kv), "KTSTR_NR_CPUS=%ld", ncpus);
	env_set(env, &n, kv);
	for (char **e = g->env_extra; e && *e; e++)
		env_set(env, &n, *e);
	return env;
}

void guest_free_env(char **env)
{
	for (char **e = env; e && *e; e++)
		free(*e);
	free(env);
}
