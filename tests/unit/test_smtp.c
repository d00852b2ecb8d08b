/*
 * test_smtp.c -- unit tests for the pure parts of runtime/smtp.c: xtext
 * and the shuffling of randomized host groups.  The protocol itself is
 * tested against servers (tests/delivery.sh, tests/servers.sh).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "harness.h"
#include "model.h"
#include "smtp.h"
#include "testutil.h"

static void test_xtext(void)
{
	char b[64];

	smtp_xtext(b, sizeof(b), "plain@example.org");
	CU_ASSERT_STRING_EQUAL(b, "plain@example.org");
	smtp_xtext(b, sizeof(b), "id+1=2 3");
	CU_ASSERT_STRING_EQUAL(b, "id+2B1+3D2+203");
	smtp_xtext(b, sizeof(b), "\x7f\xc3\xa9~!");
	CU_ASSERT_STRING_EQUAL(b, "+7F+C3+A9~!");
	/* Cut, never overrun, never half an escape. */
	smtp_xtext(b, 8, "++++++++");
	CU_ASSERT_STRING_EQUAL(b, "+2B+2B");
	smtp_xtext(b, 6, "++++++++");
	CU_ASSERT_STRING_EQUAL(b, "+2B");
	smtp_xtext(b, 1, "abc");
	CU_ASSERT_STRING_EQUAL(b, "");
}

/* ORCPT: rfc822 and xtext for ASCII, utf-8 and unitext (RFC 6533) else. */
static void test_orcpt(void)
{
	char b[64];

	smtp_orcpt(b, sizeof(b), "a+b=c@example.org");
	CU_ASSERT_STRING_EQUAL(b, "rfc822;a+2Bb+3Dc@example.org");
	smtp_orcpt(b, sizeof(b), "jos\xc3\xa9@example.org");
	CU_ASSERT_STRING_EQUAL(b, "utf-8;jos\xc3\xa9@example.org");
	smtp_orcpt(b, sizeof(b), "\xc3\xa9+x=y z@\xe4\xbe\x8b.example");
	CU_ASSERT_STRING_EQUAL(b, "utf-8;\xc3\xa9\\x{2B}x\\x{3D}y\\x{20}z@\xe4\xbe\x8b.example");
	/* Cut, never in an escape. */
	smtp_orcpt(b, 16, "\xc3\xa9++++");
	CU_ASSERT_STRING_EQUAL(b, "utf-8;\xc3\xa9");
	smtp_orcpt(b, 4, "a@b");
	CU_ASSERT_STRING_EQUAL(b, "rfc");
}

static void test_order_hosts(void)
{
	const char *names[] = { "a", "b", "c", "d", "e", "f" };
	const uint16_t groups[] = { 0, 1, 1, 1, 0, 2 };
	unsigned seen[3] = { 0, 0, 0 };   /* which host came second */

	for (int run = 0; run < 300; run++) {
		struct smtp_host h[6];

		for (size_t i = 0; i < 6; i++)
			h[i] = (struct smtp_host){ names[i], 25, false, false };
		smtp_order_hosts(h, groups, 6);
		/* Hosts outside groups keep their places; a group of one too. */
		CU_ASSERT_STRING_EQUAL(h[0].name, "a");
		CU_ASSERT_STRING_EQUAL(h[4].name, "e");
		CU_ASSERT_STRING_EQUAL(h[5].name, "f");
		/* The group is a permutation of b, c, d. */
		unsigned mask = 0;

		for (size_t i = 1; i < 4; i++) {
			CU_ASSERT_TRUE(h[i].name[0] >= 'b' && h[i].name[0] <= 'd');
			mask |= 1u << (h[i].name[0] - 'b');
		}
		CU_ASSERT_EQUAL(mask, 7u);
		seen[h[1].name[0] - 'b']++;
	}
	/* Each member leads sometimes (p of failing ~ 3 * (2/3)^300). */
	for (size_t i = 0; i < 3; i++)
		CU_ASSERT_TRUE(seen[i] > 0);
}

/*
 * Whether host @name [@ip] is in hosts_require_tls = @list, typed by the
 * compiler as noqc types it (with @extra main-section lines before).
 */
