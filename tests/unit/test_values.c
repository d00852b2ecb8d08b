/*
 * test_values.c -- unit tests for compiler/values.c.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sb.h"
#include "values.h"

/*
 * Assertions made in helpers report the caller's line: CHECK(cond, line).
 */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

/* A struct val_err whose fields show whether the function filled them. */
#define POISONED_ERR { (size_t)-1, (size_t)-1, "poison" }

static void check_err(int rc, const struct val_err *e, size_t pos, size_t len,
		      const char *msg, unsigned line)
{
	CHECK(rc == -1, line);
	CHECK(e->pos == pos, line);
	CHECK(e->len == len, line);
	CHECK(strcmp(e->msg, msg) == 0, line);
}

/* ------------------------------------------------------------------ bool */

static void bool_ok(const char *raw, bool want, unsigned line)
{
	struct val_err e = POISONED_ERR;
	bool v = !want;

	CHECK(val_bool(raw, &v, &e) == 0, line);
	CHECK(v == want, line);
}

static void bool_bad(const char *raw, size_t pos, size_t len, unsigned line)
{
	struct val_err e = POISONED_ERR;
	bool v = false;

	check_err(val_bool(raw, &v, &e), &e, pos, len,
		  "expected true, false, yes or no", line);
}

#define BOOL_OK(raw, want) bool_ok(raw, want, __LINE__)
#define BOOL_BAD(raw, pos, len) bool_bad(raw, pos, len, __LINE__)

static void test_bool_words(void)
{
	BOOL_OK("true", true);
	BOOL_OK("false", false);
	BOOL_OK("yes", true);
	BOOL_OK("no", false);
}

static void test_bool_case(void)
{
	BOOL_OK("TRUE", true);
	BOOL_OK("True", true);
	BOOL_OK("fAlSe", false);
	BOOL_OK("YES", true);
	BOOL_OK("yEs", true);
	BOOL_OK("NO", false);
	BOOL_OK("No", false);
}

static void test_bool_rejects(void)
{
	BOOL_BAD("maybe", 0, 5);
	BOOL_BAD("", 0, 0);
	BOOL_BAD("1", 0, 1);
	BOOL_BAD("0", 0, 1);
	BOOL_BAD("on", 0, 2);
	BOOL_BAD("tru", 0, 3);
	BOOL_BAD("truex", 0, 5);
	BOOL_BAD("yess", 0, 4);
	BOOL_BAD("n", 0, 1);
	/* The checker trims; blanks inside the text are not skipped. */
	BOOL_BAD(" yes", 0, 4);
	BOOL_BAD("yes ", 0, 4);
}

/* ------------------------------------------------------------------- int */

static void int_ok(const char *raw, long long want, unsigned line)
{
	struct val_err e = POISONED_ERR;
	long long v = want ^ 1;

	CHECK(val_int(raw, &v, &e) == 0, line);
	CHECK(v == want, line);
}

static void int_bad(const char *raw, size_t pos, size_t len, const char *msg,
		    unsigned line)
{
	struct val_err e = POISONED_ERR;
	long long v = 0;

	check_err(val_int(raw, &v, &e), &e, pos, len, msg, line);
}

#define INT_OK(raw, want) int_ok(raw, want, __LINE__)
#define INT_BAD(raw, pos, len, msg) int_bad(raw, pos, len, msg, __LINE__)

static void test_int_decimal(void)
{
	INT_OK("0", 0);
	INT_OK("42", 42);
	INT_OK("-5", -5);
	INT_OK("+7", 7);
	INT_OK("-0", 0);
	INT_OK("1000000", 1000000);
}

static void test_int_bases(void)
{
	INT_OK("0x1F", 31);
	INT_OK("0X1f", 31);
	INT_OK("0xff", 255);
	INT_OK("-0x10", -16);
	INT_OK("017", 15);
	INT_OK("00", 0);
	INT_OK("0777", 511);
	INT_OK("-010", -8);
}

