/*
 * test_auth.c -- unit tests for runtime/auth.c: SMTP AUTH client
 * mechanisms, send-time secrets, token commands, redaction and wiping.
 *
 * The exchanges are driven as the SMTP client drives them: auth_command(),
 * then auth_step() with each 334's text, then auth_success() on 235.  The
 * published examples (RFC 2195 for CRAM-MD5, RFC 7677 for SCRAM-SHA-256,
 * RFC 7628 for OAUTHBEARER) are checked octet for octet.  Secret files are
 * made in a private temporary directory; the unreadable-file case runs in a
 * child that gives up root (the tests may run as root, who reads anything).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "codec.h"
#include "harness.h"
#include "list.h"
#include "sb.h"

/* Assertions made in helpers report the caller's line: CHECK(cond, line). */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

#define ERRLEN 512

/* ------------------------------------------------------------- helpers */

static char tmpdir[64];

static int suite_init(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/noq-test-auth.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	/* Others may go through (the unprivileged child) but not list it. */
	return chmod(tmpdir, 0711);
}

static int suite_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write @len octets to @name in the temporary directory with @mode; the
   full path goes to @path (128 octets). */
static void make_file(const char *name, const void *data, size_t len, mode_t mode,
		      char *path)
{
	int fd;

	snprintf(path, 128, "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) != 0 ||
	    close(fd) != 0) {
		perror(path);
		abort();
	}
}

/* Print @len octets of @p to stderr with C escapes (for failed cases). */
static void show(const char *what, const void *p, size_t len)
{
	const unsigned char *s = p;

	fprintf(stderr, "\n    %s (%zu): \"", what, len);
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			fputc(s[i], stderr);
		else
			fprintf(stderr, "\\x%02x", s[i]);
	fputs("\"\n", stderr);
}

/* An error text must be exactly @want. */
static void check_err(const char *err, const char *want, int line)
{
	bool ok = strcmp(err, want) == 0;

	if (!ok) {
		show("error", err, strlen(err));
		show("want", want, strlen(want));
	}
	CHECK(ok, line);
}

/* A line (base64) must decode to exactly @n octets at @want. */
static void check_b64(const char *text, size_t len, const void *want, size_t n, int line)
{
	unsigned char buf[20000];
	char err[ERRLEN] = "";
	size_t got = 0;
	bool ok = b64_decode(text, len, buf, sizeof(buf), &got, err, sizeof(err)) == 0 &&
		  got == n && memcmp(buf, want, n) == 0;

	if (!ok) {
		show("decoded", buf, got);
		show("want", want, n);
		if (err[0])
			fprintf(stderr, "    %s\n", err);
	}
	CHECK(ok, line);
}

/* The exact text of a line. */
static void check_line(const char *l, size_t len, const char *want, int line)
{
	bool ok = l != NULL && len == strlen(want) && memcmp(l, want, len) == 0;

	if (!ok) {
		if (l != NULL)
			show("line", l, len);
		show("want", want, strlen(want));
	}
	CHECK(ok, line);
}

/* Base64 of @n octets (static buffer, one at a time). */
static const char *b64(const void *p, size_t n)
{
	static char buf[20000];

	if (b64_encode(p, n, buf, sizeof(buf)) == (size_t)-1)
		abort();
	return buf;
}

#define B64S(s) b64((s), strlen(s))

/* Answer a 334 whose decoded text is @ch; the response must decode to
   @want (@wn octets). */
static void step_ok(struct auth *a, const char *ch, const void *want, size_t wn, int line)
{
	char err[ERRLEN] = "";
	const char *l = NULL;
	size_t ll = 0;
	const char *t = B64S(ch);
	int rc = auth_step(a, t, strlen(t), &l, &ll, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "\n    auth_step: %s\n", err);
	CHECK(rc == 0, line);
	if (rc == 0)
		check_b64(l, ll, want, wn, line);
}

/* A 334 with @text (as sent) must fail with @want. */
static void step_fails(struct auth *a, const char *text, const char *want, int line)
{
	char err[ERRLEN] = "";
	const char *l = (const char *)1;
	size_t ll = 1;

	CHECK(auth_step(a, text, strlen(text), &l, &ll, err, sizeof(err)) == -1, line);
	CHECK(l == NULL && ll == 0, line);
	CHECK(auth_state(a) == AUTH_ST_FAILED, line);
	check_err(err, want, line);
}

/* auth_command() must give exactly @want. */
static void command_is(struct auth *a, const char *want, int line)
{
	char err[ERRLEN] = "";
	const char *l = NULL;
	size_t ll = 0;
	int rc = auth_command(a, &l, &ll, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "\n    auth_command: %s\n", err);
	CHECK(rc == 0, line);
	check_line(l, ll, want, line);
}

/* "AUTH NAME " followed by the base64 of @ir (@n octets). */
static void command_ir(struct auth *a, const char *name, const void *ir, size_t n, int line)
{
	char want[20000 + 64];

	snprintf(want, sizeof(want), "AUTH %.20s %s", name, b64(ir, n));
	command_is(a, want, line);
}

/* client_send @cs split as noqc splits it (Exim's list rule), into @v. */
static size_t split(const char *cs, char **v, size_t max)
{
	struct list_iter li;
	struct sb item = SB_INIT;
	size_t n = 0;

	list_init(&li, cs, 0);
	while (n < max && list_next(&li, &item) > 0)
		v[n++] = strdup(item.p);
	sb_free(&item);
	return n;
}

static int new_plaintext(const char *name, const char *cs, unsigned flags, struct auth **a,
			 char *err, size_t errlen)
{
	char *v[40];
	size_t n = split(cs, v, 40);
	int rc = auth_new_plaintext(name, (const char *const *)v, n, flags, a, err, errlen);

	for (size_t i = 0; i < n; i++)
		free(v[i]);
	return rc;
}

static struct auth *plaintext(const char *name, const char *cs, unsigned flags, int line)
{
	char err[ERRLEN] = "";
	struct auth *a = NULL;
	int rc = new_plaintext(name, cs, flags, &a, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "\n    auth_new_plaintext: %s\n", err);
	CHECK(rc == 0 && a != NULL, line);
	return a;
}

static void plaintext_fails(const char *name, const char *cs, const char *want, int line)
{
	char err[ERRLEN] = "";
	struct auth *a = (struct auth *)1;

	CHECK(new_plaintext(name, cs, 0, &a, err, sizeof(err)) == -1, line);
	CHECK(a == NULL, line);
	check_err(err, want, line);
}

static struct auth *mech(const struct auth_conf *c, int line)
{
	char err[ERRLEN] = "";
	struct auth *a = NULL;
	int rc = auth_new(c, &a, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "\n    auth_new: %s\n", err);
	CHECK(rc == 0 && a != NULL, line);
	return a;
}

static void success_ok(struct auth *a, int line)
{
	char err[ERRLEN] = "";

	CHECK(auth_success(a, err, sizeof(err)) == 0, line);
	CHECK(auth_state(a) == AUTH_ST_DONE, line);
}

static void success_fails(struct auth *a, const char *want, int line)
{
	char err[ERRLEN] = "";

	CHECK(auth_success(a, err, sizeof(err)) == -1, line);
	CHECK(auth_state(a) == AUTH_ST_FAILED, line);
	check_err(err, want, line);
}

/* ------------------------------------------------------------- names */