static int in_list(const char *extra, const char *list, const char *name, const char *ip)
{
	char conf[1024];
	struct tu_run *r;
	int res = -1;

	snprintf(conf, sizeof(conf), "primary_hostname = h.example\n%s\nbegin routers\n"
		 "r:\n  driver = manualroute\n  route_list = * smart.example\n"
		 "  transport = t\nbegin transports\nt:\n  driver = smtp\n"
		 "  hosts_require_tls = %s\n", extra, list);
	r = tu_run_text(conf, NULL, TU_SEMA);
	if (r->model != NULL) {
		const struct mdl_opt *o = mdl_opt_find(&r->model->transports[0],
						       "hosts_require_tls");
		struct smtp_hostlist h = { NULL, r->model };

		if (o != NULL)
			h.l = mdl_list_find(r->model, ML_HOST, o->str);
		if (h.l != NULL)
			res = smtp_host_match(&h, name, ip);
	}
	if (res < 0)
		fprintf(stderr, "list '%s' did not compile:\n%s\n", list, r->diags);
	tu_free(r);
	return res;
}

#define IN(list, name, ip) CU_ASSERT_EQUAL(in_list("", (list), (name), (ip)), 1)
#define OUT(list, name, ip) CU_ASSERT_EQUAL(in_list("", (list), (name), (ip)), 0)

static void test_host_match(void)
{
	struct smtp_hostlist none = { NULL, NULL };

	CU_ASSERT_FALSE(smtp_host_match(&none, "mx.example.org", "192.0.2.1"));
	IN("*", "mx.example.org", "192.0.2.1");
	OUT("<", "mx.example.org", "192.0.2.1");
	IN("a.example : MX.Example.org", "mx.example.org", NULL);
	OUT("a.example", "mx.example.org", "192.0.2.1");
	IN("*.example.org", "mx.example.org", NULL);
	IN("192.0.2.1", "mx.example.org", "192.0.2.1");
	IN("192.0.2.0/24", "mx", "192.0.2.77");
	OUT("192.0.2.0/24", "mx", "192.0.3.77");
	IN("<; 2001:db8::/32 ; 10.0.0.1", "mx", "2001:db8::5");
	IN("2001::db8::::/32", "mx", "2001:db8::5");
	/* One address, written two ways. */
	IN("<; 2001:db8:0:0::1", "mx", "2001:db8::1");
	OUT("!127.0.0.1 : *", "localhost", "127.0.0.1");
	IN("!127.0.0.1 : *", "mx", "192.0.2.1");
	/* No match after a negative last item: yes. */
	IN("!127.0.0.1", "mx", "192.0.2.1");
	OUT("!127.0.0.1", "mx", "127.0.0.1");
	/* Regular expressions see the name in lower case, as in Exim; a host
	   list is expanded, so they are written in \N...\N. */
	IN("\\N^mx\\d+\\.example$\\N", "MX12.Example", NULL);
	OUT("\\N^mx\\d+\\.example$\\N", "MX1.Example.org", NULL);
	OUT("^MX", "MX12.Example", NULL);
	/* Named lists, and the flags about DNS failures (no effect). */
	CU_ASSERT_EQUAL(in_list("hostlist smart = *.example.net : 10.0.0.0/8",
				"+include_unknown : +smart", "a.example.net", "192.0.2.1"), 1);
	CU_ASSERT_EQUAL(in_list("hostlist smart = *.example.net : 10.0.0.0/8",
				"!+smart : *", "b.example.org", "10.1.2.3"), 0);
	CU_ASSERT_EQUAL(in_list("hostlist smart = *.example.net : 10.0.0.0/8",
				"!+smart : *", "b.example.org", "192.0.2.1"), 1);
}