static void test_int_suffix(void)
{
	INT_OK("10K", 10240);
	INT_OK("10k", 10240);
	INT_OK("2m", 2097152);
	INT_OK("2M", 2097152);
	INT_OK("1G", 1073741824LL);
	INT_OK("1g", 1073741824LL);
	INT_OK("0K", 0);
	INT_OK("-1K", -1024);
	INT_OK("0x10K", 16384);
	INT_OK("010k", 8192);
	/* In hex, G is not a digit, so it is the suffix. */
	INT_OK("0x1g", 1073741824LL);
	/* T, as in Exim. */
	INT_OK("1T", 1LL << 40);
	INT_OK("0t", 0);
	INT_OK("8388607T", LLONG_MAX - (1LL << 40) + 1);
	INT_BAD("8388608T", 0, 8, "integer out of range");
	/* P, E and Z only where Exim holds the value in K (val_kint). */
	INT_BAD("1P", 1, 1, "invalid digit 'P' in integer");
}

/* check_spool_space and check_log_space: Exim holds them in K. */
static void test_kint(void)
{
	static const struct {
		const char *raw;
		long long want;
	} ok[] = {
		{ "1024", 1 }, { "1536", 2 }, { "1000", 1 }, { "500", 0 }, { "0", 0 },
		{ "1K", 1 }, { "1M", 1024 }, { "1G", 1LL << 20 }, { "1024T", 1LL << 40 },
		{ "1p", 1LL << 40 }, { "1E", 1LL << 50 }, { "7Z", 7LL << 60 },
		{ "0x800", 2 }, { "9223372036854775807", 1LL << 53 },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct val_err e = POISONED_ERR;
		long long v = -1;

		CU_ASSERT_EQUAL(val_kint(ok[i].raw, &v, &e), 0);
		CU_ASSERT_EQUAL(v, ok[i].want);
	}

	struct val_err e = POISONED_ERR;
	long long v = 0;

	CU_ASSERT_EQUAL(val_kint("8Z", &v, &e), -1);
	CU_ASSERT_STRING_EQUAL(e.msg, "integer out of range");
	CU_ASSERT_EQUAL(val_kint("1Y", &v, &e), -1);
	CU_ASSERT_STRING_EQUAL(e.msg, "invalid digit 'Y' in integer");
}

static void test_int_limits(void)
{
	INT_OK("9223372036854775807", LLONG_MAX);
	INT_OK("-9223372036854775808", LLONG_MIN);
	INT_OK("0x7fffffffffffffff", LLONG_MAX);
	INT_OK("-0x8000000000000000", LLONG_MIN);
	INT_OK("0777777777777777777777", LLONG_MAX);
	INT_OK("8589934591G", LLONG_MAX - (1LL << 30) + 1);
	INT_OK("-8589934592G", LLONG_MIN);
	INT_OK("8796093022207M", LLONG_MAX - (1LL << 20) + 1);
	INT_OK("9007199254740991K", LLONG_MAX - 1023);
}

static void test_int_overflow(void)
{
	INT_BAD("9223372036854775808", 0, 19, "integer out of range");
	INT_BAD("-9223372036854775809", 0, 20, "integer out of range");
	INT_BAD("99999999999999999999999999", 0, 26, "integer out of range");
	INT_BAD("9000000000G", 0, 11, "integer out of range");
	INT_BAD("8589934592G", 0, 11, "integer out of range");
	INT_BAD("-8589934593G", 0, 12, "integer out of range");
	INT_BAD("9007199254740992K", 0, 17, "integer out of range");
	INT_BAD("0x8000000000000000", 0, 18, "integer out of range");
	INT_BAD("0x10000000000000000", 0, 19, "integer out of range");
	INT_BAD("01000000000000000000000", 0, 23, "integer out of range");
}

