/*
 * test_xp.c -- unit tests for lib/xp: Exim's expansion language as noq
 * compiles (xp_parse.c), runs (xp_eval.c) and stores (xp_code.c) it.
 *
 * Every expansion is compiled with hooks that serve lookup files from a
 * table (no file is read at compile time) and run with an environment of
 * fixed address variables, a fixed time (TZ=UTC, set in the suite's init)
 * and a small fake message for $h_.  Each one that compiles is also
 * encoded, decoded and run again: the result, or the error, must be the
 * same, and the decoded expansion must encode to the same bytes.
 *
 * Where it matters the expected results are Exim 4.96's ("exim -be",
 * "exim -bem" for the headers), with the deliberate differences of
 * tests/exim-be/cases.txt.  Tests that fail expose bugs in lib/xp: their
 * comments say what Exim does.
 *
 * Code that may crash (decoding damaged bytes, the reproducers of memory
 * errors) runs in a child process, so that a crash fails one test instead
 * of ending the program.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "rfc2047.h"
#include "sb.h"
#include "xp.h"

#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

/* Fri Nov  3 08:26:40 2023 UTC: a one-digit day and hour. */
#define NOW 1699000000

/* ---- the environment ---------------------------------------------------- */

static const char *const var_values[XV_N] = {
	[XV_LOCAL_PART] = "joe",
	[XV_DOMAIN] = "example.com",
	[XV_HOME] = "/home/joe",
	[XV_LOCAL_PART_PREFIX] = "pre-",
	[XV_LOCAL_PART_SUFFIX] = "-suf",
	[XV_ORIGINAL_LOCAL_PART] = "Joe",
	[XV_ORIGINAL_DOMAIN] = "Example.COM",
	[XV_ADDRESS_DATA] = "data=1",
	[XV_SENDER_ADDRESS] = "alice@sender.example",
	[XV_PRIMARY_HOSTNAME] = "mail.example.org",
	[XV_QUALIFY_DOMAIN] = "example.org",
	[XV_QUALIFY_RECIPIENT] = "rcpt.example.org",
	[XV_MESSAGE_SIZE] = "1234",
	[XV_CALLER_UID] = "1000",
	[XV_CALLER_GID] = "100",
	[XV_ORIGINATOR_UID] = "1001",
	[XV_ORIGINATOR_GID] = "101",
};

/*
 * The fake message, as "exim -bem" reads it:
 *   From: Alice <alice@example.org>
 *   To: bob@example.net
 *   Subject: =?UTF-8?Q?Caf=C3=A9_ol=C3=A9?= now
 *   To:  carol@example.net ,
 *   	dave@example.net
 *   X-Empty:
 *   X-Spaces:   padded
 *   X-Colon: a:b
 * Each value is what follows the colon, without the final newline.
 */
static const struct {
	const char *name, *value;
} msg_hdrs[] = {
	{ "From", " Alice <alice@example.org>" },
	{ "To", " bob@example.net" },
	{ "Subject", " =?UTF-8?Q?Caf=C3=A9_ol=C3=A9?= now" },
	{ "To", "  carol@example.net ,\n\tdave@example.net" },
	{ "X-Empty", "" },
	{ "X-Spaces", "   padded   " },
	{ "X-Colon", " a:b" },
};

/* What the header callback saw last. */
static struct {
	unsigned calls;
	char name[64];
	size_t len;
	int flavour;
} hdr_seen;

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Exim's header flavours over msg_hdrs (as runtime/msg.c does them): raw
 * values each with its newline; a list of raw values joined by ':' with
 * their own colons doubled; or trimmed values joined by ",\n" (address
 * headers) or "\n", RFC 2047 decoded.  "X-Oom:" fails as out of memory.
 */
static int fake_header(void *arg, const char *name, size_t len, int flavour, struct sb *out)
{
	struct sb g = SB_INIT;
	size_t nl = len > 0 && name[len - 1] == ':' ? len - 1 : len;
	bool found = false;
	int rc = 0;

	(void)arg;
	hdr_seen.calls++;
	snprintf(hdr_seen.name, sizeof(hdr_seen.name), "%.*s", (int)len, name);
	hdr_seen.len = len;
	hdr_seen.flavour = flavour;
	if (len == 6 && strncasecmp(name, "X-Oom:", 6) == 0)
		return -1;
	for (size_t i = 0; i < UNIT_COUNT(msg_hdrs); i++) {
		const char *v = msg_hdrs[i].value, *e = v + strlen(v);

		if (strlen(msg_hdrs[i].name) != nl || strncasecmp(msg_hdrs[i].name, name, nl) != 0)
			continue;
		found = true;
		if (flavour == XH_RAW) {
			sb_put(&g, v, (size_t)(e - v));
			sb_putc(&g, '\n');
			continue;
		}
		if (flavour == XH_LIST) {
			if (g.len > 0)
				sb_putc(&g, ':');
			for (const char *p = v; p < e; p++) {
				if (*p == ':')
					sb_putc(&g, ':');
				sb_putc(&g, *p);
			}
			continue;
		}
		while (v < e && is_ws(*v))
			v++;
		while (e > v && is_ws(e[-1]))
			e--;
		if (e > v) {
			if (g.len > 0)
				sb_puts(&g, strcasecmp(msg_hdrs[i].name, "To") == 0 ||
					strcasecmp(msg_hdrs[i].name, "From") == 0 ? ",\n" : "\n");
			sb_put(&g, v, (size_t)(e - v));
		}
	}
	if (found && g.len > 0) {
		if (flavour == XH_RAW || flavour == XH_LIST)
			rc = sb_put(out, g.p, g.len);
		else
			rc = rfc2047_decode(g.p, g.len, flavour == XH_DECODED, out);
	}
	sb_free(&g);
	return rc != 0 ? -1 : found ? 1 : 0;
}

/* What the match_list callback saw last. */
static struct {
	unsigned calls;
	enum xp_list k;
	char list[128];
	char subject[128];
} match_seen;

/* A caller's matcher: the subject is in the list when the list contains
   it; the list "ERR" fails. */
static int fake_match(void *arg, enum xp_list k, const char *list, const char *subject,
		      char *msg, size_t msglen)
{
	(void)arg;
	match_seen.calls++;
	match_seen.k = k;
	snprintf(match_seen.list, sizeof(match_seen.list), "%s", list);
	snprintf(match_seen.subject, sizeof(match_seen.subject), "%s", subject);
	if (strcmp(list, "ERR") == 0) {
		snprintf(msg, msglen, "boom");
		return -1;
	}
	return *subject != '\0' && strstr(list, subject) != NULL;
}

static struct xp_env std_env(void)
{
	struct xp_env env = { .now = NOW, .header = fake_header };

	memcpy(env.var, var_values, sizeof(env.var));
	return env;
}

/* ---- the hooks: lookup files from a table ------------------------------- */

static const char ls_text[] =
	"# comment line\n"
	"alpha: one\n"
	"beta   two\n"
	"Gamma:three\n"
	"  continued here\n"
	"\t\tand here\n"
	"\"quoted key\": qdata\n"
	"\"with\\x41esc\" esc\n"
	"\"a:b\" colon\n"
	"alpha: second alpha\n"
	"empty:\n"
	"trail: x   \n"
	"bare\n"
	"*: star-entry\n"
	"last: no newline";

/* Continuation lines after a blank, a blank-only or a comment line. */
static const char cont_text[] =
	"k1: a\n"
	"\n"
	"  after blank\n"
	"k2: b\n"
	"# c\n"
	"  after comment\n"
	"k3: c\n"
	"  \n"
	"  after spaces\n"
	"k4: d\n"
	"  # indented\n"
	"  more\n";

/* wildlsearch keys are expanded: \N...\N keeps a regex as it is. */
static const char wild_text[] =
	"^\\N^a.*\\.re$\\N: regex-wild\n"
	"*.suffix.example: suffix\n"
	"*suffix2: suffix2\n"
	"exact.example: exact\n"
	"\"\\\\N^(q)(\\\\d+)$\\\\N\": quoted-regex\n"
	"*: default\n";

/* nwildlsearch keys are not. */
static const char nwild_text[] =
	"^c\\d+\\.re$: nwildregex\n"
	"*.suffix.example: suffix\n"
	"$local_part: dollar\n"
	"*: default\n";

static const char neg_text[] =
	"!neg.example: negated\n"
	"other.example: other\n";

static const char ip_text[] =
	"192.168.1.0/24: net24\n"
	"192.168.1.5: host\n"
	"\"::1\": v6lo\n"
	"\"2001:db8::/32\": v6net\n"
	"10.0.0.0/8 ten\n"
	"not-an-ip: junk\n"
	"*: star\n"
	"0.0.0.0/0: all4\n";

static const char emptykey_text[] = "\"\": emptykey\nx: y\n";

/* A NUL octet in a key. */
static const char nul_text[] = "a\0b: x\nc: y\n";

static const struct {
	const char *path;
	const char *text;
	size_t len;
} files[] = {
	{ "/lk/ls", ls_text, sizeof(ls_text) - 1 },
	{ "/lk/cont", cont_text, sizeof(cont_text) - 1 },
	{ "/lk/wild", wild_text, sizeof(wild_text) - 1 },
	{ "/lk/nwild", nwild_text, sizeof(nwild_text) - 1 },
	{ "/lk/neg", neg_text, sizeof(neg_text) - 1 },
	{ "/lk/ip", ip_text, sizeof(ip_text) - 1 },
	{ "/lk/emptykey", emptykey_text, sizeof(emptykey_text) - 1 },
	{ "/lk/nul", nul_text, sizeof(nul_text) - 1 },
	{ "/lk/dollar", "$local_part: x\n", 15 },
	{ "/lk/badkey", "^a$: x\n", 7 },
	{ "/lk/host", "$primary_hostname: x\n", 21 },
};

static struct {
	unsigned calls;
	char path[128];
} read_seen;

static char *fake_read(void *arg, const char *path, size_t *len, char *msg, size_t msglen)
{
	(void)arg;
	read_seen.calls++;
	snprintf(read_seen.path, sizeof(read_seen.path), "%s", path);
	for (size_t i = 0; i < UNIT_COUNT(files); i++) {
		if (strcmp(files[i].path, path) != 0)
			continue;

		char *d = malloc(files[i].len + 1);

		if (d == NULL) {
			snprintf(msg, msglen, "out of memory");
			return NULL;
		}
		memcpy(d, files[i].text, files[i].len);
		d[files[i].len] = '\0';
		*len = files[i].len;
		return d;
	}
	snprintf(msg, msglen, "failed to open %s for linear search: No such file or directory",
		 path);
	return NULL;
}

static struct {
	unsigned calls;
	enum xp_list k;
	char list[128];
	size_t pos;
} check_seen;

/* The compile-time list check: "BAD" is refused with a message, "QUIET"
   without (the caller reported it). */
static int fake_check(void *arg, enum xp_list k, const char *list, size_t pos, char *msg,
		      size_t msglen)
{
	(void)arg;
	check_seen.calls++;
	check_seen.k = k;
	snprintf(check_seen.list, sizeof(check_seen.list), "%s", list);
	check_seen.pos = pos;
	if (strcmp(list, "BAD") == 0) {
		snprintf(msg, msglen, "bad list");
		return -1;
	}
	if (strcmp(list, "QUIET") == 0) {
		if (msglen > 0)
			msg[0] = '\0';
		return -1;
	}
	return 0;
}

static const struct xp_hooks hooks = { fake_check, fake_read, NULL, NULL };

/* ---- files for ${readfile} and exists --------------------------------- */

static char tmpdir[] = "/tmp/test_xp.XXXXXX";
static char rf_path[64], empty_path[64], big_path[64];

