/*
 * test_rwrt.c -- unit tests for runtime/rwrt.c: the expander, and rewrite
 * rules applied at send time with Exim's semantics (pattern forms, case,
 * captures, where rules apply, q, R, w, Q, S, "*", refused replacements,
 * the null sender, quoted local parts), then rules compiled by noqc from
 * configuration text, so that their lowered form is what is applied.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model.h"
#include "rwrt.h"
#include "testutil.h"
#include "xp.h"

/* Assertions made in helpers report the caller's line: CHECK(cond, line). */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

/* Ten letters, for long names. */
#define A10 "aaaaaaaaaa"

/* Every place an address can come from, one RW_WHERE_* bit each. */
static const uint32_t all_places[] = {
	RW_WHERE_ENV_FROM, RW_WHERE_ENV_TO, RW_WHERE_HDR_BCC, RW_WHERE_HDR_CC,
	RW_WHERE_HDR_FROM, RW_WHERE_HDR_REPLY, RW_WHERE_HDR_SENDER, RW_WHERE_HDR_TO,
};

static const char *place_name(uint32_t w)
{
	switch (w) {
	case RW_WHERE_ENV_FROM: return "env-from";
	case RW_WHERE_ENV_TO: return "env-to";
	case RW_WHERE_HDR_BCC: return "bcc";
	case RW_WHERE_HDR_CC: return "cc";
	case RW_WHERE_HDR_FROM: return "from";
	case RW_WHERE_HDR_REPLY: return "reply-to";
	case RW_WHERE_HDR_SENDER: return "sender";
	case RW_WHERE_HDR_TO: return "to";
	default: return "?";
	}
}

/* ------------------------------------------------------------- helpers */

/*
 * @rules with their replacements compiled, as noqc keeps them in the
 * policy (noq compiles no expansion text; a replacement noqc refuses has
 * no code, as in no policy).  Free with cr_free().
 */
struct crules {
	struct mdl_rewrite *v;
	struct mdl_expr *e;
	size_t n;
};

static struct crules compiled(const struct mdl_rewrite *rules, size_t n)
{
	struct crules c = { calloc(n ? n : 1, sizeof(*c.v)), calloc(n ? n : 1, sizeof(*c.e)),
			    n };

	CU_ASSERT_FATAL(c.v != NULL && c.e != NULL);
	for (size_t i = 0; i < n; i++) {
		struct xp_err xe;

		c.v[i] = rules[i];
		c.v[i].expr = NULL;
		c.e[i].place = XP_REWRITE;
		c.e[i].text = rules[i].replacement;
		if (xp_compile(rules[i].replacement, XP_REWRITE, NULL, &c.e[i].x, &xe) == 0)
			c.v[i].expr = &c.e[i];
	}
	return c;
}

static void cr_free(struct crules *c)
{
	for (size_t i = 0; i < c->n; i++)
		xp_free(c->e[i].x);
	free(c->e);
	free(c->v);
}

/*
 * Rewrite @addr with @rules at @where: the result must be @want (NULL:
 * left as it was) and the display name @want_name (NULL: none).
 */
static void rw_check(const struct mdl_rewrite *rules, size_t n, uint32_t where,
		     const char *addr, const char *want, const char *want_name,
		     unsigned line)
{
	char err[256] = "";
	char *out = (char *)"poison";
	char *name = (char *)"poison";
	struct crules c = compiled(rules, n);
	int rc = rw_address(c.v, n, where, addr, &out, &name, err, sizeof(err));

	cr_free(&c);
	CHECK(rc == 0, line);
	if (rc != 0) {
		fprintf(stderr, "\n    line %u: %s: unexpected error: %s\n", line, addr, err);
		return;
	}
	if (want == NULL) {
		CHECK(out == NULL, line);
		if (out != NULL)
			fprintf(stderr, "\n    line %u: %s at %s: rewritten to \"%s\", "
				"expected unchanged\n", line, addr, place_name(where), out);
	} else {
		tu_check_str(out, want, __FILE__, line);
	}
	if (want_name == NULL) {
		CHECK(name == NULL, line);
		if (name != NULL)
			fprintf(stderr, "\n    line %u: unexpected name \"%s\"\n", line, name);
	} else {
		tu_check_str(name, want_name, __FILE__, line);
	}
	free(out);
	free(name);
}

#define RW(rules, where, addr, want) \
	rw_check((rules), UNIT_COUNT(rules), (where), (addr), (want), NULL, __LINE__)
#define RW_NAME(rules, where, addr, want, name) \
	rw_check((rules), UNIT_COUNT(rules), (where), (addr), (want), (name), __LINE__)

/* Rewriting @addr with @rules at @where must fail with message @msg. */
static void rw_fails(const struct mdl_rewrite *rules, size_t n, uint32_t where,
		     const char *addr, const char *msg, unsigned line)
{
	char err[256] = "";
	char *out = (char *)"poison";
	char *name = (char *)"poison";
	struct crules c = compiled(rules, n);
	int rc = rw_address(c.v, n, where, addr, &out, &name, err, sizeof(err));

	cr_free(&c);
	CHECK(rc == -1, line);
	CHECK(out == NULL, line);
	CHECK(name == NULL, line);
	tu_check_str(err, msg, __FILE__, line);
	if (rc == 0) {
		free(out);
		free(name);
	}
}

#define RW_FAILS(rules, where, addr, msg) \
	rw_fails((rules), UNIT_COUNT(rules), (where), (addr), (msg), __LINE__)

/* ------------------------------------------------------------ patterns */