static void test_int_syntax(void)
{
	INT_BAD("", 0, 0, "missing integer value");
	INT_BAD("08", 1, 1, "invalid octal digit '8' in integer");
	INT_BAD("0779", 3, 1, "invalid octal digit '9' in integer");
	INT_BAD("-09", 2, 1, "invalid octal digit '9' in integer");
	INT_BAD("12abc", 2, 1, "invalid digit 'a' in integer");
	INT_BAD("abc", 0, 1, "invalid digit 'a' in integer");
	INT_BAD("1.5", 1, 1, "invalid digit '.' in integer");
	INT_BAD("--5", 1, 1, "invalid digit '-' in integer");
	INT_BAD("07x", 2, 1, "invalid digit 'x' in integer");
	INT_BAD("1\x01", 1, 1, "invalid digit '\\x01' in integer");
	INT_BAD("1\xc3\xa9", 1, 1, "invalid digit '\\xc3' in integer");
	INT_BAD("-", 0, 1, "missing digits after '-'");
	INT_BAD("+", 0, 1, "missing digits after '+'");
	INT_BAD("0x", 0, 2, "missing hex digits after '0x'");
	INT_BAD("-0X", 1, 2, "missing hex digits after '0X'");
	INT_BAD("0xK", 0, 2, "missing hex digits after '0x'");
	INT_BAD("0x1z", 3, 1, "invalid hex digit 'z' in integer");
	INT_BAD("K", 0, 1, "missing digits before suffix 'K'");
	INT_BAD("-k", 1, 1, "missing digits before suffix 'k'");
	INT_BAD("10KB", 3, 1, "unexpected text after suffix 'K'");
	INT_BAD("10mxyz", 3, 3, "unexpected text after suffix 'm'");
	INT_BAD("1KK", 2, 1, "unexpected text after suffix 'K'");
	/* Syntax is checked before range. */
	INT_BAD("99999999999999999999x", 20, 1, "invalid digit 'x' in integer");
}

static void test_int_blanks(void)
{
	/* The checker passes trimmed text: every blank is an error. */
	INT_BAD(" 5", 0, 1, "unexpected blank in integer");
	INT_BAD("5 ", 1, 1, "unexpected blank in integer");
	INT_BAD("5\t", 1, 1, "unexpected blank in integer");
	INT_BAD("- 5", 1, 1, "unexpected blank in integer");
	INT_BAD("10 K", 2, 1, "unexpected blank in integer");
	INT_BAD("10K ", 3, 1, "unexpected text after suffix 'K'");
}

/* ------------------------------------------------------------------ time */

static void time_ok(const char *raw, long long want, unsigned line)
{
	struct val_err e = POISONED_ERR;
	long long v = -1;

	CHECK(val_time(raw, &v, &e) == 0, line);
	CHECK(v == want, line);
}

static void time_bad(const char *raw, size_t pos, size_t len, const char *msg,
		     unsigned line)
{
	struct val_err e = POISONED_ERR;
	long long v = 0;

	check_err(val_time(raw, &v, &e), &e, pos, len, msg, line);
}

#define TIME_OK(raw, want) time_ok(raw, want, __LINE__)
#define TIME_BAD(raw, pos, len, msg) time_bad(raw, pos, len, msg, __LINE__)

#define UNITS "(expected s, m, h, d or w)"

static void test_time_units(void)
{
	TIME_OK("30s", 30);
	TIME_OK("1m", 60);
	TIME_OK("1h", 3600);
	TIME_OK("2d", 172800);
	TIME_OK("1w", 604800);
	TIME_OK("0s", 0);
	TIME_OK("007s", 7);
	TIME_OK("90m", 5400);
}

static void test_time_sequences(void)
{
	TIME_OK("1m30s", 90);
	TIME_OK("1h30m", 5400);
	TIME_OK("1w1d1h1m1s", 694861);
	TIME_OK("3h50m", 13800);
	/* Exim does not insist on decreasing units; neither does noq. */
	TIME_OK("30s30s", 60);
	TIME_OK("1s1h", 3601);
}

static void test_time_plain(void)
{
	TIME_OK("45", 45);
	TIME_OK("0", 0);
	TIME_OK("86400", 86400);
	/* Only a number standing alone may omit its unit. */
	TIME_BAD("1h30", 2, 2, "missing time unit after '30' " UNITS);
	TIME_BAD("1m5", 2, 1, "missing time unit after '5' " UNITS);
}