static int write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return -1;
	if (len > 0 && fwrite(text, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static int suite_init(void)
{
	if (setenv("TZ", "UTC", 1) != 0)
		return -1;
	tzset();
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(rf_path, sizeof(rf_path), "%s/rf", tmpdir);
	snprintf(empty_path, sizeof(empty_path), "%s/empty", tmpdir);
	snprintf(big_path, sizeof(big_path), "%s/big", tmpdir);
	if (write_file(rf_path, "line1\nline2\nlast", 16) != 0 ||
	    write_file(empty_path, "", 0) != 0)
		return -1;

	/* 1.5 MiB of text: more than an expansion may produce. */
	size_t n = 3 * 512 * 1024;
	char *big = malloc(n);

	if (big == NULL)
		return -1;
	memset(big, 'x', n);
	for (size_t i = 99; i < n; i += 100)
		big[i] = '\n';

	int rc = write_file(big_path, big, n);

	free(big);
	return rc;
}

static int suite_cleanup(void)
{
	unlink(rf_path);
	unlink(empty_path);
	unlink(big_path);
	rmdir(tmpdir);
	return 0;
}

/* ---- running one expansion ---------------------------------------------- */

struct outcome {
	int rc;
	char *out;
	size_t len;
	struct xp_err e;
};

static void run(struct xp *x, const struct xp_env *env, struct outcome *o)
{
	struct sb b = SB_INIT;

	o->rc = xp_eval(x, env, &b, &o->e);
	o->len = b.len;
	o->out = malloc(b.len + 1);
	if (o->out != NULL) {
		memcpy(o->out, b.p ? b.p : "", b.len);
		o->out[b.len] = '\0';
	}
	sb_free(&b);
}

/* Print a string with its control characters visible. */
static void show(const char *what, const char *s, size_t n)
{
	fprintf(stderr, "%s \"", what);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '\t')
			fputs("\\t", stderr);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
}

/*
 * @x (compiled from @src) encoded and decoded must give the outcome @o1
 * again with @env, and the same bytes when encoded again.
 */
static void roundtrip(unsigned line, struct xp *x, const char *src, const struct xp_env *env,
		      const struct outcome *o1)
{
	struct sb b1 = SB_INIT, b2 = SB_INIT;
	struct xp *y = NULL;
	struct outcome o2;
	char err[256] = "";
	int rc;

	CHECK(xp_encode(x, &b1) == 0, line);
	rc = xp_decode(b1.p, b1.len, src, xp_lookup_tables(x), &y, err, sizeof(err));
	CHECK(rc == 0, line);
	if (rc != 0) {
		fprintf(stderr, "line %u: \"%s\": the decoder refused the encoder's bytes: %s\n",
			line, src, err);
		sb_free(&b1);
		return;
	}
	CHECK(strcmp(xp_source(y), src) == 0, line);
	run(y, env, &o2);

	bool same = o2.rc == o1->rc && o2.len == o1->len &&
		    memcmp(o2.out, o1->out, o1->len) == 0 &&
		    (o1->rc == 0 || (strcmp(o2.e.msg, o1->e.msg) == 0 &&
				     o2.e.forced == o1->e.forced && o2.e.pos == o1->e.pos &&
				     o2.e.len == o1->e.len));

	CHECK(same, line);
	if (!same) {
		fprintf(stderr, "line %u: \"%s\" decoded gives %d \"%s\" (%s), compiled %d \"%s\" (%s)\n",
			line, src, o2.rc, o2.out, o2.e.msg, o1->rc, o1->out, o1->e.msg);
	}
	CHECK(xp_encode(y, &b2) == 0, line);
	CHECK(b2.len == b1.len && memcmp(b2.p, b1.p, b1.len) == 0, line);
	free(o2.out);
	xp_free(y);
	sb_free(&b1);
	sb_free(&b2);
}

/*
 * Compile @s for @place and run it with @env: the result must be @want
 * (@rc 0), or the error @want (@rc -1, forced as @forced).
 */
static void expect(unsigned line, unsigned place, const struct xp_env *env, const char *s,
		   int rc, const char *want, bool forced)
{
	struct xp *x;
	struct xp_err e;
	struct outcome o;

	if (xp_compile(s, place, &hooks, &x, &e) != 0) {
		CHECK(!"compiles", line);
		fprintf(stderr, "line %u: \"%s\" does not compile: %s (at %zu+%zu)\n", line, s,
			e.msg, e.pos, e.len);
		return;
	}
	run(x, env, &o);
	if (rc == 0) {
		bool ok = o.rc == 0 && o.len == strlen(want) && memcmp(o.out, want, o.len) == 0;

		CHECK(ok, line);
		if (!ok) {
			fprintf(stderr, "line %u: \"%s\"\n", line, s);
			if (o.rc != 0)
				fprintf(stderr, "  failed: %s\n", o.e.msg);
			else
				show("  got ", o.out, o.len);
			show("  want", want, strlen(want));
		}
	} else {
		bool ok = o.rc == -1 && strcmp(o.e.msg, want) == 0 && o.e.forced == forced;

		CHECK(ok, line);
		if (!ok)
			fprintf(stderr, "line %u: \"%s\": got %d \"%s\" (%s, forced %d), want the "
				"error \"%s\" (forced %d)\n", line, s, o.rc, o.out, o.e.msg,
				o.e.forced, want, forced);
	}

	/* Run again: kept regular expressions give the same. */
	struct outcome again;

	run(x, env, &again);
	CHECK(again.rc == o.rc && again.len == o.len && memcmp(again.out, o.out, o.len) == 0,
	      line);
	free(again.out);
	roundtrip(line, x, s, env, &o);
	free(o.out);
	xp_free(x);
}

/* A compile-time error: exactly @msg at [@pos, @pos + @len). */
static void cerr(unsigned line, unsigned place, const struct xp_hooks *h, const char *s,
		 size_t pos, size_t len, const char *msg)
{
	struct xp *x = (struct xp *)&x;      /* not NULL: a refusal must set it */
	struct xp_err e;
	int rc = xp_compile(s, place, h, &x, &e);

	CHECK(rc == -1, line);
	CHECK(x == NULL, line);
	if (rc == 0) {
		fprintf(stderr, "line %u: \"%s\" compiled; want \"%s\"\n", line, s, msg);
		xp_free(x);
		return;
	}
	bool ok = strcmp(e.msg, msg) == 0 && e.pos == pos && e.len == len && !e.forced;

	CHECK(ok, line);
	if (!ok)
		fprintf(stderr, "line %u: \"%s\": got \"%s\" at %zu+%zu, want \"%s\" at %zu+%zu\n",
			line, s, e.msg, e.pos, e.len, msg, pos, len);
}

/* A compile-time refusal with @msg, wherever it is. */
static void refused(unsigned line, unsigned place, const char *s, const char *msg)
{
	struct xp *x;
	struct xp_err e;
	int rc = xp_compile(s, place, &hooks, &x, &e);

	CHECK(rc == -1 && strcmp(e.msg, msg) == 0, line);
	if (rc == 0) {
		fprintf(stderr, "line %u: \"%s\" compiled; want \"%s\"\n", line, s, msg);
		xp_free(x);
	} else if (strcmp(e.msg, msg) != 0) {
		fprintf(stderr, "line %u: \"%s\": got \"%s\", want \"%s\"\n", line, s, e.msg, msg);
	}
}

static const struct xp_env *envp(void)
{
	static struct xp_env env;

	env = std_env();
	return &env;
}

/* Router options (where every variable exists), the standard env. */
#define EX(s, want) expect(__LINE__, XP_ROUTER, envp(), (s), 0, (want), false)
#define EXP(place, s, want) expect(__LINE__, (place), envp(), (s), 0, (want), false)
#define EXE(env, s, want) expect(__LINE__, XP_ROUTER, (env), (s), 0, (want), false)
#define FAIL(s, msg) expect(__LINE__, XP_ROUTER, envp(), (s), -1, (msg), false)
#define FAILE(env, s, msg) expect(__LINE__, XP_ROUTER, (env), (s), -1, (msg), false)
#define FORCED(s, msg) expect(__LINE__, XP_ROUTER, envp(), (s), -1, (msg), true)
#define CERR(s, pos, len, msg) cerr(__LINE__, XP_ROUTER, &hooks, (s), (pos), (len), (msg))
#define CERRP(place, s, pos, len, msg) cerr(__LINE__, (place), &hooks, (s), (pos), (len), (msg))

/* ---- child processes ---------------------------------------------------- */

/*
 * Run @fn(@arg) in a child process (30 s at most): its exit status, or
 * 128 + the signal that ended it.
 */
static int in_child(int (*fn)(const void *), const void *arg)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		alarm(30);
		_exit(fn(arg));
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* ======================================================================
 * Text and escapes
 * ====================================================================== */

static void test_text(void)
{
	EX("", "");
	EX("abc", "abc");
	EX("a b  c", "a b  c");
	EX("{abc}", "{abc}");
	EX("a}b", "a}b");
	EX("a:b;c,d", "a:b;c,d");
	EX("x@y.example", "x@y.example");
}

static void test_escapes(void)
{
	EX("a\\nb", "a\nb");
	EX("\\t", "\t");
	EX("\\r", "\r");
	EX("\\b\\f\\v", "\b\f\v");
	EX("\\x41", "A");
	EX("\\x4a\\x4A", "JJ");
	EX("\\x4g", "\x04g");
	EX("\\x414", "A4");
	EX("\\101", "A");
	EX("\\1011", "A1");
	EX("\\60\\061", "01");
	EX("\\777", "\xff");
	EX("\\9", "9");
	EX("\\q\\$\\{\\}", "q${}");
	EX("a\\\\b", "a\\b");
	EX("\\$local_part", "$local_part");
	EX("\\N${x}$y\\N", "${x}$y");
	EX("\\N\\Nabc", "abc");
	EX("\\Nabc", "abc");                 /* runs to the end */
	EX("\\N", "");
	EX("x\\N\\\\N\\Ny", "x\\y");
	EX("\\N${if\\N", "${if");
	EX("a\\Nb\\N\\n\\Nc\\N", "ab\nc");
	EX("${strlen:\\x41\\101\\t}", "3");
	EX("${strlen:a\\nb}", "3");
	CERR("\\0", 0, 2, "'\\0' would put a NUL byte in the expansion");
	CERR("a\\x00b", 1, 4, "'\\x00' would put a NUL byte in the expansion");
	CERR("abc\\", 3, 1, "\\ at end of string");
}

/* ======================================================================
 * Variables
 * ====================================================================== */

static const struct {
	const char *name;
	enum xp_var v;
	const char *value;
} all_vars[] = {
	{ "local_part", XV_LOCAL_PART, "joe" },
	{ "domain", XV_DOMAIN, "example.com" },
	{ "home", XV_HOME, "/home/joe" },
	{ "local_part_prefix", XV_LOCAL_PART_PREFIX, "pre-" },
	{ "local_part_suffix", XV_LOCAL_PART_SUFFIX, "-suf" },
	{ "original_local_part", XV_ORIGINAL_LOCAL_PART, "Joe" },
	{ "original_domain", XV_ORIGINAL_DOMAIN, "Example.COM" },
	{ "address_data", XV_ADDRESS_DATA, "data=1" },
	{ "sender_address", XV_SENDER_ADDRESS, "alice@sender.example" },
	{ "primary_hostname", XV_PRIMARY_HOSTNAME, "mail.example.org" },
	{ "qualify_domain", XV_QUALIFY_DOMAIN, "example.org" },
	{ "qualify_recipient", XV_QUALIFY_RECIPIENT, "rcpt.example.org" },
	{ "message_size", XV_MESSAGE_SIZE, "1234" },
	{ "caller_uid", XV_CALLER_UID, "1000" },
	{ "caller_gid", XV_CALLER_GID, "100" },
	{ "originator_uid", XV_ORIGINATOR_UID, "1001" },
	{ "originator_gid", XV_ORIGINATOR_GID, "101" },
	{ "sender_address_local_part", XV_SENDER_ADDRESS_LOCAL_PART, "alice" },
	{ "sender_address_domain", XV_SENDER_ADDRESS_DOMAIN, "sender.example" },
	{ "tod_bsdinbox", XV_TOD_BSDINBOX, "Fri Nov 03 08:26:40 2023" },
	{ "tod_epoch", XV_TOD_EPOCH, "1699000000" },
	{ "tod_epoch_l", XV_TOD_EPOCH_L, "1699000000000000" },
	{ "tod_full", XV_TOD_FULL, "Fri, 03 Nov 2023 08:26:40 +0000" },
	{ "tod_log", XV_TOD_LOG, "2023-11-03 08:26:40" },
	{ "tod_logfile", XV_TOD_LOGFILE, "20231103" },
	{ "tod_zone", XV_TOD_ZONE, "+0000" },
	{ "tod_zulu", XV_TOD_ZULU, "20231103082640Z" },
};

static void test_variables(void)
{
	char s[128], want[128];

	CHECK(UNIT_COUNT(all_vars) == XV_LATE_FIRST, __LINE__);
	for (size_t i = 0; i < UNIT_COUNT(all_vars); i++) {
		unsigned line = __LINE__;

		CHECK(strcmp(xp_var_name(all_vars[i].v), all_vars[i].name) == 0, line);
		snprintf(s, sizeof(s), "$%s", all_vars[i].name);
		expect(line, XP_ROUTER, envp(), s, 0, all_vars[i].value, false);
		snprintf(s, sizeof(s), "<${%s}>", all_vars[i].name);
		snprintf(want, sizeof(want), "<%s>", all_vars[i].value);
		expect(line, XP_ROUTER, envp(), s, 0, want, false);
		/* A name ends at the first character that is not a letter,
		   digit or underscore. */
		snprintf(s, sizeof(s), "$%s.x", all_vars[i].name);
		snprintf(want, sizeof(want), "%s.x", all_vars[i].value);
		expect(line, XP_ROUTER, envp(), s, 0, want, false);
		snprintf(s, sizeof(s), "${if def:%s{y}{n}}", all_vars[i].name);
		expect(line, XP_ROUTER, envp(), s, 0, "y", false);
	}
	/* What received_header_text sees besides (noq sets them there only). */
	static const struct {
		const char *name;
		enum xp_var v;
		const char *value;
	} late[] = {
		{ "received_protocol", XV_RECEIVED_PROTOCOL, "local" },
		{ "message_exim_id", XV_MESSAGE_EXIM_ID, "1xaZjs-0000u8-bOqYia" },
		{ "message_id", XV_MESSAGE_ID, "1xaZjs-0000u8-bOqYia" },
		{ "received_for", XV_RECEIVED_FOR, "bob@example.net" },
		{ "sender_ident", XV_SENDER_IDENT, "joe" },
		{ "authenticated_id", XV_AUTHENTICATED_ID, "joe" },
		{ "version_number", XV_VERSION_NUMBER, "0.1" },
		{ "sender_rcvhost", XV_SENDER_RCVHOST, "" },
		{ "sender_helo_name", XV_SENDER_HELO_NAME, "" },
		{ "sender_host_address", XV_SENDER_HOST_ADDRESS, "" },
		{ "sender_host_name", XV_SENDER_HOST_NAME, "" },
		{ "tls_in_ver", XV_TLS_IN_VER, "" },
		{ "tls_in_cipher", XV_TLS_IN_CIPHER, "" },
		{ "tls_in_cipher_std", XV_TLS_IN_CIPHER_STD, "" },
	};
	struct xp_env le = std_env();

	/* The late variables of received_header_text, then DKIM's two. */
	CHECK(UNIT_COUNT(late) == XV_DKIM_DOMAIN - XV_LATE_FIRST, __LINE__);
	CHECK(XV_DKIM_SELECTOR + 1 == XV_N, __LINE__);
	for (size_t i = 0; i < UNIT_COUNT(late); i++)
		le.var[late[i].v] = late[i].value[0] != '\0' ? late[i].value : NULL;
	for (size_t i = 0; i < UNIT_COUNT(late); i++) {
		CHECK(strcmp(xp_var_name(late[i].v), late[i].name) == 0, __LINE__);
		snprintf(s, sizeof(s), "<$%s>", late[i].name);
		snprintf(want, sizeof(want), "<%s>", late[i].value);
		expect(__LINE__, XP_RECEIVED, &le, s, 0, want, false);
		/* Elsewhere, as before: not supported. */
		snprintf(s, sizeof(s), "$%s", late[i].name);
		snprintf(want, sizeof(want), "variable $%s is not supported by noq",
			 late[i].name);
		CERRP(XP_TRANSPORT, s, 0, strlen(s), want);
	}
	/* The transport's variables are there too. */
	expect(__LINE__, XP_RECEIVED, &le, "$sender_address $tod_zone", 0,
	       "alice@sender.example +0000", false);
	/* $dkim_domain and $dkim_selector: in the dkim_* options only, with
	   the transport's variables and $h_. */
	le.var[XV_DKIM_DOMAIN] = "example.org";
	le.var[XV_DKIM_SELECTOR] = "s1";
	CHECK(strcmp(xp_var_name(XV_DKIM_DOMAIN), "dkim_domain") == 0, __LINE__);
	CHECK(strcmp(xp_var_name(XV_DKIM_SELECTOR), "dkim_selector") == 0, __LINE__);
	expect(__LINE__, XP_DKIM, &le, "/k/${dkim_domain}.$dkim_selector.pem $sender_address",
	       0, "/k/example.org.s1.pem alice@sender.example", false);
	CERRP(XP_TRANSPORT, "$dkim_domain", 0, 12,
	      "variable $dkim_domain is not available in a transport's options (one "
	      "transaction serves every recipient)");
	CERRP(XP_RECEIVED, "$dkim_selector", 0, 14,
	      "variable $dkim_selector is not available in received_header_text");
	CERRP(XP_ROUTER, "$dkim_domain", 0, 12,
	      "variable $dkim_domain is not available in a router's options");
	CERRP(XP_DKIM, "$local_part", 0, 11,
	      "variable $local_part is not available in a transport's dkim_* options");
	CERRP(XP_DKIM, "$message_exim_id", 0, 16,
	      "variable $message_exim_id is not supported by noq");
	EX("x$primary_hostname.y", "xmail.example.org.y");
	EX("$local_part@$domain", "joe@example.com");
	EX("${local_part}x", "joex");
	CHECK(strcmp(xp_var_name((enum xp_var)999), "?") == 0, __LINE__);

	/* Unset variables are empty; so are the parts of an empty sender. */
	struct xp_env env = std_env();

	for (int v = 0; v < XV_SET_N; v++)
		env.var[v] = NULL;
	for (size_t i = 0; i < UNIT_COUNT(all_vars); i++) {
		if (all_vars[i].v >= XV_SET_N)
			continue;
		snprintf(s, sizeof(s), "[$%s]", all_vars[i].name);
		expect(__LINE__, XP_ROUTER, &env, s, 0, "[]", false);
		snprintf(s, sizeof(s), "${if def:%s{y}{n}}", all_vars[i].name);
		expect(__LINE__, XP_ROUTER, &env, s, 0, "n", false);
	}
	EXE(&env, "[$sender_address_local_part][$sender_address_domain]", "[][]");
	env.var[XV_SENDER_ADDRESS] = "";
	EXE(&env, "[$sender_address_local_part][$sender_address_domain]", "[][]");
	EXE(&env, "${if def:sender_address_domain{y}{n}}", "n");
	env.var[XV_HOME] = "";
	EXE(&env, "${if def:home{y}{n}}", "n");
	env.var[XV_SENDER_ADDRESS] = "a@b@c.example";
	EXE(&env, "[$sender_address_local_part][$sender_address_domain]", "[a@b][c.example]");

	/* The variables Exim has and noq does not set. */
	CERR("$message_id", 0, 11, "variable $message_id is not supported by noq");
	CERR("${sender_host_address}", 0, 22,
	     "variable $sender_host_address is not supported by noq");
	CERR("$acl_m0", 0, 7, "variable $acl_m0 is not supported by noq");
	CERR("$tls_in_cipher", 0, 14, "variable $tls_in_cipher is not supported by noq");
	CERR("$nosuch", 0, 7, "unknown variable name \"nosuch\"");
	CERR("${nosuch}", 0, 9, "unknown variable in \"${nosuch}\"");
	CERR("$acl_x", 0, 6, "unknown variable name \"acl_x\" (user-defined ACL variables "
	     "must start acl_c or acl_m)");
}

static void test_tod(void)
{
	struct xp_env env = std_env();

	/* Another zone: local time moves, $tod_zulu and $tod_epoch do not. */
	setenv("TZ", "<+0530>-5:30", 1);
	tzset();
	EX("$tod_zone", "+0530");
	EX("$tod_log", "2023-11-03 13:56:40");
	EX("$tod_logfile", "20231103");
	EX("$tod_full", "Fri, 03 Nov 2023 13:56:40 +0530");
	EX("$tod_bsdinbox", "Fri Nov 03 13:56:40 2023");
	EX("$tod_zulu", "20231103082640Z");
	EX("$tod_epoch", "1699000000");
	setenv("TZ", "<-0330>3:30", 1);
	tzset();
	EX("$tod_zone", "-0330");
	EX("$tod_log", "2023-11-03 04:56:40");
	env.now = 1672538400;                   /* 2023-01-01 02:00:00 UTC */
	EXE(&env, "$tod_logfile $tod_zulu $tod_bsdinbox", "20221231 20230101020000Z "
	    "Sat Dec 31 22:30:00 2022");
	setenv("TZ", "UTC", 1);
	tzset();
	EX("$tod_full", "Fri, 03 Nov 2023 08:26:40 +0000");

	/* Without a time, now: all the $tod_ of one expansion agree. */
	struct xp *x;
	struct xp_err e;
	struct sb b = SB_INIT;
	time_t before = time(NULL), after;
	long long got = 0, got_l = 0;

	env.now = 0;
	CHECK(xp_compile("$tod_epoch $tod_epoch_l", XP_GLOBAL, NULL, &x, &e) == 0, __LINE__);
	CHECK(xp_eval(x, &env, &b, &e) == 0, __LINE__);
	after = time(NULL);
	CHECK(sscanf(sb_str(&b), "%lld %lld", &got, &got_l) == 2, __LINE__);
	/* time() reads the coarse clock, which may lag the one $tod_epoch
	   reads by a tick: one second of slack either side. */
	CHECK(got >= before - 1 && got <= after + 1, __LINE__);
	CHECK(got_l / 1000000 == got, __LINE__);
	CHECK(b.len == 10 + 1 + 16, __LINE__);
	sb_free(&b);
	xp_free(x);
}

/* ======================================================================
 * Headers
 * ====================================================================== */

static void test_headers(void)
{
	/* As "exim -bem" gives them for the message of msg_hdrs. */
	EX("[$h_to:]", "[bob@example.net,\ncarol@example.net ,\n\tdave@example.net]");
	EX("[$header_to:]", "[bob@example.net,\ncarol@example.net ,\n\tdave@example.net]");
	EX("[$rh_to:]", "[ bob@example.net\n  carol@example.net ,\n\tdave@example.net\n]");
	EX("[$rheader_To:]", "[ bob@example.net\n  carol@example.net ,\n\tdave@example.net\n]");
	EX("[$bh_to:]", "[bob@example.net,\ncarol@example.net ,\n\tdave@example.net]");
	EX("[$bheader_to:]", "[bob@example.net,\ncarol@example.net ,\n\tdave@example.net]");
	EX("[$lh_to:]", "[ bob@example.net:  carol@example.net ,\n\tdave@example.net]");
	EX("[$lheader_to:]", "[ bob@example.net:  carol@example.net ,\n\tdave@example.net]");
	EX("[$h_subject:]", "[Caf\xc3\xa9 ol\xc3\xa9 now]");
	EX("[$bh_subject:]", "[Caf\xc3\xa9 ol\xc3\xa9 now]");
	EX("[$rh_subject:]", "[ =?UTF-8?Q?Caf=C3=A9_ol=C3=A9?= now\n]");
	EX("[$h_x-empty:]", "[]");
	EX("[$h_x-spaces:]", "[padded]");
	EX("[$rh_x-spaces:]", "[   padded   \n]");
	EX("[$lh_x-colon:]", "[ a::b]");
	EX("[$h_nothere:]", "[]");
	EX("[$h_From:]", "[Alice <alice@example.org>]");
	/* The name ends at a colon (taken) or at white space (kept). */
	EX("[$h_to x]", "[bob@example.net,\ncarol@example.net ,\n\tdave@example.net x]");
	EX("[$h_subject]", "[");             /* the header "subject]" */
	EX("${uc:$h_x-spaces:}", "PADDED");

	/* The callback gets the name with its colon, and the flavour. */
	static const struct {
		const char *s, *name;
		int flavour;
	} seen[] = {
		{ "$h_To:", "To:", XH_DECODED }, { "$header_x-y:", "x-y:", XH_DECODED },
		{ "$rh_a:", "a:", XH_RAW }, { "$rheader_a:", "a:", XH_RAW },
		{ "$bh_a:", "a:", XH_BASIC }, { "$bheader_a:", "a:", XH_BASIC },
		{ "$lh_a:", "a:", XH_LIST }, { "$lheader_a:", "a:", XH_LIST },
		{ "$h_abc def", "abc:", XH_DECODED }, { "$h_a.b!c:", "a.b!c:", XH_DECODED },
	};

	for (size_t i = 0; i < UNIT_COUNT(seen); i++) {
		struct xp *x;
		struct xp_err e;
		struct sb b = SB_INIT;
		const struct xp_env *env = envp();

		CHECK(xp_compile(seen[i].s, XP_ROUTER, NULL, &x, &e) == 0, __LINE__);
		hdr_seen.calls = 0;
		CHECK(xp_eval(x, env, &b, &e) == 0, __LINE__);
		CHECK(hdr_seen.calls == 1, __LINE__);
		CHECK(strcmp(hdr_seen.name, seen[i].name) == 0, __LINE__);
		CHECK(hdr_seen.len == strlen(seen[i].name), __LINE__);
		CHECK(hdr_seen.flavour == seen[i].flavour, __LINE__);
		sb_free(&b);
		xp_free(x);
	}

	/* def: is true for a header the message has, even an empty one. */
	EX("${if def:h_to: {y}{n}}", "y");
	EX("${if def:h_to {y}{n}}", "y");
	EX("${if def:header_to:{y}{n}}", "y");
	EX("${if def:rh_x-empty:{y}{n}}", "y");
	EX("${if def:h_x-empty:{y}{n}}", "y");
	EX("${if def:h_nothere:{y}{n}}", "n");
	EX("${if !def:h_nothere:{y}{n}}", "y");

	/* No message: every header is empty and undefined. */
	struct xp_env env = std_env();

	env.header = NULL;
	EXE(&env, "[$h_to:][$rh_to:][$lh_to:][$bh_to:]", "[][][][]");
	EXE(&env, "${if def:h_to:{y}{n}}", "n");

	FAIL("a$h_x-oom:b", "out of memory");
	FAIL("${if def:h_x-oom:{y}{n}}", "out of memory");

	CERR("${if def:h_x}{y}}", 17, 1,
	     "missing or misplaced { or } - could be header name not terminated by colon");
	CERR("${lc:$h_x}", 4, 1,
	     "missing } at end of string - could be header name not terminated by colon");
}

/* ======================================================================
 * $0..$n, ${N}, $value
 * ====================================================================== */

static void test_numbers(void)
{
	static const char *const cap[] = { "whole@x.example", "wholeXXX", NULL, "x.example" };
	static const size_t caplen[] = { 15, 5, 0, 9 };
	struct xp_env env = std_env();

	env.cap = cap;
	env.caplen = caplen;
	env.ncap = 4;
	EXE(&env, "$0|$1|$2|$3|$4", "whole@x.example|whole||x.example|");
	EXE(&env, "${0}|${1}|${3}|${4}|${9}", "whole@x.example|whole|x.example||");
	EXE(&env, "$1x$3", "wholexx.example");
	EXE(&env, "$01", "whole");
	EXE(&env, "$99999", "");
	EXE(&env, "${lc:${1}}", "whole");
	/* A match sets its own, for its strings only; then the caller's are back. */
	EXE(&env, "${if match{abc}{(b)(c)}{[$0|$1|$2|$3]}}$1", "[bc|b|c|]whole");
	EXE(&env, "${if match{abc}{(q)}{[$1]}{<$1>}}", "<whole>");
	EXE(&env, "${if eq{a}{a}{$1}}", "whole");
	env.ncap = 0;
	EXE(&env, "[$0$1]", "[]");

	/* More than Exim's nine. */
	EX("${if match{abcdefghijkl}{(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)}{$10$11|${10}}}", "jk|j");

	/* $value outside a lookup, extract or inlist is empty. */
	EX("[$value][${value}]", "[][]");

	CERR("${99999999}", 0, 10, "$99999999: no such variable (noq refuses the numbers Exim "
	     "would wrap around)");
	CERR("$4294967297", 0, 11, "$4294967297: no such variable (noq refuses the numbers "
	     "Exim would wrap around)");
	CERR("${1", 0, 3, "} expected after number");
	CERR("${1x}", 0, 3, "} expected after number");
}

/* ======================================================================
 * Conditions
 * ====================================================================== */

static void test_cond_strings(void)
{
	static const struct {
		const char *c, *a, *b, *r;
	} t[] = {
		{ "eq", "abc", "abc", "y" }, { "eq", "abc", "ABC", "n" }, { "eq", "", "", "y" },
		{ "eqi", "abc", "ABC", "y" }, { "eqi", "abc", "abd", "n" },
		{ "lt", "a", "b", "y" }, { "lt", "b", "a", "n" }, { "lt", "a", "a", "n" },
		{ "lt", "B", "a", "y" }, { "lti", "B", "a", "n" }, { "lti", "a", "B", "y" },
		{ "le", "a", "a", "y" }, { "le", "b", "a", "n" }, { "lei", "A", "a", "y" },
		{ "lei", "b", "A", "n" },
		{ "gt", "b", "a", "y" }, { "gt", "a", "a", "n" }, { "gt", "a", "B", "y" },
		{ "gti", "a", "B", "n" }, { "gti", "C", "b", "y" },
		{ "ge", "a", "a", "y" }, { "ge", "a", "b", "n" }, { "gei", "a", "A", "y" },
		{ "gei", "A", "b", "n" },
		{ "lt", "ab", "abc", "y" }, { "gt", "abc", "ab", "y" },
		{ "eq", "$local_part", "joe", "y" }, { "eqi", "${uc:$domain}", "example.com", "y" },
	};
	char s[160];

	for (size_t i = 0; i < UNIT_COUNT(t); i++) {
		snprintf(s, sizeof(s), "${if %s{%s}{%s}{y}{n}}", t[i].c, t[i].a, t[i].b);
		expect(__LINE__, XP_ROUTER, envp(), s, 0, t[i].r, false);
		snprintf(s, sizeof(s), "${if !%s {%s} {%s} {y}{n}}", t[i].c, t[i].a, t[i].b);
		expect(__LINE__, XP_ROUTER, envp(), s, 0, *t[i].r == 'y' ? "n" : "y", false);
	}
	CERR("${if eq{a}}", 10, 1, "missing 2nd string in {} after \"eq\"");
	CERR("${if eq a}", 8, 1, "missing { after \"eq\"");
	CERR("${if eq{a}{b", 10, 1, "missing } at end of string");
}

static void test_cond_numbers(void)
{
	static const struct {
		const char *c, *a, *b, *r;
	} t[] = {
		{ "=", "1", "1", "y" }, { "==", "1", "2", "n" }, { "=", "1K", "1024", "y" },
		{ "=", "1k", "1024", "y" }, { "==", "1M", "1048576", "y" },
		{ "=", "2g", "2147483648", "y" }, { ">", "1K", "1023", "y" },
		{ "<", "1G", "1073741825", "y" }, { "<", "1G", "1073741824", "n" },
		{ "<=", "3", "3", "y" }, { "<=", "4", "3", "n" }, { ">=", "-1", "-1", "y" },
		{ ">=", "-2", "-1", "n" }, { ">", "0", "-1", "y" }, { "<", "-5", "3", "y" },
		{ "=", " 3 ", "3", "y" }, { "=", "010", "10", "y" }, { "=", "+5", "5", "y" },
		{ "=", "", "0", "y" }, { "=", " ", "0", "y" }, { "=", "$message_size", "1234", "y" },
		{ "=", "9223372036854775807", "9223372036854775807", "y" },
	};
	char s[160];

	for (size_t i = 0; i < UNIT_COUNT(t); i++) {
		snprintf(s, sizeof(s), "${if %s{%s}{%s}{y}{n}}", t[i].c, t[i].a, t[i].b);
		expect(__LINE__, XP_ROUTER, envp(), s, 0, t[i].r, false);
	}
	FAIL("${if ={3x}{3}{y}{n}}", "invalid integer \"3x\"");
	FAIL("${if ={3}{1KB}{y}{n}}", "invalid integer \"1KB\"");
	FAIL("${if ={abc}{1}}", "integer expected but \"abc\" found");
	FAIL("${if ={0x10}{16}}", "invalid integer \"0x10\"");
	FAIL("${if ={9223372036854775808}{1}}",
	     "absolute value of integer \"9223372036854775808\" is too large (overflow)");
	FAIL("${if ={8589934592G}{1}}",
	     "absolute value of integer \"8589934592G\" is too large (overflow)");

	/* Where a run-time error is: the condition. */
	struct xp *x;
	struct xp_err e;
	struct sb b = SB_INIT;

	CHECK(xp_compile("ab${if ={abc}{1}}", XP_ROUTER, NULL, &x, &e) == 0, __LINE__);
	CHECK(xp_eval(x, envp(), &b, &e) == -1, __LINE__);
	CHECK(e.pos == 7 && e.len == 9 && !e.forced, __LINE__);
	sb_free(&b);
	xp_free(x);
}

static void test_cond_match(void)
{
	EX("${if match{abc}{b(.)}{[$0][$1]}{n}}", "[bc][c]");
	EX("${if match{abc}{^b}{y}{n}}", "n");
	EX("${if match{ABC}{b}{y}{n}}", "n");            /* case matters */
	EX("${if match{ABC}{(?i)b}{y}{n}}", "y");
	EX("${if match{a.c}{\\N^a\\.c$\\N}{y}{n}}", "y");
	EX("${if match{abc}{\\N^(a)(x)?(c)?\\N}{[$1|$2|$3]}}", "[a||]");
	EX("${if match{$domain}{\\N^(.*)\\.com$\\N}{$1}}", "example");
	EX("${if match{abc}{${lc:B}}{y}{n}}", "y");      /* a pattern made at run time */
	EX("${if match{abc}{(b)}{x}}[$1]", "x[]");       /* $1 only in the strings */
	EX("${if match{xyz}{(y)}{${if match{abc}{(b)}{$1}}$1}}", "by");
	EX("${if match{xyz}{(y)(z)}{${if match{abc}{(b)}{$1$2}}}}", "b");
	EX("${if match{xyz}{(y)}{${if match{abc}{(q)}{x}{[$1]}}}}", "[y]");
	EX("${if match{}{\\N^$\\N}{y}{n}}", "y");
	CERR("${if match{a}{(}{y}}", 14, 1,
	     "regular expression error in \"(\": missing closing parenthesis at offset 1");
	FAIL("${if match{abc}{${lc:(}}{y}{n}}",
	     "regular expression error in \"(\": missing closing parenthesis at offset 1");
}

static void test_cond_lists_default(void)
{
	/* noq's own rules for match_* lists, without a caller's matcher
	   (Exim's for these items; tests/exim-be checks them against it). */
	static const struct {
		const char *c, *subject, *list, *r;
	} t[] = {
		{ "match_domain", "a.example", "a.example", "y" },
		{ "match_domain", "A.Example", "a.EXAMPLE", "y" },
		{ "match_domain", "a.example", "b.example", "n" },
		{ "match_domain", "a.example", "*", "y" },
		{ "match_domain", "a.b.example", "*.example", "y" },
		{ "match_domain", "example", "*.example", "n" },
		{ "match_domain", "xexample", "*example", "y" },
		{ "match_domain", "a.example", "b.example : a.example", "y" },
		{ "match_domain", "a.example", "!a.example : *", "n" },
		{ "match_domain", "a.example", "!b.example", "y" },
		{ "match_domain", "a.example", "!b.example : *", "y" },
		{ "match_domain", "a.example", "!!a.example", "y" },
		{ "match_domain", "a.example", "\\N^a\\.ex\\N", "y" },
		{ "match_domain", "a.example", "\\N^A\\.EX\\N", "y" },
		{ "match_domain", "a.example", "\\N^b\\N", "n" },
		{ "match_domain", "mail.example.org", "@", "y" },
		{ "match_domain", "MAIL.example.org", "@", "y" },
		{ "match_domain", "other.example", "@", "n" },
		{ "match_domain", "a.example", "<; b.example ; a.example", "y" },
		{ "match_domain", "a.example", "", "n" },
		{ "match_domain", "a.example", "$domain", "n" },    /* not expanded */
		{ "match_domain", "\\$domain", "$domain", "y" },
		{ "match_domain", "$domain", "example.com", "y" },  /* the subject is */
		{ "match_local_part", "joe", "JOE", "y" },
		{ "match_local_part", "joe", "j*", "n" },
		{ "match_local_part", "joe", "*oe", "y" },
		{ "match_local_part", "joe", "!joe : *", "n" },
		{ "match_local_part", "joe", "\\N^j\\N", "y" },
		{ "match_local_part", "joe", "@", "n" },
		{ "match_address", "joe@a.example", "joe@a.example", "y" },
		{ "match_address", "Joe@A.example", "joe@a.example", "y" },
		{ "match_address", "joe@a.example", "*@a.example", "y" },
		{ "match_address", "joe@a.example", "joe@*", "y" },
		{ "match_address", "joe@a.example", "j*@a.example", "n" },
		{ "match_address", "joe@a.example", "*oe@a.example", "y" },
		{ "match_address", "joe@a.example", "a.example", "y" },
		{ "match_address", "joe@a.example", "*.example", "y" },
		{ "match_address", "joe@a.b.example", "joe@*.example", "y" },
		{ "match_address", "joe@a.example", "fred@a.example", "n" },
		{ "match_address", "joe@a.example", "!joe@a.example : *", "n" },
		{ "match_address", "joe@a.example", "\\N^joe@\\N", "y" },
		{ "match_address", "joe@mail.example.org", "joe@@", "y" },
		{ "match_address", "joe@mail.example.org", "@@", "n" },
		{ "match_address", "joe", "*", "n" },              /* no @ */
		{ "match_address", "", "", "n" },
		{ "match_address", "joe@a.example", "", "n" },
	};
	char s[200];

	for (size_t i = 0; i < UNIT_COUNT(t); i++) {
		snprintf(s, sizeof(s), "${if %s{%s}{%s}{y}{n}}", t[i].c, t[i].subject, t[i].list);
		expect(__LINE__, XP_ROUTER, envp(), s, 0, t[i].r, false);
	}
	FAIL("${if match_domain{a}{+x}{y}}",
	     "unable to complete match against \"+x\": list item \"+x\" is not supported by noq "
	     "here");
	FAIL("${if match_domain{a}{lsearch;/etc/x}{y}}",
	     "unable to complete match against \"lsearch;/etc/x\": list item \"lsearch;/etc/x\" "
	     "is not supported by noq here");
	FAIL("${if match_address{a@b}{@mx_any}{y}}",
	     "unable to complete match against \"@mx_any\": list item \"@mx_any\" is not "
	     "supported by noq here");

	/* Exim sets $value and $0.. from the matching item; noq refuses
	   strings that would read them. */
	CERR("${if match_domain{a}{a}{$value}}", 0, 32, "$value and $0.. after match_domain, "
	     "match_local_part or match_address are not supported by noq");
	CERR("${if or{{eq{a}{b}}{match_local_part{a}{*}}}{y}{$1}}", 0, 51, "$value and $0.. "
	     "after match_domain, match_local_part or match_address are not supported by noq");
	CERR("${if match_domain{a}{a}", 23, 1, "'yes' part did not start with '{'");
	CERR("${if match_domain{a}{a", 20, 2, "missing } at end of \"match_domain\" condition");
}

static void test_cond_lists_callback(void)
{
	struct xp_env env = std_env();

	env.match_list = fake_match;
	match_seen.calls = 0;
	EXE(&env, "${if match_domain{$domain}{x:example.com:y}{y}{n}}", "y");
	CHECK(match_seen.calls == 3, __LINE__);      /* compiled (twice), decoded */
	CHECK(match_seen.k == XL_DOMAIN, __LINE__);
	CHECK(strcmp(match_seen.list, "x:example.com:y") == 0, __LINE__);
	CHECK(strcmp(match_seen.subject, "example.com") == 0, __LINE__);
	EXE(&env, "${if match_local_part{$local_part}{fred}{y}{n}}", "n");
	CHECK(match_seen.k == XL_LOCAL_PART, __LINE__);
	CHECK(strcmp(match_seen.subject, "joe") == 0, __LINE__);
	EXE(&env, "${if match_address{$sender_address}{+senders $domain}{y}{n}}", "n");
	CHECK(match_seen.k == XL_ADDRESS, __LINE__);
	CHECK(strcmp(match_seen.list, "+senders $domain") == 0, __LINE__);   /* as written */
	CHECK(strcmp(match_seen.subject, "alice@sender.example") == 0, __LINE__);
	EXE(&env, "${if match_local_part{o}{\\N^x\\Nfoo\\x41}{y}{n}}", "y");
	CHECK(strcmp(match_seen.list, "^xfooA") == 0, __LINE__);   /* escapes still count */
	EXE(&env, "${if !match_domain{a}{b}{y}{n}}", "y");
	FAILE(&env, "${if match_domain{a}{ERR}{y}{n}}",
	      "unable to complete match against \"ERR\": boom");

	/* The compile-time check of the list: its kind, text and offset. */
	check_seen.calls = 0;
	EX("${if match_address{a@b}{a@b : c@d}{y}{n}}", "y");
	CHECK(check_seen.calls == 1, __LINE__);
	CHECK(check_seen.k == XL_ADDRESS, __LINE__);
	CHECK(strcmp(check_seen.list, "a@b : c@d") == 0, __LINE__);
	CHECK(check_seen.pos == 24, __LINE__);
	CERR("${if match_domain{a}{BAD}{y}{n}}", 21, 3, "bad list");
	CERR("${if and{{match_domain{a}{BAD}}}{y}{n}}", 26, 3,
	     "bad list inside \"and{...}\" condition");
	CERR("${if match_local_part{a}{QUIET}{y}{n}}", 25, 5, "");
	CERR("${if or{{match_local_part{a}{QUIET}}}{y}{n}}", 29, 5, "");
}

static void test_cond_inlist(void)
{
	EX("${if inlist{b}{a:b:c}{y}{n}}", "y");
	EX("${if inlist{d}{a:b:c}{y}{n}}", "n");
	EX("${if inlist{B}{a:b:c}{y}{n}}", "n");
	EX("${if inlisti{B}{a:b:c}{y}{n}}", "y");
	EX("${if inlisti{B}{a:b:c}{[$value]}{n}}", "[b]");
	EX("${if inlist{b}{a : b : c}{[$value]}{n}}", "[b]");
	EX("${if inlist{b}{<; a;b;c}{y}{n}}", "y");
	EX("${if inlist{a:b}{a::b:c}{[$value]}{n}}", "[a:b]");
	EX("${if inlist{x}{*}{y}{n}}", "n");                 /* no patterns */
	EX("${if inlist{$domain}{a:$domain}{y}{n}}", "y");   /* expanded */
	EX("${if inlist{}{a: :b}{y}{n}}", "y");
	EX("${if inlist{a}{}{y}{n}}", "n");
	EX("${if !inlist{d}{a:b}{y}{n}}", "y");
	EX("${if inlist{b}{a:b}{$value}}[$value]", "b[]");   /* only in its strings */
	EX("${if inlist{b}{a:b}{${if inlist{c}{c:d}{$value}}$value}}", "cb");
	EX("${if inlist{q}{a:b}{y}{[$value]}}", "[]");
}

static void test_cond_unary(void)
{
	char s[200];

	/* def: (variables and headers: above), exists. */
	EX("${if def:local_part{y}{n}}", "y");
	EX("${if !def:local_part{y}{n}}", "n");
	EX("${if !!def:local_part{y}{n}}", "y");
	snprintf(s, sizeof(s), "${if exists{%s}{y}{n}}", rf_path);
	EX(s, "y");
	snprintf(s, sizeof(s), "${if exists{%s}{y}{n}}", tmpdir);
	EX(s, "y");
	snprintf(s, sizeof(s), "${if exists{%s/nonexistent}{y}{n}}", tmpdir);
	EX(s, "n");
	EX("${if exists{}{y}{n}}", "n");
	CERR("${if def}", 5, 3, "\":\" expected after \"def\"");
	CERR("${if def:}", 5, 4, "variable name omitted after \"def:\"");
	CERR("${if def:nosuch}", 9, 6, "unknown variable \"nosuch\" after \"def:\"");
	CERR("${if def:message_id}", 9, 10, "variable $message_id is not supported by noq");

	/* isip, isip4, isip6. */
	static const struct {
		const char *a;
		const char *ip, *ip4, *ip6;
	} t[] = {
		{ "1.2.3.4", "y", "y", "n" }, { "::1", "y", "n", "y" },
		{ "fe80::1%eth0", "y", "n", "y" }, { "2001:db8::1", "y", "n", "y" },
		{ "::ffff:1.2.3.4", "y", "n", "y" }, { "1.2.3", "n", "n", "n" },
		{ "1.2.3.4/24", "n", "n", "n" }, { "256.1.1.1", "n", "n", "n" },
		{ "", "n", "n", "n" }, { "example.com", "n", "n", "n" },
	};

	for (size_t i = 0; i < UNIT_COUNT(t); i++) {
		snprintf(s, sizeof(s), "${if isip{%s}{y}{n}}", t[i].a);
		expect(__LINE__, XP_ROUTER, envp(), s, 0, t[i].ip, false);
		snprintf(s, sizeof(s), "${if isip4{%s}{y}{n}}", t[i].a);
		expect(__LINE__, XP_ROUTER, envp(), s, 0, t[i].ip4, false);
		snprintf(s, sizeof(s), "${if isip6{%s}{y}{n}}", t[i].a);
		expect(__LINE__, XP_ROUTER, envp(), s, 0, t[i].ip6, false);
	}

	/* bool and bool_lax. */
	static const struct {
		const char *a, *b, *lax;
	} bt[] = {
		{ "yes", "y", "y" }, { "YES", "y", "y" }, { "true", "y", "y" }, { "True", "y", "y" },
		{ "no", "n", "n" }, { "false", "n", "n" }, { " no ", "n", "n" }, { "0", "n", "n" },
		{ "1", "y", "y" }, { "-1", "y", "y" }, { "00", "n", "y" }, { "-0", "n", "y" },
		{ "", "n", "n" }, { "  ", "n", "n" }, { "10", "y", "y" },
	};

	for (size_t i = 0; i < UNIT_COUNT(bt); i++) {
		snprintf(s, sizeof(s), "${if bool{%s}{y}{n}}", bt[i].a);
		expect(__LINE__, XP_ROUTER, envp(), s, 0, bt[i].b, false);
		snprintf(s, sizeof(s), "${if bool_lax{%s}{y}{n}}", bt[i].a);
		expect(__LINE__, XP_ROUTER, envp(), s, 0, bt[i].lax, false);
		/* xp_truth_lax(), for the compiler: the same reading. */
		CU_ASSERT_EQUAL(xp_truth_lax(bt[i].a), bt[i].lax[0] == 'y');
	}
	CU_ASSERT_TRUE(xp_truth_lax("maybe"));
	CU_ASSERT_FALSE(xp_truth_lax("-"));
	CU_ASSERT_FALSE(xp_truth_lax(" No\t"));
	EX("${if bool_lax{maybe}{y}{n}}", "y");
	CERR("${if bool{maybe}}", 9, 7, "unrecognised boolean value \"maybe\"");
	FAIL("${if bool{${lc:X}}}", "unrecognised boolean value \"x\"");
}

static void test_cond_and_or(void)
{
	EX("${if and{{eq{a}{a}}{eq{b}{b}}}{y}{n}}", "y");
	EX("${if and{{eq{a}{a}}{eq{b}{c}}}{y}{n}}", "n");
	EX("${if and{}{y}{n}}", "y");
	EX("${if or{}{y}{n}}", "n");
	EX("${if or{{eq{a}{b}}{eq{b}{b}}}{y}{n}}", "y");
	EX("${if or{{eq{a}{b}}{eq{b}{c}}}{y}{n}}", "n");
	EX("${if and { {eq{a}{a}} {eq{b}{b}} } {y}{n}}", "y");
	EX("${if and{{eq{a}{a}} {or{{eq{b}{c}}{eq{b}{b}}}}}{y}{n}}", "y");
	EX("${if !and{{eq{a}{a}}{eq{b}{c}}}{y}{n}}", "y");
	EX("${if !or{{eq{a}{a}}}{y}{n}}", "n");
	EX("${if and{{!eq{a}{b}}{!!eq{a}{a}}}{y}{n}}", "y");
	EX("${if ! ! ! eq{a}{a}{y}{n}}", "n");
	/* The first that decides ends it: no error from the rest. */
	EX("${if or{{eq{a}{a}}{bool{${lc:X}}}}{y}{n}}", "y");
	EX("${if and{{eq{a}{b}}{bool{${lc:X}}}}{y}{n}}", "n");
	FAIL("${if and{{eq{a}{a}}{bool{${lc:X}}}}{y}{n}}",
	     "unrecognised boolean value \"x\" inside \"and{...}\" condition");
	FAIL("${if or{{and{{bool{${lc:X}}}}}}}",
	     "unrecognised boolean value \"x\" inside \"and{...}\" condition inside \"or{...}\" "
	     "condition");
	/* A match in and{} sets $1 for the strings. */
	EX("${if and{{match{ab}{(a)}}{match{cd}{(d)}}}{$1}}", "d");
	CERR("${if and{eq{a}{a}}}", 9, 1,
	     "each subcondition inside an \"and{...}\" condition must be in its own {}");
	CERR("${if and{{eq{a}{a}}{foo}}}", 20, 3,
	     "unknown condition \"foo\" inside \"and{...}\" condition");
	CERR("${if or{{eq{a}{a} x}}}", 18, 1,
	     "missing } at end of condition inside \"or\" group");
}

/* ======================================================================
 * ${if}
 * ====================================================================== */

static void test_if(void)
{
	EX("${if eq{a}{a}{yes}{no}}", "yes");
	EX("${if eq{a}{b}{yes}{no}}", "no");
	EX("${if eq{a}{a}{yes}}", "yes");
	EX("${if eq{a}{b}{yes}}", "");
	EX("${if eq{a}{a}}", "true");
	EX("${if eq{a}{b}}", "");
	EX("${if eq {a} {a} {yes} {no}}", "yes");
	EX("${if eq{a}{a}{}{no}}", "");
	EX("${if eq{a}{b}{yes}{}}", "");
	EX("${if eq{a}{a}{yes}fail}", "yes");
	EX("${if eq{a}{a}{yes} fail }", "yes");
	FORCED("${if eq{a}{b}{yes}fail}", "\"if\" failed and \"fail\" requested");
	FORCED("x${if eq{a}{b}{yes}fail}y", "\"if\" failed and \"fail\" requested");
	FORCED("${if eq{a}{a}{${if eq{a}{b}{x}fail}}}", "\"if\" failed and \"fail\" requested");
	/* Other errors are not forced. */
	FAIL("${if eq{a}{a}{${if bool{${lc:X}}}}}", "unrecognised boolean value \"x\"");
	/* Only the branch taken is run. */
	EX("${if eq{a}{a}{yes}{${if bool{${lc:X}}}}}", "yes");
	EX("${if eq{a}{b}{${if bool{${lc:X}}}}{no}}", "no");
	EX("${if eq{a}{b}{${readfile{/nonexistent}}}{skipped}}", "skipped");

	/* Ten deep, in the yes and in the no strings. */
	struct sb s = SB_INIT, t = SB_INIT;

	for (int i = 0; i < 10; i++)
		sb_puts(&s, "${if eq{1}{1}{");
	sb_puts(&s, "core");
	for (int i = 0; i < 10; i++)
		sb_puts(&s, "}}");
	EX(sb_str(&s), "core");
	for (int i = 0; i < 10; i++)
		sb_printf(&t, "${if eq{%d}{x}{no}{%d", i, i);
	for (int i = 0; i < 10; i++)
		sb_puts(&t, "}}");
	EX(sb_str(&t), "0123456789");
	sb_clear(&s);

	/* Too deep: refused when compiled. */
	struct xp *x;
	struct xp_err e;

	for (int i = 0; i < 70; i++)
		sb_puts(&s, "${if eq{1}{1}{");
	sb_puts(&s, "core");
	for (int i = 0; i < 70; i++)
		sb_puts(&s, "}}");
	CHECK(xp_compile(sb_str(&s), XP_ROUTER, NULL, &x, &e) == -1, __LINE__);
	CHECK(strcmp(e.msg, "expansions nested deeper than 64") == 0, __LINE__);
	CHECK(e.pos < s.len, __LINE__);
	sb_free(&s);
	sb_free(&t);

	CERR("${if eq{a}{b}", 13, 1, "'yes' part did not start with '{'");
	CERR("${if eq{a}{b}{c}{d}", 0, 19, "missing } at end of \"if\" item");
	CERR("${if eq{a}{b}{c}{d}{e}}", 0, 19, "missing } at end of \"if\" item");
	CERR("${if eq{a}{b}{c}junk}", 16, 4, "syntax error in \"if\" item - \"fail\" expected");
	CERR("${if eq{a}{b}{c}fail x}", 16, 5, "did not close with '}' after forcedfail");
	CERR("${if eq{a}{b}fail}", 13, 1, "'yes' part did not start with '{'");
	CERR("${if eq{a}{b}{c", 13, 1, "missing } at end of string");
	CERR("${if foo{a}{b}}", 5, 3, "unknown condition \"foo\"");
	CERR("${if !{a}}", 6, 1, "condition name expected, but found \"{a}}\"");
	CERR("${if crypteq{a}{b}}", 5, 7, "condition \"crypteq\" is not supported by noq");
}

/* ======================================================================
 * Operators
 * ====================================================================== */

static void test_operators(void)
{
	EX("${lc:AbC}", "abc");
	EX("${uc:aBc}", "ABC");
	EX("${lc:}", "");
	EX("${uc:$local_part}", "JOE");
	EX("${lc:\xc3\x89}", "\xc3\x89");           /* bytes, no locale */

	EX("${domain:Joe Bloggs <joe@Example.COM>}", "Example.COM");
	EX("${domain:joe@a.example}", "a.example");
	EX("${domain:joe}", "");
	EX("${domain:}", "");
	EX("${local_part:Joe Bloggs <Joe@X.Example>}", "Joe");
	EX("${local_part:joe}", "joe");
	EX("${address:Joe Bloggs <joe@example.com>}", "joe@example.com");
	EX("${address:joe@a.example (comment)}", "joe@a.example");
	EX("${address:bad<}", "");
	EX("${address:a@b, c@d}", "");

	EX("${quote:abc}", "abc");
	EX("${quote:a-b_c.d}", "a-b_c.d");
	EX("${quote:a b}", "\"a b\"");
	EX("${quote:}", "\"\"");
	EX("${quote:a+b}", "\"a+b\"");
	EX("${quote:a\"b\\\\c}", "\"a\\\"b\\\\c\"");
	EX("${quote:a\\nb\\rc}", "\"a\\nb\\rc\"");
	EX("${quote_local_part:joe.bloggs}", "joe.bloggs");
	EX("${quote_local_part:a+b=c}", "a+b=c");
	EX("${quote_local_part:a..b}", "a..b");
	EX("${quote_local_part:.joe}", "\".joe\"");
	EX("${quote_local_part:joe.}", "\"joe.\"");
	EX("${quote_local_part:a b}", "\"a b\"");
	EX("${quote_local_part:}", "\"\"");
	EX("${quote_local_part:a\"b}", "\"a\\\"b\"");

	EX("${strlen:abc}", "3");
	EX("${strlen:}", "0");
	EX("${strlen:$primary_hostname}", "16");
	EX("${strlen:\xc3\xa9}", "2");

	EX("${length_2:abc}", "ab");
	EX("${l_2:abc}", "ab");
	EX("${l_5:abc}", "abc");
	EX("${l_0:abc}", "");
	EX("${substr_1_2:abcdef}", "bc");
	EX("${s_1_2:abcdef}", "bc");
	EX("${s_1:abcdef}", "bcdef");
	EX("${s_0:abcdef}", "abcdef");
	EX("${s_-2:abcdef}", "abcd");           /* all before, as Exim */
	EX("${s_-2_1:abcdef}", "e");
	EX("${s_-3:abcdef}", "abc");
	EX("${s_10:abc}", "");
	EX("${s_-10_8:abcdef}", "abcd");
	EX("${s_-10:abcdef}", "");
	EX("${s_2_10:abcdef}", "cdef");

	EX("${rxquote:a.b*c d}", "a\\.b\\*c\\ d");
	EX("${rxquote:abc123}", "abc123");
	EX("${rxquote:}", "");

	EX("${quote_lsearch:a b:c}", "a b:c");
	EX("${quote_wildlsearch:a\"b}", "a\"b");
	EX("${quote_nwildlsearch:x}", "x");
	EX("${quote_iplsearch:1.2.3.4}", "1.2.3.4");

	EX("${lc:${uc:${lc:ABC}}}", "abc");
	EX("${strlen:${l_2:${uc:abc}}}", "2");

	CERR("${quote_mysql:x}", 0, 13, "expansion operator ${quote_mysql:} is not supported by noq");
	CERR("${quote_nosuch:x}", 0, 14, "unknown lookup type \"nosuch\"");
	CERR("${nosuchop:x}", 0, 10, "unknown expansion operator \"nosuchop\"");
	CERR("${md5:x}", 0, 5, "expansion operator ${md5:} is not supported by noq");
	CERR("${hash_3:abc}", 0, 8, "expansion operator ${hash_3:} is not supported by noq");
	CERR("${l_x:abc}", 0, 5, "non-digit after underscore in \"l_x\"");
	CERR("${l:abc}", 0, 3, "missing values after l");
	CERR("${s:abc}", 0, 3, "missing values after s");
	CERR("${length:abc}", 0, 8, "Not enough arguments for 'length' (min is 2)");
	EX("${substr_:abc}", "abc");
	CERR("${s_1_2_3:abc}", 0, 9, "non-digit after underscore in \"s_1_2_3\"");
	CERR("${lc:abc", 4, 1, "missing } at end of string");
	CERR("${l_10000000000:abc}", 0, 15, "number too large in \"l_10000000000\"");
}

/* ======================================================================
 * Items
 * ====================================================================== */

static void test_sg(void)
{
	EX("${sg{abcabc}{b}{X}}", "aXcaXc");
	EX("${sg{abc}{q}{X}}", "abc");
	EX("${sg{abcabc}{b}{[\\$0]}}", "a[b]ca[b]c");
	EX("${sg{abc}{(b)(c)}{\\$2\\$1}}", "acb");
	EX("${sg{a.b.c}{\\N\\.\\N}{\\\\\\\\.}}", "a\\.b\\.c");
	EX("${sg{$domain}{\\N^([^.]+)\\.\\N}{<\\$1>}}", "<example>com");
	EX("${sg{abc}{${lc:B}}{x}}", "axc");          /* a pattern made at run time */
	/* Empty matches, as Exim (and Perl) give them. */
	EX("${sg{abc}{x*}{-}}", "-a-b-c-");
	EX("${sg{}{x*}{-}}", "-");
	EX("${sg{aaa}{a*}{-}}", "--");
	EX("${sg{abc}{^}{>}}", ">abc");
	EX("${sg{abc}{\\N$\\N}{<}}", "abc<");
	EX("${sg{abc}{\\N\\b\\N}{|}}", "|abc|");
	EX("${sg{abc}{(?=b)}{|}}", "a|bc");
	EX("${sg{h\xc3\xa9}{x*}{-}}", "-h-\xc3-\xa9-");
	/* The replacement sees its match; the caller's $1 is back after. */
	EX("${if match{xyz}{(y)}{${sg{abc}{(b)}{\\$1}}$1}}", "abcy");

	CERR("${sg{a}{b}}", 0, 10, "Not enough arguments for 'sg' (min is 3)");
	CERR("${sg{a}{b}{c}{d}}", 0, 14, "Too many arguments for 'sg' (max is 3)");
	CERR("${sg{a}{(}{c}}", 8, 1,
	     "regular expression error in \"(\": missing closing parenthesis at offset 1");
	CERR("${sg{abc}{q}{$local_part}}", 12, 13, "a ${sg} replacement that is not fixed text "
	     "is not supported by noq (write \\$1 for a group)");
	CERR("${sg{a}{b}{\\$nosuch}}", 10, 10, "unknown variable name \"nosuch\"");
	FAIL("${sg{abc}{${lc:(}}{x}}",
	     "regular expression error in \"(\": missing closing parenthesis at offset 1");
}

static void test_extract(void)
{
	EX("${extract{b}{a=1 b=2 c=3}}", "2");
	EX("${extract{B}{a=1 b=2}}", "2");
	EX("${extract{ b }{a=1 b=\"x y\" c=3}{<$value>}{none}}", "<x y>");
	EX("${extract{b}{a=1 b = 2}}", "2");
	EX("${extract{c}{a=1 b=2}{y}{none}}", "none");
	EX("${extract{c}{a=1 b=2}}", "");
	EX("${extract{a}{a=1}{$value}fail}", "1");
	FORCED("${extract{q}{a=1 b=2}{y}fail}", "\"extract\" failed and \"fail\" requested");
	EX("${extract{b}{a=1 b=\"q\\\\\"t\"}}", "q\"t");
	EX("${extract{a}{a=1}{$value}}[$value]", "1[]");  /* only in its strings */
	EX("${extract{a}{a=1}{${extract{b}{b=2}{$value}}$value}}", "21");
	EX("${extract{q}{a=1}{y}{[$value]}}", "[]");

	EX("${extract{2}{:}{a:b:c}}", "b");
	EX("${extract{2}{:}{a:b:c}{<$value>}{none}}", "<b>");
	EX("${extract{-1}{:}{a:b:c}}", "c");
	EX("${extract{-3}{:}{a:b:c}}", "a");
	EX("${extract{-4}{:}{a:b:c}{y}{none}}", "none");
	EX("${extract{5}{:}{a:b:c}{y}{none}}", "none");
	EX("${extract{0}{:}{a:b:c}}", "a:b:c");
	EX("${extract{1}{,;}{a;b,c}}", "a");
	EX("${extract{3}{,;}{a;b,c}}", "c");
	EX("${extract{2}{:}{a::c}}", "");
	EX("${extract{ 2 }{:}{a:b}}", "b");
	FORCED("${extract{4}{:}{a:b:c}{y}fail}", "\"extract\" failed and \"fail\" requested");

	CERR("${extract{}{a=1}}", 0, 11, "first argument of \"extract\" must not be empty");
	/* A key that expands: keyed or numbered, Exim decides when it runs. */
	EX("${extract{$local_part}{a=1 joe=2}}", "2");
	EX("${extract{${strlen:$local_part}}{:}{a:b:c}{<$value>}}", "<c>");
	FAIL("${extract{${strlen:$local_part}}{a=1}}", "missing '{' for arg 3 of extract");
	CERR("${extract{1234567890}{:}{a}}", 0, 21, "field number \"1234567890\" of ${extract} is "
	     "too large (noq refuses the numbers Exim would wrap around)");
	CERR("${extract{1}{:}}", 15, 1, "missing '{' for arg 3 of extract");
	CERR("${extract{a}{a=1}{y}xyz}", 20, 3,
	     "syntax error in \"extract\" item - \"fail\" expected");
	CERR("${extract json{a}{b}}", 10, 4, "${extract json} is not supported by noq");
}

static void test_substr_length(void)
{
	EX("${substr{1}{2}{abcdef}}", "bc");
	EX("${substr{2}{abcdef}}", "cdef");
	EX("${substr{-2}{abcdef}}", "abcd");
	EX("${substr{-2}{1}{abcdef}}", "e");
	EX("${substr{10}{1}{abc}}", "");
	EX("${substr{}{2}{abc}}", "ab");
	EX("${length{3}{abcdef}}", "abc");
	EX("${length{10}{abc}}", "abc");
	EX("${length{0}{abc}}", "");
	EX("${substr{${strlen:ab}}{1}{abcdef}}", "c");   /* numbers made at run time */
	EX("${length{$message_size}{x}}", "x");
	EX("${substr {1} {2} {abcdef}}", "bc");
	CERR("${substr { 1 } {2} {abcdef}}", 0, 28,
	     "\" 1 \" is not a number (in \"substr\" expansion)");
	FAIL("${substr{${lc:X}}{1}{abc}}", "\"x\" is not a number (in \"substr\" expansion)");
	FAIL("${length{${lc:-1}}{abc}}", "\"-1\" is not a positive number (in \"length\" expansion)");
	FAIL("${substr{1}{${lc:-1}}{abc}}",
	     "\"-1\" is not a positive number (in \"substr\" expansion)");
	CERR("${substr{x}{1}{abc}}", 0, 20, "\"x\" is not a number (in \"substr\" expansion)");
	CERR("${length{-1}{abc}}", 0, 18, "\"-1\" is not a positive number (in \"length\" "
	     "expansion)");
	CERR("${substr{1}{2}{abc}{d}}", 0, 20, "Too many arguments for 'substr' (max is 3)");
	CERR("${length{1}}", 0, 11, "Not enough arguments for 'length' (min is 2)");
	CERR("${substr{4294967297}{1}{abcdef}}", 0, 32,
	     "\"4294967297\" is not a number (in \"substr\" expansion)");
}

static void test_readfile(void)
{
	char s[256];

	snprintf(s, sizeof(s), "${readfile{%s}}", rf_path);
	EX(s, "line1\nline2\nlast");
	snprintf(s, sizeof(s), "${readfile{%s}{}}", rf_path);
	EX(s, "line1line2last");
	snprintf(s, sizeof(s), "${readfile{%s}{,}}", rf_path);
	EX(s, "line1,line2,last");
	snprintf(s, sizeof(s), "${readfile{%s}{\\n\\n}}", rf_path);
	EX(s, "line1\n\nline2\n\nlast");
	snprintf(s, sizeof(s), "${readfile{%s}{<$local_part>}}", rf_path);
	EX(s, "line1<joe>line2<joe>last");
	snprintf(s, sizeof(s), "${strlen:${readfile{%s}}}", rf_path);
	EX(s, "16");
	snprintf(s, sizeof(s), "[${readfile{%s}}][${readfile{%s}{x}}]", empty_path, empty_path);
	EX(s, "[][]");
	snprintf(s, sizeof(s), "${readfile{%s/nonexistent}}", tmpdir);

	char msg[256];

	snprintf(msg, sizeof(msg), "failed to open %s/nonexistent: No such file or directory",
		 tmpdir);
	FAIL(s, msg);
	FAIL("${readfile{}}", "failed to open : No such file or directory");

	/* More than an expansion may give. */
	snprintf(s, sizeof(s), "${readfile{%s}}", big_path);
	FAIL(s, "the expansion is longer than 1048576 bytes");

	CERR("${readfile}", 0, 10, "Not enough arguments for 'readfile' (min is 1)");
	CERR("${readfile{/a}{b}{c}}", 0, 18, "Too many arguments for 'readfile' (max is 2)");
	CERR("${readfile{/a}x}", 0, 14, "missing '}' after 'readfile'");
}

/* ---- lookups ------------------------------------------------------------ */

#define LK(type, file, key) "${lookup{" key "}" type "{/lk/" file "}{[$value]}{no}}"

static void test_lookup_lsearch(void)
{
	read_seen.calls = 0;
	EX(LK("lsearch", "ls", "alpha"), "[one]");           /* the first wins */
	CHECK(read_seen.calls == 1, __LINE__);               /* when compiled only */
	CHECK(strcmp(read_seen.path, "/lk/ls") == 0, __LINE__);
	EX(LK("lsearch", "ls", "ALPHA"), "[one]");           /* caseless */
	EX(LK("lsearch", "ls", "beta"), "[two]");            /* "key value" */
	EX(LK("lsearch", "ls", "gamma"), "[three continued here and here]");
	EX(LK("lsearch", "ls", "quoted key"), "[qdata]");
	EX(LK("lsearch", "ls", "withAesc"), "[esc]");
	EX(LK("lsearch", "ls", "a:b"), "[colon]");
	EX(LK("lsearch", "ls", "empty"), "[]");
	EX(LK("lsearch", "ls", "trail"), "[x]");
	EX(LK("lsearch", "ls", "bare"), "[]");
	EX(LK("lsearch", "ls", "*"), "[star-entry]");        /* no wildcards */
	EX(LK("lsearch", "ls", "zzz"), "no");
	EX(LK("lsearch", "ls", "last"), "[no newline]");
	EX(LK("lsearch", "ls", "# comment"), "no");
	EX(LK("lsearch", "ls", "continued"), "no");
	EX(LK("lsearch", "ls", "second alpha"), "no");
	EX(LK("lsearch", "ls", "$local_part"), "no");
	EX("${lookup{alpha}lsearch{/lk/ls}}", "one");
	EX("${lookup{zzz}lsearch{/lk/ls}}", "");
	EX("${lookup{alpha}lsearch{/lk/ls}{y}}", "y");
	EX("${lookup{zzz}lsearch{/lk/ls}{y}}", "");
	EX("${lookup{ALPHA}lsearch{/lk/ls}{${uc:$value}}}", "ONE");
	EX("${lookup {alpha} lsearch {/lk/ls} {y} {n}}", "y");
	EX("${lookup{alpha}lsearch{/lk/ls}{$value}fail}", "one");
	FORCED("${lookup{zzz}lsearch{/lk/ls}{y}fail}", "\"lookup\" failed and \"fail\" requested");
	EX("${lookup{alpha}lsearch{/lk/ls}{$value}}[$value]", "one[]");
	EX("${lookup{zzz}lsearch{/lk/ls}{y}{[$value]}}", "[]");
	EX("${if inlist{q}{q}{${lookup{zzz}lsearch{/lk/ls}{y}{[$value]}}}}", "[q]");

	/* A blank line, a blank-only line and a comment line end an
	   entry's continuation lines (Exim: [a], [b], [c]); a comment line
	   that starts with a blank is a continuation line. */
	EX(LK("lsearch", "cont", "k1"), "[a]");
	EX(LK("lsearch", "cont", "k2"), "[b]");
	EX(LK("lsearch", "cont", "k3"), "[c]");
	EX(LK("lsearch", "cont", "k4"), "[d # indented more]");

	/* An empty key is never found (Exim), even where the file has "". */
	EX(LK("lsearch", "ls", ""), "no");
	EX(LK("lsearch", "emptykey", ""), "no");
}

static void test_lookup_wild(void)
{
	EX(LK("wildlsearch", "wild", "aXX.re"), "[regex-wild]");
	EX(LK("wildlsearch", "wild", "AXX.RE"), "[regex-wild]");   /* caseless */
	EX(LK("wildlsearch", "wild", "foo.suffix.example"), "[suffix]");
	EX(LK("wildlsearch", "wild", "suffix.example"), "[default]");
	EX(LK("wildlsearch", "wild", "Xsuffix2"), "[suffix2]");
	EX(LK("wildlsearch", "wild", "EXACT.example"), "[exact]");
	EX(LK("wildlsearch", "wild", "q12"), "[quoted-regex]");
	EX(LK("wildlsearch", "wild", "Q7"), "[quoted-regex]");
	EX(LK("wildlsearch", "wild", "other"), "[default]");
	EX(LK("wildlsearch", "wild", " "), "[default]");
	/* Exim drops $1.. in the strings of a wildcard lookup. */
	EX("${if match{xyz}{(y)}{${lookup{aXX.re}wildlsearch{/lk/wild}{[$1]}{n$1}}$1}}",
	   "[]y");
	EX(LK("nwildlsearch", "nwild", "c12.re"), "[nwildregex]");
	EX(LK("nwildlsearch", "nwild", "C12.RE"), "[nwildregex]");
	EX(LK("nwildlsearch", "nwild", "foo.suffix.example"), "[suffix]");
	EX(LK("nwildlsearch", "nwild", "\\$local_part"), "[dollar]");   /* not expanded */
	EX(LK("nwildlsearch", "nwild", "x"), "[default]");
	EX(LK("nwildlsearch", "wild", "aXX.re"), "[default]");   /* \N is two characters */

	/* A key that needs expanding at send time, or does not expand. */
	CERR("${lookup{a}wildlsearch{/lk/dollar}}", 22, 12,
	     "key \"$local_part\": variable $local_part is not available in main options");
	CERR("${lookup{a}wildlsearch{/lk/host}}", 22, 10, "key \"$primary_hostname\" needs "
	     "expanding at send time, which noq does not do for lookup keys");
	CERR("${lookup{a}wildlsearch{/lk/badkey}}", 22, 12,
	     "key \"^a$\": $ not followed by letter, digit, or {");
	EX("${lookup{a}nwildlsearch{/lk/dollar}{y}{n}}", "n");

	/* "!key" is a negated one-item list: it matches every key but its
	   own (Exim: [negated] for both). */
	EX(LK("nwildlsearch", "neg", "neg.example"), "no");
	EX(LK("nwildlsearch", "neg", "other.example"), "[negated]");
	EX(LK("nwildlsearch", "neg", "third.example"), "[negated]");
	EX(LK("wildlsearch", "neg", "third.example"), "[negated]");

	/* An empty key is never found (Exim), "*" or not. */
	EX(LK("wildlsearch", "wild", ""), "no");
	EX(LK("nwildlsearch", "nwild", ""), "no");
}

static void test_lookup_ip(void)
{
	EX(LK("iplsearch", "ip", "192.168.1.5"), "[net24]");      /* the first wins */
	EX(LK("iplsearch", "ip", "192.168.1.77"), "[net24]");
	EX(LK("iplsearch", "ip", "10.1.2.3"), "[ten]");
	EX(LK("iplsearch", "ip", "::1"), "[v6lo]");
	EX(LK("iplsearch", "ip", "2001:db8::5"), "[v6net]");
	EX(LK("iplsearch", "ip", "2001:0db8:0:0::1"), "[v6net]");
	EX(LK("iplsearch", "ip", "8.8.8.8"), "[all4]");
	EX(LK("iplsearch", "ip", "::2"), "no");
	EX(LK("iplsearch", "ip", "*"), "[star]");
	EX(LK("iplsearch", "ip", ""), "no");

	/* A key that is not an IP address: Exim fails the expansion
	   ("lookup of "not-an-ip" gave DEFER: "not-an-ip" is not a valid
	   iplsearch key (an IP address, with optional CIDR mask, is
	   wanted): ..."); so the string must not expand. */
	static const char *const bad[] = {
		LK("iplsearch", "ip", "not-an-ip"), LK("iplsearch", "ip", "192.168.1.5/32"),
	};

	for (size_t i = 0; i < UNIT_COUNT(bad); i++) {
		struct xp *x;
		struct xp_err e;
		struct sb b = SB_INIT;
		int rc;

		CHECK(xp_compile(bad[i], XP_ROUTER, &hooks, &x, &e) == 0, __LINE__);
		rc = xp_eval(x, envp(), &b, &e);
		CHECK(rc == -1, __LINE__);
		if (rc == 0)
			fprintf(stderr, "line %d: \"%s\" gave \"%s\"; Exim fails it\n", __LINE__,
				bad[i], sb_str(&b));
		sb_free(&b);
		xp_free(x);
	}
}

/* Compile and run @arg (struct child_case) in a child: 0 when it gives
   the result it should, 1 when not; a memory error kills it. */
struct child_case {
	const char *s, *want;
};

static int compile_and_run(const void *arg)
{
	const struct child_case *c = arg;
	struct xp *x;
	struct xp_err e;
	struct sb b = SB_INIT;

	if (xp_compile(c->s, XP_ROUTER, &hooks, &x, &e) != 0) {
		fprintf(stderr, "\"%s\": %s\n", c->s, e.msg);
		return 1;
	}
	if (xp_eval(x, envp(), &b, &e) != 0 || strcmp(sb_str(&b), c->want) != 0) {
		fprintf(stderr, "\"%s\" gave \"%s\" (%s), want \"%s\"\n", c->s,
			sb_str(&b) ? sb_str(&b) : "", e.msg, c->want);
		return 1;
	}
	sb_free(&b);
	xp_free(x);
	return 0;
}

static void test_lookup_errors(void)
{
	/* The file name must survive the compilation of the strings after
	   it, which may move the pool: a lookup in a lookup's strings (Exim:
	   two/one), or a long string. */
	static char longyes[200], longwant[100];
	static const struct child_case cases[] = {
		{ "${lookup{alpha}lsearch{/lk/ls}{${lookup{beta}lsearch{/lk/ls}{$value}}/$value}}",
		  "two/one" },
		{ longyes, longwant },
	};

	snprintf(longwant, sizeof(longwant), "%070d", 7);
	snprintf(longyes, sizeof(longyes), "${lookup{alpha}lsearch{/lk/ls}{%s}}", longwant);
	for (size_t i = 0; i < UNIT_COUNT(cases); i++) {
		int st = in_child(compile_and_run, &cases[i]);

		CHECK(st == 0, __LINE__);
		if (st != 0)
			fprintf(stderr, "line %d: \"%s\": child status %d\n", __LINE__,
				cases[i].s, st);
	}

	CERR("${lookup{a}nosuch{/lk/ls}}", 11, 6, "unknown lookup type \"nosuch\"");
	CERR("${lookup{a}dbm{/x}}", 11, 3, "lookup type \"dbm\" is not supported by noq "
	     "(lsearch, wildlsearch, nwildlsearch, iplsearch are)");
	CERR("${lookup{a}partial-lsearch{/x}}", 11, 15, "lookup type \"partial-lsearch\" is not "
	     "supported by noq (lsearch, wildlsearch, nwildlsearch, iplsearch are)");
	CERR("${lookup{a}lsearch*{/x}}", 11, 8, "lookup type \"lsearch*\" is not supported by "
	     "noq (lsearch, wildlsearch, nwildlsearch, iplsearch are)");
	CERR("${lookup lsearch{/lk/ls}}", 0, 9, "noq supports only single-key lookups (lsearch, "
	     "wildlsearch, nwildlsearch, iplsearch)");
	CERR("${lookup{a}lsearch{rel}}", 18, 5, "the file of a lookup must be a fixed absolute "
	     "path in noq: noqc reads it into the policy");
	CERR("${lookup{a}lsearch{/lk/$domain}}", 18, 13, "the file of a lookup must be a fixed "
	     "absolute path in noq: noqc reads it into the policy");
	CERR("${lookup{a}lsearch{/nonexistent}}", 18, 14, "failed to open /nonexistent for "
	     "linear search: No such file or directory");
	CERR("${lookup{a}}", 11, 1, "missing lookup type");
	CERR("${lookup{a}lsearch}", 11, 8, "unknown lookup type \"lsearch}\"");
	CERR("${lookup{a}lsearch {x", 19, 1, "missing } at end of string");
	CERR("${lookup{a}lsearch x}", 19, 1, "missing '{' for lookup file-or-query arg");
	CERR("${lookup{a}lsearch{/lk/ls}{y}{n}{x}}", 0, 32, "missing } at end of \"lookup\" item");
	cerr(__LINE__, XP_ROUTER, NULL, "${lookup{a}lsearch{/lk/ls}}", 0, 27,
	     "noq cannot read a ${lookup} file in a router's options");
}

/* A NUL octet in a key: what noqc compiles, noq must load. */
static void test_lookup_nul(void)
{
	/* Exim's reader stops a line at a NUL; noq refuses such a file. */
	CERR(LK("lsearch", "nul", "x"), 18, 9, "the file holds a NUL byte, which noq "
	     "refuses in a lookup file");
}

/* Run @x, compiled or decoded, with the standard env: its output. */
static char *output(struct xp *x)
{
	struct sb b = SB_INIT;
	struct xp_err e;

	if (xp_eval(x, envp(), &b, &e) != 0) {
		sb_free(&b);
		return strdup(e.msg);
	}
	return sb_take(&b);
}

static bool gives(struct xp *x, const char *want)
{
	char *got = output(x);
	bool ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		fprintf(stderr, "\"%s\" gave \"%s\", want \"%s\"\n", xp_source(x),
			got ? got : "(null)", want);
	free(got);
	return ok;
}

/* Expansions compiled with the caller's tables share them. */
static void test_lookup_tables(void)
{
	struct xp_tables t = { 0 };
	struct xp_hooks h = hooks;
	struct xp *x1, *x2, *x3, *x4, *y;
	struct xp_err e;
	struct sb b = SB_INIT;
	char err[256];

	h.tables = &t;
	/* Two expansions that look up one file: it is read once, into one
	   table, which both index. */
	read_seen.calls = 0;
	CHECK(xp_compile("${lookup{alpha}lsearch{/lk/ls}}", XP_ROUTER, &h, &x1, &e) == 0,
	      __LINE__);
	CHECK(xp_compile("<${lookup{beta}lsearch{/lk/ls}{$value}}>", XP_ROUTER, &h, &x2, &e) == 0,
	      __LINE__);
	CHECK(read_seen.calls == 1 && t.n == 1, __LINE__);
	CHECK(t.v[0].type == XK_LSEARCH && strcmp(t.v[0].path, "/lk/ls") == 0 && t.v[0].own,
	      __LINE__);
	CHECK(xp_lookup_tables(x1) == &t && xp_lookup_tables(x2) == &t, __LINE__);
	CHECK(gives(x1, "one") && gives(x2, "<two>"), __LINE__);

	/* The same file as another type is another table; one expansion
	   looking a file up twice has it once. */
	CHECK(xp_compile("${lookup{a.suffix.example}wildlsearch{/lk/wild}}/"
			 "${lookup{alpha}nwildlsearch{/lk/ls}}/"
			 "${lookup{x.suffix.example}wildlsearch{/lk/wild}}", XP_ROUTER, &h, &x3,
			 &e) == 0, __LINE__);
	CHECK(read_seen.calls == 3 && t.n == 3, __LINE__);
	CHECK(gives(x3, "suffix/one/suffix"), __LINE__);
	CHECK(xp_compile("${lookup{10.1.1.1}iplsearch{/lk/ip}}", XP_ROUTER, &h, &x4, &e) == 0,
	      __LINE__);
	CHECK(t.n == 4 && gives(x4, "ten"), __LINE__);

	/* Settled for x2 and x3 only: the iplsearch table goes, the others
	   are ordered by path then type, and the two are renumbered. */
	xp_free(x1);
	xp_free(x4);

	struct xp *kept[] = { x2, x3 };

	CHECK(xp_tables_order(&t, kept, 2) == 0 && t.n == 3, __LINE__);
	CHECK(strcmp(t.v[0].path, "/lk/ls") == 0 && t.v[0].type == XK_LSEARCH, __LINE__);
	CHECK(strcmp(t.v[1].path, "/lk/ls") == 0 && t.v[1].type == XK_NWILDLSEARCH, __LINE__);
	CHECK(strcmp(t.v[2].path, "/lk/wild") == 0 && t.v[2].type == XK_WILDLSEARCH, __LINE__);
	CHECK(gives(x2, "<two>") && gives(x3, "suffix/one/suffix"), __LINE__);

	/* Decoded with the same tables, x3 runs the same. */
	CHECK(xp_encode(x3, &b) == 0, __LINE__);
	CHECK(xp_decode(b.p, b.len, xp_source(x3), &t, &y, err, sizeof(err)) == 0, __LINE__);
	CHECK(y != NULL && gives(y, "suffix/one/suffix"), __LINE__);
	xp_free(y);

	/* An index past the tables, or to a table of another type, is
	   refused by the decoder. */
	struct xp_table two[2] = { t.v[0], t.v[1] };
	struct xp_tables short_tabs = { two, 2, 2 };

	CHECK(xp_decode(b.p, b.len, "", NULL, &y, err, sizeof(err)) == -1 && y == NULL,
	      __LINE__);
	CHECK(strstr(err, ": lookup table index out of range") != NULL, __LINE__);
	CHECK(xp_decode(b.p, b.len, "", &short_tabs, &y, err, sizeof(err)) == -1, __LINE__);
	CHECK(strstr(err, ": lookup table index out of range") != NULL, __LINE__);

	struct xp_table swapped[3] = { t.v[0], t.v[2], t.v[1] };
	struct xp_tables swapped_tabs = { swapped, 3, 3 };

	CHECK(xp_decode(b.p, b.len, "", &swapped_tabs, &y, err, sizeof(err)) == -1, __LINE__);
	CHECK(strstr(err, ": lookup table of another type") != NULL, __LINE__);
	sb_free(&b);

	/* Nothing kept: every table goes. */
	xp_free(x2);
	xp_free(x3);
	CHECK(xp_tables_order(&t, NULL, 0) == 0 && t.n == 0, __LINE__);
	xp_tables_free(&t);
	CHECK(t.v == NULL && t.n == 0 && t.cap == 0, __LINE__);
}

/* A table of @len octets at @t, little-endian u32 @v written at @at. */
static void put_u32(char *t, size_t at, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		t[at + (size_t)k] = (char)(v >> (8 * k));
}

static void test_table_check(void)
{
	struct xp_tables t = { 0 };
	struct xp_hooks h = hooks;
	struct xp *x;
	struct xp_err e;

	CHECK(xp_lookup_name(XK_LSEARCH) != NULL && strcmp(xp_lookup_name(XK_IPLSEARCH),
							      "iplsearch") == 0, __LINE__);
	CHECK(xp_lookup_name(0) == NULL && xp_lookup_name(XK_IPLSEARCH + 1) == NULL, __LINE__);

	/* What the compiler makes passes. */
	h.tables = &t;
	CHECK(xp_compile("${lookup{a}lsearch{/lk/ls}}${lookup{a}wildlsearch{/lk/wild}}"
			 "${lookup{a}nwildlsearch{/lk/nwild}}${lookup{a}iplsearch{/lk/ip}}"
			 "${lookup{a}lsearch{/lk/emptykey}}", 0, &h, &x, &e) == 0, __LINE__);
	CHECK(t.n == 5, __LINE__);
	for (size_t i = 0; i < t.n; i++)
		CHECK(xp_table_check(t.v[i].type, t.v[i].data, t.v[i].len) == NULL, __LINE__);
	CHECK(xp_table_check(0, "", 0) != NULL, __LINE__);
	CHECK(xp_table_check(9, "", 0) != NULL, __LINE__);

	/* Scanned types: pairs of strings, each ending in a NUL. */
	CHECK(xp_table_check(XK_WILDLSEARCH, "", 0) == NULL, __LINE__);
	CHECK(xp_table_check(XK_WILDLSEARCH, "k\0d", 4) == NULL, __LINE__);
	CHECK(xp_table_check(XK_NWILDLSEARCH, "k\0d", 3) != NULL, __LINE__);
	CHECK(xp_table_check(XK_IPLSEARCH, "k\0d\0e", 6) != NULL, __LINE__);

	/* lsearch: entries, then an index of key offsets and its length. */
	char ls[16] = "k\0d\0";        /* entries: 4 octets */

	put_u32(ls, 4, 0);
	put_u32(ls, 8, 1);
	CHECK(xp_table_check(XK_LSEARCH, ls, 12) == NULL, __LINE__);
	CHECK(xp_table_check(XK_LSEARCH, ls, 3) != NULL, __LINE__);          /* no index */
	put_u32(ls, 8, 3);                                                    /* too long */
	CHECK(xp_table_check(XK_LSEARCH, ls, 12) != NULL, __LINE__);
	put_u32(ls, 8, 1);
	put_u32(ls, 4, 1);                                                    /* mid-key */
	CHECK(xp_table_check(XK_LSEARCH, ls, 12) != NULL, __LINE__);
	put_u32(ls, 4, 2);                                    /* the data: no data after it */
	CHECK(xp_table_check(XK_LSEARCH, ls, 12) != NULL, __LINE__);
	put_u32(ls, 4, 4);                                                    /* past them */
	CHECK(xp_table_check(XK_LSEARCH, ls, 12) != NULL, __LINE__);
	put_u32(ls, 4, 0);
	ls[3] = 'x';                                              /* no final NUL */
	CHECK(xp_table_check(XK_LSEARCH, ls, 12) != NULL, __LINE__);
	put_u32(ls, 0, 0);                                        /* no entries, no index */
	CHECK(xp_table_check(XK_LSEARCH, ls, 4) == NULL, __LINE__);

	/* What noq checks at start, in constant time: the type, the index's
	   size, the final NUL; the evaluator checks each entry it reads. */
	memcpy(ls, "k\0d\0", 4);
	put_u32(ls, 4, 1);                                                    /* mid-key */
	put_u32(ls, 8, 1);
	CHECK(xp_table_usable(XK_LSEARCH, ls, 12) == NULL, __LINE__);
	CHECK(xp_table_usable(XK_LSEARCH, ls, 3) != NULL, __LINE__);
	CHECK(xp_table_usable(9, ls, 12) != NULL, __LINE__);
	CHECK(xp_table_usable(XK_WILDLSEARCH, "k\0d", 3) != NULL, __LINE__);
	CHECK(xp_table_usable(XK_WILDLSEARCH, "k\0d", 4) == NULL, __LINE__);
	{
		struct xp_table one = { XK_LSEARCH, false, "/d", ls, 12 };
		struct xp_tables tabs = { &one, 1, 1 };
		struct xp_hooks h2 = { NULL, fake_read, NULL, &tabs };
		struct xp *y;
		struct xp_err e2;
		struct sb b = SB_INIT;

		CHECK(xp_compile("${lookup{k}lsearch{/d}}", 0, &h2, &y, &e2) == 0, __LINE__);
		CHECK(xp_eval(y, envp(), &b, &e2) != 0, __LINE__);
		CHECK(strstr(e2.msg, "damaged lookup table of /d") != NULL, __LINE__);
		sb_free(&b);
		xp_free(y);
		/* A key whose NUL is the entries' last: no data. */
		put_u32(ls, 4, 2);
		CHECK(xp_compile("${lookup{d}lsearch{/d}}", 0, &h2, &y, &e2) == 0, __LINE__);
		CHECK(xp_eval(y, envp(), &b, &e2) != 0, __LINE__);
		CHECK(strstr(e2.msg, "damaged lookup table") != NULL, __LINE__);
		sb_free(&b);
		xp_free(y);
	}
	/* A scanned table ending in a key without its data. */
	{
		struct xp_table one = { XK_WILDLSEARCH, false, "/w", "k\0d\0z", 6 };
		struct xp_tables tabs = { &one, 1, 1 };
		struct xp_hooks h2 = { NULL, fake_read, NULL, &tabs };
		struct xp *y;
		struct xp_err e2;
		struct sb b = SB_INIT;

		CHECK(xp_table_usable(XK_WILDLSEARCH, one.data, one.len) == NULL, __LINE__);
		CHECK(xp_compile("${lookup{q}wildlsearch{/w}}", 0, &h2, &y, &e2) == 0, __LINE__);
		CHECK(xp_eval(y, envp(), &b, &e2) != 0, __LINE__);
		CHECK(strstr(e2.msg, "damaged lookup table of /w") != NULL, __LINE__);
		sb_free(&b);
		xp_free(y);
	}
	xp_free(x);
	xp_tables_free(&t);
}

/* Damaged tables: what the check accepts is searched without reading
   outside it (ASan watches: each is an exact-size copy). */
static int search_damaged(const void *arg)
{
	static const char *const keys[] = { "alpha", "Gamma", "quoted key", "zzz", "*",
					    "x.suffix.example", "192.168.1.5", "::1" };
	const struct xp_tables *src = arg;
	unsigned checked = 0;

	for (size_t i = 0; i < src->n; i++) {
		const struct xp_table *o = &src->v[i];
		size_t trials = o->len * 3 + o->len;

		for (size_t k = 0; k < trials; k++) {
			static const unsigned char values[] = { 0x00, 0x01, 0xff };
			size_t len = k < o->len * 3 ? o->len : k - o->len * 3;
			char *c = malloc(len ? len : 1);

			if (c == NULL)
				return 3;
			memcpy(c, o->data, len);
			if (k < o->len * 3)
				c[k / 3] = (char)values[k % 3];
			if (xp_table_usable(o->type, c, len) == NULL) {
				struct xp_table one = { o->type, false, "/d", c, len };
				struct xp_tables tabs = { &one, 1, 1 };
				struct xp_hooks h = { NULL, fake_read, NULL, &tabs };

				checked++;
				for (size_t j = 0; j < UNIT_COUNT(keys); j++) {
					char s[96];
					struct xp *x;
					struct xp_err e;
					struct sb b = SB_INIT;

					snprintf(s, sizeof(s), "${lookup{%s}%s{/d}{<$value>}{no}}",
						 keys[j], xp_lookup_name(o->type));
					if (xp_compile(s, 0, &h, &x, &e) != 0 || tabs.n != 1)
						return 4;
					(void)xp_eval(x, envp(), &b, &e);
					sb_free(&b);
					xp_free(x);
				}
			}
			free(c);
		}
	}
	return checked > 0 ? 0 : 5;
}

static void test_table_damage(void)
{
	struct xp_tables t = { 0 };
	struct xp_hooks h = hooks;
	struct xp *x;
	struct xp_err e;
	int st;

	h.tables = &t;
	CHECK(xp_compile("${lookup{a}lsearch{/lk/ls}}${lookup{a}wildlsearch{/lk/wild}}"
			 "${lookup{a}iplsearch{/lk/ip}}", 0, &h, &x, &e) == 0, __LINE__);
	st = in_child(search_damaged, &t);
	CHECK(st == 0, __LINE__);
	if (st != 0)
		fprintf(stderr, "line %d: searching damaged tables: child status %d\n", __LINE__,
			st);
	xp_free(x);
	xp_tables_free(&t);
}

/* ======================================================================
 * Syntax errors and places
 * ====================================================================== */

static void test_errors(void)
{
	CERR("$", 0, 1, "$ not followed by letter, digit, or {");
	CERR("a$ b", 1, 1, "$ not followed by letter, digit, or {");
	CERR("${", 0, 3, "letter or digit expected after ${");
	CERR("${}", 0, 3, "letter or digit expected after ${");
	CERR("${if", 4, 1, "condition name expected, but found \"\"");
	CERR("${if eq{a}{b}", 13, 1, "'yes' part did not start with '{'");
	CERR("${lc:abc", 4, 1, "missing } at end of string");
	CERR("${run{/bin/true}}", 0, 5, "expansion item ${run} is not supported by noq");
	CERR("${nosuch{a}}", 0, 8, "\"${nosuch\" is not a known operator (or a } is missing in a "
	     "variable reference)");
	CERR("${local_part", 0, 12, "\"${local_part\" is not a known operator (or a } is missing "
	     "in a variable reference)");
	CERR("abc${lc:x}${if}", 14, 1, "condition name expected, but found \"}\"");
	CERR("${if eq{a}{b}{c}{d}junk", 0, 19, "missing } at end of \"if\" item");
	CERR("${sg{a}{b}{c}", 0, 13, "missing '}' after 'sg'");
	CERR("${sg{a}{b}{c", 10, 1, "missing } at end of string");
	CERR("\\x00", 0, 4, "'\\x00' would put a NUL byte in the expansion");
}

static void test_places(void)
{
	static const char tr[] = "a transport's options (one transaction serves every recipient)";
	static const char rw[] = "a rewrite rule's replacement";
	static const char gl[] = "main options";
	char msg[200];

	/* Router variables are not a transport's. */
	static const char *const router_only[] = {
		"local_part", "domain", "home", "local_part_prefix", "local_part_suffix",
		"original_local_part", "original_domain", "address_data",
	};

	for (size_t i = 0; i < UNIT_COUNT(router_only); i++) {
		char s[64];

		snprintf(s, sizeof(s), "$%s", router_only[i]);
		snprintf(msg, sizeof(msg), "variable $%s is not available in %s", router_only[i], tr);
		cerr(__LINE__, XP_TRANSPORT, &hooks, s, 0, strlen(s), msg);
		cerr(__LINE__, XP_ROUTER | XP_TRANSPORT, &hooks, s, 0, strlen(s), msg);
		snprintf(s, sizeof(s), "x${if def:%s{y}}", router_only[i]);
		cerr(__LINE__, XP_TRANSPORT, &hooks, s, 10, strlen(router_only[i]), msg);
	}
	EXP(XP_TRANSPORT, "$sender_address $primary_hostname $message_size $caller_uid",
	    "alice@sender.example mail.example.org 1234 1000");
	EXP(XP_TRANSPORT, "[$h_x-spaces:] $tod_logfile", "[padded] 20231103");
	EXP(XP_ROUTER | XP_TRANSPORT, "$sender_address_domain", "sender.example");

	/* A rewrite's replacement: the address and $0.., no headers. */
	EXP(XP_REWRITE, "$local_part@$domain", "joe@example.com");
	snprintf(msg, sizeof(msg), "headers are not available in %s", rw);
	CERRP(XP_REWRITE, "$h_from:", 0, 7, msg);
	CERRP(XP_REWRITE, "a$rh_from:", 1, 8, msg);
	CERRP(XP_REWRITE, "$bh_from:", 0, 8, msg);
	CERRP(XP_REWRITE, "$lh_from:", 0, 8, msg);
	CERRP(XP_REWRITE, "$header_from:", 0, 12, msg);
	/* def:h_ too: it asks for a header (the place has no message). */
	refused(__LINE__, XP_REWRITE, "${if def:h_from:{y}{n}}", msg);
	snprintf(msg, sizeof(msg), "variable $sender_address is not available in %s", rw);
	CERRP(XP_REWRITE, "$sender_address", 0, 15, msg);
	snprintf(msg, sizeof(msg), "variable $primary_hostname is not available in %s", rw);
	CERRP(XP_REWRITE, "$primary_hostname", 0, 17, msg);

	/* Main options: no address, no sender. */
	EXP(XP_GLOBAL, "$primary_hostname $qualify_domain $caller_gid $tod_zone",
	    "mail.example.org example.org 100 +0000");
	snprintf(msg, sizeof(msg), "variable $local_part is not available in %s", gl);
	CERRP(XP_GLOBAL, "$local_part", 0, 11, msg);
	snprintf(msg, sizeof(msg), "variable $sender_address is not available in %s", gl);
	CERRP(XP_GLOBAL, "${sender_address}", 0, 17, msg);
	snprintf(msg, sizeof(msg), "variable $message_size is not available in %s", gl);
	CERRP(XP_GLOBAL, "${if def:message_size{y}}", 9, 12, msg);

	/* No place: every variable. */
	EXP(0, "$local_part $sender_address $tod_logfile $h_x-spaces:",
	    "joe alice@sender.example 20231103 padded");
}

/* ======================================================================
 * The API: xp_capture_ref, xp_is_literal, xp_uses_var, xp_truth
 * ====================================================================== */

/* xp_capture_ref() in a child (it may read out of bounds): 0 when it
   gives what struct capref_case wants. */
struct capref_case {
	const char *s;
	unsigned above;
	long want;
	size_t pos, len;
};

static int capref_child(const void *arg)
{
	const struct capref_case *c = arg;
	struct xp *x;
	struct xp_err e;
	size_t p = 999, l = 999;
	long got;

	if (xp_compile(c->s, 0, &hooks, &x, &e) != 0) {
		fprintf(stderr, "\"%s\": %s\n", c->s, e.msg);
		return 2;
	}
	got = xp_capture_ref(x, c->above, &p, &l);
	xp_free(x);
	if (got != c->want || (c->want >= 0 && (p != c->pos || l != c->len))) {
		fprintf(stderr, "\"%s\" above %u: got %ld at %zu+%zu, want %ld at %zu+%zu\n",
			c->s, c->above, got, p, l, c->want, c->pos, c->len);
		return 1;
	}
	return 0;
}

static void capref(unsigned line, const char *s, unsigned above, long want, size_t pos,
		   size_t len)
{
	struct capref_case c = { s, above, want, pos, len };
	int st = in_child(capref_child, &c);

	CHECK(st == 0, line);
	if (st > 2)
		fprintf(stderr, "line %u: xp_capture_ref(\"%s\"): child status %d\n", line, s, st);
}

#define CAPREF(s, above, want, pos, len) capref(__LINE__, (s), (above), (want), (pos), (len))

static void test_capture_ref(void)
{
	CAPREF("abc", 0, -1, 0, 0);
	CAPREF("$1", 0, 1, 0, 2);
	CAPREF("$1", 1, -1, 0, 0);
	CAPREF("$0", 0, -1, 0, 0);
	CAPREF("a${2}", 0, 2, 1, 4);
	CAPREF("$1$3", 1, 3, 2, 2);
	CAPREF("${lc:$2}", 0, 2, 5, 2);
	CAPREF("${substr{$1}{1}{x}}", 0, 1, 9, 2);
	CAPREF("${length{1}{x$4}}", 0, 4, 13, 2);
	CAPREF("${extract{a}{$1}{x}{y}}", 0, 1, 13, 2);
	CAPREF("${extract{a}{b}{x$4}}", 0, 4, 17, 2);
	CAPREF("${extract{a}{b}{x}{y$5}}", 0, 5, 20, 2);
	CAPREF("${extract{2}{:}{$3}}", 0, 3, 16, 2);
	CAPREF("${readfile{$2}}", 0, 2, 11, 2);
	CAPREF("${readfile{/a}{$2}}", 0, 2, 15, 2);
	CAPREF("${sg{$1}{b}{c}}", 0, 1, 5, 2);
	CAPREF("${sg{a}{$2}{c}}", 0, 2, 8, 2);
	CAPREF("${sg{a}{(b)}{\\$1}}", 0, -1, 0, 0);        /* its own */
	CAPREF("${if match{x}{(x)}{$1}}", 0, -1, 0, 0);    /* its own */
	CAPREF("${if eq{$2}{a}{x}}", 0, 2, 8, 2);
	CAPREF("${if eq{a}{$3}{x}}", 0, 3, 11, 2);
	CAPREF("${if and{{eq{a}{b}}{eq{$6}{c}}}{x}}", 0, 6, 23, 2);
	CAPREF("${if eq{a}{a}{x}}$3", 0, 3, 17, 2);
	CAPREF("${lookup{$1}lsearch{/lk/ls}}", 0, 1, 9, 2);
	CAPREF("${lookup{a}lsearch{/lk/ls}{$7}}", 0, 7, 27, 2);
	CAPREF("${lookup{a}lsearch{/lk/ls}{x}{$8}}", 0, 8, 30, 2);
	/* The subject of a match_* condition is expanded: $1 there is the
	   caller's. */
	CAPREF("${if match_domain{$1}{a.example}{x}}", 0, 1, 18, 2);

	/* A lookup before the reference: its table is not a node (a long
	   key puts the table far into the pool). */
	CAPREF("${lookup{kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	       "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk}"
	       "lsearch{/lk/ls}}$1", 0, 1, 164, 2);
	/* The first reference in the text. */
	CAPREF("${extract{a}{$1}{$2}{$3}}", 0, 1, 13, 2);
	CAPREF("${lookup{$1}lsearch{/lk/ls}{x}{$2}}", 0, 1, 9, 2);
}