static void test_full_address(void)
{
	static const struct mdl_rewrite r[] = {
		{ "ford@hitch.example", "prefect@hitch.example", 0, NULL },
	};

	RW(r, RW_WHERE_ENV_FROM, "ford@hitch.example", "prefect@hitch.example");
	RW(r, RW_WHERE_ENV_FROM, "arthur@hitch.example", NULL);
	RW(r, RW_WHERE_ENV_FROM, "ford@hitch.example.org", NULL);
	RW(r, RW_WHERE_ENV_FROM, "ford@x.hitch.example", NULL);
	RW(r, RW_WHERE_ENV_FROM, "xford@hitch.example", NULL);
	/* Local parts compare with case, domains without. */
	RW(r, RW_WHERE_ENV_FROM, "Ford@hitch.example", NULL);
	RW(r, RW_WHERE_ENV_FROM, "ford@HITCH.Example", "prefect@hitch.example");
}

static void test_wildcards(void)
{
	static const struct mdl_rewrite any_local[] = {
		{ "*@hitch.example", "$1@galaxy.example", 0, NULL },
	};
	static const struct mdl_rewrite any_domain[] = {
		{ "root@*", "admin+$1@central.example", 0, NULL },
	};
	static const struct mdl_rewrite both[] = {
		{ "*@*", "$2.$1@x.example", 0, NULL },
	};
	static const struct mdl_rewrite prefixes[] = {
		{ "*queen@*.fict.example", "$1king@$2.fict.example", 0, NULL },
	};
	static const struct mdl_rewrite literal_star[] = {
		{ "fo*o@x.example", "foo@x.example", 0, NULL },
	};

	RW(any_local, RW_WHERE_ENV_TO, "arthur@hitch.example", "arthur@galaxy.example");
	RW(any_local, RW_WHERE_ENV_TO, "Arthur@Hitch.EXAMPLE", "Arthur@galaxy.example");
	RW(any_local, RW_WHERE_ENV_TO, "arthur@x.hitch.example", NULL);
	RW(any_local, RW_WHERE_ENV_TO, "arthur@hitch.example.org", NULL);

	/* The domain's $n is taken from the domain in lower case. */
	RW(any_domain, RW_WHERE_ENV_TO, "root@Host.Example", "admin+host.example@central.example");
	RW(any_domain, RW_WHERE_ENV_TO, "Root@host.example", NULL);
	RW(any_domain, RW_WHERE_ENV_TO, "xroot@host.example", NULL);

	RW(both, RW_WHERE_ENV_TO, "Joe@EXAMPLE.org", "example.org.Joe@x.example");

	/* Exim's own example: $1 = "hearts-", $2 = "wonderland". */
	RW(prefixes, RW_WHERE_ENV_TO, "hearts-queen@wonderland.fict.example",
	   "hearts-king@wonderland.fict.example");
	RW(prefixes, RW_WHERE_ENV_TO, "queen@x.fict.example", "king@x.fict.example");
	RW(prefixes, RW_WHERE_ENV_TO, "queen@fict.example", NULL);
	RW(prefixes, RW_WHERE_ENV_TO, "queens@x.fict.example", NULL);
	RW(prefixes, RW_WHERE_ENV_TO, "Queen@x.fict.example", NULL);

	/* A '*' that is not the first character is a literal '*'. */
	RW(literal_star, RW_WHERE_ENV_TO, "fo*o@x.example", "foo@x.example");
	RW(literal_star, RW_WHERE_ENV_TO, "fooo@x.example", NULL);
	RW(literal_star, RW_WHERE_ENV_TO, "foo@x.example", NULL);
}

static void test_domain_alone(void)
{
	/* A pattern without '@' is a domain: any local part, no $n for it. */
	static const struct mdl_rewrite plain[] = {
		{ "hitch.example", "${local_part}@galaxy.example", 0, NULL },
	};
	static const struct mdl_rewrite prefix[] = {
		{ "*.hitch.example", "${local_part}-$1@hitch.example", 0, NULL },
	};
	static const struct mdl_rewrite star[] = {
		{ "*", "$local_part@$1.example", 0, NULL },
	};

	RW(plain, RW_WHERE_HDR_TO, "arthur@hitch.example", "arthur@galaxy.example");
	RW(plain, RW_WHERE_HDR_TO, "arthur@HITCH.example", "arthur@galaxy.example");
	RW(plain, RW_WHERE_HDR_TO, "arthur@b.hitch.example", NULL);
	RW(plain, RW_WHERE_HDR_TO, "hitch.example@other.example", NULL);

	RW(prefix, RW_WHERE_HDR_TO, "a@b.c.hitch.example", "a-b.c@hitch.example");
	RW(prefix, RW_WHERE_HDR_TO, "a@hitch.example", NULL);
	RW(prefix, RW_WHERE_HDR_TO, "a@xhitch.example", NULL);

	RW(star, RW_WHERE_HDR_TO, "a@X.Org", "a@x.org.example");
}

static void test_case_rules(void)
{
	static const struct mdl_rewrite upper_domain[] = {
		{ "*@Hitch.example", "$1@galaxy.example", 0, NULL },
	};
	static const struct mdl_rewrite vars[] = {
		{ "*@example.org", "${local_part}.x@${domain}", 0, NULL },
	};
	static const struct mdl_rewrite regex[] = {
		{ "^([a-z]+)@example\\.org$", "$1@example.net", 0, NULL },
	};
	static const struct mdl_rewrite whole[] = {
		{ "^[a-z]+@x\\.example$", "\"$0\"@y.example", 0, NULL },
	};

	/* Domains are compared in lower case, so a pattern domain with
	   upper-case letters never matches (noqc warns about it). */
	RW(upper_domain, RW_WHERE_ENV_FROM, "a@Hitch.example", NULL);
	RW(upper_domain, RW_WHERE_ENV_FROM, "a@hitch.example", NULL);

	/* $local_part and $domain keep the address's own case. */
	RW(vars, RW_WHERE_ENV_FROM, "Joe@EXAMPLE.org", "Joe.x@EXAMPLE.org");

	/* A regular expression sees the domain in lower case, the local part
	   as it is. */
	RW(regex, RW_WHERE_ENV_FROM, "joe@Example.ORG", "joe@example.net");
	RW(regex, RW_WHERE_ENV_FROM, "Joe@example.org", NULL);

	/* $0 is the address as it was given. */
	RW(whole, RW_WHERE_ENV_FROM, "joe@X.example", "\"joe@X.example\"@y.example");
}

