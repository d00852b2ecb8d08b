/*
 * token.c -- an OAuth token command (auth.h: auth_token_run()): run with a
 * timeout, its standard output taken as the token, a wiped buffer.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "auth_int.h"
#include "codec.h"
#include "fdio.h"
#include "err.h"
#include "ossl.h"
#include "sb.h"
#include "txt.h"

/* ------------------------------------------------------------ token command */

/*
 * Split @cmd into words (see auth_token_run()) in @store (strlen(cmd) + 1
 * octets), pointers in @argv (CMD_WORDS_MAX + 1, NULL-terminated).
 */
static int split_words(const char *cmd, char *store, char **argv, char *err, size_t errlen)
{
	size_t nw = 0, k = 0;
	const char *s = cmd;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		if (nw == CMD_WORDS_MAX) {
			err_set(err, errlen, "token command: more than %d words", CMD_WORDS_MAX);
			return -1;
		}
		argv[nw++] = store + k;
		while (*s != '\0' && *s != ' ' && *s != '\t') {
			if (*s == '\'') {
				const char *e = strchr(s + 1, '\'');

				if (e == NULL)
					goto unbalanced;
				memcpy(store + k, s + 1, (size_t)(e - s - 1));
				k += (size_t)(e - s - 1);
				s = e + 1;
			} else if (*s == '"') {
				for (s++; *s != '"'; s++) {
					if (*s == '\0')
						goto unbalanced;
					if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
						s++;
					store[k++] = *s;
				}
				s++;
			} else if (*s == '\\' && s[1] != '\0') {
				store[k++] = s[1];
				s += 2;
			} else {
				store[k++] = *s++;
			}
		}
		store[k++] = '\0';
	}
	argv[nw] = NULL;
	if (nw == 0) {
		err_set(err, errlen, "token command: empty");
		return -1;
	}
	if (argv[0][0] != '/') {
		err_set(err, errlen, "token command: '%.100s' is not an absolute path", argv[0]);
		return -1;
	}
	return 0;
unbalanced:
	err_set(err, errlen, "token command: unbalanced quote");
	return -1;
}

/* Runs in the child between fork() and execve(): async-signal-safe calls
   only.  Never returns. */
static void child_exec(char **argv, char *const *envp, int devnull, int outw, int errw,
		       int execw, int maxfd)
{
	static const int sigs[] = { SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGALRM,
				    SIGCHLD, SIGUSR1, SIGUSR2, SIGXFSZ, SIGTSTP, SIGTTIN,
				    SIGTTOU };
	struct sigaction sa;
	sigset_t none;
	int e, fds[3] = { devnull, outw, errw };

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	/* And every other signal the caller may have ignored (real-time ones
	   included): the program starts as from a clean shell. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Move the three out of 0..2 first, in case one of them is there. */
	for (int i = 0; i < 3; i++) {
		fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (fds[i] < 0)
			goto fail;
	}
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			goto fail;
#ifdef CLOSE_RANGE_CLOEXEC
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
#endif
		for (int fd = 3; fd < maxfd; fd++)
			if (fd != execw)
				close(fd);
	execve(argv[0], argv, envp);
fail:
	e = errno;
	if (write(execw, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/**
 * struct run - the state of one token command run.
 * @out:  its standard output (a secret).
 * @errl: the start of its standard error.
 */
struct run {
	struct sb out;
	char errl[STDERR_KEEP + 1];
	size_t errn;
	bool errline_done;
};

static void keep_stderr(struct run *r, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !r->errline_done; i++) {
		if (p[i] == '\n' || p[i] == '\r') {
			if (r->errn > 0)
				r->errline_done = true;
			continue;
		}
		if (r->errn < STDERR_KEEP)
			r->errl[r->errn++] = p[i];
	}
	r->errl[r->errn] = '\0';
}

static void fmt_timeout(char *buf, size_t n, unsigned ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, n, "%u s", ms / 1000);
	else
		snprintf(buf, n, "%u ms", ms);
}

/* Read the command's output until both pipes end, the deadline passes or
   the output is too long.  Returns 0, or -1 with @err. */
static int collect(struct run *r, int outfd, int errfd, const char *prog, long long deadline,
		   unsigned timeout_ms, size_t max, char *err, size_t errlen)
{
	struct pollfd p[2] = { { outfd, POLLIN, 0 }, { errfd, POLLIN, 0 } };
	char tb[32];

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		long long left = deadline - fd_now_ms();
		int n;

		if (left <= 0) {
			fmt_timeout(tb, sizeof(tb), timeout_ms);
			err_set(err, errlen, "token command %s timed out after %s", prog, tb);
			return -1;
		}
		n = poll(p, 2, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(err, errlen, "token command %s: poll: %s", prog, strerror(errno));
			return -1;
		}
		for (int i = 0; i < 2; i++) {
			char buf[4096];
			ssize_t got;

			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			got = read(p[i].fd, buf, sizeof(buf));
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got <= 0) {
				p[i].fd = -1;
				continue;
			}
			if (i == 1) {
				keep_stderr(r, buf, (size_t)got);
				continue;
			}
			if ((size_t)got > max - r->out.len) {
				ossl_cleanse(buf, sizeof(buf));
				err_set(err, errlen, "token command %s printed more than %zu octets",
				       prog, max);
				return -1;
			}
			n = sb_put(&r->out, buf, (size_t)got);
			ossl_cleanse(buf, sizeof(buf));
			if (n != 0)
				return auth_seterr_sb(&r->out, err, errlen);
		}
	}
	return 0;
}