static void test_time_limits(void)
{
	TIME_OK("2147483647", INT32_MAX);
	TIME_OK("2147483647s", INT32_MAX);
	TIME_OK("35791394m", 2147483640LL);
	TIME_OK("3550w", 2147040000LL);
	TIME_OK("24855d", 2147472000LL);

	const char *range = "time out of range (at most 2147483647 seconds)";
	TIME_BAD("2147483648", 0, 10, range);
	TIME_BAD("2147483648s", 0, 11, range);
	TIME_BAD("35791395m", 0, 9, range);
	TIME_BAD("3551w", 0, 5, range);
	TIME_BAD("24856d", 0, 6, range);
	TIME_BAD("2147483647s1s", 0, 13, range);
	TIME_BAD("99999999999999999999999999w", 0, 27, range);
}

static void test_time_syntax(void)
{
	TIME_BAD("", 0, 0, "missing time value");
	TIME_BAD("h", 0, 1, "missing number before time unit 'h'");
	TIME_BAD("1hm", 2, 1, "missing number before time unit 'm'");
	TIME_BAD("10x", 2, 1, "invalid time unit 'x' " UNITS);
	TIME_BAD("1h30x", 4, 1, "invalid time unit 'x' " UNITS);
	TIME_BAD("1H", 1, 1, "invalid time unit 'H' " UNITS);
	TIME_BAD("1.5s", 1, 1, "invalid time unit '.' " UNITS);
	TIME_BAD("-5s", 0, 1, "invalid character '-' in time");
	TIME_BAD("x", 0, 1, "invalid character 'x' in time");
	TIME_BAD("1h\x7f", 2, 1, "invalid character '\\x7f' in time");
	/* Syntax is checked before range. */
	TIME_BAD("9999999999999x", 13, 1, "invalid time unit 'x' " UNITS);
}

static void test_time_blanks(void)
{
	/* Exim accepts no blanks inside a time. */
	TIME_BAD("1h 30m", 2, 1, "unexpected blank in time");
	TIME_BAD("1 h", 1, 1, "unexpected blank in time");
	TIME_BAD(" 5", 0, 1, "unexpected blank in time");
	TIME_BAD("5 ", 1, 1, "unexpected blank in time");
	TIME_BAD("5s\t", 2, 1, "unexpected blank in time");
}

/* ---------------------------------------------------------------- string */

static void string_ok(const char *raw, const char *want, unsigned line)
{
	struct val_err e = POISONED_ERR;
	char *v = NULL;

	CHECK(val_string(raw, &v, &e) == 0, line);
	CHECK(v != NULL, line);
	if (v != NULL) {
		CHECK(strcmp(v, want) == 0, line);
		CHECK(v != raw, line);
	}
	free(v);
}

static void string_bad(const char *raw, size_t pos, size_t len, const char *msg,
		       unsigned line)
{
	struct val_err e = POISONED_ERR;
	char *v = (char *)"untouched";

	check_err(val_string(raw, &v, &e), &e, pos, len, msg, line);
	CHECK(v == NULL, line);
}

#define STR_OK(raw, want) string_ok(raw, want, __LINE__)
#define STR_BAD(raw, pos, len, msg) string_bad(raw, pos, len, msg, __LINE__)

static void test_string_unquoted(void)
{
	STR_OK("abc", "abc");
	STR_OK("", "");
	STR_OK("a b  c", "a b  c");
	/* Unquoted text is not unescaped, and $ is left to the expander. */
	STR_OK("a\\nb", "a\\nb");
	STR_OK("${lookup{$local_part}lsearch{/etc/aliases}}",
	       "${lookup{$local_part}lsearch{/etc/aliases}}");
	STR_OK("\\$x\\\\", "\\$x\\\\");
	/* A quote that does not open the value is ordinary text. */
	STR_OK("a\"b\"", "a\"b\"");
	STR_OK(" \"x\"", " \"x\"");
}

static void test_string_quoted(void)
{
	STR_OK("\"abc\"", "abc");
	STR_OK("\"\"", "");
	STR_OK("\"  a b  \"", "  a b  ");
	STR_OK("\"a#b\"", "a#b");
	STR_OK("\"$local_part\"", "$local_part");
}

