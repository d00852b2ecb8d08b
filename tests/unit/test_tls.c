/*
 * test_tls.c -- unit tests for runtime/tls.c: the TLS client against a
 * real TLS server.
 *
 * The suite set-up makes certificates with tests/tls/mkcerts.sh (the
 * openssl command) in a temporary directory.  Each case makes a listening
 * socket on 127.0.0.1 and hands it to tests/tls/server.py (Python's ssl
 * module) in a child process, so the port is known before the server runs
 * and a connection simply waits in the backlog until the server accepts
 * it.  The client connects, makes the socket non-blocking and calls
 * tls_start() as the SMTP client will; the server answers one line,
 * "PONG <line> sni=<SNI> client=<client certificate CN>", which shows what
 * it saw.  Failures must carry the exact reason text.
 *
 * Needs /usr/bin/python3 and openssl; without them the program exits 77
 * (automake's "skipped").  The scripts are found through $top_srcdir (set
 * by "make check") or NOQ_TOP_SRCDIR.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "harness.h"
#include "tls.h"

#define PYTHON "/usr/bin/python3"
#define TIMEOUT_MS 10000

/* Assertions made in helpers report the caller's line: CHECK(cond, line). */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

static char srcdir[PATH_MAX];       /* tests/tls */
static char dir[1024];              /* the certificates */
static char ca_pem[1100], ca2_pem[1100];
static char pin_b64[64], pin_hex[80];

/* ------------------------------------------------------------- helpers */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* @name in the certificate directory (a ring of buffers: a few at once). */
static const char *cpath(const char *name)
{
	static char ring[32][PATH_MAX];
	static unsigned next;
	char *p = ring[next++ % 32];

	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

static int read_line_file(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	if (fgets(out, (int)outlen, f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return 0;
}

/** struct run - one case: the server process, the socket, the session. */
struct run {
	int lfd;
	pid_t pid;
	int fd;
	struct tls *t;
	char err[512];
	long long took;             /* tls_start()'s time, ms */
};

/* A listening socket on 127.0.0.1 with a port of the kernel's choice. */
static int listen_any(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("test_tls: listen");
		abort();
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/*
 * Start server.py on r->lfd with the certificate @cert ("server" for
 * server.pem and server.key; NULL for none) and the options @opts (up to
 * 6, NULL-terminated).  With @no_server, nobody ever accepts.
 */
static void server(struct run *r, const char *cert, const char *const *opts, bool no_server)
{
	char fdarg[16], certp[PATH_MAX], keyp[PATH_MAX], script[PATH_MAX + 16];
	const char *argv[20];
	int n = 0;

	r->pid = -1;
	if (no_server)
		return;
	snprintf(fdarg, sizeof(fdarg), "%d", r->lfd);
	snprintf(script, sizeof(script), "%s/server.py", srcdir);
	argv[n++] = PYTHON;
	argv[n++] = "-W";
	argv[n++] = "ignore";
	argv[n++] = script;
	argv[n++] = "--fd";
	argv[n++] = fdarg;
	if (cert != NULL) {
		snprintf(certp, sizeof(certp), "%s/%s.pem", dir, cert);
		snprintf(keyp, sizeof(keyp), "%s/%s.key", dir, cert);
		argv[n++] = "--cert";
		argv[n++] = certp;
		argv[n++] = "--key";
		argv[n++] = keyp;
	}
	for (int i = 0; opts != NULL && opts[i] != NULL && i < 6; i++)
		argv[n++] = opts[i];
	argv[n] = NULL;

	fflush(NULL);
	r->pid = fork();
	if (r->pid < 0) {
		perror("test_tls: fork");
		abort();
	}
	if (r->pid == 0) {
		int log = open(cpath("server.log"), O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (log >= 0) {
			dup2(log, 1);
			dup2(log, 2);
		}
		execv(PYTHON, (char *const *)(void *)argv);
		_exit(127);
	}
	/* The child has the listening socket now. */
	close(r->lfd);
	r->lfd = -1;
}

/*
 * Run a case: the server as server() says, a connection, then tls_start()
 * with @c and a deadline @ms from now.  r->t is the session or NULL with
 * r->err.
 */
static void start(struct run *r, const char *cert, const char *const *opts, bool no_server,
		  const struct tls_conf *c, long long ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	long long t0;
	int port;

	memset(r, 0, sizeof(*r));
	r->lfd = listen_any(&port);
	r->fd = -1;
	server(r, cert, opts, no_server);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)port);
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&a, len) < 0 ||
	    fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK) < 0) {
		perror("test_tls: connect");
		abort();
	}
	t0 = now_ms();
	r->t = tls_start(r->fd, c, t0 + ms, r->err, sizeof(r->err));
	r->took = now_ms() - t0;
}