static void literal(unsigned line, const char *s, bool want, const char *text, size_t tlen)
{
	struct xp *x;
	struct xp_err e;
	const char *t = NULL;
	size_t l = 999;

	if (xp_compile(s, 0, &hooks, &x, &e) != 0) {
		CHECK(!"compiles", line);
		return;
	}
	CHECK(xp_is_literal(x, &t, &l) == want, line);
	if (want)
		CHECK(l == tlen && memcmp(t, text, tlen) == 0, line);
	xp_free(x);
}

static void uses(unsigned line, const char *s, enum xp_var v, bool want)
{
	struct xp *x;
	struct xp_err e;

	if (xp_compile(s, 0, &hooks, &x, &e) != 0) {
		CHECK(!"compiles", line);
		return;
	}
	CHECK(xp_uses_var(x, v) == want, line);
	if (xp_uses_var(x, v) != want)
		fprintf(stderr, "line %u: xp_uses_var(\"%s\", %s) is not %d\n", line, s,
			xp_var_name(v), want);
	xp_free(x);
}

static void test_api(void)
{
	literal(__LINE__, "", true, "", 0);
	literal(__LINE__, "abc", true, "abc", 3);
	literal(__LINE__, "a\\nb", true, "a\nb", 3);
	literal(__LINE__, "a\\Nb$c\\Nd", true, "ab$cd", 5);
	literal(__LINE__, "\\$local_part", true, "$local_part", 11);
	literal(__LINE__, "a}b", true, "a}b", 3);
	literal(__LINE__, "a$local_part", false, NULL, 0);
	literal(__LINE__, "${if eq{a}{a}}", false, NULL, 0);
	literal(__LINE__, "$1", false, NULL, 0);
	literal(__LINE__, "${lc:A}", false, NULL, 0);
	literal(__LINE__, "$h_x:", false, NULL, 0);

	for (size_t i = 0; i < UNIT_COUNT(all_vars); i++) {
		char s[64];

		snprintf(s, sizeof(s), "a${lc:$%s}", all_vars[i].name);
		uses(__LINE__, s, all_vars[i].v, true);
		uses(__LINE__, s, all_vars[(i + 1) % UNIT_COUNT(all_vars)].v, false);
	}
	uses(__LINE__, "abc", XV_LOCAL_PART, false);
	uses(__LINE__, "\\$local_part", XV_LOCAL_PART, false);
	uses(__LINE__, "${if eq{a}{b}{x}{${uc:$domain}}}", XV_DOMAIN, true);
	uses(__LINE__, "${lookup{$local_part}lsearch{/lk/ls}}", XV_LOCAL_PART, true);
	uses(__LINE__, "$sender_address_domain", XV_SENDER_ADDRESS, false);
	/* def:domain reads $domain. */
	uses(__LINE__, "${if def:domain{a}{b}}", XV_DOMAIN, true);

	CHECK(!xp_truth(""), __LINE__);
	CHECK(!xp_truth("0"), __LINE__);
	CHECK(!xp_truth("no"), __LINE__);
	CHECK(!xp_truth("NO"), __LINE__);
	CHECK(!xp_truth("false"), __LINE__);
	CHECK(!xp_truth("False"), __LINE__);
	CHECK(xp_truth("1"), __LINE__);
	CHECK(xp_truth("00"), __LINE__);
	CHECK(xp_truth("yes"), __LINE__);
	CHECK(xp_truth(" "), __LINE__);
	CHECK(xp_truth("nope"), __LINE__);

	/* The source is kept; xp_free(NULL) is allowed. */
	struct xp *x;
	struct xp_err e;

	CHECK(xp_compile("a${lc:B}", 0, NULL, &x, &e) == 0, __LINE__);
	CHECK(strcmp(xp_source(x), "a${lc:B}") == 0, __LINE__);
	xp_free(x);
	xp_free(NULL);

	/* The caller's bound on the output is kept and restored. */
	struct sb b = SB_INIT;

	b.max = 5;
	CHECK(xp_compile("abcdefgh", 0, NULL, &x, &e) == 0, __LINE__);
	CHECK(xp_eval(x, envp(), &b, &e) == -1, __LINE__);
	CHECK(b.max == 5, __LINE__);
	sb_free(&b);
	b = (struct sb)SB_INIT;
	CHECK(xp_eval(x, envp(), &b, &e) == 0 && strcmp(sb_str(&b), "abcdefgh") == 0, __LINE__);
	CHECK(b.max == 0, __LINE__);
	sb_free(&b);
	xp_free(x);
}