/* What noq could not match is refused by the compiler, at its column. */
static void test_host_refused(void)
{
	static const struct {
		const char *list, *want;
	} cases[] = {
		{ "@", "test.conf:11:23: error: option 'hosts_require_tls': noq cannot "
		  "evaluate '@': it names the local host" },
		{ "a : @[]", "test.conf:11:27: error: option 'hosts_require_tls': noq cannot "
		  "evaluate '@[]'" },
		{ "lsearch;/etc/hosts", "test.conf:11:23: error: option 'hosts_require_tls': "
		  "'lsearch;/etc/hosts' is a lookup" },
		{ "10.0.0.0/33", "noq cannot evaluate '10.0.0.0/33': not an IP address and "
		  "prefix length" },
		{ "${if eq{1}{1}{*}}", "test.conf:11:23: error: option 'hosts_require_tls': "
		  "noq does not expand host lists" },
		{ "^a(", "test.conf:11:25: error: invalid regular expression '^a('" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char conf[512];
		struct tu_run *r;

		snprintf(conf, sizeof(conf), "primary_hostname = h.example\n\nbegin routers\n"
			 "r:\n  driver = manualroute\n  route_list = * smart.example\n"
			 "  transport = t\nbegin transports\nt:\n  driver = smtp\n"
			 "  hosts_require_tls = %s\n", cases[i].list);
		r = tu_run_text(conf, NULL, TU_SEMA);
		CU_ASSERT_PTR_NULL(r->model);
		TU_HAS(r, cases[i].want);
		tu_free(r);
	}
}

/* Feed @lines (NUL-separated, ending in an empty one) to a fresh @r. */
static int reply_of(struct smtp_reply *r, const char *lines, char *why, size_t whylen)
{
	int k = 0;

	memset(r, 0, sizeof(*r));
	for (const char *l = lines; *l; l += strlen(l) + 1)
		if ((k = smtp_reply_line(r, l, strlen(l), why, whylen)) != 0)
			break;
	return k;
}

static void test_reply(void)
{
	struct smtp_reply r;
	char why[200], chal[1700];

	CU_ASSERT_EQUAL(reply_of(&r, "250-mx.example\0" "250-PIPELINING\0" "250 SIZE 10\0", why,
				 sizeof(why)), 1);
	CU_ASSERT_EQUAL(r.code, 250);
	CU_ASSERT_EQUAL(r.nlines, 3);
	CU_ASSERT_STRING_EQUAL(r.text, "250 mx.example / PIPELINING / SIZE 10");
	CU_ASSERT_STRING_EQUAL(r.last, "SIZE 10");
	/* A bare code, and one with an empty text. */
	CU_ASSERT_EQUAL(reply_of(&r, "334\0", why, sizeof(why)), 1);
	CU_ASSERT_STRING_EQUAL(r.text, "334");
	CU_ASSERT_EQUAL(r.lastlen, 0);
	CU_ASSERT_EQUAL(reply_of(&r, "334 \0", why, sizeof(why)), 1);
	CU_ASSERT_EQUAL(r.lastlen, 0);
	/* A long challenge: the display text is cut, the raw text is whole. */
	memcpy(chal, "334 ", 4);
	memset(chal + 4, 'A', 1600);
	chal[1604] = '\0';
	CU_ASSERT_EQUAL(smtp_reply_line(memset(&r, 0, sizeof(r)), chal, 1604, why,
					sizeof(why)), 1);
	CU_ASSERT_EQUAL(r.lastlen, 1600);
	CU_ASSERT_EQUAL(memcmp(r.last, chal + 4, 1600), 0);
	CU_ASSERT(strlen(r.text) < SMTP_TEXT_MAX);
	CU_ASSERT_STRING_EQUAL(r.text + strlen(r.text) - 3, "...");
	/* Control octets: cleaned in the text, kept in the raw last line. */
	CU_ASSERT_EQUAL(reply_of(&r, "554 a\033[2Jb\0", why, sizeof(why)), 1);
	CU_ASSERT_STRING_EQUAL(r.text, "554 a?[2Jb");
	CU_ASSERT_STRING_EQUAL(r.last, "a\033[2Jb");
	/* Malformed. */
	CU_ASSERT_EQUAL(reply_of(&r, "25\0", why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "a malformed reply '25'");
	CU_ASSERT_EQUAL(reply_of(&r, "650 no\0", why, sizeof(why)), -1);
	CU_ASSERT_EQUAL(reply_of(&r, "250x\0", why, sizeof(why)), -1);
	CU_ASSERT_EQUAL(reply_of(&r, "hello\033]0;x\0", why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "a malformed reply 'hello?]0;x'");
	CU_ASSERT_EQUAL(reply_of(&r, "250-a\0" "251 b\0", why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "a reply whose lines have different codes (250, then 251)");
	CU_ASSERT_EQUAL(reply_of(&r, "250-a\0", why, sizeof(why)), 0);
}

static const struct unit_test smtp_tests[] = {
	{ "replies", test_reply },
	{ "host lists", test_host_match },
	{ "host lists noq cannot match", test_host_refused },
	{ "xtext", test_xtext },
	{ "orcpt", test_orcpt },
	{ "randomized host groups", test_order_hosts },
};

static const struct unit_suite suites[] = {
	{ "smtp", NULL, NULL, smtp_tests, UNIT_COUNT(smtp_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
