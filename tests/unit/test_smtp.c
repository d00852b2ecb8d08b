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
#include "smtp.h"

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

static void test_host_match(void)
{
	CU_ASSERT_TRUE(smtp_host_match("*", "mx.example.org", "192.0.2.1"));
	CU_ASSERT_FALSE(smtp_host_match(NULL, "mx.example.org", "192.0.2.1"));
	CU_ASSERT_FALSE(smtp_host_match("", "mx.example.org", "192.0.2.1"));
	CU_ASSERT_TRUE(smtp_host_match("a.example : MX.Example.org", "mx.example.org", NULL));
	CU_ASSERT_FALSE(smtp_host_match("a.example", "mx.example.org", "192.0.2.1"));
	CU_ASSERT_TRUE(smtp_host_match("*.example.org", "mx.example.org", NULL));
	CU_ASSERT_TRUE(smtp_host_match("192.0.2.1", "mx.example.org", "192.0.2.1"));
	CU_ASSERT_TRUE(smtp_host_match("192.0.2.0/24", "mx", "192.0.2.77"));
	CU_ASSERT_FALSE(smtp_host_match("192.0.2.0/24", "mx", "192.0.3.77"));
	CU_ASSERT_TRUE(smtp_host_match("<; 2001:db8::/32 ; 10.0.0.1", "mx", "2001:db8::5"));
	CU_ASSERT_TRUE(smtp_host_match("2001::db8::::/32", "mx", "2001:db8::5"));
	CU_ASSERT_FALSE(smtp_host_match("!127.0.0.1 : *", "localhost", "127.0.0.1"));
	CU_ASSERT_TRUE(smtp_host_match("!127.0.0.1 : *", "mx", "192.0.2.1"));
	/* No match after a negative last item: yes. */
	CU_ASSERT_TRUE(smtp_host_match("!127.0.0.1", "mx", "192.0.2.1"));
	CU_ASSERT_FALSE(smtp_host_match("!127.0.0.1", "mx", "127.0.0.1"));
}

static const struct unit_test smtp_tests[] = {
	{ "host lists", test_host_match },
	{ "xtext", test_xtext },
	{ "randomized host groups", test_order_hosts },
};

static const struct unit_suite suites[] = {
	{ "smtp", NULL, NULL, smtp_tests, UNIT_COUNT(smtp_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