static void test_regex_patterns(void)
{
	static const struct mdl_rewrite prefix_only[] = {
		{ "^root@", "admin@example.org", 0, NULL },
	};
	static const struct mdl_rewrite ten[] = {
		{ "^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)@x\\.example$", "$10$9$1@y.example", 0, NULL },
	};
	static const struct mdl_rewrite optional[] = {
		{ "^(x)?([a-z]+)@y\\.example$", "$1-$2@z.example", 0, NULL },
	};
	static const struct mdl_rewrite swap[] = {
		{ "^(.+)\\.(.+)@example\\.org$", "$2.$1@example.org", 0, NULL },
	};

	/* Only the start is anchored unless the expression says more. */
	RW(prefix_only, RW_WHERE_ENV_TO, "root@host.example", "admin@example.org");
	RW(prefix_only, RW_WHERE_ENV_TO, "xroot@host.example", NULL);
	RW(ten, RW_WHERE_ENV_TO, "abcdefghij@x.example", "jia@y.example");
	RW(ten, RW_WHERE_ENV_TO, "abcdefghi@x.example", NULL);
	/* A group that took no part is empty. */
	RW(optional, RW_WHERE_ENV_TO, "abc@y.example", "-abc@z.example");
	RW(optional, RW_WHERE_ENV_TO, "xabc@y.example", "x-abc@z.example");
	RW(swap, RW_WHERE_ENV_TO, "ford.prefect@example.org", "prefect.ford@example.org");
	RW(swap, RW_WHERE_ENV_TO, "ford@example.org", NULL);
	/* PCRE2, as Exim: what Exim 4.96's -brw gives for the same rules. */
	static const struct mdl_rewrite digits[] = {
		{ "^(\\d+)@x\\.example$", "u$1@y.example", 0, NULL },
	};
	static const struct mdl_rewrite lazy[] = {
		{ "^(.+?)\\.(.+)@example\\.org$", "$2.$1@example.org", 0, NULL },
	};
	static const struct mdl_rewrite caseless[] = {
		{ "^(?i)ROOT@", "admin@example.org", 0, NULL },
	};

	RW(digits, RW_WHERE_ENV_TO, "123@x.example", "u123@y.example");
	RW(digits, RW_WHERE_ENV_TO, "abc@x.example", NULL);
	RW(lazy, RW_WHERE_ENV_TO, "a.b.c@example.org", "b.c.a@example.org");
	RW(caseless, RW_WHERE_ENV_TO, "root@host.example", "admin@example.org");
	/* $n beyond what the pattern sets is empty (noqc refuses it). */
	static const struct mdl_rewrite beyond[] = {
		{ "*@x.example", "$1$2$9@y.example", 0, NULL },
	};

	RW(beyond, RW_WHERE_ENV_TO, "a@x.example", "a@y.example");
}

static void test_quoted_local_parts(void)
{
	static const struct mdl_rewrite exact[] = {
		{ "\"a b\"@x.example", "ab@x.example", 0, NULL },
	};
	static const struct mdl_rewrite wild[] = {
		{ "*@x.example", "$1@y.example", 0, NULL },
	};
	static const struct mdl_rewrite lp[] = {
		{ "*@x.example", "${local_part}@z.example", 0, NULL },
	};
	static const struct mdl_rewrite dom[] = {
		{ "\"a@b\"@*", "c@$1", 0, NULL },
	};

	RW(exact, RW_WHERE_ENV_TO, "\"a b\"@x.example", "ab@x.example");
	RW(exact, RW_WHERE_ENV_TO, "\"a  b\"@x.example", NULL);
	RW(wild, RW_WHERE_ENV_TO, "\"a b\"@x.example", "\"a b\"@y.example");
	/* The domain starts after the last '@'. */
	RW(wild, RW_WHERE_ENV_TO, "\"a@b\"@x.example", "\"a@b\"@y.example");
	RW(lp, RW_WHERE_ENV_TO, "\"a@b\\\"c\"@x.example", "\"a@b\\\"c\"@z.example");
	RW(dom, RW_WHERE_ENV_TO, "\"a@b\"@X.example", "c@x.example");
	RW(dom, RW_WHERE_ENV_TO, "a@b@x.example", NULL);
}

/* --------------------------------------------------------------- flags */

static void test_where_flags(void)
{
	/* For each rule's flags, the places where it rewrites. */
	static const struct {
		uint32_t flags;
		uint32_t applies;
	} t[] = {
		{ 0, RW_F | RW_T | RW_b | RW_c | RW_f | RW_r | RW_s | RW_t },
		{ RW_F, RW_F },
		{ RW_T, RW_T },
		{ RW_E, RW_F | RW_T },
		{ RW_b, RW_b },
		{ RW_c, RW_c },
		{ RW_f, RW_f },
		{ RW_r, RW_r },
		{ RW_s, RW_s },
		{ RW_t, RW_t },
		{ RW_h, RW_b | RW_c | RW_f | RW_r | RW_s | RW_t },
		{ RW_F | RW_f | RW_r | RW_s, RW_F | RW_f | RW_r | RW_s },
		{ RW_E | RW_h, RW_F | RW_T | RW_b | RW_c | RW_f | RW_r | RW_s | RW_t },
		/* Flags that control the process are no place: everywhere. */
		{ RW_q | RW_w | RW_R | RW_Q, RW_F | RW_T | RW_b | RW_c | RW_f | RW_r | RW_s | RW_t },
		/* An 'S' rule alone applies only at SMTP time. */
		{ RW_S, 0 },
		{ RW_S | RW_T, RW_T },
	};

	for (size_t i = 0; i < UNIT_COUNT(t); i++) {
		struct mdl_rewrite r[] = { { "*@x.example", "$1@y.example", t[i].flags, NULL } };

		for (size_t k = 0; k < UNIT_COUNT(all_places); k++) {
			uint32_t w = all_places[k];
			const char *want = (t[i].applies & w) ? "a@y.example" : NULL;
			char *out = NULL;
			char err[100] = "";

			struct crules c = compiled(r, 1);

			CU_ASSERT_EQUAL(rw_address(c.v, 1, w, "a@x.example", &out, NULL,
						   err, sizeof(err)), 0);
			cr_free(&c);
			if ((want == NULL) != (out == NULL) ||
			    (want != NULL && strcmp(out, want) != 0)) {
				CU_FAIL("rule applied in the wrong place");
				fprintf(stderr, "\n    flags 0x%x at %s: got %s\n",
					(unsigned)t[i].flags, place_name(w),
					out ? out : "(unchanged)");
			}
			free(out);
		}
	}
}