/* ======================================================================
 * xp_encode / xp_decode
 * ====================================================================== */

static void test_decode_refusals(void)
{
	struct xp *x, *y;
	struct xp_err e;
	struct sb b = SB_INIT;
	char err[256];
	unsigned char *p;

	CHECK(xp_decode("", 0, "", NULL, &y, err, sizeof(err)) == -1 && y == NULL, __LINE__);
	CHECK(strcmp(err, "compiled expansion: 0 octets, too short") == 0, __LINE__);
	CHECK(xp_decode("abc", 3, "", NULL, &y, err, sizeof(err)) == -1, __LINE__);
	CHECK(strcmp(err, "compiled expansion: 3 octets, too short") == 0, __LINE__);

	/* The empty expansion: no nodes, no pool. */
	CHECK(xp_compile("", 0, NULL, &x, &e) == 0, __LINE__);
	CHECK(xp_encode(x, &b) == 0 && b.len == 16, __LINE__);
	CHECK(xp_decode(b.p, b.len, "", NULL, &y, err, sizeof(err)) == 0, __LINE__);
	xp_free(y);
	xp_free(x);
	sb_clear(&b);

	CHECK(xp_compile("a${lc:$local_part}", 0, NULL, &x, &e) == 0, __LINE__);
	CHECK(xp_encode(x, &b) == 0, __LINE__);
	p = (unsigned char *)b.p;
	CHECK(xp_decode(p, b.len - 1, "", NULL, &y, err, sizeof(err)) == -1, __LINE__);
	CHECK(strcmp(err, "compiled expansion: sizes do not add up") == 0, __LINE__);
	p[12] = 1;                                  /* the reserved word */
	CHECK(xp_decode(p, b.len, "", NULL, &y, err, sizeof(err)) == -1, __LINE__);
	CHECK(strcmp(err, "compiled expansion: sizes do not add up") == 0, __LINE__);
	p[12] = 0;
	p[8] = 0x7f;                                /* the root */
	CHECK(xp_decode(p, b.len, "", NULL, &y, err, sizeof(err)) == -1, __LINE__);
	CHECK(strcmp(err, "compiled expansion: root out of range") == 0, __LINE__);
	xp_free(x);
	sb_free(&b);
}