/* End a case: the session, the socket, and the server (killed if stuck). */
static void finish(struct run *r)
{
	long long until = now_ms() + TIMEOUT_MS;
	int status;

	tls_end(r->t);
	r->t = NULL;
	if (r->fd >= 0)
		close(r->fd);
	if (r->lfd >= 0)
		close(r->lfd);
	if (r->pid <= 0)
		return;
	while (waitpid(r->pid, &status, WNOHANG) == 0) {
		if (now_ms() > until) {
			fprintf(stderr, "\n    server.py stuck: killed\n");
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &status, 0);
			return;
		}
		usleep(2000);
	}
}

/*
 * Send "PING" and read the server's line; then the server closes with
 * close_notify, which tls_read() reports as 0.  Returns the line without
 * CR LF in @out, or "" with the error in @out after "ERR ".
 */
static void exchange(struct run *r, char *out, size_t outlen, int line)
{
	char buf[512], err[512] = "";
	size_t len = 0;
	ssize_t n;

	out[0] = '\0';
	if (tls_write(r->t, "PING\r\n", 6, now_ms() + TIMEOUT_MS, err, sizeof(err)) < 0) {
		snprintf(out, outlen, "ERR %s", err);
		return;
	}
	while (len < sizeof(buf) - 1 && memchr(buf, '\n', len) == NULL) {
		n = tls_read(r->t, buf + len, sizeof(buf) - 1 - len, now_ms() + TIMEOUT_MS, err,
			     sizeof(err));
		if (n <= 0) {
			snprintf(out, outlen, "ERR %zd %s", n, err);
			return;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	snprintf(out, outlen, "%s", buf);
	/* Nothing more: the server's close_notify. */
	n = tls_read(r->t, buf, sizeof(buf), now_ms() + TIMEOUT_MS, err, sizeof(err));
	CHECK(n == 0, line);
}

static struct tls_conf conf_default(void)
{
	struct tls_conf c = {
		.verify = true,
		.ca_file = ca_pem,
		.host = "localhost",
	};

	return c;
}

/* Expect tls_start() to fail with exactly @want. */
static void expect_fail(const char *cert, const char *const *opts, const struct tls_conf *c,
			const char *want, int line)
{
	struct run r;

	start(&r, cert, opts, false, c, TIMEOUT_MS);
	CHECK(r.t == NULL, line);
	CHECK(strcmp(r.err, want) == 0, line);
	if (strcmp(r.err, want) != 0)
		fprintf(stderr, "\n    got  \"%s\"\n    want \"%s\"\n", r.err, want);
	finish(&r);
}

/* Expect a session whose info is @info and which gets @reply for PING. */
static void expect_ok(const char *cert, const char *const *opts, const struct tls_conf *c,
		      const char *info, const char *reply, int line)
{
	struct run r;
	char got[600];

	start(&r, cert, opts, false, c, TIMEOUT_MS);
	CHECK(r.t != NULL, line);
	if (r.t == NULL) {
		fprintf(stderr, "\n    tls_start: %s\n", r.err);
		finish(&r);
		return;
	}
	CHECK(strcmp(tls_info(r.t), info) == 0, line);
	if (strcmp(tls_info(r.t), info) != 0)
		fprintf(stderr, "\n    info \"%s\"\n    want \"%s\"\n", tls_info(r.t), info);
	exchange(&r, got, sizeof(got), line);
	CHECK(strcmp(got, reply) == 0, line);
	if (strcmp(got, reply) != 0)
		fprintf(stderr, "\n    reply \"%s\"\n    want  \"%s\"\n", got, reply);
	finish(&r);
}

#define CIPHER "TLS1.3 TLS_AES_256_GCM_SHA384"
#define WRONG_NAMES "other.example.org, www.other.example.org, *.wild.example.org, " \
	"f*.partial.example.org"
#define PONG_LOCALHOST "PONG PING sni=localhost client=-"

/* ---------------------------------------------------------- set-up */

/* Make the certificates, once for all suites. */
static int certs_make(void)
{
	const char *base = getenv("TMPDIR");
	char cmd[3 * PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/noq-tls.XXXXXX", base && *base ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "sh '%s/mkcerts.sh' '%s'", srcdir, dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_tls: %s failed\n", cmd);
		return -1;
	}
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
	snprintf(ca2_pem, sizeof(ca2_pem), "%s/ca2.pem", dir);
	if (read_line_file(cpath("server.pin"), pin_b64, sizeof(pin_b64)) < 0 ||
	    read_line_file(cpath("server.pin.hex"), pin_hex, sizeof(pin_hex)) < 0 ||
	    strlen(pin_b64) != 44 || strlen(pin_hex) != 64)
		return -1;
	return 0;
}

static int certs_remove(void)
{
	char cmd[PATH_MAX + 16];

	if (dir[0] == '\0')
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------- verification */

static void test_verified(void)
{
	struct tls_conf c = conf_default();

	expect_ok("server", NULL, &c, CIPHER ", verified, CN=localhost", PONG_LOCALHOST,
		  __LINE__);
}

static void test_verified_ip(void)
{
	struct tls_conf c = conf_default();

	/* An address is checked against the iPAddress names; no SNI. */
	c.host = "127.0.0.1";
	expect_ok("server", NULL, &c, CIPHER ", verified, CN=localhost",
		  "PONG PING sni=- client=-", __LINE__);
}

static void test_ip_mismatch(void)
{
	struct tls_conf c = conf_default();

	c.host = "127.0.0.2";
	expect_fail("server", NULL, &c, "certificate verify failed: IP address mismatch "
		    "(the certificate is for localhost, 127.0.0.1)", __LINE__);
}

static void test_unknown_ca(void)
{
	struct tls_conf c = conf_default();

	c.ca_file = ca2_pem;
	expect_fail("server", NULL, &c, "certificate verify failed: unable to get local "
		    "issuer certificate (issuer CN=noq test CA)", __LINE__);
}

static void test_system_store(void)
{
	struct tls_conf c = conf_default();

	/* The system's trust anchors do not include the test CA. */
	c.ca_file = NULL;
	expect_fail("server", NULL, &c, "certificate verify failed: unable to get local "
		    "issuer certificate (issuer CN=noq test CA)", __LINE__);
}

static void test_ca_dir(void)
{
	struct tls_conf c = conf_default();
	char link[PATH_MAX + 32], cmd[3 * PATH_MAX];

	/* A hashed directory, as c_rehash makes it. */
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/cadir' && cd '%s/cadir' && "
		 "ln -sf ../ca.pem \"$(openssl x509 -hash -noout -in ../ca.pem).0\"", dir, dir);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	snprintf(link, sizeof(link), "%s/cadir", dir);
	c.ca_file = NULL;
	c.ca_dir = link;
	expect_ok("server", NULL, &c, CIPHER ", verified, CN=localhost", PONG_LOCALHOST,
		  __LINE__);
}

static void test_wrong_name(void)
{
	struct tls_conf c = conf_default();

	expect_fail("wrongname", NULL, &c, "certificate verify failed: hostname mismatch "
		    "(the certificate is for " WRONG_NAMES ")",
		    __LINE__);
}

static void test_wildcards(void)
{
	struct tls_conf c = conf_default();

	c.host = "mail.wild.example.org";
	expect_ok("wrongname", NULL, &c, CIPHER ", verified, CN=other.example.org",
		  "PONG PING sni=mail.wild.example.org client=-", __LINE__);
	/* One label only. */
	c.host = "a.b.wild.example.org";
	expect_fail("wrongname", NULL, &c, "certificate verify failed: hostname mismatch "
		    "(the certificate is for " WRONG_NAMES ")", __LINE__);
	/* No partial wildcards. */
	c.host = "foo.partial.example.org";
	expect_fail("wrongname", NULL, &c, "certificate verify failed: hostname mismatch "
		    "(the certificate is for " WRONG_NAMES ")", __LINE__);
}

static void test_expired(void)
{
	struct tls_conf c = conf_default();

	expect_fail("expired", NULL, &c, "certificate verify failed: certificate has expired",
		    __LINE__);
}

static void test_self_signed(void)
{
	struct tls_conf c = conf_default();

	expect_fail("selfsigned", NULL, &c, "certificate verify failed: self-signed "
		    "certificate", __LINE__);
}

static void test_self_signed_trusted(void)
{
	struct tls_conf c = conf_default();

	/* A private smart host's own certificate as the trust anchor. */
	c.ca_file = cpath("selfsigned.pem");
	expect_ok("selfsigned", NULL, &c, CIPHER ", verified, CN=localhost", PONG_LOCALHOST,
		  __LINE__);
}

static void test_verify_off(void)
{
	struct tls_conf c = conf_default();

	c.verify = false;
	expect_ok("selfsigned", NULL, &c,
		  CIPHER ", not verified: self-signed certificate, CN=localhost",
		  PONG_LOCALHOST, __LINE__);
	expect_ok("wrongname", NULL, &c,
		  CIPHER ", not verified: hostname mismatch (the certificate is for "
		  WRONG_NAMES "), CN=other.example.org",
		  PONG_LOCALHOST, __LINE__);
	expect_ok("server", NULL, &c, CIPHER ", verified, CN=localhost", PONG_LOCALHOST,
		  __LINE__);
}

static void test_sni_override(void)
{
	struct tls_conf c = conf_default();

	/* tls_sni changes what is sent, not what is verified. */
	c.sni = "sni.example.net";
	expect_ok("server", NULL, &c, CIPHER ", verified, CN=localhost",
		  "PONG PING sni=sni.example.net client=-", __LINE__);
	c.host = "127.0.0.1";
	expect_ok("server", NULL, &c, CIPHER ", verified, CN=localhost",
		  "PONG PING sni=sni.example.net client=-", __LINE__);
}

static void test_no_host(void)
{
	struct tls_conf c = conf_default();

	/* No name: the chain alone is checked, and no SNI goes out. */
	c.host = NULL;
	expect_ok("wrongname", NULL, &c, CIPHER ", verified, CN=other.example.org",
		  "PONG PING sni=- client=-", __LINE__);
}

/* ---------------------------------------------------------------- pins */

static void test_pin_match(void)
{
	struct tls_conf c = conf_default();
	char prefixed[80], wrong[80];
	const char *pins1[] = { prefixed, NULL };
	const char *pins2[] = { wrong, pin_hex, NULL };
	const char *pins3[] = { pin_b64, NULL };

	snprintf(prefixed, sizeof(prefixed), "sha256/%s", pin_b64);
	snprintf(wrong, sizeof(wrong), "sha256/%.43s=", "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA");
	c.pins = pins1;
	expect_ok("server", NULL, &c, CIPHER ", verified, pinned, CN=localhost",
		  PONG_LOCALHOST, __LINE__);
	/* Any pin of the list may match; hex works too. */
	c.pins = pins2;
	expect_ok("server", NULL, &c, CIPHER ", verified, pinned, CN=localhost",
		  PONG_LOCALHOST, __LINE__);
	/* A pin holds without verification: the key is what is trusted. */
	c.pins = pins3;
	c.verify = false;
	c.ca_file = ca2_pem;
	expect_ok("server", NULL, &c, CIPHER ", not verified: unable to get local issuer "
		  "certificate (issuer CN=noq test CA), pinned, CN=localhost",
		  PONG_LOCALHOST, __LINE__);
}

static void test_pin_mismatch(void)
{
	struct tls_conf c = conf_default();
	const char *pins[] = { "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
			       "0000000000000000000000000000000000000000000000000000000000000000",
			       NULL };
	char want[200];

	snprintf(want, sizeof(want), "the server's public key matches no tls_pin_sha256 pin "
		 "(it is sha256/%s)", pin_b64);
	c.pins = pins;
	expect_fail("server", NULL, &c, want, __LINE__);
	/* Also when nothing else is checked. */
	c.verify = false;
	c.ca_file = ca2_pem;
	expect_fail("server", NULL, &c, want, __LINE__);
}

static void test_pin_syntax(void)
{
	static const char *const bad[] = {
		"sha256/AAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",    /* no '=' */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",    /* stray low bits */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*A=",
		"000000000000000000000000000000000000000000000000000000000000000g",
		"sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"",
	};
	int sv[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *pins[] = { pin_b64, bad[i], NULL };
		struct tls_conf c = conf_default();
		char err[300] = "", want[300];
		struct tls *t;

		c.pins = pins;
		t = tls_start(sv[0], &c, now_ms() + 1000, err, sizeof(err));
		CU_ASSERT_PTR_NULL(t);
		tls_end(t);
		snprintf(want, sizeof(want), "invalid tls_pin_sha256 pin \"%s\": not 44 base64 "
			 "characters (after an optional sha256/) or 64 hex digits", bad[i]);
		CU_ASSERT_STRING_EQUAL(err, want);
	}
	close(sv[0]);
	close(sv[1]);
}

/* -------------------------------------------------- client certificates */

static void test_client_cert(void)
{
	struct tls_conf c = conf_default();
	const char *opts[] = { "--client-ca", ca_pem, NULL };

	c.cert = cpath("client.pem");
	c.key = cpath("client.key");
	expect_ok("server", opts, &c, CIPHER ", verified, CN=localhost",
		  "PONG PING sni=localhost client=noq test client", __LINE__);
}

static void test_client_cert_missing(void)
{
	struct tls_conf c = conf_default();
	const char *opts[] = { "--client-ca", ca_pem, NULL };
	char got[600];
	struct run r;

	/* In TLS 1.3 the client finishes first: the refusal comes as an
	 * alert on the first read. */
	start(&r, "server", opts, false, &c, TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.t);
	exchange(&r, got, sizeof(got), __LINE__);
	CU_ASSERT_STRING_EQUAL(got, "ERR -1 TLS read failed: tlsv13 alert certificate "
			       "required (the server requires a client certificate)");
	finish(&r);
}

static void test_client_cert_errors(void)
{
	struct tls_conf c = conf_default();
	char want[3 * PATH_MAX];

	c.cert = cpath("client.pem");
	c.key = cpath("server.key");
	snprintf(want, sizeof(want), "the client key %s does not match the certificate %s",
		 cpath("server.key"), cpath("client.pem"));
	expect_fail("server", NULL, &c, want, __LINE__);

	c.cert = cpath("nonexistent.pem");
	c.key = NULL;
	snprintf(want, sizeof(want), "cannot use the client certificate %s: No such file or "
		 "directory", cpath("nonexistent.pem"));
	expect_fail("server", NULL, &c, want, __LINE__);

	c.cert = NULL;
	c.key = cpath("client.key");
	snprintf(want, sizeof(want), "a client key (%s) without a client certificate",
		 cpath("client.key"));
	expect_fail("server", NULL, &c, want, __LINE__);
}

/* ------------------------------------------------------------ failures */

static void test_handshake_timeout(void)
{
	struct tls_conf c = conf_default();
	struct run r;

	/* Connected (the kernel completes it) but nobody ever speaks. */
	start(&r, NULL, NULL, true, &c, 300);
	CU_ASSERT_PTR_NULL(r.t);
	CU_ASSERT_STRING_EQUAL(r.err, "TLS handshake timed out");
	CU_ASSERT(r.took >= 300);
	CU_ASSERT(r.took < 1500);
	finish(&r);
}

static void test_tls11_refused(void)
{
	struct tls_conf c = conf_default();
	const char *opts[] = { "--tls11", NULL };

	expect_fail("server", opts, &c, "TLS handshake failed: tlsv1 alert protocol version "
		    "(noq requires TLS 1.2 or later)", __LINE__);
}

static void test_plaintext_server(void)
{
	struct tls_conf c = conf_default();
	const char *opts[] = { "--greet", "220 mail.example.org ESMTP", NULL };

	expect_fail(NULL, opts, &c, "TLS handshake failed: wrong version number (the "
		    "server did not answer in TLS)", __LINE__);
}

static void test_server_closes(void)
{
	struct tls_conf c = conf_default();
	const char *opts[] = { "--close", NULL };

	expect_fail(NULL, opts, &c, "TLS handshake failed: the server closed the connection",
		    __LINE__);
}

static void test_read_timeout(void)
{
	struct tls_conf c = conf_default();
	const char *opts[] = { "--idle", NULL };
	char buf[64], err[200] = "";
	long long t0;
	ssize_t n;
	struct run r;

	start(&r, "server", opts, false, &c, TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.t);
	t0 = now_ms();
	errno = 0;
	n = tls_read(r.t, buf, sizeof(buf), t0 + 200, err, sizeof(err));
	CU_ASSERT_EQUAL(n, -1);
	CU_ASSERT_EQUAL(errno, ETIMEDOUT);
	CU_ASSERT_STRING_EQUAL(err, "TLS read timed out");
	CU_ASSERT(now_ms() - t0 >= 200);
	CU_ASSERT(now_ms() - t0 < 1500);
	finish(&r);
}

static void test_server_gone(void)
{
	struct tls_conf c = conf_default();
	const char *opts[] = { "--reset", NULL };
	struct pollfd p;
	char buf[64], err[200] = "";
	struct run run;

	start(&run, "server", opts, false, &c, TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(run.t);
	/* Wait for the reset to arrive. */
	p.fd = run.fd;
	p.events = POLLIN;
	CU_ASSERT_EQUAL(poll(&p, 1, TIMEOUT_MS), 1);
	errno = 0;
	CU_ASSERT_EQUAL(tls_read(run.t, buf, sizeof(buf), now_ms() + TIMEOUT_MS, err,
				 sizeof(err)), -1);
	CU_ASSERT_EQUAL(errno, ECONNRESET);
	CU_ASSERT_STRING_EQUAL(err, "TLS read failed: Connection reset by peer");
	/* Writing now fails with EPIPE, and must not raise SIGPIPE (which
	 * would end this program). */
	errno = 0;
	CU_ASSERT_EQUAL(tls_write(run.t, "QUIT\r\n", 6, now_ms() + TIMEOUT_MS, err,
				  sizeof(err)), -1);
	CU_ASSERT_EQUAL(errno, EPIPE);
	CU_ASSERT_STRING_EQUAL(err, "TLS write failed: Broken pipe");
	finish(&run);
}

static void test_setup_errors(void)
{
	struct tls_conf c = conf_default();
	char want[2 * PATH_MAX];

	c.ciphers = "NO-SUCH-CIPHER";
	expect_fail("server", NULL, &c, "tls_require_ciphers \"NO-SUCH-CIPHER\": no cipher "
		    "match", __LINE__);

	c.ciphers = NULL;
	c.ca_file = cpath("nonexistent.pem");
	snprintf(want, sizeof(want), "cannot load the trusted certificates from %s: "
		 "No such file or directory", cpath("nonexistent.pem"));
	expect_fail("server", NULL, &c, want, __LINE__);
}

static void test_pending(void)
{
	struct tls_conf c = conf_default();
	char buf[64], err[200] = "";
	struct run r;

	start(&r, "server", NULL, false, &c, TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.t);
	CU_ASSERT_EQUAL(tls_pending(r.t), 0);
	CU_ASSERT_EQUAL(tls_write(r.t, "PING\r\n", 6, now_ms() + TIMEOUT_MS, err,
				  sizeof(err)), 0);
	CU_ASSERT_EQUAL(tls_read(r.t, buf, 4, now_ms() + TIMEOUT_MS, err, sizeof(err)), 4);
	CU_ASSERT(memcmp(buf, "PONG", 4) == 0);
	/* The rest of the record is decrypted and waiting. */
	CU_ASSERT_EQUAL(tls_pending(r.t), strlen(PONG_LOCALHOST "\r\n") - 4);
	CU_ASSERT_EQUAL(tls_read(r.t, buf, sizeof(buf), now_ms() + TIMEOUT_MS, err,
				 sizeof(err)), (ssize_t)(strlen(PONG_LOCALHOST "\r\n") - 4));
	CU_ASSERT_EQUAL(tls_pending(r.t), 0);
	finish(&r);
	tls_end(NULL);
}

/* ------------------------------------------------------- the certificate */

#define CERT_EQ(got, want, line) do { \
	CHECK(strcmp((got), (want)) == 0, (line)); \
	if (strcmp((got), (want)) != 0) \
		fprintf(stderr, "\n    got  \"%s\"\n    want \"%s\"\n", (got), (want)); \
} while (0)

/* tls_conf.peer: what the server's certificate says, after a session. */
static void test_peer_cert(void)
{
	struct tls_conf c = conf_default();
	struct tls_cert pc;
	struct run r;
	char pin[80];

	memset(&pc, 0xff, sizeof(pc));
	c.peer = &pc;
	start(&r, "server", NULL, false, &c, TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(r.t);
	CU_ASSERT_TRUE(pc.have);
	CERT_EQ(pc.subject, "CN=localhost", __LINE__);
	CERT_EQ(pc.names, "localhost, 127.0.0.1", __LINE__);
	CERT_EQ(pc.issuer, "CN=noq test CA", __LINE__);
	snprintf(pin, sizeof(pin), "sha256/%s", pin_b64);
	CERT_EQ(pc.pin, pin, __LINE__);
	/* mkcerts.sh made it now, for ten years. */
	CU_ASSERT_EQUAL(strlen(pc.not_before), strlen("2026-01-01 00:00:00 UTC"));
	CU_ASSERT_EQUAL(strlen(pc.not_after), strlen("2036-01-01 00:00:00 UTC"));
	CU_ASSERT_TRUE(strcmp(pc.not_before, pc.not_after) < 0);
	CU_ASSERT_STRING_EQUAL(pc.not_before + 19, " UTC");
	finish(&r);
}

/* Also when verification fails: the certificate that failed is shown. */
static void test_peer_cert_failed(void)
{
	struct tls_conf c = conf_default();
	struct tls_cert pc;
	const char *opts[] = { "--greet", "220 mail.example.org ESMTP", NULL };

	c.peer = &pc;
	expect_fail("expired", NULL, &c, "certificate verify failed: certificate has expired",
		    __LINE__);
	CU_ASSERT_TRUE(pc.have);
	CERT_EQ(pc.subject, "CN=localhost", __LINE__);
	CERT_EQ(pc.not_before, "2020-01-01 00:00:00 UTC", __LINE__);
	CERT_EQ(pc.not_after, "2020-02-01 00:00:00 UTC", __LINE__);
	CU_ASSERT_EQUAL(strncmp(pc.pin, "sha256/", 7), 0);
	CU_ASSERT_EQUAL(strlen(pc.pin), 7 + 44);

	expect_fail("wrongname", NULL, &c, "certificate verify failed: hostname mismatch "
		    "(the certificate is for " WRONG_NAMES ")", __LINE__);
	CERT_EQ(pc.subject, "CN=other.example.org", __LINE__);
	CERT_EQ(pc.names, WRONG_NAMES, __LINE__);
	CERT_EQ(pc.issuer, "CN=noq test CA", __LINE__);

	/* No TLS at all: no certificate, and nothing left from before. */
	expect_fail(NULL, opts, &c, "TLS handshake failed: wrong version number (the "
		    "server did not answer in TLS)", __LINE__);
	CU_ASSERT_FALSE(pc.have);
	CERT_EQ(pc.subject, "", __LINE__);
	CERT_EQ(pc.pin, "", __LINE__);
}

/* ------------------------------------------------------------------ main */

static const struct unit_test verify_tests[] = {
	{ "verified by name", test_verified },
	{ "verified by address", test_verified_ip },
	{ "address mismatch", test_ip_mismatch },
	{ "unknown CA", test_unknown_ca },
	{ "system store", test_system_store },
	{ "hashed CA directory", test_ca_dir },
	{ "wrong name", test_wrong_name },
	{ "wildcards", test_wildcards },
	{ "expired", test_expired },
	{ "self-signed", test_self_signed },
	{ "self-signed and trusted", test_self_signed_trusted },
	{ "verification off", test_verify_off },
	{ "SNI override", test_sni_override },
	{ "no host name", test_no_host },
};

static const struct unit_test pin_tests[] = {
	{ "pin matches", test_pin_match },
	{ "pin mismatch", test_pin_mismatch },
	{ "pin syntax", test_pin_syntax },
};

static const struct unit_test client_tests[] = {
	{ "client certificate", test_client_cert },
	{ "client certificate missing", test_client_cert_missing },
	{ "client certificate errors", test_client_cert_errors },
};

static const struct unit_test failure_tests[] = {
	{ "handshake timeout", test_handshake_timeout },
	{ "TLS 1.1 refused", test_tls11_refused },
	{ "plaintext server", test_plaintext_server },
	{ "server closes", test_server_closes },
	{ "read timeout", test_read_timeout },
	{ "server gone", test_server_gone },
	{ "set-up errors", test_setup_errors },
	{ "pending octets", test_pending },
};

static const struct unit_test cert_tests[] = {
	{ "certificate details", test_peer_cert },
	{ "certificate details after a failure", test_peer_cert_failed },
};

static const struct unit_suite suites[] = {
	{ "tls verification", NULL, NULL, verify_tests, UNIT_COUNT(verify_tests) },
	{ "tls pins", NULL, NULL, pin_tests, UNIT_COUNT(pin_tests) },
	{ "tls client certificates", NULL, NULL, client_tests, UNIT_COUNT(client_tests) },
	{ "tls failures", NULL, NULL, failure_tests, UNIT_COUNT(failure_tests) },
	{ "tls certificate details", NULL, NULL, cert_tests, UNIT_COUNT(cert_tests) },
};

int main(void)
{
	const char *top = getenv("top_srcdir");
	int rc;

#ifdef NOQ_TOP_SRCDIR
	if (top == NULL || *top == '\0')
		top = NOQ_TOP_SRCDIR;
#endif
	if (top == NULL || *top == '\0') {
		fprintf(stderr, "test_tls: set top_srcdir to the source tree\n");
		return 99;
	}
	snprintf(srcdir, sizeof(srcdir), "%s/tests/tls", top);
	if (access(PYTHON, X_OK) != 0 || system("openssl version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_tls: skipped: needs %s and openssl\n", PYTHON);
		return 77;
	}
	/* SIGPIPE stays at its default: tls.c must never raise it. */
	if (certs_make() < 0) {
		fprintf(stderr, "test_tls: cannot make the certificates\n");
		certs_remove();
		return 99;
	}
	rc = unit_run(suites, UNIT_COUNT(suites));
	if (certs_remove() < 0)
		rc = rc ? rc : 1;
	return rc;
}