static void test_mech_names(void)
{
	static const char *const names[AUTH_MECH_COUNT] = {
		"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER",
	};
	enum auth_mech m;

	for (int i = 0; i < AUTH_MECH_COUNT; i++) {
		CU_ASSERT_STRING_EQUAL(auth_mech_name((enum auth_mech)i), names[i]);
		CU_ASSERT_EQUAL(auth_mech_parse(names[i], &m), 0);
		CU_ASSERT_EQUAL(m, (enum auth_mech)i);
	}
	CU_ASSERT_EQUAL(auth_mech_parse("scram-sha-256", &m), 0);
	CU_ASSERT_EQUAL(m, AUTH_SCRAM_SHA_256);
	CU_ASSERT_EQUAL(auth_mech_parse("Cram-Md5", &m), 0);
	CU_ASSERT_EQUAL(m, AUTH_CRAM_MD5);
	CU_ASSERT_EQUAL(auth_mech_parse("GSSAPI", &m), -1);
	CU_ASSERT_EQUAL(auth_mech_parse("PLAIN ", &m), -1);
	CU_ASSERT_STRING_EQUAL(auth_mech_name((enum auth_mech)99), "?");
	CU_ASSERT_STRING_EQUAL(auth_state_name(AUTH_ST_NEW), "new");
	CU_ASSERT_STRING_EQUAL(auth_state_name(AUTH_ST_HELD), "held");
	CU_ASSERT_STRING_EQUAL(auth_state_name(AUTH_ST_VERIFIED), "verified");
	CU_ASSERT_STRING_EQUAL(auth_state_name(AUTH_ST_FAILED), "failed");
	CU_ASSERT_STRING_EQUAL(auth_state_name((enum auth_state)42), "?");
}

/* ------------------------------------------------------------- plaintext */

static void test_plain_client_send(void)
{
	static const char ir[] = "\0alice@example.org\0password";
	struct auth *a = plaintext("PLAIN", "^alice@example.org^password", 0, __LINE__);

	CU_ASSERT_STRING_EQUAL(auth_name(a), "PLAIN");
	CU_ASSERT_EQUAL(auth_state(a), AUTH_ST_NEW);
	command_ir(a, "PLAIN", ir, sizeof(ir) - 1, __LINE__);
	CU_ASSERT_EQUAL(auth_state(a), AUTH_ST_EXCHANGE);
	/* A second AUTH command is a caller's mistake. */
	{
		char err[ERRLEN];
		const char *l;
		size_t ll;

		CU_ASSERT_EQUAL(auth_command(a, &l, &ll, err, sizeof(err)), -1);
		check_err(err, "the AUTH command was already given (state exchange)", __LINE__);
	}
	success_ok(a, __LINE__);
	auth_free(a);

	/* Exim's example: the literal base64 it documents. */
	a = plaintext("PLAIN", "^username^mysecret", 0, __LINE__);
	command_is(a, "AUTH PLAIN AHVzZXJuYW1lAG15c2VjcmV0", __LINE__);
	auth_free(a);
}

static void test_login_client_send(void)
{
	struct auth *a = plaintext("LOGIN", ": alice : password", 0, __LINE__);

	/* The empty first item: no initial response. */
	command_is(a, "AUTH LOGIN", __LINE__);
	step_ok(a, "Username:", "alice", 5, __LINE__);
	step_ok(a, "Password:", "password", 8, __LINE__);
	/* A third prompt: Exim's "too few items". */
	step_fails(a, "VXNlcm5hbWU6", "too few items in client_send for the server's 334",
		   __LINE__);
	success_fails(a, "235 after the LOGIN exchange failed", __LINE__);
	auth_free(a);

	/* The answers do not depend on the prompts' text. */
	a = plaintext("LOGIN", ":u:p", 0, __LINE__);
	command_is(a, "AUTH LOGIN", __LINE__);
	step_ok(a, "", "u", 1, __LINE__);
	step_ok(a, "anything", "p", 1, __LINE__);
	success_ok(a, __LINE__);
	auth_free(a);
}

/* The items @cs gives, checked through an exchange: the first with AUTH
   (NULL: none), the others after each 334. */
static void items_are(const char *cs, const char *const *want, const size_t *wlen,
		      size_t n, int line)
{
	struct auth *a = plaintext("X-TEST", cs, 0, line);

	if (a == NULL)
		return;
	if (wlen[0] == 0)
		command_is(a, "AUTH X-TEST", line);
	else
		command_ir(a, "X-TEST", want[0], wlen[0], line);
	for (size_t i = 1; i < n; i++)
		step_ok(a, "?", want[i], wlen[i], line);
	step_fails(a, "", "too few items in client_send for the server's 334", line);
	auth_free(a);
}

static void test_client_send_syntax(void)
{
	{
		/* "::" is a colon; "^^" a circumflex; "^" a NUL. */
		const char *w[] = { "\0user\0pa:ss^x" };
		size_t l[] = { 13 };

		items_are("^user^pa::ss^^x", w, l, 1, __LINE__);
	}
	{
		/* "^^^" is '^' then NUL, as Exim reads it. */
		const char *w[] = { "a^\0b" };
		size_t l[] = { 4 };

		items_are("a^^^b", w, l, 1, __LINE__);
	}
	{
		/* Blanks around items go, blanks inside stay; a trailing
		   separator makes no empty item. */
		const char *w[] = { "\0u\0p w", "x y", "z" };
		size_t l[] = { 6, 3, 1 };

		items_are("  ^u^p w  :\tx y\t: z :", w, l, 3, __LINE__);
	}
	{
		/* "<;" changes the separator; ':' is then data, ";;" a ';'. */
		const char *w[] = { "\0u\0p:w", "second ;", "", "x" };
		size_t l[] = { 6, 8, 0, 1 };

		items_are("<; ^u^p:w ; second ;;; ; x", w, l, 4, __LINE__);
	}
	{
		/* Doubled ";" is a ';' in the item. */
		const char *w[] = { "a;b", "c" };
		size_t l[] = { 3, 1 };

		items_are("<;a;;b;c", w, l, 2, __LINE__);
	}
	{
		/* Empty items in the middle are answers too. */
		const char *w[] = { "", "", "x" };
		size_t l[] = { 0, 0, 1 };

		/* A doubled separator at the start is data, not an empty item. */
		items_are(":: x", (const char *const[]){ ": x" }, (const size_t[]){ 3 }, 1,
			  __LINE__);
		items_are(": : x", w, l, 3, __LINE__);
	}
	{
		/* Exim's backslash escapes and \N...\N in the literal text. */
		const char *w[] = { "a$b\tc${x}" };
		size_t l[] = { 9 };

		items_are("a\\$b\\tc\\N${x}\\N", w, l, 1, __LINE__);
	}
}

static void test_client_send_errors(void)
{
	char many[100] = "";

	plaintext_fails("PLAIN", "", "client_send is empty", __LINE__);
	plaintext_fails("PLAIN", "  \t ", "client_send is empty", __LINE__);
	for (int i = 0; i < 17; i++)
		strcat(many, "a:");
	plaintext_fails("PLAIN", many, "client_send has more than 16 items", __LINE__);
	plaintext_fails("PL AIN", "^a^b", "invalid mechanism name 'PL AIN'", __LINE__);
	plaintext_fails("", "^a^b", "invalid mechanism name ''", __LINE__);
	plaintext_fails("ABCDEFGHIJKLMNOPQRSTU", "^a^b",
			"invalid mechanism name 'ABCDEFGHIJKLMNOPQRSTU'", __LINE__);
	/* The error names the item and the offset, never the text (which
	   may be a password). */
	plaintext_fails("PLAIN", ":^a^pa$sword",
			"client_send item 2: '$' at offset 5: noq evaluates only "
			"${readfile{PATH}} and ${readfile{PATH}{EOL}} at send time",
			__LINE__);
	plaintext_fails("PLAIN", "^a^${lookup{x}lsearch{/etc/pw}}",
			"client_send item 1: '$' at offset 3: noq evaluates only "
			"${readfile{PATH}} and ${readfile{PATH}{EOL}} at send time",
			__LINE__);
}