/* Wait for @pid until @deadline; kill its group when it passes.  Returns
   0 with *@status, or -1 (timed out or lost) with @err. */
static int reap(pid_t pid, long long deadline, const char *prog, unsigned timeout_ms,
		int *status, char *err, size_t errlen)
{
	char tb[32];

	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR) {
			err_set(err, errlen, "token command %s: waitpid: %s", prog,
			       strerror(errno));
			return -1;
		}
		if (fd_now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			fmt_timeout(tb, sizeof(tb), timeout_ms);
			err_set(err, errlen, "token command %s timed out after %s", prog, tb);
			return -1;
		}
		poll(NULL, 0, 10);
	}
}

int auth_token_run(const char *command, const struct auth_cmd_opts *opts, char **out,
		   size_t *outlen, char *err, size_t errlen)
{
	unsigned timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms
						       : AUTH_TOKEN_TIMEOUT_MS;
	size_t max = opts && opts->max_output ? opts->max_output : AUTH_SECRET_MAX;
	char *const *envp = opts && opts->envp ? opts->envp : environ;
	char *argv[CMD_WORDS_MAX + 1], *store = NULL;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, execp[2] = { -1, -1 };
	int devnull = -1, rc = -1, status = 0, maxfd, e = 0;
	struct sigaction dfl, old;
	struct run r;
	long long deadline;
	bool reaped = false;
	pid_t pid = -1;
	ssize_t got;
	long om;

	*out = NULL;
	*outlen = 0;
	memset(&r, 0, sizeof(r));
	r.out.secret = true;
	if (strlen(command) > CMD_LEN_MAX) {
		err_set(err, errlen, "token command: longer than %d octets", CMD_LEN_MAX);
		return -1;
	}
	store = malloc(strlen(command) + 1);
	if (store == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	if (split_words(command, store, argv, err, errlen) != 0) {
		free(store);
		return -1;
	}
	om = sysconf(_SC_OPEN_MAX);
	maxfd = om < 0 || om > 65536 ? 65536 : (int)om;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGCHLD, &dfl, &old);

	if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 ||
	    pipe2(execp, O_CLOEXEC) != 0) {
		err_set(err, errlen, "token command %s: pipe: %s", argv[0], strerror(errno));
		goto out;
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0) {
		err_set(err, errlen, "token command %s: /dev/null: %s", argv[0],
		       strerror(errno));
		goto out;
	}
	deadline = fd_now_ms() + timeout_ms;
	pid = fork();
	if (pid < 0) {
		err_set(err, errlen, "token command %s: fork: %s", argv[0], strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(argv, envp, devnull, outp[1], errp[1], execp[1], maxfd);
	/* Also here, so that kill(-pid) works whichever runs first. */
	setpgid(pid, pid);
	close(outp[1]);
	close(errp[1]);
	close(execp[1]);
	close(devnull);
	outp[1] = errp[1] = execp[1] = devnull = -1;

	/* execve() closes the pipe's write end: EOF; a failure sends errno. */
	while ((got = read(execp[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof(e)) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		reaped = true;
		err_set(err, errlen, "cannot run token command %s: %s", argv[0], strerror(e));
		goto out;
	}
	if (collect(&r, outp[0], errp[0], argv[0], deadline, timeout_ms, max, err,
		    errlen) != 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		reaped = true;
		goto out;
	}
	reaped = true;
	if (reap(pid, deadline, argv[0], timeout_ms, &status, err, errlen) != 0)
		goto out;
	/* What it said, cleaned: the command's output is not noq's text. */
	char said[STDERR_KEEP + 1];

	txt_clean(said, sizeof(said), r.errl, r.errn, TXT_UTF8);
	if (WIFSIGNALED(status)) {
		err_set(err, errlen, "token command %s was killed by signal %d%s%s", argv[0],
		       WTERMSIG(status), r.errn ? ": " : "", said);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		err_set(err, errlen, "token command %s exited with status %d%s%s", argv[0],
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1, r.errn ? ": " : "",
		       said);
		goto out;
	}
	if (r.out.len > 0 && memchr(r.out.p, '\0', r.out.len) != NULL) {
		err_set(err, errlen, "token command %s printed a NUL byte", argv[0]);
		goto out;
	}
	if (r.out.len > 0 && r.out.p[r.out.len - 1] == '\n') {
		r.out.len--;
		if (r.out.len > 0 && r.out.p[r.out.len - 1] == '\r')
			r.out.len--;
		r.out.p[r.out.len] = '\0';
	}
	if (r.out.len == 0) {
		err_set(err, errlen, "token command %s printed nothing on its standard output",
		       argv[0]);
		goto out;
	}
	*out = (char *)auth_secret_dup(r.out.p, r.out.len);
	if (*out == NULL) {
		err_set(err, errlen, "out of memory");
		goto out;
	}
	*outlen = r.out.len;
	rc = 0;
out:
	if (pid > 0 && !reaped) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (execp[i] >= 0)
			close(execp[i]);
	}
	if (devnull >= 0)
		close(devnull);
	sigaction(SIGCHLD, &old, NULL);
	sb_free(&r.out);
	free(store);
	return rc;
}