static void test_no_place(void)
{
	static const struct mdl_rewrite r[] = { { "*@x.example", "$1@y.example", 0, NULL } };

	/* A call that names no place matches no rule, not every rule. */
	RW(r, 0, "a@x.example", NULL);
	/* E and h may be given as places too. */
	RW(r, RW_E, "a@x.example", "a@y.example");
	RW(r, RW_h, "a@x.example", "a@y.example");
}

static void test_chaining_and_q(void)
{
	static const struct mdl_rewrite chain[] = {
		{ "*@x.example", "$1@y.example", 0, NULL },
		{ "*@y.example", "$1@z.example", 0, NULL },
		{ "*@x.example", "$1@never.example", 0, NULL },
	};
	static const struct mdl_rewrite quit[] = {
		{ "*@x.example", "$1@y.example", RW_q, NULL },
		{ "*@y.example", "$1@z.example", 0, NULL },
	};
	static const struct mdl_rewrite quit_unmatched[] = {
		{ "b@x.example", "c@x.example", RW_q, NULL },
		{ "*@x.example", "$1@z.example", 0, NULL },
	};
	static const struct mdl_rewrite quit_elsewhere[] = {
		{ "*@x.example", "$1@y.example", RW_q | RW_F, NULL },
		{ "*@x.example", "$1@z.example", 0, NULL },
	};

	/* Later rules see the new address, earlier ones are not tried again. */
	RW(chain, RW_WHERE_ENV_FROM, "a@x.example", "a@z.example");
	/* 'q' ends the rewriting after a rule that rewrote... */
	RW(quit, RW_WHERE_ENV_FROM, "a@x.example", "a@y.example");
	/* ...but not after one that did not match or does not apply here. */
	RW(quit_unmatched, RW_WHERE_ENV_FROM, "a@x.example", "a@z.example");
	RW(quit_unmatched, RW_WHERE_ENV_FROM, "b@x.example", "c@x.example");
	RW(quit_elsewhere, RW_WHERE_ENV_TO, "a@x.example", "a@z.example");
	RW(quit_elsewhere, RW_WHERE_ENV_FROM, "a@x.example", "a@y.example");
}

static void test_repeat(void)
{
	static const struct mdl_rewrite once[] = {
		{ "^(.*)\\.(.*)@x\\.example$", "$1$2@x.example", 0, NULL },
	};
	static const struct mdl_rewrite again[] = {
		{ "^(.*)\\.(.*)@x\\.example$", "$1$2@x.example", RW_R, NULL },
		{ "*@x.example", "$1@z.example", 0, NULL },
	};
	static const struct mdl_rewrite again_quit[] = {
		{ "^(.*)\\.(.*)@x\\.example$", "$1$2@x.example", RW_R | RW_q, NULL },
		{ "*@x.example", "$1@z.example", 0, NULL },
	};
	static const struct mdl_rewrite forever[] = {
		{ "*@x.example", "a$1@x.example", RW_R, NULL },
	};

	RW(once, RW_WHERE_ENV_TO, "a.b.c.d@x.example", "a.b.cd@x.example");
	/* 'R' applies the rule again while it matches, then goes on. */
	RW(again, RW_WHERE_ENV_TO, "a.b.c.d@x.example", "abcd@z.example");
	/* With 'q', nothing after it once it stops matching. */
	RW(again_quit, RW_WHERE_ENV_TO, "a.b.c.d@x.example", "abcd@x.example");
	RW(again_quit, RW_WHERE_ENV_TO, "abcd@x.example", "abcd@z.example");
	/* Once, then ten times again: eleven 'a's. */
	RW(forever, RW_WHERE_ENV_TO, "b@x.example", "aaaaaaaaaaab@x.example");
}

static void test_star_replacement(void)
{
	static const struct mdl_rewrite r[] = {
		{ "root@*", "*", 0, NULL },
		{ "*@*", "$1@example.org", 0, NULL },
	};
	static const struct mdl_rewrite r_from[] = {
		{ "root@*", "*", RW_F, NULL },
		{ "*@*", "$1@example.org", 0, NULL },
	};
	static const struct mdl_rewrite after[] = {
		{ "*@x.example", "$1@y.example", 0, NULL },
		{ "root@y.example", "*", 0, NULL },
		{ "*@y.example", "$1@z.example", 0, NULL },
	};

	/* "*": not rewritten, and no later rule is tried. */
	RW(r, RW_WHERE_HDR_FROM, "root@host.example", NULL);
	RW(r, RW_WHERE_HDR_FROM, "joe@host.example", "joe@example.org");
	/* Unless the rule does not apply here. */
	RW(r_from, RW_WHERE_HDR_FROM, "root@host.example", "root@example.org");
	RW(r_from, RW_WHERE_ENV_FROM, "root@host.example", NULL);
	/* What earlier rules did stands. */
	RW(after, RW_WHERE_ENV_TO, "root@x.example", "root@y.example");
	RW(after, RW_WHERE_ENV_TO, "joe@x.example", "joe@z.example");
}