/* Damage: each single-octet change and each truncation of encodings. */
static const char *const damaged_src[] = {
	"a$local_part${if match{$domain}{^(ex)(.*)}{[$1|$2]}{no}}$h_subject:",
	"${if and{{eq{$1}{x}}{!def:h_to:}{inlist{b}{a:b}}}{${uc:$value}}fail}"
	"${sg{abc}{b*}{-}}",
	"${extract{2}{:}{a:b:c}{<$value>}{n}}${substr{1}{2}{abcdef}}${l_2:xyz}"
	"${s_-2_1:abcd}${quote:a b}",
	"${lookup{alpha}lsearch{/lk/ls}{$value}{x}}${if match_domain{$domain}{*.com}{m}{n}}"
	"${if or{{isip{$0}}{bool{no}}{def:home}{={1}{2}}}{y}}$2",
};

/* Shared with the child: where it is. */
struct damage_progress {
	size_t at;              /* the trial under way: offset * 256 + octet, then truncations */
	int phase;              /* in it: 1 decoding, 2 running, 3 xp_capture_ref, 4 the rest */
	size_t trials, accepted;
	bool done;
};

static const char *const damage_phase[] = {
	"", "in xp_decode", "in xp_eval", "in xp_capture_ref", "in xp_is_literal/xp_uses_var",
};