static void test_string_escapes(void)
{
	STR_OK("\"a\\\\b\"", "a\\b");
	STR_OK("\"say \\\"hi\\\"\"", "say \"hi\"");
	STR_OK("\"\\n\\r\\t\"", "\n\r\t");
	STR_OK("\"\\b\\f\\v\"", "\b\f\v");
	STR_OK("\"\\101\"", "A");
	STR_OK("\"\\1011\"", "A1");
	STR_OK("\"\\7\"", "\a");
	STR_OK("\"\\18\"", "\0018");
	STR_OK("\"\\377\"", "\377");
	STR_OK("\"\\x41\"", "A");
	STR_OK("\"\\x4\"", "\x04");
	STR_OK("\"\\x4g\"", "\x04g");
	STR_OK("\"\\x414\"", "A4");
	STR_OK("\"\\xfF\"", "\xff");
	/* Any other pair is replaced by the character after the backslash,
	 * as in Exim: the expander sees a backslash only from "\\". */
	STR_OK("\"\\$x\"", "$x");
	STR_OK("\"\\\\$x\"", "\\$x");
	STR_OK("\"\\q\\8\\{\"", "q8{");
	STR_OK("\"a\\ b\"", "a b");
}

static void test_string_errors(void)
{
	STR_BAD("\"abc", 0, 1, "unterminated quoted string");
	STR_BAD("\"", 0, 1, "unterminated quoted string");
	STR_BAD("\"abc\\\"", 0, 1, "unterminated quoted string");
	STR_BAD("\"abc\\", 0, 1, "unterminated quoted string");
	STR_BAD("\"ab\"cd", 4, 2, "unexpected text after closing quote");
	STR_BAD("\"ab\" ", 4, 1, "unexpected text after closing quote");
	STR_BAD("\"a\"\"b\"", 3, 3, "unexpected text after closing quote");
	STR_BAD("\"a\\0b\"", 2, 2, "quoted string contains a NUL byte");
	STR_BAD("\"\\000\"", 1, 4, "quoted string contains a NUL byte");
	STR_BAD("\"\\00\"", 1, 3, "quoted string contains a NUL byte");
	STR_BAD("\"xy\\x00\"", 3, 4, "quoted string contains a NUL byte");
	STR_BAD("\"\\x0\"", 1, 3, "quoted string contains a NUL byte");
	STR_BAD("\"\\x\"", 1, 2, "missing hex digits after '\\x'");
	STR_BAD("\"\\xg\"", 1, 2, "missing hex digits after '\\x'");
	STR_BAD("\"\\400\"", 1, 4,
		"octal escape '\\400' out of range (at most '\\377')");
	STR_BAD("\"ok\\777\"", 3, 4,
		"octal escape '\\777' out of range (at most '\\377')");
	/* The quotes are checked before the escapes. */
	STR_BAD("\"\\0", 0, 1, "unterminated quoted string");
	STR_BAD("\"\\0\"x", 4, 1, "unexpected text after closing quote");
}