/* ------------------------------------------------------------- results */

static void test_refused_results(void)
{
	static const struct mdl_rewrite empty[] = {
		{ "^(z)?a@x\\.example$", "$1", 0, NULL },
		{ "*@x.example", "$1@never.example", 0, NULL },
	};
	static const struct mdl_rewrite bad[] = {
		{ "list@x.example", "a@y.example, b@y.example", 0, NULL },
		{ "null@x.example", "<>", 0, NULL },
		{ "blank@x.example", "a b@y.example", 0, NULL },
		{ "nl@x.example", "a@y.example\\nBcc: c@z.example", 0, NULL },
		{ "unqual@x.example", "$local_part", 0, NULL },
		{ "*@x.example", "$1@never.example", 0, NULL },
	};
	static const struct mdl_rewrite later[] = {
		{ "*@x.example", "$1@y.example", 0, NULL },
		{ "*@y.example", "$1@", 0, NULL },
		{ "*@y.example", "$1@never.example", 0, NULL },
	};

	/* Not an address: the address stays as it was and the rewriting
	   stops, as Exim gives up on the address. */
	RW(empty, RW_WHERE_ENV_TO, "a@x.example", NULL);
	RW(empty, RW_WHERE_ENV_TO, "b@x.example", "b@never.example");
	RW(bad, RW_WHERE_ENV_TO, "list@x.example", NULL);
	RW(bad, RW_WHERE_ENV_TO, "null@x.example", NULL);
	RW(bad, RW_WHERE_ENV_TO, "blank@x.example", NULL);
	RW(bad, RW_WHERE_ENV_TO, "nl@x.example", NULL);
	/* Without 'Q' the result must have a domain. */
	RW(bad, RW_WHERE_ENV_TO, "unqual@x.example", NULL);
	RW(bad, RW_WHERE_ENV_TO, "other@x.example", "other@never.example");
	/* A later rule's failure keeps what earlier rules did. */
	RW(later, RW_WHERE_ENV_TO, "a@x.example", "a@y.example");
}

static void test_qualify_flag(void)
{
	static const struct mdl_rewrite r[] = {
		{ "*@x.example", "$1", RW_Q, NULL },
		{ "*", "never@y.example", 0, NULL },
		{ "^.*$", "never@y.example", 0, NULL },
	};
	static const struct mdl_rewrite qualified[] = {
		{ "*@x.example", "$1@y.example", RW_Q, NULL },
		{ "*@y.example", "$1@z.example", 0, NULL },
	};

	/* 'Q' lets the result be a bare local part, which the caller
	   qualifies; no pattern can match it any more. */
	RW(r, RW_WHERE_ENV_TO, "joe@x.example", "joe");
	RW(qualified, RW_WHERE_ENV_TO, "joe@x.example", "joe@z.example");
}

static void test_canonical_results(void)
{
	static const struct mdl_rewrite r[] = {
		{ "*@x.example", "$1 (comment) @ y.example", 0, NULL },
		{ "*@a.example", "\"$1\"@b.example", 0, NULL },
		{ "*@c.example", "Someone <$1@d.example>", 0, NULL },
	};

	/* The result is the canonical form of what the replacement gives. */
	RW(r, RW_WHERE_ENV_TO, "joe@x.example", "joe@y.example");
	RW(r, RW_WHERE_ENV_TO, "joe@a.example", "joe@b.example");
	RW(r, RW_WHERE_ENV_TO, "joe.x@a.example", "joe.x@b.example");
	RW(r, RW_WHERE_ENV_TO, "joe@c.example", "joe@d.example");
	/* Without 'w', even in a header, the display name is dropped. */
	RW_NAME(r, RW_WHERE_HDR_FROM, "joe@c.example", "joe@d.example", NULL);
}

static void test_unchanged(void)
{
	static const struct mdl_rewrite same[] = {
		{ "*@x.example", "$1@x.example", 0, NULL },
		{ "*@*", "${local_part}@$domain", 0, NULL },
	};
	static const struct mdl_rewrite back[] = {
		{ "*@x.example", "$1@y.example", 0, NULL },
		{ "*@y.example", "$1@x.example", 0, NULL },
	};

	/* Rules that give the address back leave it unchanged. */
	RW(same, RW_WHERE_ENV_TO, "joe@x.example", NULL);
	RW(same, RW_WHERE_ENV_TO, "Joe@Other.Example", NULL);
	RW(back, RW_WHERE_ENV_TO, "joe@x.example", NULL);
	/* No rules at all. */
	char *out = (char *)"poison";

	CU_ASSERT_EQUAL(rw_address(NULL, 0, RW_WHERE_ENV_TO, "a@b", &out, NULL, NULL, 0), 0);
	CU_ASSERT_PTR_NULL(out);
}

static void test_null_and_unqualified(void)
{
	static const struct mdl_rewrite r[] = {
		{ "^.*$", "someone@example.org", 0, NULL },
		{ "*", "someone@example.org", 0, NULL },
		{ "*@*", "someone@example.org", 0, NULL },
	};

	/* The null sender is never rewritten. */
	RW(r, RW_WHERE_ENV_FROM, "", NULL);
	RW(r, RW_WHERE_ENV_FROM | RW_WHERE_SMTP, "", NULL);
	/* An address without a domain matches no pattern, as in Exim. */
	RW(r, RW_WHERE_ENV_TO, "root", NULL);
	/* The first rule takes anything with a domain. */
	RW(r, RW_WHERE_ENV_TO, "root@x", "someone@example.org");
}