static void test_client_send_readfile(void)
{
	static const char ir[] = "\0alice\0s^cr:et";
	char path[128], cs[300];
	struct auth *a;

	/* The file's text is used as it is: its '^' stays a '^'. */
	make_file("pw", "s^cr:et\n", 8, 0600, path);
	snprintf(cs, sizeof(cs), "^alice^${readfile{%s}{}}", path);
	a = plaintext("PLAIN", cs, 0, __LINE__);
	command_ir(a, "PLAIN", ir, sizeof(ir) - 1, __LINE__);
	auth_free(a);

	/* A file readable by others is refused, naming item and file. */
	make_file("pw-public", "secret\n", 7, 0644, path);
	snprintf(cs, sizeof(cs), ": alice : ${readfile{%s}}", path);
	{
		char want[400];

		snprintf(want, sizeof(want), "client_send item 3: secret file %s is readable "
			 "by others (mode 0644); run chmod o-r %s", path, path);
		plaintext_fails("LOGIN", cs, want, __LINE__);
	}
}

static void test_invalid_base64_challenge(void)
{
	struct auth *a = plaintext("LOGIN", ":u:p", 0, __LINE__);

	command_is(a, "AUTH LOGIN", __LINE__);
	step_fails(a, "Username:",
		   "the server's 334: invalid base64: length 9 is not a multiple of 4",
		   __LINE__);
	auth_free(a);

	/* client_ignore_invalid_base64: answered anyway. */
	a = plaintext("LOGIN", ":u:p", AUTH_IGNORE_INVALID_BASE64, __LINE__);
	command_is(a, "AUTH LOGIN", __LINE__);
	{
		char err[ERRLEN];
		const char *l = NULL;
		size_t ll = 0;

		CU_ASSERT_EQUAL(auth_step(a, "Username:", 9, &l, &ll, err, sizeof(err)), 0);
		check_line(l, ll, "dQ==", __LINE__);
		CU_ASSERT_EQUAL(auth_step(a, "Password:", 9, &l, &ll, err, sizeof(err)), 0);
		check_line(l, ll, "cA==", __LINE__);
	}
	success_ok(a, __LINE__);
	auth_free(a);
}