struct damage_job {
	const unsigned char *enc;
	size_t n;
	const char *src;
	const struct xp_tables *tables;
	size_t from;
	struct damage_progress *prog;
};

static void use_decoded(struct xp *y, struct damage_progress *prog)
{
	static const char *const cap[] = { "c0", "c1", "c2" };
	static const size_t caplen[] = { 2, 2, 2 };
	struct xp_env env = std_env();
	struct xp_err e;
	struct sb b = SB_INIT;
	const char *t;
	size_t pos, len;

	env.cap = cap;
	env.caplen = caplen;
	env.ncap = 3;
	prog->phase = 2;
	(void)xp_eval(y, &env, &b, &e);
	sb_free(&b);
	(void)xp_eval(y, &env, &b, &e);          /* with the regexes it kept */
	sb_free(&b);
	prog->phase = 3;
	(void)xp_capture_ref(y, 0, &pos, &len);
	prog->phase = 4;
	(void)xp_is_literal(y, &t, &len);
	for (int v = 0; v < XV_N; v++)
		(void)xp_uses_var(y, (enum xp_var)v);
}

static int damage_child(const void *arg)
{
	const struct damage_job *j = arg;
	size_t total = j->n * 256 + j->n;

	for (size_t k = j->from; k < total; k++) {
		size_t len = k < j->n * 256 ? j->n : k - j->n * 256;
		unsigned char *c;
		struct xp *y;
		char err[256];

		if (k < j->n * 256 && j->enc[k / 256] == (unsigned char)(k % 256))
			continue;
		j->prog->at = k;
		j->prog->phase = 1;
		j->prog->trials++;
		/* An exact-size copy, so that ASan sees any read past the end. */
		c = malloc(len ? len : 1);
		if (c == NULL)
			return 3;
		memcpy(c, j->enc, len);
		if (k < j->n * 256)
			c[k / 256] = (unsigned char)(k % 256);
		if (xp_decode(c, len, j->src, j->tables, &y, err, sizeof(err)) == 0) {
			j->prog->accepted++;
			use_decoded(y, j->prog);
			xp_free(y);
		}
		free(c);
	}
	j->prog->done = true;
	return 0;
}