static void test_whole_mailbox(void)
{
	static const struct mdl_rewrite w[] = {
		{ "*@x.example", "\"Ford Prefect\" <ford@hitch.example>", RW_w, NULL },
	};
	static const struct mdl_rewrite w_then_plain[] = {
		{ "*@x.example", "Ford Prefect <ford@hitch.example>", RW_w, NULL },
		{ "ford@hitch.example", "fp@hitch.example", 0, NULL },
	};
	static const struct mdl_rewrite w_then_w[] = {
		{ "*@x.example", "Ford Prefect <ford@hitch.example>", RW_w, NULL },
		{ "ford@hitch.example", "fp@hitch.example", RW_w, NULL },
	};
	static const struct mdl_rewrite w_named_twice[] = {
		{ "*@x.example", "Ford Prefect <ford@hitch.example>", RW_w, NULL },
		{ "ford@hitch.example", "\"Prefect, Ford\" <fp@hitch.example>", RW_w, NULL },
	};

	/* In a header, 'w' gives the display name too... */
	RW_NAME(w, RW_WHERE_HDR_FROM, "a@x.example", "ford@hitch.example", "Ford Prefect");
	RW_NAME(w, RW_WHERE_HDR_REPLY, "a@x.example", "ford@hitch.example", "Ford Prefect");
	/* ...in the envelope, only the address is kept. */
	RW_NAME(w, RW_WHERE_ENV_FROM, "a@x.example", "ford@hitch.example", NULL);
	RW_NAME(w, RW_WHERE_ENV_TO | RW_WHERE_SMTP, "a@x.example", "ford@hitch.example",
		NULL);
	/* A later rule without 'w' keeps the name; one with 'w' replaces it. */
	RW_NAME(w_then_plain, RW_WHERE_HDR_TO, "a@x.example", "fp@hitch.example",
		"Ford Prefect");
	RW_NAME(w_then_w, RW_WHERE_HDR_TO, "a@x.example", "fp@hitch.example", NULL);
	RW_NAME(w_named_twice, RW_WHERE_HDR_CC, "a@x.example", "fp@hitch.example",
		"Prefect, Ford");

	/* A name that comes with an unchanged address is still reported. */
	static const struct mdl_rewrite named_same[] = {
		{ "*@x.example", "Arthur Dent <$0>", RW_w, NULL },
	};

	RW_NAME(named_same, RW_WHERE_HDR_FROM, "arthur@x.example", "arthur@x.example",
		"Arthur Dent");

	/* The caller may not want the name. */
	char *out = NULL;
	struct crules c = compiled(w, 1);

	CU_ASSERT_EQUAL(rw_address(c.v, 1, RW_WHERE_HDR_FROM, "a@x.example", &out, NULL,
				   NULL, 0), 0);
	TU_STR(out, "ford@hitch.example");
	free(out);
	cr_free(&c);
}

static void test_smtp_time(void)
{
	static const struct mdl_rewrite bang[] = {
		{ "^<([^!@]+)!([^@]+)@bang\\.example>$", "$2@$1", RW_S, NULL },
	};
	static const struct mdl_rewrite unbracketed[] = {
		{ "^([^!@]+)!([^@]+)@bang\\.example$", "$2@$1", RW_S, NULL },
	};
	static const struct mdl_rewrite then_envelope[] = {
		{ "^<([^!@]+)!([^@]+)@bang\\.example>$", "$2@$1", RW_S, NULL },
		{ "*@host.example", "$1@example.org", RW_F, NULL },
	};
	static const struct mdl_rewrite no_vars[] = {
		{ "^<(.*)>$", "${local_part}x${domain}@y.example", RW_S, NULL },
	};
	static const struct mdl_rewrite case_kept[] = {
		{ "^<[a-z]+@x\\.example>$", "matched@y.example", RW_S, NULL },
	};

	/* 'S' rules see the address as a client sends it, in angle brackets,
	   and apply only to SMTP input. */
	RW(bang, RW_WHERE_ENV_TO | RW_WHERE_SMTP, "host.example!joe@bang.example",
	   "joe@host.example");
	RW(bang, RW_WHERE_ENV_TO, "host.example!joe@bang.example", NULL);
	RW(bang, RW_WHERE_HDR_TO, "host.example!joe@bang.example", NULL);
	RW(unbracketed, RW_WHERE_ENV_TO | RW_WHERE_SMTP, "host.example!joe@bang.example",
	   NULL);
	/* The envelope rules then apply to what the 'S' rules gave. */
	RW(then_envelope, RW_WHERE_ENV_FROM | RW_WHERE_SMTP,
	   "host.example!joe@bang.example", "joe@example.org");
	RW(then_envelope, RW_WHERE_ENV_TO | RW_WHERE_SMTP,
	   "host.example!joe@bang.example", "joe@host.example");
	/* $local_part and $domain are unset at SMTP time. */
	RW(no_vars, RW_WHERE_ENV_TO | RW_WHERE_SMTP, "a@b.example", "x@y.example");
	/* The SMTP subject is not lower-cased. */
	RW(case_kept, RW_WHERE_ENV_TO | RW_WHERE_SMTP, "joe@x.example", "matched@y.example");
	RW(case_kept, RW_WHERE_ENV_TO | RW_WHERE_SMTP, "joe@X.example", NULL);
}

