/*
 * dkim_sign_tool.c -- sign a message with runtime/dkim.c, for the tests
 * (built for "make check", never installed).
 *
 * Usage: dkim_sign_tool -d DOMAIN -s SELECTOR -k KEYFILE [-c simple|relaxed]
 *                       [-H HEADERS] [-i IDENTITY] [-t CREATED] [-x EXPIRES]
 *                       [-b] [FILE]
 *
 * The message (FILE, or standard input) is read as noq reads one (msg.c,
 * lone dots are data), its body hashed as it is emitted, and the signed
 * message written to standard output: the DKIM-Signature field, then the
 * message, CR LF line ends, not dot-stuffed.  With -b only the body hash
 * (bh=) is written, with a LF.  Errors go to standard error, exit status 1;
 * a key under 2048 bits is taken with a warning.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dkim.h"
#include "msg.h"
#include "sb.h"

/**
 * struct unstuff - msg_emit()'s output with the dot-stuffing undone.
 * @bol:  the next octet starts a line.
 * @off:  octets of unstuffed output so far; the body starts at @body.
 * @b:    the body hashes to feed, or NULL; @out: where to write, or NULL.
 */
struct unstuff {
	bool bol;
	uint64_t off, body;
	struct dkim_body *b;
	FILE *out;
};

static int unstuff_write(void *ctx, const void *buf, size_t len)
{
	struct unstuff *u = ctx;
	const unsigned char *p = buf;
	static unsigned char tmp[MSG_CHUNK];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (u->bol && p[i] == '.') {
			u->bol = false;
			continue;
		}
		u->bol = p[i] == '\n';
		tmp[n++] = p[i];
	}
	if (u->out != NULL && fwrite(tmp, 1, n, u->out) != n)
		return -1;
	if (u->b != NULL) {
		size_t skip = 0;

		if (u->off < u->body)
			skip = u->body - u->off < n ? (size_t)(u->body - u->off) : n;
		dkim_body_feed(u->b, tmp + skip, n - skip);
	}
	u->off += n;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: dkim_sign_tool -d DOMAIN -s SELECTOR -k KEYFILE "
		"[-c simple|relaxed] [-H HEADERS] [-i IDENTITY] [-t CREATED] "
		"[-x EXPIRES] [-b] [FILE]\n");
	return 2;
}

static int fail(const char *what)
{
	fprintf(stderr, "dkim_sign_tool: %s\n", what);
	return 1;
}

int main(int argc, char **argv)
{
	struct dkim_sig s = { .canon = DKIM_RELAXED };
	struct sb pem = { .secret = true };
	struct msg_opts o = { .flags = MSG_IGNORE_DOTS };
	const char *keyfile = NULL;
	struct dkim_body *b;
	struct dkim_key *k;
	struct msg_info info;
	struct msg_err me;
	struct msg *m;
	bool only_bh = false, weak;
	char err[512], bh[DKIM_BH_LEN], *field;
	int c, fd = 0;

	while ((c = getopt(argc, argv, "bc:d:H:i:k:s:t:x:")) != -1) {
		switch (c) {
		case 'b': only_bh = true; break;
		case 'c':
			if (strcmp(optarg, "simple") == 0)
				s.canon = DKIM_SIMPLE;
			else if (strcmp(optarg, "relaxed") == 0)
				s.canon = DKIM_RELAXED;
			else
				return usage();
			break;
		case 'd': s.domain = optarg; break;
		case 'H': s.headers = optarg; break;
		case 'i': s.identity = optarg; break;
		case 'k': keyfile = optarg; break;
		case 's': s.selector = optarg; break;
		case 't': s.created = strtoull(optarg, NULL, 10); break;
		case 'x': s.expires = strtoull(optarg, NULL, 10); break;
		default: return usage();
		}
	}
	if (optind + 1 < argc || (!only_bh && (keyfile == NULL || s.domain == NULL ||
					       s.selector == NULL)))
		return usage();
	if (optind < argc && (fd = open(argv[optind], O_RDONLY)) < 0) {
		snprintf(err, sizeof(err), "%s: %s", argv[optind], strerror(errno));
		return fail(err);
	}
	if (msg_read(fd, &o, &m, &me) != 0)
		return fail(me.text);
	msg_info(m, &info);
	if ((b = dkim_body_new(s.canon, err, sizeof(err))) == NULL)
		return fail(err);
	struct unstuff u = { true, 0, info.size - info.body_size, b, NULL };

	if (msg_emit(m, unstuff_write, &u, &me) != 0)
		return fail(me.text);
	if (dkim_body_hash(b, s.canon, bh, err, sizeof(err)) != 0)
		return fail(err);
	dkim_body_free(b);
	if (only_bh) {
		printf("%s\n", bh);
		msg_free(m);
		return 0;
	}
	s.bh = bh;
	if (sb_read_file(&pem, keyfile) != 0) {
		snprintf(err, sizeof(err), "%s: %s", keyfile, strerror(errno));
		return fail(err);
	}
	k = dkim_key_new(pem.p, pem.len, keyfile, &weak, err, sizeof(err));
	sb_free(&pem);
	if (k == NULL)
		return fail(err);
	if (weak)
		fprintf(stderr, "dkim_sign_tool: warning: %s is a %u-bit RSA key\n", keyfile,
			dkim_key_bits(k));
	if (dkim_sign(k, &s, m, &field, err, sizeof(err)) != 0)
		return fail(err);
	dkim_key_free(k);
	u = (struct unstuff){ true, 0, 0, NULL, stdout };
	if (printf("%s\r\n", field) < 0 || msg_emit(m, unstuff_write, &u, &me) != 0 ||
	    fflush(stdout) != 0)
		return fail("cannot write the message");
	free(field);
	msg_free(m);
	return 0;
}