static void test_damage(void)
{
	struct damage_progress *prog = mmap(NULL, sizeof(*prog), PROT_READ | PROT_WRITE,
					    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	CHECK(prog != MAP_FAILED, __LINE__);
	if (prog == MAP_FAILED)
		return;
	for (size_t i = 0; i < UNIT_COUNT(damaged_src); i++) {
		struct xp *x;
		struct xp_err e;
		struct sb b = SB_INIT;
		unsigned crashes = 0;

		CHECK(xp_compile(damaged_src[i], 0, &hooks, &x, &e) == 0, __LINE__);
		if (x == NULL)
			continue;
		CHECK(xp_encode(x, &b) == 0, __LINE__);

		struct damage_job j = { (const unsigned char *)b.p, b.len, damaged_src[i],
					xp_lookup_tables(x), 0, prog };
		size_t total = b.len * 256 + b.len;

		memset(prog, 0, sizeof(*prog));
		while (j.from < total) {
			int st;

			prog->done = false;
			st = in_child(damage_child, &j);
			if (st == 0 && prog->done)
				break;
			/* A crash: report it and go on from the next offset. */
			crashes++;
			CHECK(!"damaged bytes are refused or run safely", __LINE__);
			if (prog->at < b.len * 256)
				fprintf(stderr, "damage: \"%s\": octet %zu (of %zu) set to 0x%02zx: "
					"child status %d %s\n", damaged_src[i], prog->at / 256, b.len,
					prog->at % 256, st, damage_phase[prog->phase]);
			else
				fprintf(stderr, "damage: \"%s\": cut to %zu octets: child status %d "
					"%s\n", damaged_src[i], prog->at - b.len * 256, st,
					damage_phase[prog->phase]);
			if (crashes == 4) {
				fprintf(stderr, "damage: \"%s\": giving up after %u crashes\n",
					damaged_src[i], crashes);
				break;
			}
			j.from = prog->at < b.len * 256 ? (prog->at / 256 + 1) * 256 : prog->at + 1;
		}
		fprintf(stderr, "damage: source %zu: %zu octets, %zu trials, %zu decoded\n", i,
			b.len, prog->trials, prog->accepted);
		sb_free(&b);
		xp_free(x);
	}
	munmap(prog, sizeof(*prog));
}

/* ---- the suite ------------------------------------------------------------ */

static const struct unit_test tests[] = {
	{ "text", test_text },
	{ "backslash escapes and \\N", test_escapes },
	{ "every variable, unset ones, refused ones", test_variables },
	{ "$tod_* in other zones and at the current time", test_tod },
	{ "$h_ $rh_ $bh_ $lh_ and def:h_", test_headers },
	{ "$N ${N} from the caller and from matches, $value", test_numbers },
	{ "string comparisons", test_cond_strings },
	{ "numeric comparisons with K M G", test_cond_numbers },
	{ "match and its captures", test_cond_match },
	{ "match_* lists without a caller's matcher", test_cond_lists_default },
	{ "match_* lists through the caller's hooks", test_cond_lists_callback },
	{ "inlist, inlisti and $value", test_cond_inlist },
	{ "def exists isip isip4 isip6 bool bool_lax !", test_cond_unary },
	{ "and, or", test_cond_and_or },
	{ "${if} forms, fail, nesting", test_if },
	{ "operators", test_operators },
	{ "${sg}", test_sg },
	{ "${extract} keyed and numbered", test_extract },
	{ "${substr} and ${length} items", test_substr_length },
	{ "${readfile}", test_readfile },
	{ "lookups: lsearch", test_lookup_lsearch },
	{ "lookups: wildlsearch, nwildlsearch", test_lookup_wild },
	{ "lookups: iplsearch", test_lookup_ip },
	{ "lookups: errors, nested lookups", test_lookup_errors },
	{ "lookups: a NUL octet in a key", test_lookup_nul },
	{ "lookups: tables shared, settled, checked by the decoder", test_lookup_tables },
	{ "lookups: xp_table_check()", test_table_check },
	{ "lookups: damaged tables are refused or searched safely", test_table_damage },
	{ "syntax errors at their offsets", test_errors },
	{ "variables and headers by place", test_places },
	{ "xp_capture_ref", test_capture_ref },
	{ "xp_is_literal, xp_uses_var, xp_truth, bounds", test_api },
	{ "xp_decode refusals", test_decode_refusals },
	{ "damaged encodings are refused or run safely", test_damage },
};

static const struct unit_suite suites[] = {
	{ "xp", suite_init, suite_cleanup, tests, UNIT_COUNT(tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