static void test_rule_errors(void)
{
	static const struct mdl_rewrite bad_regex[] = {
		{ "^(", "x@y.example", 0, NULL },
	};
	static const struct mdl_rewrite bad_regex_elsewhere[] = {
		{ "^(", "x@y.example", RW_F, NULL },
		{ "*@x.example", "$1@y.example", 0, NULL },
	};
	static const struct mdl_rewrite lookup[] = {
		{ "*@a.example", "$1@b.example", 0, NULL },
		{ "*@x.example", "${lookup{$1}lsearch{/etc/realnames}{$value}fail}@x.example", 0, NULL },
	};
	static const struct mdl_rewrite unknown[] = {
		{ "*@*", "$1@$primary_hostname", RW_T, NULL },
	};
	static const struct mdl_rewrite long_pattern[] = {
		{ "*@" A10 A10 A10 A10 A10 A10 A10 "aa.example", "$1@$host", 0, NULL },
	};

	RW_FAILS(bad_regex, RW_WHERE_ENV_TO, "a@x.example",
		 "rewrite rule 1 ('^('): invalid regular expression: missing closing parenthesis");
	/* A rule is evaluated only where it applies and when it matches. */
	RW(bad_regex_elsewhere, RW_WHERE_ENV_TO, "a@x.example", "a@y.example");
	RW(lookup, RW_WHERE_ENV_TO, "a@other.example", NULL);
	/* noqc refuses these replacements (test_rewrite); a policy holding
	   one anyway has no code for it, which noq does not make up. */
	RW_FAILS(lookup, RW_WHERE_ENV_TO, "a@x.example",
		 "rewrite rule 2 ('*@x.example'): the policy lacks its compiled "
		 "replacement; recompile it with noqc");
	RW_FAILS(unknown, RW_WHERE_ENV_TO, "a@x.example",
		 "rewrite rule 1 ('*@*'): the policy lacks its compiled replacement; "
		 "recompile it with noqc");
	RW(unknown, RW_WHERE_ENV_FROM, "a@x.example", NULL);
	RW_FAILS(long_pattern, RW_WHERE_ENV_TO,
		 "a@" A10 A10 A10 A10 A10 A10 A10 "aa.example",
		 "rewrite rule 1 ('*@" A10 A10 A10 A10 A10 "aaaaaaaa...'): "
		 "the policy lacks its compiled replacement; recompile it with noqc");
}

/* ------------------------------------------------- compiled from config */

/* A catch-all router and its transport: a configuration that compiles. */
#define ROUTE \
	"begin routers\n" \
	"smarthost:\n" \
	"  driver = manualroute\n" \
	"  route_list = * smtp.example.net::587\n" \
	"  transport = remote_smtp\n" \
	"begin transports\n" \
	"remote_smtp:\n" \
	"  driver = smtp\n"

static struct tu_run *compile(const char *text)
{
	struct tu_run *r = tu_run_text(text, NULL, TU_SEMA);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->model);
	return r;
}

#define RW_MODEL(m, where, addr, want, name) \
	rw_check((m)->rewrites, (m)->nrewrites, (where), (addr), (want), (name), __LINE__)

/*
 * A forced failure ("fail") is no error: the rule does not rewrite and the
 * next is tried, unless 'q' (Debian's /etc/email-addresses rule).  A rule
 * whose lookup file was missing at compile time gives up on the address,
 * as Exim does when it cannot open the file.  A named list needs the
 * policy's lists (rw_rewrite()).
 */
static void test_failures(void)
{
	static const struct mdl_rewrite forced[] = {
		{ "*@x.example", "${if eq{$local_part}{a}{A@y.example}fail}", RW_F, NULL },
		{ "*@x.example", "other@y.example", RW_F, NULL },
	};
	static const struct mdl_rewrite forced_q[] = {
		{ "*@x.example", "${if eq{$local_part}{a}{A@y.example}fail}", RW_F | RW_q, NULL },
		{ "*@x.example", "other@y.example", RW_F, NULL },
	};
	static const struct mdl_rewrite nofile[] = {
		{ "*@x.example", "${lookup{$1}lsearch{/nonexistent}}", RW_F | RW_NOFILE, NULL },
		{ "*@x.example", "other@y.example", RW_F, NULL },
	};
	static const struct mdl_rewrite named[] = {
		{ "*@+local_domains", "$1@y.example", RW_F, NULL },
	};

	RW(forced, RW_WHERE_ENV_FROM, "a@x.example", "A@y.example");
	RW(forced, RW_WHERE_ENV_FROM, "b@x.example", "other@y.example");
	RW(forced_q, RW_WHERE_ENV_FROM, "b@x.example", NULL);
	RW(nofile, RW_WHERE_ENV_FROM, "b@x.example", NULL);
	RW(nofile, RW_WHERE_ENV_FROM, "b@z.example", NULL);
	RW_FAILS(named, RW_WHERE_ENV_FROM, "b@x.example",
		 "rewrite rule 1 ('*@+local_domains'): a named list cannot be matched here");
}

static void test_compiled_rules(void)
{
	struct tu_run *r = compile(
		ROUTE
		"begin rewrite\n"
		"hatta@lookingglass.example  *  f\n"
		"*@lookingglass.example  $1@wonderland.example  Ffr\n"
		"\\N^(.+)\\.(.+)@example\\.org$\\N  $2.$1@example.org  T\n"
		"*@*.hitch.example  $1@hitch.example\n"
		"fp42@hitch.example  \"Ford Prefect <ford.prefect@hitch.example>\"  h w\n"
		"*@quote.example  \"${local_part}\\\\x41@example.net\"  E\n");
	const struct model *m = r->model;

	CU_ASSERT_EQUAL_FATAL(m->nrewrites, 6);
	/* \N...\N is gone from the stored pattern; the quoted replacement
	   keeps one '\' for the expander. */
	TU_STR(m->rewrites[2].pattern, "^(.+)\\.(.+)@example\\.org$");
	TU_STR(m->rewrites[5].replacement, "${local_part}\\x41@example.net");

	RW_MODEL(m, RW_WHERE_HDR_FROM, "hatta@lookingglass.example", NULL, NULL);
	RW_MODEL(m, RW_WHERE_ENV_FROM, "hatta@lookingglass.example",
		 "hatta@wonderland.example", NULL);
	RW_MODEL(m, RW_WHERE_HDR_TO, "hatta@lookingglass.example", NULL, NULL);
	RW_MODEL(m, RW_WHERE_HDR_FROM, "alice@lookingglass.example",
		 "alice@wonderland.example", NULL);
	RW_MODEL(m, RW_WHERE_HDR_REPLY, "alice@LookingGlass.Example",
		 "alice@wonderland.example", NULL);

	RW_MODEL(m, RW_WHERE_ENV_TO, "ford.prefect@example.org",
		 "prefect.ford@example.org", NULL);
	RW_MODEL(m, RW_WHERE_ENV_FROM, "ford.prefect@example.org", NULL, NULL);

	RW_MODEL(m, RW_WHERE_HDR_FROM, "fp42@mail.hitch.example",
		 "ford.prefect@hitch.example", "Ford Prefect");
	RW_MODEL(m, RW_WHERE_ENV_FROM, "fp42@mail.hitch.example",
		 "fp42@hitch.example", NULL);
	RW_MODEL(m, RW_WHERE_HDR_BCC, "zaphod@mail.hitch.example",
		 "zaphod@hitch.example", NULL);

	RW_MODEL(m, RW_WHERE_ENV_TO, "joe@quote.example", "joeA@example.net", NULL);
	RW_MODEL(m, RW_WHERE_HDR_TO, "joe@quote.example", NULL, NULL);
	tu_free(r);
}