static void test_line_limits(void)
{
	char cs[20000], raw[20000];
	struct auth *a;
	size_t n;

	/* "AUTH PLAIN " (11) + base64 + CR LF <= 512: 372 octets ("\0u\0" and
	   369 more) make 496 characters (509 in all); 373 make 500 (513). */
	strcpy(cs, "^u^");
	memset(cs + 3, 'p', 369);
	cs[372] = '\0';
	memcpy(raw, "\0u\0", 3);
	memset(raw + 3, 'p', 369);
	a = plaintext("PLAIN", cs, 0, __LINE__);
	command_ir(a, "PLAIN", raw, 372, __LINE__);
	auth_free(a);

	/* One more octet: AUTH goes alone, the empty 334 gets the response. */
	strcat(cs, "p");
	raw[372] = 'p';
	a = plaintext("PLAIN", cs, 0, __LINE__);
	command_is(a, "AUTH PLAIN", __LINE__);
	CU_ASSERT_EQUAL(auth_state(a), AUTH_ST_HELD);
	step_ok(a, "", raw, 373, __LINE__);
	CU_ASSERT_EQUAL(auth_state(a), AUTH_ST_EXCHANGE);
	success_ok(a, __LINE__);
	auth_free(a);

	/* The server's go-ahead must be empty. */
	a = plaintext("PLAIN", cs, 0, __LINE__);
	command_is(a, "AUTH PLAIN", __LINE__);
	step_fails(a, "eA==", "the server's 334 was not empty where PLAIN expected to send "
		   "its initial response", __LINE__);
	auth_free(a);

	/* A response line may have 12288 octets with CR LF: 12286 base64
	   characters hold at most 9213 octets (12284 characters). */
	n = 9213;
	cs[0] = ':';
	memset(cs + 1, 'x', n);
	cs[n + 1] = '\0';
	a = plaintext("LOGIN", cs, 0, __LINE__);
	command_is(a, "AUTH LOGIN", __LINE__);
	memset(raw, 'x', n);
	step_ok(a, "", raw, n, __LINE__);
	auth_free(a);
	strcat(cs, "xxx");
	a = plaintext("LOGIN", cs, 0, __LINE__);
	command_is(a, "AUTH LOGIN", __LINE__);
	step_fails(a, "", "the LOGIN response would make a line of 12290 octets; the limit "
		   "is 12288 (RFC 4954)", __LINE__);
	auth_free(a);

	/* An initial response that would not fit even alone: refused before
	   anything is sent. */
	a = plaintext("PLAIN", cs + 1, 0, __LINE__);
	{
		char err[ERRLEN];
		const char *l = (const char *)1;
		size_t ll = 1;

		CU_ASSERT_EQUAL(auth_command(a, &l, &ll, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NULL(l);
		check_err(err, "the PLAIN initial response would make a line of 12290 octets; "
			  "the limit is 12288 (RFC 4954)", __LINE__);
		CU_ASSERT_EQUAL(auth_state(a), AUTH_ST_FAILED);
	}
	auth_free(a);
}

/* ------------------------------------------------------------- built-in */

static void test_builtin_plain_login(void)
{
	static const char ir1[] = "\0tim\0tanstaaf";
	static const char ir2[] = "admin\0tim\0tanstaaf";
	struct auth_conf c = { .mech = AUTH_PLAIN, .user = "tim", .secret = "tanstaaf",
			       .secretlen = 8 };
	struct auth *a = mech(&c, __LINE__);

	command_ir(a, "PLAIN", ir1, sizeof(ir1) - 1, __LINE__);
	step_fails(a, "", "unexpected 334 after the last PLAIN response", __LINE__);
	auth_free(a);

	c.authzid = "admin";
	a = mech(&c, __LINE__);
	command_ir(a, "PLAIN", ir2, sizeof(ir2) - 1, __LINE__);
	success_ok(a, __LINE__);
	auth_free(a);

	c = (struct auth_conf){ .mech = AUTH_LOGIN, .user = "tim", .secret = "tanstaaf",
				.secretlen = 8 };
	a = mech(&c, __LINE__);
	command_is(a, "AUTH LOGIN", __LINE__);
	step_ok(a, "Username:", "tim", 3, __LINE__);
	step_ok(a, "Password:", "tanstaaf", 8, __LINE__);
	success_ok(a, __LINE__);
	auth_free(a);
}

static void new_fails(const struct auth_conf *c, const char *want, int line)
{
	char err[ERRLEN] = "";
	struct auth *a = (struct auth *)1;

	CHECK(auth_new(c, &a, err, sizeof(err)) == -1, line);
	CHECK(a == NULL, line);
	check_err(err, want, line);
}

static void test_conf_checks(void)
{
	new_fails(&(struct auth_conf){ .mech = AUTH_PLAIN, .secret = "x", .secretlen = 1 },
		  "PLAIN needs a user name", __LINE__);
	new_fails(&(struct auth_conf){ .mech = AUTH_CRAM_MD5, .user = "u" },
		  "CRAM-MD5 needs a password", __LINE__);
	new_fails(&(struct auth_conf){ .mech = AUTH_XOAUTH2, .user = "u" },
		  "XOAUTH2 needs a token", __LINE__);
	new_fails(&(struct auth_conf){ .mech = AUTH_PLAIN, .user = "u", .secret = "a\0b",
				       .secretlen = 3 },
		  "the password for PLAIN contains a NUL byte", __LINE__);
	new_fails(&(struct auth_conf){ .mech = AUTH_XOAUTH2, .user = "u", .secret = "",
				       .secretlen = 0 },
		  "the token for XOAUTH2 is empty", __LINE__);
	new_fails(&(struct auth_conf){ .mech = AUTH_XOAUTH2, .user = "u",
				       .secret = "abcd efg", .secretlen = 8 },
		  "the token for XOAUTH2 has an octet that is not visible ASCII at octet 5",
		  __LINE__);
	new_fails(&(struct auth_conf){ .mech = AUTH_OAUTHBEARER, .secret = "ab\001",
				       .secretlen = 3 },
		  "the token for OAUTHBEARER has an octet that is not visible ASCII at "
		  "octet 3", __LINE__);
	new_fails(&(struct auth_conf){ .mech = AUTH_OAUTHBEARER, .secret = "t\xc3\xa9",
				       .secretlen = 3 },
		  "the token for OAUTHBEARER has an octet that is not visible ASCII at "
		  "octet 2", __LINE__);
	new_fails(&(struct auth_conf){ .mech = AUTH_XOAUTH2, .user = "u\001x",
				       .secret = "t", .secretlen = 1 },
		  "the user name for XOAUTH2 contains a control character", __LINE__);
	new_fails(&(struct auth_conf){ .mech = AUTH_OAUTHBEARER, .host = "h\nx",
				       .secret = "t", .secretlen = 1 },
		  "the host name for OAUTHBEARER contains a control character", __LINE__);
	new_fails(&(struct auth_conf){ .mech = AUTH_SCRAM_SHA_256, .user = "u",
				       .authzid = "a\rb", .secret = "p", .secretlen = 1 },
		  "the authorisation identity for SCRAM-SHA-256 contains a control "
		  "character", __LINE__);
	new_fails(&(struct auth_conf){ .mech = AUTH_OAUTHBEARER, .port = 65536,
				       .secret = "t", .secretlen = 1 },
		  "port 65536 is out of range", __LINE__);
	new_fails(&(struct auth_conf){ .mech = (enum auth_mech)17, .user = "u" },
		  "unknown mechanism 17", __LINE__);
}

/* ------------------------------------------------------------- CRAM-MD5 */

static void test_cram_md5_rfc2195(void)
{
	struct auth_conf c = { .mech = AUTH_CRAM_MD5, .user = "tim",
			       .secret = "tanstaaftanstaaf", .secretlen = 16 };
	struct auth *a = mech(&c, __LINE__);
	char err[ERRLEN];
	const char *l = NULL;
	size_t ll = 0;

	command_is(a, "AUTH CRAM-MD5", __LINE__);
	/* The challenge and response exactly as RFC 2195 prints them. */
	CU_ASSERT_EQUAL(auth_step(a, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
				  56, &l, &ll, err, sizeof(err)), 0);
	check_line(l, ll, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", __LINE__);
	check_b64(l, ll, "tim b913a602c7eda7a495b4e6e7334d3890", 36, __LINE__);
	step_fails(a, "", "unexpected 334 after the last CRAM-MD5 response", __LINE__);
	auth_free(a);

	a = mech(&c, __LINE__);
	command_is(a, "AUTH CRAM-MD5", __LINE__);
	step_fails(a, "", "the CRAM-MD5 challenge is empty", __LINE__);
	auth_free(a);
}

/* ------------------------------------------------------------- SCRAM */

#define SCRAM_SFIRST \
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==," \
	"i=4096"
#define SCRAM_CFINAL \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
	"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SCRAM_SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* A SCRAM exchange for RFC 7677's user, up to the client-first message;
   @gs2a is how @authzid must appear in the GS2 header. */
static struct auth *scram_start2(const char *authzid, const char *gs2a, int line)
{
	struct auth_conf c = { .mech = AUTH_SCRAM_SHA_256, .user = "user",
			       .secret = "pencil", .secretlen = 6, .authzid = authzid };
	struct auth_hooks h = { .scram_nonce = "rOprNGfwEbeRWgbNEkqO" };
	struct auth *a = mech(&c, line);
	char want[200];

	if (a == NULL)
		return NULL;
	auth_set_hooks(a, &h);
	snprintf(want, sizeof(want), "n,%s%s,n=user,r=rOprNGfwEbeRWgbNEkqO",
		 gs2a ? "a=" : "", gs2a ? gs2a : "");
	command_ir(a, "SCRAM-SHA-256", want, strlen(want), line);
	return a;
}

static struct auth *scram_start(const char *authzid, int line)
{
	return scram_start2(authzid, authzid, line);
}

static void test_scram_rfc7677(void)
{
	struct auth *a = scram_start(NULL, __LINE__);

	/* RFC 7677 section 3, message by message. */
	step_ok(a, SCRAM_SFIRST, SCRAM_CFINAL, strlen(SCRAM_CFINAL), __LINE__);
	CU_ASSERT_EQUAL(auth_state(a), AUTH_ST_EXCHANGE);
	step_ok(a, SCRAM_SFINAL, "", 0, __LINE__);
	CU_ASSERT_EQUAL(auth_state(a), AUTH_ST_VERIFIED);
	success_ok(a, __LINE__);
	auth_free(a);

	/* Extensions after v= are allowed. */
	a = scram_start(NULL, __LINE__);
	step_ok(a, SCRAM_SFIRST, SCRAM_CFINAL, strlen(SCRAM_CFINAL), __LINE__);
	step_ok(a, SCRAM_SFINAL ",x=1", "", 0, __LINE__);
	success_ok(a, __LINE__);
	auth_free(a);
}

static void test_scram_server_proof(void)
{
	struct auth *a;

	/* A wrong signature (last character changed): refused. */
	a = scram_start(NULL, __LINE__);
	step_ok(a, SCRAM_SFIRST, SCRAM_CFINAL, strlen(SCRAM_CFINAL), __LINE__);
	step_fails(a, B64S("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G8="),
		   "SCRAM-SHA-256: the server's signature is wrong: it does not know the "
		   "password", __LINE__);
	success_fails(a, "235 after the SCRAM-SHA-256 exchange failed", __LINE__);
	auth_free(a);

	/* A signature of the wrong length, or not base64. */
	a = scram_start(NULL, __LINE__);
	step_ok(a, SCRAM_SFIRST, SCRAM_CFINAL, strlen(SCRAM_CFINAL), __LINE__);
	step_fails(a, B64S("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95A=="),
		   "SCRAM-SHA-256: the server's signature is wrong: it does not know the "
		   "password", __LINE__);
	auth_free(a);

	/* 235 straight after our proof: the server proved nothing. */
	a = scram_start(NULL, __LINE__);
	step_ok(a, SCRAM_SFIRST, SCRAM_CFINAL, strlen(SCRAM_CFINAL), __LINE__);
	success_fails(a, "SCRAM-SHA-256: the server accepted us without proving it knows "
		      "the password", __LINE__);
	auth_free(a);

	/* 235 straight after AUTH. */
	a = scram_start(NULL, __LINE__);
	success_fails(a, "SCRAM-SHA-256: the server accepted us without proving it knows "
		      "the password", __LINE__);
	auth_free(a);

	/* No v=, or e=. */
	a = scram_start(NULL, __LINE__);
	step_ok(a, SCRAM_SFIRST, SCRAM_CFINAL, strlen(SCRAM_CFINAL), __LINE__);
	step_fails(a, B64S("x=1,v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
		   "SCRAM-SHA-256: the server's final message has no signature (v=)",
		   __LINE__);
	auth_free(a);
	a = scram_start(NULL, __LINE__);
	step_ok(a, SCRAM_SFIRST, SCRAM_CFINAL, strlen(SCRAM_CFINAL), __LINE__);
	step_fails(a, B64S("e=invalid-proof"), "SCRAM-SHA-256: the server refused: "
		   "invalid-proof", __LINE__);
	auth_free(a);

	/* A 334 after the verified signature. */
	a = scram_start(NULL, __LINE__);
	step_ok(a, SCRAM_SFIRST, SCRAM_CFINAL, strlen(SCRAM_CFINAL), __LINE__);
	step_ok(a, SCRAM_SFINAL, "", 0, __LINE__);
	step_fails(a, "", "unexpected 334 in state verified of SCRAM-SHA-256", __LINE__);
	auth_free(a);
}

static void scram_first_fails(const char *sfirst, const char *want, int line)
{
	struct auth *a = scram_start(NULL, line);

	if (a == NULL)
		return;
	step_fails(a, B64S(sfirst), want, line);
	auth_free(a);
}

static void test_scram_server_first(void)
{
	scram_first_fails("r=XrOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			  "SCRAM-SHA-256: the server's nonce does not extend ours", __LINE__);
	scram_first_fails("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			  "SCRAM-SHA-256: the server's nonce does not extend ours", __LINE__);
	scram_first_fails("r=rOprNGfwEbeRWgbNEkqO%h v,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			  "SCRAM-SHA-256: the server's nonce does not extend ours", __LINE__);
	scram_first_fails("r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
			  "SCRAM-SHA-256: iteration count 4095 is not from 4096 to 10000000",
			  __LINE__);
	scram_first_fails("r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001",
			  "SCRAM-SHA-256: iteration count 10000001 is not from 4096 to "
			  "10000000", __LINE__);
	scram_first_fails("r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096",
			  "SCRAM-SHA-256: the iteration count is not a number from 4096 to "
			  "10000000", __LINE__);
	scram_first_fails("r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
			  "SCRAM-SHA-256: the iteration count is not a number from 4096 to "
			  "10000000", __LINE__);
	scram_first_fails("r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
			  "SCRAM-SHA-256: the server's salt is not valid base64 of 1 to 1024 "
			  "octets", __LINE__);
	scram_first_fails("r=rOprNGfwEbeRWgbNEkqO%hv,s=,i=4096",
			  "SCRAM-SHA-256: the server's salt is not valid base64 of 1 to 1024 "
			  "octets", __LINE__);
	scram_first_fails("r=rOprNGfwEbeRWgbNEkqO%hv,i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ==",
			  "SCRAM-SHA-256: the server's first message is not r=...,s=...,i=...",
			  __LINE__);
	scram_first_fails("r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==",
			  "SCRAM-SHA-256: the server's first message is not r=...,s=...,i=...",
			  __LINE__);
	scram_first_fails("m=x,r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			  "SCRAM-SHA-256: the server requires an extension (m=) noq does not "
			  "know", __LINE__);
}

static void test_scram_names_and_nonce(void)
{
	struct auth_conf c = { .mech = AUTH_SCRAM_SHA_256, .user = "a=b,c",
			       .secret = "pencil", .secretlen = 6 };
	struct auth_hooks h = { .scram_nonce = "abc" };
	unsigned char dec[200];
	char err[ERRLEN], first[200];
	const char *l;
	size_t ll, n;
	struct auth *a;

	/* '=' and ',' in names are escaped (saslname). */
	a = mech(&c, __LINE__);
	auth_set_hooks(a, &h);
	command_ir(a, "SCRAM-SHA-256", "n,,n=a=3Db=2Cc,r=abc", 20, __LINE__);
	auth_free(a);

	/* An authorisation identity goes in the GS2 header, and into c=. */
	a = scram_start2("adm=1", "adm=3D1", __LINE__);
	{
		static const char sf[] =
			"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
		const char *t = B64S(sf);

		CU_ASSERT_EQUAL(auth_step(a, t, strlen(t), &l, &ll, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(b64_decode(l, ll, dec, sizeof(dec), &n, err,
					   sizeof(err)), 0);
		dec[n] = '\0';
		/* "n,a=adm=3D1," in base64 */
		CU_ASSERT_NSTRING_EQUAL(dec, "c=bixhPWFkbT0zRDEs,r=rOprNGfwEbeRWgbNEkqOxyz,p=",
					47);
	}
	auth_free(a);

	/* Without the hook: a fresh random nonce of 32 base64 characters. */
	c.user = "user";
	a = mech(&c, __LINE__);
	CU_ASSERT_EQUAL(auth_command(a, &l, &ll, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(b64_decode(l + 19, ll - 19, dec, sizeof(dec), &n, err,
				   sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 12 + 32);
	dec[n] = '\0';
	CU_ASSERT_NSTRING_EQUAL(dec, "n,,n=user,r=", 12);
	CU_ASSERT_PTR_NULL(strchr((char *)dec + 12, ','));
	snprintf(first, sizeof(first), "%s", (char *)dec);
	auth_free(a);
	a = mech(&c, __LINE__);
	CU_ASSERT_EQUAL(auth_command(a, &l, &ll, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(b64_decode(l + 19, ll - 19, dec, sizeof(dec), &n, err,
				   sizeof(err)), 0);
	dec[n] = '\0';
	CU_ASSERT_STRING_NOT_EQUAL(first, (char *)dec);
	auth_free(a);
}

/* ------------------------------------------------------------- OAuth */

static void test_xoauth2(void)
{
	static const char ir[] = "user=someuser@example.com\001auth=Bearer "
				 "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001";
	static const char json[] = "{\"status\":\"401\",\"schemes\":\"Bearer\",\"scope\":"
				   "\"https://mail.google.com/\"}";
	struct auth_conf c = { .mech = AUTH_XOAUTH2, .user = "someuser@example.com",
			       .secret = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
			       .secretlen = 45 };	/* strlen */
	struct auth *a = mech(&c, __LINE__);

	command_ir(a, "XOAUTH2", ir, sizeof(ir) - 1, __LINE__);
	CU_ASSERT_PTR_NULL(auth_server_text(a));
	success_ok(a, __LINE__);
	auth_free(a);

	/* The server's error comes in a 334: an empty answer, then its 535. */
	a = mech(&c, __LINE__);
	command_ir(a, "XOAUTH2", ir, sizeof(ir) - 1, __LINE__);
	step_ok(a, json, "", 0, __LINE__);
	CU_ASSERT_EQUAL(auth_state(a), AUTH_ST_REFUSED);
	CU_ASSERT_STRING_EQUAL(auth_server_text(a), json);
	step_fails(a, "", "unexpected 334 in state refused of XOAUTH2", __LINE__);
	auth_free(a);

	a = mech(&c, __LINE__);
	command_ir(a, "XOAUTH2", ir, sizeof(ir) - 1, __LINE__);
	step_ok(a, "{\"x\":\"\n\001\"}", "", 0, __LINE__);
	/* Server text is sanitised. */
	CU_ASSERT_STRING_EQUAL(auth_server_text(a), "{\"x\":\"??\"}");
	success_fails(a, "the server accepted XOAUTH2 after refusing the token", __LINE__);
	auth_free(a);
}

static void test_oauthbearer(void)
{
	/* RFC 7628 section 4.1. */
	static const char ir[] = "n,a=user@example.com,\001host=server.example.com\001"
				 "port=143\001auth=Bearer "
				 "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001";
	static const char ir2[] = "n,,\001auth=Bearer tok\001\001";
	static const char ir3[] = "n,a=a=3Db=2C,\001port=587\001auth=Bearer tok\001\001";
	struct auth_conf c = { .mech = AUTH_OAUTHBEARER, .user = "user@example.com",
			       .host = "server.example.com", .port = 143,
			       .secret = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
			       .secretlen = 42 };
	struct auth *a = mech(&c, __LINE__);

	command_ir(a, "OAUTHBEARER", ir, sizeof(ir) - 1, __LINE__);
	/* The error: answered with a lone ^A (RFC 7628 section 3.2.3). */
	step_ok(a, "{\"status\":\"invalid_token\"}", "\001", 1, __LINE__);
	CU_ASSERT_EQUAL(auth_state(a), AUTH_ST_REFUSED);
	CU_ASSERT_STRING_EQUAL(auth_server_text(a), "{\"status\":\"invalid_token\"}");
	auth_free(a);

	a = mech(&(struct auth_conf){ .mech = AUTH_OAUTHBEARER, .secret = "tok",
				      .secretlen = 3 }, __LINE__);
	command_ir(a, "OAUTHBEARER", ir2, sizeof(ir2) - 1, __LINE__);
	success_ok(a, __LINE__);
	auth_free(a);

	a = mech(&(struct auth_conf){ .mech = AUTH_OAUTHBEARER, .user = "a=b,",
				      .port = 587, .secret = "tok", .secretlen = 3 },
		 __LINE__);
	command_ir(a, "OAUTHBEARER", ir3, sizeof(ir3) - 1, __LINE__);
	auth_free(a);
}

static void test_long_token(void)
{
	/* A 2000-octet token (a JWT, say) does not fit the AUTH line. */
	static char tok[2001], ir[2100];
	struct auth_conf c = { .mech = AUTH_XOAUTH2, .user = "u", .secret = tok,
			       .secretlen = 2000 };
	struct auth *a;
	int n;

	memset(tok, 'T', 2000);
	n = snprintf(ir, sizeof(ir), "user=u\001auth=Bearer %s\001\001", tok);
	a = mech(&c, __LINE__);
	command_is(a, "AUTH XOAUTH2", __LINE__);
	step_ok(a, "", ir, (size_t)n, __LINE__);
	success_ok(a, __LINE__);
	auth_free(a);
}

/* ------------------------------------------------------------- secrets */

static void expand_ok(const char *spec, const void *want, size_t n, int line)
{
	char err[ERRLEN] = "", *out = NULL;
	size_t len = 0;
	int rc = auth_secret_expand(spec, &out, &len, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "\n    auth_secret_expand: %s\n", err);
	CHECK(rc == 0, line);
	if (rc == 0) {
		bool ok = len == n && memcmp(out, want, n) == 0 && out[n] == '\0';

		if (!ok) {
			show("got", out, len);
			show("want", want, n);
		}
		CHECK(ok, line);
	}
	auth_secret_free(out, len);
}

static void expand_fails(const char *spec, const char *want, int line)
{
	char err[ERRLEN] = "", *out = (char *)1;
	size_t len = 1;

	CHECK(auth_secret_expand(spec, &out, &len, err, sizeof(err)) == -1, line);
	CHECK(out == NULL && len == 0, line);
	check_err(err, want, line);
}

static void test_secret_literal(void)
{
	expand_ok("plain text", "plain text", 10, __LINE__);
	expand_ok("", "", 0, __LINE__);
	/* No client_send '^' rule here. */
	expand_ok("a^b", "a^b", 3, __LINE__);
	expand_ok("a\\$b\\\\c\\x41\\101\\n", "a$b\\cAA\n", 8, __LINE__);
	expand_ok("\\N${not}\\N!", "${not}!", 7, __LINE__);
	expand_ok("end\\", "end\\", 4, __LINE__);
	expand_fails("x\\0y", "the escape at offset 1 would put a NUL byte in the secret",
		     __LINE__);
	expand_fails("pa$sword", "'$' at offset 2: noq evaluates only ${readfile{PATH}} and "
		     "${readfile{PATH}{EOL}} at send time", __LINE__);
	expand_fails("${lookup{x}lsearch{/f}}", "'$' at offset 0: noq evaluates only "
		     "${readfile{PATH}} and ${readfile{PATH}{EOL}} at send time", __LINE__);
	expand_fails("${readfile {/x}}", "'$' at offset 0: noq evaluates only "
		     "${readfile{PATH}} and ${readfile{PATH}{EOL}} at send time", __LINE__);
	expand_fails("${readfile{/x}", "missing '}' in the ${readfile at offset 0", __LINE__);
	expand_fails("ab${readfile{/x}{", "missing '}' in the ${readfile at offset 2",
		     __LINE__);
	expand_fails("${readfile{/x}{}x}", "missing '}' in the ${readfile at offset 0",
		     __LINE__);
	expand_fails("${readfile{/x/${y}}}", "'$' at offset 14: the arguments of ${readfile "
		     "are not expanded", __LINE__);
	expand_fails("${readfile{}}", "the ${readfile at offset 0 has no path", __LINE__);
}

static void test_secret_readfile(void)
{
	char path[128], spec[300], big[AUTH_SECRET_MAX + 2];

	make_file("s1", "secret\n", 7, 0600, path);
	snprintf(spec, sizeof(spec), "${readfile{%s}}", path);
	expand_ok(spec, "secret", 6, __LINE__);
	snprintf(spec, sizeof(spec), "<${readfile{%s}{}}>", path);
	expand_ok(spec, "<secret>", 8, __LINE__);

	/* Group-readable is fine (0640 with noq's group). */
	make_file("s2", "pass word\r\n", 11, 0640, path);
	snprintf(spec, sizeof(spec), "${readfile{%s}}", path);
	expand_ok(spec, "pass word", 9, __LINE__);

	/* Only one trailing newline goes. */
	make_file("s3", "a\nb\n\n", 5, 0600, path);
	snprintf(spec, sizeof(spec), "${readfile{%s}}", path);
	expand_ok(spec, "a\nb\n", 4, __LINE__);
	snprintf(spec, sizeof(spec), "${readfile{%s}{}}", path);
	expand_ok(spec, "ab", 2, __LINE__);
	snprintf(spec, sizeof(spec), "${readfile{%s}{,}}", path);
	expand_ok(spec, "a,b,", 4, __LINE__);

	/* No trailing newline at all. */
	make_file("s4", "tok", 3, 0400, path);
	snprintf(spec, sizeof(spec), "${readfile{%s}}", path);
	expand_ok(spec, "tok", 3, __LINE__);

	/* Exactly the limit. */
	memset(big, 'k', AUTH_SECRET_MAX);
	make_file("s5", big, AUTH_SECRET_MAX, 0600, path);
	{
		char err[ERRLEN], *out = NULL;
		size_t len = 0;

		snprintf(spec, sizeof(spec), "${readfile{%s}}", path);
		CU_ASSERT_EQUAL(auth_secret_expand(spec, &out, &len, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(len, AUTH_SECRET_MAX);
		auth_secret_free(out, len);
		/* ... and one octet of text more is too much. */
		snprintf(spec, sizeof(spec), "x${readfile{%s}}", path);
		expand_fails(spec, "the secret would be longer than 65536 octets", __LINE__);
	}
}

static void test_secret_file_errors(void)
{
	char path[128], spec[300], want[600], big[AUTH_SECRET_MAX + 2];

	make_file("pub", "secret\n", 7, 0604, path);
	snprintf(spec, sizeof(spec), "${readfile{%s}}", path);
	snprintf(want, sizeof(want), "secret file %s is readable by others (mode 0604); run "
		 "chmod o-r %s", path, path);
	expand_fails(spec, want, __LINE__);

	snprintf(spec, sizeof(spec), "${readfile{%s/none}}", tmpdir);
	snprintf(want, sizeof(want), "cannot open secret file %s/none: No such file or "
		 "directory", tmpdir);
	expand_fails(spec, want, __LINE__);

	snprintf(spec, sizeof(spec), "${readfile{%s}}", tmpdir);
	snprintf(want, sizeof(want), "secret file %s is not a regular file", tmpdir);
	expand_fails(spec, want, __LINE__);

	expand_fails("${readfile{etc/pw}}", "secret file path 'etc/pw' is not absolute",
		     __LINE__);

	make_file("empty", "\n", 1, 0600, path);
	snprintf(spec, sizeof(spec), "${readfile{%s}}", path);
	snprintf(want, sizeof(want), "secret file %s is empty", path);
	expand_fails(spec, want, __LINE__);

	make_file("nul", "ab\0cd\n", 6, 0600, path);
	snprintf(spec, sizeof(spec), "${readfile{%s}}", path);
	snprintf(want, sizeof(want), "secret file %s contains a NUL byte", path);
	expand_fails(spec, want, __LINE__);

	memset(big, 'k', sizeof(big));
	make_file("big", big, AUTH_SECRET_MAX + 1, 0600, path);
	snprintf(spec, sizeof(spec), "${readfile{%s}}", path);
	snprintf(want, sizeof(want), "secret file %s is larger than 65536 octets", path);
	expand_fails(spec, want, __LINE__);
}

/* A secret file that the caller may not read: in a child that is not root
   (nobody, when the tests run as root). */
static void test_secret_unreadable(void)
{
	char path[128], spec[300], want[400], got[ERRLEN] = "";
	int p[2];
	pid_t pid;
	int status;
	ssize_t n;

	make_file("root-only", "secret\n", 7, 0600, path);
	if (getuid() != 0)
		CU_ASSERT_EQUAL_FATAL(chmod(path, 0000), 0);
	snprintf(spec, sizeof(spec), "${readfile{%s}}", path);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		char err[ERRLEN] = "", *out = NULL;
		size_t len;
		int rc;

		close(p[0]);
		if (getuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
				      setuid(65534) != 0))
			_exit(2);
		rc = auth_secret_expand(spec, &out, &len, err, sizeof(err));
		if (write(p[1], err, strlen(err)) < 0)
			_exit(3);
		_exit(rc == -1 ? 0 : 1);
	}
	close(p[1]);
	n = read(p[0], got, sizeof(got) - 1);
	close(p[0]);
	got[n > 0 ? n : 0] = '\0';
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(want, sizeof(want), "cannot open secret file %s: Permission denied", path);
	check_err(got, want, __LINE__);
}

/* ------------------------------------------------------------- token */

static void token_ok(const char *cmd, const struct auth_cmd_opts *o, const char *want,
		     int line)
{
	char err[ERRLEN] = "", *out = NULL;
	size_t len = 0;
	int rc = auth_token_run(cmd, o, &out, &len, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "\n    auth_token_run: %s\n", err);
	CHECK(rc == 0, line);
	if (rc == 0) {
		bool ok = len == strlen(want) && strcmp(out, want) == 0;

		if (!ok) {
			show("got", out, len);
			show("want", want, strlen(want));
		}
		CHECK(ok, line);
	}
	auth_secret_free(out, len);
}

static void token_fails(const char *cmd, const struct auth_cmd_opts *o, const char *want,
			int line)
{
	char err[ERRLEN] = "", *out = (char *)1;
	size_t len = 1;

	CHECK(auth_token_run(cmd, o, &out, &len, err, sizeof(err)) == -1, line);
	CHECK(out == NULL && len == 0, line);
	check_err(err, want, line);
}

static void test_token_success(void)
{
	token_ok("/bin/echo ya29.tok-123", NULL, "ya29.tok-123", __LINE__);
	/* Quoting: '...' as is, "..." with \" and \\, \x outside. */
	token_ok("/usr/bin/printf '%s|%s|%s' 'a b' \"c\\\"d\\\\\" e\\ f", NULL,
		 "a b|c\"d\\|e f", __LINE__);
	token_ok("\t/usr/bin/printf  'tok\\r\\n'  ", NULL, "tok", __LINE__);
	/* Only one trailing newline goes. */
	token_ok("/usr/bin/printf 'a\\n\\n'", NULL, "a\n", __LINE__);
	/* The environment is the caller's choice. */
	{
		char *env[] = { "NOQ_TEST_TOKEN=from-env", NULL };
		struct auth_cmd_opts o = { .envp = env };

		token_ok("/bin/sh -c 'echo $NOQ_TEST_TOKEN'", &o, "from-env", __LINE__);
	}
	/* stdin is /dev/null: cat ends at once, with nothing. */
	token_fails("/bin/cat", NULL, "token command /bin/cat printed nothing on its "
		    "standard output", __LINE__);
}

static void test_token_failures(void)
{
	struct auth_cmd_opts small = { .max_output = 10 };

	token_fails("/bin/sh -c 'echo tok; echo \"first  line\" >&2; echo second >&2; exit 3'",
		    NULL, "token command /bin/sh exited with status 3: first  line", __LINE__);
	token_fails("/bin/sh -c 'printf \"\\n\\tbad\\001x\\n\" >&2; exit 1'", NULL,
		    "token command /bin/sh exited with status 1: ?bad?x", __LINE__);
	token_fails("/bin/false", NULL, "token command /bin/false exited with status 1",
		    __LINE__);
	token_fails("/bin/sh -c 'kill -9 $$'", NULL,
		    "token command /bin/sh was killed by signal 9", __LINE__);
	token_fails("/bin/true", NULL,
		    "token command /bin/true printed nothing on its standard output",
		    __LINE__);
	token_fails("/usr/bin/printf 'a\\000b'", NULL,
		    "token command /usr/bin/printf printed a NUL byte", __LINE__);
	token_fails("/bin/echo 0123456789", &small,
		    "token command /bin/echo printed more than 10 octets", __LINE__);
	token_ok("/usr/bin/printf 0123456789", &small, "0123456789", __LINE__);
	token_fails("echo tok", NULL, "token command: 'echo' is not an absolute path",
		    __LINE__);
	token_fails("/nonexistent/noq-token", NULL,
		    "cannot run token command /nonexistent/noq-token: No such file or "
		    "directory", __LINE__);
	token_fails("/bin/echo 'tok", NULL, "token command: unbalanced quote", __LINE__);
	token_fails("/bin/echo \"tok", NULL, "token command: unbalanced quote", __LINE__);
	token_fails("  ", NULL, "token command: empty", __LINE__);
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The pid the command wrote into "pid" in the temporary directory. */
static long read_pid(void)
{
	char path[128];
	long pid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/pid", tmpdir);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

/* Is process @pid dead (gone, or a zombie waiting for init), within 1 s? */
static bool gone(long pid)
{
	for (int i = 0; pid > 0 && i < 100; i++) {
		char path[64], state = '?';
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		f = fopen(path, "r");
		if (f == NULL)
			return true;
		if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
			state = '?';
		fclose(f);
		if (state == 'Z')
			return true;
		usleep(10000);
	}
	return false;
}

static void test_token_timeout_and_bound(void)
{
	struct auth_cmd_opts quick = { .timeout_ms = 300 };
	long long t0 = ms_now();
	char cmd[256];

	token_fails("/bin/sleep 5", &quick, "token command /bin/sleep timed out after 300 ms",
		    __LINE__);
	CU_ASSERT(ms_now() - t0 < 2000);

	/* A grandchild holding the output open is killed with its group. */
	t0 = ms_now();
	snprintf(cmd, sizeof(cmd), "/bin/sh -c '/bin/sleep 5 & echo $! > %s/pid; echo tok'",
		 tmpdir);
	token_fails(cmd, &quick, "token command /bin/sh timed out after 300 ms", __LINE__);
	CU_ASSERT(ms_now() - t0 < 2000);
	CU_ASSERT(gone(read_pid()));

	/* Output closed but no exit: the wait for the exit times out too. */
	token_fails("/bin/sh -c 'echo tok; exec >&- 2>&-; /bin/sleep 5'", &quick,
		    "token command /bin/sh timed out after 300 ms", __LINE__);

	quick.timeout_ms = 1000;
	token_fails("/bin/sleep 3", &quick, "token command /bin/sleep timed out after 1 s",
		    __LINE__);

	/* Endless output: stopped at the bound (64 KiB). */
	t0 = ms_now();
	token_fails("/usr/bin/yes", NULL,
		    "token command /usr/bin/yes printed more than 65536 octets", __LINE__);
	CU_ASSERT(ms_now() - t0 < 5000);
}

static void test_token_process(void)
{
	struct sigaction ign, old, now;
	int p[2];

	/* Our descriptors stay ours: the command has 0, 1 and 2 only (3 is
	   the directory ls reads). */
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	token_ok("/bin/ls /proc/self/fd", NULL, "0\n1\n2\n3", __LINE__);
	close(p[0]);
	close(p[1]);

	/* An ignored SIGCHLD (inherited from whoever ran us) is set aside for
	   the run, then restored. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	CU_ASSERT_EQUAL_FATAL(sigaction(SIGCHLD, &ign, &old), 0);
	token_fails("/bin/sh -c 'exit 4'", NULL, "token command /bin/sh exited with status 4",
		    __LINE__);
	token_ok("/bin/echo still", NULL, "still", __LINE__);
	CU_ASSERT_EQUAL(sigaction(SIGCHLD, &old, &now), 0);
	CU_ASSERT(now.sa_handler == SIG_IGN);

	/* An ignored SIGPIPE (noq ignores it for its socket) is not passed
	   on: the command ignores nothing -- but for signals 32 and 33, which
	   glibc keeps for itself and lets no program change (a test harness
	   may have them ignored); awk drops their two hex digits. */
	CU_ASSERT_EQUAL_FATAL(sigaction(SIGPIPE, &ign, &old), 0);
	token_ok("/usr/bin/awk '/^SigIgn/ { print substr($2, 1, 7) substr($2, 10) }' "
		 "/proc/self/status", NULL, "00000000000000", __LINE__);
	sigaction(SIGPIPE, &old, NULL);
}

/* ------------------------------------------------------------- redaction */

static void test_redact(void)
{
	char out[64];

	CU_ASSERT_STRING_EQUAL(auth_redact("AUTH PLAIN AGFsaWNlAHB3", 23, false, out,
					   sizeof(out)), "AUTH PLAIN <redacted>");
	CU_ASSERT_STRING_EQUAL(auth_redact("auth xoauth2 dXNlcj1", 20, false, out,
					   sizeof(out)), "auth xoauth2 <redacted>");
	CU_ASSERT_STRING_EQUAL(auth_redact("AUTH LOGIN", 10, false, out, sizeof(out)),
			       "AUTH LOGIN");
	CU_ASSERT_STRING_EQUAL(auth_redact("MAIL FROM:<a@b>", 15, false, out, sizeof(out)),
			       "MAIL FROM:<a@b>");
	CU_ASSERT_STRING_EQUAL(auth_redact("YWxpY2U=", 8, true, out, sizeof(out)),
			       "<redacted>");
	CU_ASSERT_STRING_EQUAL(auth_redact("*", 1, true, out, sizeof(out)), "*");
	CU_ASSERT_STRING_EQUAL(auth_redact("", 0, true, out, sizeof(out)), "");
	/* Only @len octets are looked at. */
	CU_ASSERT_STRING_EQUAL(auth_redact("AUTH LOGIN xyz", 10, false, out, sizeof(out)),
			       "AUTH LOGIN");
	/* Truncated to the room given. */
	CU_ASSERT_STRING_EQUAL(auth_redact("AUTH PLAIN AGFsaWNl", 19, false, out, 12),
			       "AUTH PLAIN ");
	CU_ASSERT_STRING_EQUAL(auth_redact("YWxpY2U=", 8, true, out, 4), "<re");
}

/* ------------------------------------------------------------- wiping */

/**
 * struct wipes - what auth_free() reported wiping.
 * @p:        the buffers, in order.
 * @nonzero:  a reported buffer still held a non-zero octet.
 */
struct wipes {
	const void *p[64];
	size_t n;
	size_t total;
	bool nonzero;
};

static void on_wiped(void *ctx, const void *p, size_t len)
{
	struct wipes *w = ctx;
	const unsigned char *s = p;

	for (size_t i = 0; i < len; i++)
		if (s[i] != 0)
			w->nonzero = true;
	if (w->n < UNIT_COUNT(w->p))
		w->p[w->n++] = p;
	w->total += len;
}

static bool was_wiped(const struct wipes *w, const void *p)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->p[i] == p)
			return true;
	return false;
}

static void test_wipe(void)
{
	struct wipes w = { .n = 0 };
	struct auth_hooks h = { .wiped = on_wiped, .ctx = &w };
	struct auth *a = plaintext("PLAIN", "^alice^password", 0, __LINE__);
	char err[ERRLEN];
	const char *l = NULL;
	size_t ll;

	/* The AUTH line holds the password (in base64): it is wiped, as are
	   the item and everything else. */
	auth_set_hooks(a, &h);
	CU_ASSERT_EQUAL(auth_command(a, &l, &ll, err, sizeof(err)), 0);
	auth_free(a);
	CU_ASSERT(was_wiped(&w, l));
	CU_ASSERT(w.n >= 2);
	CU_ASSERT(w.total >= 2 * 15);
	CU_ASSERT(!w.nonzero);

	/* SCRAM after a whole exchange: the response line and the
	   client-first message are among them. */
	memset(&w, 0, sizeof(w));
	a = scram_start(NULL, __LINE__);
	h.scram_nonce = "rOprNGfwEbeRWgbNEkqO";
	auth_set_hooks(a, &h);
	step_ok(a, SCRAM_SFIRST, SCRAM_CFINAL, strlen(SCRAM_CFINAL), __LINE__);
	{
		const char *t = B64S(SCRAM_SFINAL);

		CU_ASSERT_EQUAL(auth_step(a, t, strlen(t), &l, &ll, err, sizeof(err)), 0);
	}
	success_ok(a, __LINE__);
	/* The challenge buffers were wiped as they went. */
	CU_ASSERT_EQUAL(w.n, 2);
	CU_ASSERT(!w.nonzero);
	w.n = 0;
	auth_free(a);
	CU_ASSERT(was_wiped(&w, l));
	/* line, cfb, ir, secret, user */
	CU_ASSERT(w.n >= 5);
	CU_ASSERT(!w.nonzero);
}

/* ------------------------------------------------------------- main */

#define T(f) { #f, f }

static const struct unit_test name_tests[] = {
	T(test_mech_names),
};

static const struct unit_test plaintext_tests[] = {
	T(test_plain_client_send),
	T(test_login_client_send),
	T(test_client_send_syntax),
	T(test_client_send_errors),
	T(test_client_send_readfile),
	T(test_invalid_base64_challenge),
	T(test_line_limits),
	T(test_builtin_plain_login),
	T(test_conf_checks),
};

static const struct unit_test mech_tests[] = {
	T(test_cram_md5_rfc2195),
	T(test_scram_rfc7677),
	T(test_scram_server_proof),
	T(test_scram_server_first),
	T(test_scram_names_and_nonce),
	T(test_xoauth2),
	T(test_oauthbearer),
	T(test_long_token),
};

static const struct unit_test secret_tests[] = {
	T(test_secret_literal),
	T(test_secret_readfile),
	T(test_secret_file_errors),
	T(test_secret_unreadable),
};

static const struct unit_test token_tests[] = {
	T(test_token_success),
	T(test_token_failures),
	T(test_token_timeout_and_bound),
	T(test_token_process),
};

static const struct unit_test misc_tests[] = {
	T(test_redact),
	T(test_wipe),
};

static const struct unit_suite suites[] = {
	{ "auth names", NULL, NULL, name_tests, UNIT_COUNT(name_tests) },
	{ "auth plaintext", suite_init, suite_cleanup, plaintext_tests,
	  UNIT_COUNT(plaintext_tests) },
	{ "auth mechanisms", NULL, NULL, mech_tests, UNIT_COUNT(mech_tests) },
	{ "auth secrets", suite_init, suite_cleanup, secret_tests, UNIT_COUNT(secret_tests) },
	{ "auth token command", suite_init, suite_cleanup, token_tests,
	  UNIT_COUNT(token_tests) },
	{ "auth redaction and wiping", NULL, NULL, misc_tests, UNIT_COUNT(misc_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