static void test_string_large(void)
{
	const size_t n = 1024 * 1024;
	char *raw = malloc(2 * n + 3);
	char *v = NULL;
	struct val_err e = POISONED_ERR;

	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);

	/* 1 MB unquoted. */
	memset(raw, 'a', n);
	raw[n] = '\0';
	CU_ASSERT_EQUAL(val_string(raw, &v, &e), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(strlen(v), n);
	CU_ASSERT_EQUAL(memcmp(v, raw, n), 0);
	free(v);
	v = NULL;

	/* 1 MB of escapes in quotes decodes to half a megabyte. */
	raw[0] = '"';
	for (size_t i = 0; i < n; i += 2) {
		raw[1 + i] = '\\';
		raw[2 + i] = 'n';
	}
	raw[n + 1] = '"';
	raw[n + 2] = '\0';
	CU_ASSERT_EQUAL(val_string(raw, &v, &e), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(strlen(v), n / 2);
	CU_ASSERT_EQUAL(strspn(v, "\n"), n / 2);
	free(v);
	v = NULL;

	/* An error at the far end is located exactly. */
	raw[n + 1] = '\0';
	CU_ASSERT_EQUAL(val_string(raw, &v, &e), -1);
	CU_ASSERT_EQUAL(e.pos, 0);
	CU_ASSERT_EQUAL(e.len, 1);
	raw[n + 1] = '"';
	raw[n] = '0';       /* the last escape becomes \0 */
	CU_ASSERT_EQUAL(val_string(raw, &v, &e), -1);
	CU_ASSERT_EQUAL(e.pos, n - 1);
	CU_ASSERT_EQUAL(e.len, 2);
	CU_ASSERT_STRING_EQUAL(e.msg, "quoted string contains a NUL byte");
	free(raw);
}

/* ------------------------------------------------------------------ list */

struct item {
	const char *text;
	size_t pos;
};

static void list_check(const char *s, char sep, const struct item *want,
		       size_t n, unsigned line)
{
	struct val_list l;
	struct val_err e = POISONED_ERR;

	memset(&l, 0x5a, sizeof(l));
	CHECK(val_list(s, &l, &e) == 0, line);
	CHECK(l.sep == sep, line);
	CHECK(l.n == n, line);
	for (size_t i = 0; i < n && i < l.n; i++) {
		CHECK(strcmp(l.items[i], want[i].text) == 0, line);
		CHECK(l.pos[i] == want[i].pos, line);
	}
	val_list_free(&l);
	CHECK(l.items == NULL && l.pos == NULL && l.n == 0, line);
}

#define ITEMS(...) (const struct item[]){ __VA_ARGS__ }
#define NITEMS(...) (sizeof(ITEMS(__VA_ARGS__)) / sizeof(struct item))
#define LIST(s, sep, ...) \
	list_check(s, sep, ITEMS(__VA_ARGS__), NITEMS(__VA_ARGS__), __LINE__)
#define LIST_EMPTY(s, sep) list_check(s, sep, NULL, 0, __LINE__)

static void test_list_basic(void)
{
	LIST("a : b:c", ':', { "a", 0 }, { "b", 4 }, { "c", 6 });
	LIST("a", ':', { "a", 0 });
	LIST("  a  ", ':', { "a", 2 });
	LIST("a b : c d", ':', { "a b", 0 }, { "c d", 6 });
	LIST("a:b:", ':', { "a", 0 }, { "b", 2 });
	LIST("a\t:\tb", ':', { "a", 0 }, { "b", 4 });
}

static void test_list_doubled(void)
{
	LIST("a::b:c", ':', { "a:b", 0 }, { "c", 5 });
	LIST("::1 : 127.0.0.1", ':', { ":1", 0 }, { "127.0.0.1", 6 });
	LIST("a::", ':', { "a:", 0 });
	LIST("::", ':', { ":", 0 });
	LIST("::a", ':', { ":a", 0 });
	LIST("a:::b", ':', { "a:", 0 }, { "b", 4 });
	LIST("a::::b", ':', { "a::b", 0 });
}

static void test_list_empty_items(void)
{
	LIST_EMPTY("", ':');
	LIST_EMPTY(" ", ':');
	LIST_EMPTY(" \t\n ", ':');
	/* Exim's string_nextinlist: a separator that starts the remaining
	 * text ends an empty item; one at the very end starts nothing. */
	LIST(":", ':', { "", 0 });
	LIST(" : ", ':', { "", 1 });
	LIST(":a", ':', { "", 0 }, { "a", 1 });
	LIST("a:", ':', { "a", 0 });
	LIST("a: :b", ':', { "a", 0 }, { "", 3 }, { "b", 4 });
	LIST("a : : b", ':', { "a", 0 }, { "", 4 }, { "b", 6 });
}

static void test_list_separator(void)
{
	LIST("<; a;b;c", ';', { "a", 3 }, { "b", 5 }, { "c", 7 });
	LIST(" <; a ; b", ';', { "a", 4 }, { "b", 8 });
	LIST("<;a;;b", ';', { "a;b", 2 });
	LIST("<; ::1 ; 127.0.0.1", ';', { "::1", 3 }, { "127.0.0.1", 9 });
	LIST("<;a:b;c", ';', { "a:b", 2 }, { "c", 6 });
	LIST("<, a, b", ',', { "a", 3 }, { "b", 6 });
	LIST("<:a:b", ':', { "a", 2 }, { "b", 4 });
	LIST("<<a<<b<c", '<', { "a<b", 2 }, { "c", 7 });
	LIST_EMPTY("<;", ';');
	LIST_EMPTY("<; ", ';');
	LIST("<;;", ';', { "", 2 });
}

static void test_list_no_separator_change(void)
{
	/* '<' changes the separator only when a punctuation or control
	 * character follows it immediately. */
	LIST("< ; a ; b", ':', { "< ; a ; b", 0 });
	LIST("<a", ':', { "<a", 0 });
	LIST("<a:b", ':', { "<a", 0 }, { "b", 3 });
	LIST("<1;2", ':', { "<1;2", 0 });
	LIST("a <; b", ':', { "a <; b", 0 });
	/* A lone '<' is an empty list, as in Exim. */
	LIST_EMPTY("<", ':');
	LIST_EMPTY("  <", ':');
}

static void test_list_control_separator(void)
{
	/* A control separator cannot be doubled: "\n\n" is an empty item. */
	LIST("<\na\n\nb", '\n', { "a", 2 }, { "", 4 }, { "b", 5 });
	LIST("<\t a \t b", '\t', { "a", 3 }, { "b", 7 });
}

static void test_list_trailing_blanks(void)
{
	LIST("a   :b   ", ':', { "a", 0 }, { "b", 5 });
	/* Exim keeps a trailing blank escaped by a backslash. */
	LIST("a\\ :b", ':', { "a\\ ", 0 }, { "b", 4 });
	LIST("a\\  :b", ':', { "a\\ ", 0 }, { "b", 5 });
	LIST("::  ", ':', { ":", 0 });
}

static void test_list_free(void)
{
	struct val_list z = { 0 };

	val_list_free(&z);
	val_list_free(&z);
	CU_ASSERT_PTR_NULL(z.items);
	CU_ASSERT_PTR_NULL(z.pos);
	CU_ASSERT_EQUAL(z.n, 0);

	struct val_list l;
	struct val_err e = POISONED_ERR;

	CU_ASSERT_EQUAL_FATAL(val_list("a:b", &l, &e), 0);
	val_list_free(&l);
	val_list_free(&l);      /* a freed list is a zeroed list */
	CU_ASSERT_EQUAL(l.n, 0);

	CU_ASSERT_EQUAL_FATAL(val_list("", &l, &e), 0);
	CU_ASSERT_EQUAL(l.n, 0);
	val_list_free(&l);
}

static void test_list_large(void)
{
	const size_t n = 100000;
	char *s = malloc(2 * n + 1);
	struct val_list l;
	struct val_err e = POISONED_ERR;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = (char)('a' + i % 26);
		s[2 * i + 1] = ':';
	}
	s[2 * n] = '\0';
	CU_ASSERT_EQUAL_FATAL(val_list(s, &l, &e), 0);
	CU_ASSERT_EQUAL(l.n, n);
	if (l.n == n) {
		CU_ASSERT_STRING_EQUAL(l.items[0], "a");
		CU_ASSERT_STRING_EQUAL(l.items[n - 1], "d");   /* 99999 % 26 == 3 */
		CU_ASSERT_EQUAL(l.pos[n - 1], 2 * (n - 1));
	}
	val_list_free(&l);
	free(s);
}