static void test_compiled_quoted_pattern(void)
{
	struct tu_run *r = compile(
		ROUTE
		"begin rewrite\n"
		"\"\\\"a b\\\"@x.example\"  ab@x.example\n"
		"*@y.example  \"\\\"$1 jr\\\"@z.example\"  T\n");
	const struct model *m = r->model;

	CU_ASSERT_EQUAL_FATAL(m->nrewrites, 2);
	TU_STR(m->rewrites[0].pattern, "\"a b\"@x.example");
	RW_MODEL(m, RW_WHERE_HDR_CC, "\"a b\"@x.example", "ab@x.example", NULL);
	RW_MODEL(m, RW_WHERE_ENV_TO, "bob@y.example", "\"bob jr\"@z.example", NULL);
	tu_free(r);
}

static void test_compiled_send_time_refusal(void)
{
	/* noqc compiles a replacement whose lookup file is missing, with a
	   warning; the rule then leaves the address alone, as Exim does ... */
	struct tu_run *r = tu_run_text(
		ROUTE
		"begin rewrite\n"
		"*@hitch.example  ${lookup{$1}lsearch{/nonexistent/realnames}{$value}fail}"
		"@hitch.example  F\n"
		"*@hitch.example  $1@guide.example  F\n",
		NULL, TU_SEMA);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	TU_HAS(r, "warning: the lookup file '/nonexistent/realnames' does not exist");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->model);
	CU_ASSERT_EQUAL_FATAL(r->model->nrewrites, 2);
	CU_ASSERT(r->model->rewrites[0].flags & RW_NOFILE);
	RW_MODEL(r->model, RW_WHERE_ENV_FROM, "ford@hitch.example", NULL, NULL);
	tu_free(r);

	/* ... and should a policy lack a compiled replacement, the runtime
	   refuses to guess: the rule fails, the address is not silently
	   kept. */
	struct mdl_rewrite rule = {
		"*@hitch.example", "${lookup{$1}lsearch{/etc/realnames}{$value}fail}@hitch.example",
		RW_F, NULL,
	};
	char err[200] = "";
	char *out = NULL;

	CU_ASSERT_EQUAL(rw_address(&rule, 1, RW_WHERE_ENV_FROM, "ford@hitch.example", &out,
				   NULL, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NULL(out);
	TU_STR(err, "rewrite rule 1 ('*@hitch.example'): the policy lacks its compiled "
	       "replacement; recompile it with noqc");
	/* Not an F address: the rule does not apply. */
	CU_ASSERT_EQUAL(rw_address(&rule, 1, RW_WHERE_ENV_TO, "ford@hitch.example", &out,
				   NULL, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NULL(out);
}

/* ---------------------------------------------------------------- main */

static const struct unit_test pattern_tests[] = {
	{ "full address", test_full_address },
	{ "wildcards", test_wildcards },
	{ "domain alone", test_domain_alone },
	{ "case rules", test_case_rules },
	{ "regular expressions", test_regex_patterns },
	{ "quoted local parts", test_quoted_local_parts },
};

static const struct unit_test flag_tests[] = {
	{ "where rules apply", test_where_flags },
	{ "no place", test_no_place },
	{ "chaining and q", test_chaining_and_q },
	{ "R repeats", test_repeat },
	{ "\"*\" replacement", test_star_replacement },
	{ "w whole mailbox", test_whole_mailbox },
	{ "Q unqualified results", test_qualify_flag },
	{ "S at SMTP time", test_smtp_time },
};

static const struct unit_test result_tests[] = {
	{ "refused results", test_refused_results },
	{ "canonical results", test_canonical_results },
	{ "unchanged", test_unchanged },
	{ "null sender and unqualified", test_null_and_unqualified },
	{ "rule errors", test_rule_errors },
	{ "forced failures, missing files", test_failures },
};

static const struct unit_test compiled_tests[] = {
	{ "compiled rules", test_compiled_rules },
	{ "quoted pattern", test_compiled_quoted_pattern },
	{ "send-time refusal", test_compiled_send_time_refusal },
};

static const struct unit_suite suites[] = {
	{ "rewrite patterns", NULL, NULL, pattern_tests, UNIT_COUNT(pattern_tests) },
	{ "rewrite flags", NULL, NULL, flag_tests, UNIT_COUNT(flag_tests) },
	{ "rewrite results", NULL, NULL, result_tests, UNIT_COUNT(result_tests) },
	{ "compiled rewrite rules", NULL, NULL, compiled_tests, UNIT_COUNT(compiled_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