/* ----------------------------------------------------------------- suites */

#define T(fn) { #fn, fn }

/* --------------------------------------------------- repeated options */

/*
 * Settings of a repeatable list option, one after the other, joined as
 * Exim's readconf.c joins them; "(unset)" when no setting gave a value.
 * The expected values are what exim -bP prints for them.
 */
static void check_rep(const char *const *settings, char sep, const char *want)
{
	struct sb acc = SB_INIT;
	bool set = false;

	for (size_t i = 0; settings[i] != NULL; i++)
		CU_ASSERT_EQUAL(val_rep_list(&acc, &set, settings[i], sep), 0);
	if (!set) {
		CU_ASSERT_STRING_EQUAL("(unset)", want);
	} else {
		CU_ASSERT_PTR_NOT_NULL_FATAL(sb_str(&acc));
		CU_ASSERT_STRING_EQUAL(sb_str(&acc), want);
	}
	sb_free(&acc);
}

#define REP(sep, want, ...) \
	do { \
		const char *const v_[] = { __VA_ARGS__, NULL }; \
		check_rep(v_, (sep), (want)); \
	} while (0)

static void test_rep_list(void)
{
	/* Joined with the option's separator, blanks around items gone. */
	REP('\n', "X-A: 1\nX-B: 2", "X-A: 1", "X-B: 2");
	REP(':', "a:b", "a", "b");
	REP(';', "r_a = 1;r_b = 2", "r_a = 1", "r_b = 2");
	REP(':', "a:b:c", " a : b ", "c");
	/* Each setting is a list, its separator its own. */
	REP('\n', "X-A: 1\nX-B: 2", "<; X-A: 1 ;  X-B: 2");
	REP(':', "a:b::c", "<; a ; b:c");
	/* Every setting is rewritten, a lone one too. */
	REP('\n', "X-Q: 1\nX-R: 2", "X-Q: 1\n   X-R: 2");
	/* A doubled colon is one, and is doubled again. */
	REP(':', "a::b", "a::b");
	/* An empty item after text leaves its separator: Exim's "a : : b". */
	REP(':', "a::b", "a : : b");
	/* An empty setting gives no value, and adds none to one. */
	REP('\n', "(unset)", "");
	REP('\n', "X-A: 1", "", "X-A: 1", "");
	REP(':', "(unset)", "<;");
}

static void test_rep_and(void)
{
	char *c = val_rep_and(NULL, "yes");

	CU_ASSERT_STRING_EQUAL(c, "yes");
	char *d = val_rep_and(c, "${if eq{$domain}{a}}");

	CU_ASSERT_STRING_EQUAL(d, "${if and{{bool_lax{yes}}{bool_lax{${if eq{$domain}{a}}}}}}");
	free(c);
	c = val_rep_and(d, "no");
	CU_ASSERT_STRING_EQUAL(c, "${if and{{bool_lax{${if and{{bool_lax{yes}}"
			       "{bool_lax{${if eq{$domain}{a}}}}}}}}{bool_lax{no}}}}");
	free(c);
	free(d);
}

static const struct unit_test bool_tests[] = {
	T(test_bool_words),
	T(test_bool_case),
	T(test_bool_rejects),
};

static const struct unit_test int_tests[] = {
	T(test_int_decimal),
	T(test_int_bases),
	T(test_int_suffix),
	T(test_kint),
	T(test_int_limits),
	T(test_int_overflow),
	T(test_int_syntax),
	T(test_int_blanks),
};

static const struct unit_test time_tests[] = {
	T(test_time_units),
	T(test_time_sequences),
	T(test_time_plain),
	T(test_time_limits),
	T(test_time_syntax),
	T(test_time_blanks),
};

static const struct unit_test string_tests[] = {
	T(test_string_unquoted),
	T(test_string_quoted),
	T(test_string_escapes),
	T(test_string_errors),
	T(test_string_large),
};

static const struct unit_test list_tests[] = {
	T(test_list_basic),
	T(test_list_doubled),
	T(test_list_empty_items),
	T(test_list_separator),
	T(test_list_no_separator_change),
	T(test_list_control_separator),
	T(test_list_trailing_blanks),
	T(test_list_free),
	T(test_list_large),
};

static const struct unit_test rep_tests[] = {
	T(test_rep_list),
	T(test_rep_and),
};

static const struct unit_suite suites[] = {
	{ "val_bool", NULL, NULL, bool_tests, UNIT_COUNT(bool_tests) },
	{ "val_int", NULL, NULL, int_tests, UNIT_COUNT(int_tests) },
	{ "val_time", NULL, NULL, time_tests, UNIT_COUNT(time_tests) },
	{ "val_string", NULL, NULL, string_tests, UNIT_COUNT(string_tests) },
	{ "val_list", NULL, NULL, list_tests, UNIT_COUNT(list_tests) },
	{ "repeated options", NULL, NULL, rep_tests, UNIT_COUNT(rep_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
