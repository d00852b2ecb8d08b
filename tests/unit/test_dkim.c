/*
 * test_dkim.c -- unit tests for runtime/dkim.c: body canonicalization and
 * hashing, header selection, the DKIM-Signature field, keys, and RFC
 * 8463's example signatures.
 *
 * Body hashes are checked against SHA-256 of the canonical text written
 * out by hand (or by a plain line-by-line model of RFC 6376 for random
 * bodies), fed in one piece, octet by octet and in random pieces.
 *
 * A signature is checked by rebuilding what it must sign: the fields the
 * test expects to be chosen, canonicalized, then the field made with its
 * b= value deleted (RFC 6376 section 3.7); Ed25519 and RSA PKCS#1 v1.5
 * are deterministic, so dkim_sign_data() of that must give the b= value
 * found.  RFC 8463's example field is laid out in another tag order than
 * Exim's, so its b= values are checked that way too, on the RFC's own
 * field text, and its bh= with dkim_body_hash().
 *
 * The keys are in tests/dkimsign (found through $top_srcdir, set by "make
 * check"): RFC 8463's RSA (1024 bits) and Ed25519 keys, and test keys
 * made with openssl: RSA 512 and 2048 bits, EC P-256, an encrypted Ed25519
 * key.  tests/dkimsign.sh checks signed messages with an independent verifier.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "dkim.h"
#include "dkim_int.h"
#include "harness.h"
#include "msg.h"
#include "ossl.h"
#include "sb.h"

/* Assertions made in helpers report the caller's line: CHECK(cond, line). */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

#define ERRLEN 512

static char keydir[4096];

/* ------------------------------------------------------------- helpers */

/* The base64 of SHA-256 of @len octets at @s into @out. */
static void sha_b64(const void *s, size_t len, char out[DKIM_BH_LEN])
{
	unsigned char h[32];
	char err[ERRLEN];

	if (ossl_sha256(s, len, h, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	b64_encode(h, sizeof(h), out, DKIM_BH_LEN);
}

/*
 * The body hash of @in under @canon, fed in pieces: @piece octets each,
 * or random sizes (1 to 2 * -@piece) when @piece is negative.
 */
static void body_hash(unsigned canons, unsigned canon, const char *in, size_t len,
		      long piece, char out[DKIM_BH_LEN])
{
	char err[ERRLEN];
	struct dkim_body *b = dkim_body_new(canons, err, sizeof(err));

	CU_ASSERT_FATAL(b != NULL);
	for (size_t off = 0; off < len;) {
		size_t k = piece > 0 ? (size_t)piece : 1 + (size_t)rand() % (size_t)(-2 * piece);

		if (k > len - off)
			k = len - off;
		dkim_body_feed(b, in + off, k);
		off += k;
	}
	out[0] = '\0';
	CU_ASSERT(dkim_body_hash(b, canon, out, err, sizeof(err)) == 0);
	dkim_body_free(b);
}

/* Check the body hash of @in against SHA-256 of @want under @canon, in
   one piece, octet by octet, in random pieces and with both hashes at once. */
static void check_body(unsigned canon, const char *in, size_t len, const char *want,
		       size_t wlen, int line)
{
	char exp[DKIM_BH_LEN], got[DKIM_BH_LEN];
	static const long pieces[] = { 1 << 20, 1, 2, 3, 7, 8, 9, -5, -40, -4096 };

	sha_b64(want, wlen, exp);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		body_hash(canon, canon, in, len, pieces[i], got);
		CHECK(strcmp(got, exp) == 0, line);
		if (strcmp(got, exp) != 0) {
			fprintf(stderr, "line %d: piece %ld: %s, want %s\n", line, pieces[i],
				got, exp);
			break;
		}
	}
	body_hash(DKIM_SIMPLE | DKIM_RELAXED, canon, in, len, -9, got);
	CHECK(strcmp(got, exp) == 0, line);
}

/* The message @text (LF or CR LF line ends). */
static struct msg *message(const char *text)
{
	struct msg_opts o = { .flags = MSG_IGNORE_DOTS };
	struct msg_err e;
	struct msg *m = msg_new(&o, &e);

	if (m == NULL || msg_feed(m, text, strlen(text), &e) < 0 || msg_end(m, &e) != 0) {
		fprintf(stderr, "message: %s\n", e.text);
		abort();
	}
	return m;
}

/* Read tests/dkimsign/@name and make a key of it; NULL with @err set. */
static struct dkim_key *key(const char *name, bool *weak, char *err)
{
	char path[sizeof(keydir) + 64];
	struct sb pem = { .secret = true };
	struct dkim_key *k;

	snprintf(path, sizeof(path), "%s/%s", keydir, name);
	if (sb_read_file(&pem, path) != 0) {
		perror(path);
		abort();
	}
	k = dkim_key_new(pem.p, pem.len, name, weak, err, ERRLEN);
	sb_free(&pem);
	return k;
}

static struct dkim_key *key_ok(const char *name)
{
	char err[ERRLEN];
	bool weak;
	struct dkim_key *k = key(name, &weak, err);

	if (k == NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	return k;
}

/* The value of tag @tag ("h", "b") of @field, unfolded (CR LF HT removed). */
static char *tag_value(const char *field, const char *tag)
{
	struct sb u = SB_INIT;
	const char *p, *v, *end;
	size_t tl = strlen(tag);
	char *r;

	for (p = field; *p != '\0'; p++)
		if (!(p[0] == '\r' && p[1] == '\n' && p[2] == '\t'))
			sb_putc(&u, *p);
		else
			p += 2;
	r = sb_take(&u);
	for (p = strchr(r, ':') + 1;; p = end + 1) {
		while (*p == ' ')
			p++;
		end = strchr(p, ';');
		if (end == NULL) {
			free(r);
			return NULL;
		}
		if (strncmp(p, tag, tl) == 0 && p[tl] == '=') {
			v = p + tl + 1;
			memmove(r, v, (size_t)(end - v));
			r[end - v] = '\0';
			return r;
		}
	}
}

/* Where the b= value of @field starts: b= is the last tag. */
static const char *b_value(const char *field)
{
	size_t len = strlen(field);
	const char *semi, *b;

	if (len < 2 || field[len - 1] != ';')
		return NULL;
	for (semi = field + len - 2; semi > field && *semi != ';'; semi--)
		;
	b = strstr(semi, "b=");
	return b != NULL ? b + 2 : NULL;
}

/*
 * Check @field (made by dkim_sign() with @k and @canon on @m): lines of at
 * most 78 octets, continuation lines starting with HT, the final ";" not
 * alone on the last,
 * and b= the signature of fields @idx (@n of them, in that order) then the
 * field with the b= value deleted.
 */
static void check_sig(const struct dkim_key *k, unsigned canon, const struct msg *m,
		      const char *field, const size_t *idx, size_t n, int line)
{
	struct sb data = SB_INIT;
	struct msg_header h;
	const char *p, *bval;
	char err[ERRLEN], *b64 = NULL, *want;
	size_t len = strlen(field);

	for (p = field; p != NULL; p = strstr(p, "\r\n")) {
		const char *q;

		if (p != field) {
			p += 2;
			CHECK(*p == '\t' && strcmp(p, "\t;") != 0, line);
		}
		q = strstr(p, "\r\n");
		CHECK((size_t)((q ? q : field + len) - p) <= 78, line);
		if (q == NULL)
			break;
		p = q;
	}
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_FATAL(msg_header_get(m, idx[i], &h) == 0);
		dkim_canon_field(canon, h.field, h.field_len, true, &data);
	}
	bval = b_value(field);
	CU_ASSERT_FATAL(bval != NULL);
	{
		struct sb pre = SB_INIT;

		sb_put(&pre, field, (size_t)(bval - field));
		sb_putc(&pre, ';');
		dkim_canon_field(canon, pre.p, pre.len, false, &data);
		sb_free(&pre);
	}
	CU_ASSERT_FATAL(data.err == SB_OK);
	CHECK(dkim_sign_data(k, data.p, data.len, &b64, err, sizeof(err)) == 0, line);
	want = tag_value(field, "b");
	CHECK(want != NULL && b64 != NULL && strcmp(want, b64) == 0, line);
	free(want);
	free(b64);
	sb_free(&data);
}

static const char rfc_msg[] =
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

#define RFC_BODY_OFF (size_t)(strstr(rfc_msg, "\r\n\r\n") + 4 - rfc_msg)
#define RFC_BH "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="

/* Sign @m with @k under @canon and @headers; the field, or NULL with the
   error in @err. */
static char *sign(const struct dkim_key *k, unsigned canon, const char *headers,
		  const struct msg *m, char *err)
{
	struct dkim_sig s = { .domain = "example.org", .selector = "sel",
			      .headers = headers, .canon = canon, .bh = RFC_BH };
	char *field = NULL;

	if (dkim_sign(k, &s, m, &field, err, ERRLEN) != 0)
		return NULL;
	return field;
}

/* ---------------------------------------------------------------- body */

#define S(x) x, sizeof(x) - 1

/**
 * struct vec - a body and its two canonical forms.
 */
static const struct vec {
	const char *in;
	size_t len;
	const char *simple;
	size_t slen;
	const char *relaxed;
	size_t rlen;
} vecs[] = {
	{ S(""), S("\r\n"), S("") },
	{ S("\r\n"), S("\r\n"), S("") },
	{ S("\r\n\r\n\r\n\r\n"), S("\r\n"), S("") },
	{ S(" \r\n"), S(" \r\n"), S("") },
	{ S(" \t \r\n\t\r\n"), S(" \t \r\n\t\r\n"), S("") },
	{ S("abc\r\n"), S("abc\r\n"), S("abc\r\n") },
	{ S("abc"), S("abc\r\n"), S("abc\r\n") },
	{ S("abc  \t \r\n"), S("abc  \t \r\n"), S("abc\r\n") },
	{ S("a  b\t\tc \t d\r\n"), S("a  b\t\tc \t d\r\n"), S("a b c d\r\n") },
	{ S("  lead\r\n"), S("  lead\r\n"), S(" lead\r\n") },
	{ S("abc\r\n\r\n\r\n"), S("abc\r\n"), S("abc\r\n") },
	{ S("abc\r\n \t \r\n\r\n"), S("abc\r\n \t \r\n"), S("abc\r\n") },
	{ S("\r\n\r\nabc\r\n"), S("\r\n\r\nabc\r\n"), S("\r\n\r\nabc\r\n") },
	{ S("a\r\n\r\n \r\nb\r\n\r\n"), S("a\r\n\r\n \r\nb\r\n"), S("a\r\n\r\n\r\nb\r\n") },
	/* RFC 6376 section 3.4.5 */
	{ S(" C \r\nD \t E\r\n\r\n\r\n"), S(" C \r\nD \t E\r\n"), S(" C\r\nD E\r\n") },
	/* Not blanks: form feed, NBSP in UTF-8, 8-bit octets. */
	{ S("a \f b\r\n"), S("a \f b\r\n"), S("a \f b\r\n") },
	{ S("caf\xc3\xa9 \xc2\xa0 x  \r\n"), S("caf\xc3\xa9 \xc2\xa0 x  \r\n"),
	  S("caf\xc3\xa9 \xc2\xa0 x\r\n") },
	/* Long lines: the word-at-a-time path, blanks at every offset. */
	{ S("The quick brown fox jumps  over\tthe lazy dog;  twelve octets!\r\n"),
	  S("The quick brown fox jumps  over\tthe lazy dog;  twelve octets!\r\n"),
	  S("The quick brown fox jumps over the lazy dog; twelve octets!\r\n") },
	{ S("abcdefg h\r\nabcdefgh i\r\nabcdefghi j\r\nabcdefg  h\r\nabcdefgh \r\n"),
	  S("abcdefg h\r\nabcdefgh i\r\nabcdefghi j\r\nabcdefg  h\r\nabcdefgh \r\n"),
	  S("abcdefg h\r\nabcdefgh i\r\nabcdefghi j\r\nabcdefg h\r\nabcdefgh\r\n") },
	{ S("0123456789abcdef0123456789abcdef\r\n\r\n0123456 \r\n"),
	  S("0123456789abcdef0123456789abcdef\r\n\r\n0123456 \r\n"),
	  S("0123456789abcdef0123456789abcdef\r\n\r\n0123456\r\n") },
};

static void test_body_vectors(void)
{
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];

		check_body(DKIM_SIMPLE, v->in, v->len, v->simple, v->slen, (int)i);
		check_body(DKIM_RELAXED, v->in, v->len, v->relaxed, v->rlen, (int)i);
	}
}

/* RFC 6376's canonicalizations, one line at a time, as the RFC words them
   (@in: lines ended by CR LF). */
static void model(const char *in, size_t len, struct sb *simple, struct sb *relaxed)
{
	size_t keep_s = 0, keep_r = 0;

	for (size_t i = 0; i < len;) {
		const char *eol = memchr(in + i, '\n', len - i);
		size_t n = (size_t)(eol - (in + i)) - 1;   /* CR LF excluded */
		bool blank = false, text = false;

		sb_put(simple, in + i, n + 2);
		if (n > 0)
			keep_s = simple->len;
		for (size_t j = 0; j < n; j++) {
			char c = in[i + j];

			if (c == ' ' || c == '\t') {
				blank = true;
				continue;
			}
			if (blank)
				sb_putc(relaxed, ' ');
			blank = false;
			text = true;
			sb_putc(relaxed, c);
		}
		sb_put(relaxed, "\r\n", 2);
		if (text)
			keep_r = relaxed->len;
		i += n + 2;
	}
	/* Trailing empty lines deleted; simple keeps one CR LF at least. */
	sb_truncate(simple, keep_s);
	sb_truncate(relaxed, keep_r);
	if (keep_s == 0)
		sb_put(simple, "\r\n", 2);
	sb_put(simple, "", 0);
	sb_put(relaxed, "", 0);
}

/* A random body of CR LF lines drawn from blanks, text and 8-bit octets. */
static size_t random_body(char *buf, size_t max)
{
	static const char alpha[] = "  \t\tab.\x80:";
	size_t n = 0, lines = (size_t)rand() % 12;

	for (size_t l = 0; l < lines && n + 2 < max; l++) {
		size_t len = (size_t)rand() % 4 == 0 ? 0 : (size_t)rand() % 40;

		for (size_t i = 0; i < len && n + 3 < max; i++)
			buf[n++] = alpha[(size_t)rand() % (sizeof(alpha) - 1)];
		buf[n++] = '\r';
		buf[n++] = '\n';
	}
	return n;
}

static void test_body_random(void)
{
	char buf[600];

	srand(8463);
	for (int round = 0; round < 400; round++) {
		size_t n = random_body(buf, sizeof(buf));
		struct sb s = SB_INIT, r = SB_INIT;

		model(buf, n, &s, &r);
		check_body(DKIM_SIMPLE, buf, n, s.p, s.len, round);
		check_body(DKIM_RELAXED, buf, n, r.p, r.len, round);
		sb_free(&s);
		sb_free(&r);
	}
}

/* Bodies larger than the 64 KiB block, and runs of empty lines longer than
   a block holds, whose count is all that is kept. */
static void test_body_large(void)
{
	size_t n = 3 * 65536 + 1000, k = 0;
	char *in = malloc(2 * n + 400000);
	struct sb s = SB_INIT, r = SB_INIT;

	CU_ASSERT_FATAL(in != NULL);
	while (k < n) {
		memcpy(in + k, "line  of text \t\r\n", 17);
		k += 17;
	}
	for (size_t i = 0; i < 100000; i++) {
		const char *l = i % 3 ? "\r\n" : " \r\n";

		memcpy(in + k, l, strlen(l));
		k += strlen(l);
	}
	memcpy(in + k, "end\r\n", 5);
	k += 5;
	for (size_t i = 0; i < 70000; i++, k += 2)
		memcpy(in + k, "\r\n", 2);
	model(in, k, &s, &r);
	check_body(DKIM_SIMPLE, in, k, s.p, s.len, __LINE__);
	check_body(DKIM_RELAXED, in, k, r.p, r.len, __LINE__);
	sb_free(&s);
	sb_free(&r);
	free(in);
}

static void test_body_api(void)
{
	char err[ERRLEN], a[DKIM_BH_LEN], b[DKIM_BH_LEN];
	struct dkim_body *h;

	CU_ASSERT(dkim_body_new(0, err, sizeof(err)) == NULL);
	CU_ASSERT(strstr(err, "canonicalization") != NULL);
	CU_ASSERT(dkim_body_new(4, err, sizeof(err)) == NULL);

	h = dkim_body_new(DKIM_RELAXED, err, sizeof(err));
	CU_ASSERT_FATAL(h != NULL);
	dkim_body_feed(h, rfc_msg + RFC_BODY_OFF, sizeof(rfc_msg) - 1 - RFC_BODY_OFF);
	CU_ASSERT(dkim_body_hash(h, DKIM_SIMPLE, a, err, sizeof(err)) == -1);
	CU_ASSERT(strstr(err, "no DKIM body hash") != NULL);
	CU_ASSERT(dkim_body_hash(h, DKIM_RELAXED, a, err, sizeof(err)) == 0);
	/* RFC 8463 Appendix A.3 (and RFC 6376 Appendix A's body). */
	CU_ASSERT_STRING_EQUAL(a, RFC_BH);
	CU_ASSERT(dkim_body_hash(h, DKIM_RELAXED, b, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(b, RFC_BH);
	dkim_body_free(h);
	dkim_body_free(NULL);

	/* Both at once, asked for in either order. */
	h = dkim_body_new(DKIM_SIMPLE | DKIM_RELAXED, err, sizeof(err));
	CU_ASSERT_FATAL(h != NULL);
	dkim_body_feed(h, rfc_msg + RFC_BODY_OFF, sizeof(rfc_msg) - 1 - RFC_BODY_OFF);
	CU_ASSERT(dkim_body_hash(h, DKIM_RELAXED, a, err, sizeof(err)) == 0);
	CU_ASSERT(dkim_body_hash(h, DKIM_SIMPLE, b, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(a, RFC_BH);
	sha_b64(rfc_msg + RFC_BODY_OFF, sizeof(rfc_msg) - 1 - RFC_BODY_OFF, a);
	CU_ASSERT_STRING_EQUAL(b, a);
	dkim_body_free(h);
}

/* ------------------------------------------------------------- headers */

static void check_canon(unsigned canon, const char *in, const char *want, int line)
{
	struct sb out = SB_INIT;

	CHECK(dkim_canon_field(canon, in, strlen(in), true, &out) == 0, line);
	CHECK(out.p != NULL && strcmp(out.p, want) == 0, line);
	if (out.p == NULL || strcmp(out.p, want) != 0)
		fprintf(stderr, "line %d: got [%s]\n", line, out.p ? out.p : "(null)");
	sb_free(&out);
}

static void test_canon_header(void)
{
	/* RFC 6376 section 3.4.5 */
	check_canon(DKIM_RELAXED, "A: X\r\n", "a:X\r\n", __LINE__);
	check_canon(DKIM_RELAXED, "B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n", __LINE__);
	check_canon(DKIM_SIMPLE, "B : Y\t\r\n\tZ  \r\n", "B : Y\t\r\n\tZ  \r\n", __LINE__);
	check_canon(DKIM_RELAXED, "Subject:  Is  dinner\t ready? \r\n",
		    "subject:Is dinner ready?\r\n", __LINE__);
	check_canon(DKIM_RELAXED, "To: a,\r\n b,\r\n\t c\r\n", "to:a, b, c\r\n", __LINE__);
	check_canon(DKIM_RELAXED, "X-Empty:\r\n", "x-empty:\r\n", __LINE__);
	check_canon(DKIM_RELAXED, "X-Blank: \t \r\n", "x-blank:\r\n", __LINE__);
	/* Only the first colon ends the name; the value keeps its case. */
	check_canon(DKIM_RELAXED, "Message-ID: <A:B@X>\r\n", "message-id:<A:B@X>\r\n",
		    __LINE__);
	check_canon(DKIM_RELAXED, "X-Odd: a : b\r\n", "x-odd:a : b\r\n", __LINE__);
}

/* The h= value dkim_sign() gives for @text and @headers. */
static void check_h(const struct dkim_key *k, const char *text, const char *headers,
		    const char *want, const size_t *idx, size_t n, int line)
{
	struct msg *m = message(text);
	char err[ERRLEN], *field, *h;

	for (unsigned canon = DKIM_SIMPLE; canon <= DKIM_RELAXED; canon <<= 1) {
		field = sign(k, canon, headers, m, err);
		CHECK(field != NULL, line);
		if (field == NULL) {
			fprintf(stderr, "line %d: %s\n", line, err);
			break;
		}
		h = tag_value(field, "h");
		CHECK(h != NULL && strcmp(h, want) == 0, line);
		if (h == NULL || strcmp(h, want) != 0)
			fprintf(stderr, "line %d: h=%s\n", line, h ? h : "(none)");
		check_sig(k, canon, m, field, idx, n, line);
		free(h);
		free(field);
	}
	msg_free(m);
}

#define IDX(...) (const size_t[]){ __VA_ARGS__ }, sizeof((const size_t[]){ __VA_ARGS__ }) / sizeof(size_t)

static void test_select(void)
{
	struct dkim_key *k = key_ok("rfc8463-ed25519.pem");
	static const char rec[] =
		"Received: one\r\nReceived: two\r\nFrom: a@b\r\nReceived: three\r\n"
		"SUBJECT: hi\r\nX-Other: x\r\n\r\nbody\r\n";

	/* Exim's default list: the fields present, bottom-up, then every
	   name of the list that signed none (signed as absent). */
	check_h(k, rfc_msg, NULL,
		"Message-ID:Date:Subject:To:From:Sender:Reply-To:Cc:MIME-Version:"
		"Content-Type:Content-Transfer-Encoding:Content-ID:Content-Description:"
		"Resent-Date:Resent-From:Resent-Sender:Resent-To:Resent-Cc:"
		"Resent-Message-ID:In-Reply-To:References:List-Id:List-Help:"
		"List-Unsubscribe:List-Subscribe:List-Post:List-Owner:List-Archive",
		IDX(4, 3, 2, 1, 0), __LINE__);
	/* A plain name signs the last field of that name. */
	check_h(k, rec, "received:from", "Received:From", IDX(3, 2), __LINE__);
	/* Named twice: the last two. */
	check_h(k, rec, "Received:From:Received", "Received:From:Received", IDX(3, 2, 1),
		__LINE__);
	/* '=': every one, never listed when there is none. */
	check_h(k, rec, "=Received:From:=X-Missing", "Received:From:Received:Received",
		IDX(3, 2, 1, 0), __LINE__);
	/* '+': every one, and the name once more (oversigning), as written. */
	check_h(k, rec, "+received:+X-Missing:from",
		"Received:From:Received:Received:received:X-Missing", IDX(3, 2, 1, 0),
		__LINE__);
	/* Names match in any case; h= has the message's spelling. */
	check_h(k, rec, "subject:FROM:x-absent", "SUBJECT:From:x-absent", IDX(4, 2),
		__LINE__);
	/* Blanks around names and empty names are ignored. */
	check_h(k, rec, " From : : subject :", "SUBJECT:From", IDX(4, 2), __LINE__);
	/* A DKIM-Signature already there is signed only when named. */
	check_h(k, "DKIM-Signature: v=1; a=x\r\nFrom: a@b\r\n\r\n", "From", "From", IDX(1),
		__LINE__);
	check_h(k, "DKIM-Signature: v=1; a=x\r\nFrom: a@b\r\n\r\n", "From:DKIM-Signature",
		"From:DKIM-Signature", IDX(1, 0), __LINE__);
	/* No field at all: every name listed as absent. */
	check_h(k, "body only\r\n", "From:=To:+Cc", "From:Cc", NULL, 0, __LINE__);
	dkim_key_free(k);
}

static void test_sign_errors(void)
{
	struct dkim_key *k = key_ok("rfc8463-ed25519.pem");
	struct msg *m = message(rfc_msg);
	struct dkim_sig s = { .domain = "example.org", .selector = "sel",
			      .canon = DKIM_RELAXED, .bh = RFC_BH };
	char err[ERRLEN], *field = NULL;

	CU_ASSERT(sign(k, DKIM_RELAXED, "=X-None", m, err) == NULL);
	CU_ASSERT_STRING_EQUAL(err, "the DKIM header list '=X-None' signs no field");
	CU_ASSERT(sign(k, DKIM_RELAXED, "From:Sub ject", m, err) == NULL);
	CU_ASSERT_STRING_EQUAL(err, "invalid field name 'Sub ject' in the DKIM header list");
	CU_ASSERT(sign(k, DKIM_RELAXED, "From:a;b", m, err) == NULL);
	CU_ASSERT(sign(k, DKIM_RELAXED, "From::To", m, err) == NULL);
	CU_ASSERT(strstr(err, "'::'") != NULL);
	CU_ASSERT(sign(k, DKIM_RELAXED, "From:+", m, err) == NULL);
	CU_ASSERT(sign(k, 3, "From", m, err) == NULL);
	s.domain = "exa mple.org";
	CU_ASSERT(dkim_sign(k, &s, m, &field, err, sizeof(err)) == -1 && field == NULL);
	CU_ASSERT_STRING_EQUAL(err, "invalid DKIM d= tag 'exa mple.org'");
	s.domain = "example.org";
	s.selector = "";
	CU_ASSERT(dkim_sign(k, &s, m, &field, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "the DKIM s= tag is empty");
	s.selector = "sel";
	s.identity = "a;b";
	CU_ASSERT(dkim_sign(k, &s, m, &field, err, sizeof(err)) == -1);
	s.identity = NULL;
	s.bh = "short";
	CU_ASSERT(dkim_sign(k, &s, m, &field, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "no DKIM body hash");
	msg_free(m);
	dkim_key_free(k);
}

/* ------------------------------------------------------------- folding */

/*
 * The whole field, for the RFC message with its Ed25519 key: Exim's tag
 * order and folding (pdkim_create_header, pdkim_headcat).  Worked by hand
 * from pdkim's rules: "; d=..." does not fit after c= (column 67 + 23) and
 * gets a line of its own; h= names are never cut, "Subject" starts a line;
 * "; i=..." (24) starts a line; "b=" ends in column 56, and its value
 * fills that line to column 78 and goes on on the next.
 */
static void test_field_layout(void)
{
	struct dkim_key *k = key_ok("rfc8463-ed25519.pem");
	struct msg *m = message(rfc_msg);
	struct dkim_sig s = { .domain = "football.example.com", .selector = "brisbane",
			      .identity = "@football.example.com",
			      .headers = "From:To:Subject:Date:Message-ID:+From:+Subject:+Date",
			      .canon = DKIM_RELAXED, .bh = RFC_BH, .created = 1528637909,
			      .expires = 1528637909 + 86400 };
	char err[ERRLEN], *field = NULL;
	struct msg_header h;
	struct msg_err me;

	CU_ASSERT_FATAL(dkim_sign(k, &s, m, &field, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(field,
		"DKIM-Signature: v=1; a=ed25519-sha256; q=dns/txt; c=relaxed/relaxed;\r\n"
		"\td=football.example.com; s=brisbane; h=Message-ID:Date:Subject:To:From:From:\r\n"
		"\tSubject:Date; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
		"\ti=@football.example.com; t=1528637909; x=1528724309; b=uDlGMcvUIoXWtQNShffsjI\r\n"
		"\tr19BMQdi+eTe2M2bPmYCM/6JtxJqavnNP+5FswPNPLVY1yH1u41q48HzxYBPHjDQ==;");
	check_sig(k, DKIM_RELAXED, m, field, IDX(4, 3, 2, 1, 0), __LINE__);
	free(field);
	s.canon = DKIM_SIMPLE;
	CU_ASSERT_FATAL(dkim_sign(k, &s, m, &field, err, sizeof(err)) == 0);
	static const char simple[] = "DKIM-Signature: v=1; a=ed25519-sha256; q=dns/txt; "
				     "c=simple/simple;\r\n\td=football.example.com; ";

	CU_ASSERT(strncmp(field, simple, sizeof(simple) - 1) == 0);
	check_sig(k, DKIM_SIMPLE, m, field, IDX(4, 3, 2, 1, 0), __LINE__);
	/* What the caller does with it (dkim.h). */
	CU_ASSERT(msg_header_insert(m, 0, field, strlen(field), &me) == 0);
	CU_ASSERT(msg_header_get(m, 0, &h) == 0 && h.field_len == strlen(field) + 2 &&
		  memcmp(h.field, field, strlen(field)) == 0);
	free(field);
	msg_free(m);
	dkim_key_free(k);
}

/*
 * Selectors of every length move b= through every column: the field must
 * verify each time, and at least once the value must have been cut short
 * of column 78 so that the final ';' does not start a line alone.
 */
static void test_field_columns(void)
{
	struct dkim_key *keys[2] = { key_ok("rfc8463-ed25519.pem"),
				     key_ok("rfc8463-rsa.pem") };
	struct msg *m = message(rfc_msg);
	char sel[100], err[ERRLEN], *field;
	unsigned short_cut = 0;

	for (int ki = 0; ki < 2; ki++) {
		for (size_t n = 1; n < sizeof(sel); n++) {
			struct dkim_sig s = { .domain = "example.org", .selector = sel,
					      .headers = "From", .bh = RFC_BH };

			memset(sel, 'q', n);
			sel[n] = '\0';
			for (s.canon = DKIM_SIMPLE; s.canon <= DKIM_RELAXED; s.canon <<= 1) {
				CU_ASSERT_FATAL(dkim_sign(keys[ki], &s, m, &field, err,
							  sizeof(err)) == 0);
				check_sig(keys[ki], s.canon, m, field, IDX(0), (int)n);
				/* Exim fills every line of the value but the last to
				   column 78. */
				const char *ls = b_value(field);

				while (ls > field && ls[-1] != '\n')
					ls--;
				for (const char *q; (q = strstr(ls, "\r\n")) != NULL; ls = q + 2)
					short_cut += q - ls != 78;
				free(field);
			}
		}
	}
	CU_ASSERT(short_cut > 0);
	msg_free(m);
	dkim_key_free(keys[0]);
	dkim_key_free(keys[1]);
}

/* ---------------------------------------------------------------- keys */

static void check_key(const char *name, const char *alg, unsigned bits, bool weak_want,
		      int line)
{
	char err[ERRLEN];
	bool weak = !weak_want;
	struct dkim_key *k = key(name, &weak, err);

	CHECK(k != NULL, line);
	if (k == NULL) {
		fprintf(stderr, "line %d: %s\n", line, err);
		return;
	}
	CHECK(strcmp(dkim_key_alg(k), alg) == 0, line);
	CHECK(dkim_key_bits(k) == bits, line);
	CHECK(weak == weak_want, line);
	dkim_key_free(k);
}

static void check_bad_key(const char *name, const void *pem, size_t len, const char *want,
			  int line)
{
	char err[ERRLEN];
	bool weak = true;
	struct dkim_key *k = pem != NULL ? dkim_key_new(pem, len, name, &weak, err, sizeof(err))
					 : key(name, &weak, err);

	CHECK(k == NULL, line);
	CHECK(strcmp(err, want) == 0, line);
	CHECK(!weak, line);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "line %d: %s\n", line, err);
	dkim_key_free(k);
}

static void test_keys(void)
{
	static const char garbage[] = "hello, world\n";
	static const char bad64[] = "-----BEGIN PRIVATE KEY-----\nMC4C*QAw\n"
				    "-----END PRIVATE KEY-----\n";
	static const char cert[] = "-----BEGIN CERTIFICATE-----\nMC4CAQAw\n"
				   "-----END CERTIFICATE-----\n";
	char err[ERRLEN];

	check_key("rfc8463-ed25519.pem", "ed25519-sha256", 256, false, __LINE__);
	check_key("rfc8463-rsa.pem", "rsa-sha256", 1024, true, __LINE__);
	check_key("rsa-2048-pkcs8.pem", "rsa-sha256", 2048, false, __LINE__);
	check_bad_key("rsa-512.pem", NULL, 0, "cannot use the DKIM key rsa-512.pem: an RSA "
		      "key of 512 bits; DKIM needs 1024 at least (2048 recommended)", __LINE__);
	check_bad_key("ec-p256.pem", NULL, 0, "cannot use the DKIM key ec-p256.pem: a key "
		      "of type EC; DKIM signs with RSA or Ed25519 keys", __LINE__);
	check_bad_key("ed25519-encrypted.pem", NULL, 0, "cannot read the DKIM key "
		      "ed25519-encrypted.pem: the key is encrypted; DKIM keys must be stored "
		      "without a passphrase", __LINE__);
	check_bad_key("rfc8463-rsa-public.pem", NULL, 0, "cannot read the DKIM key "
		      "rfc8463-rsa-public.pem: a public key, not a private key", __LINE__);
	check_bad_key("/x/y.pem", garbage, sizeof(garbage) - 1, "cannot read the DKIM key "
		      "/x/y.pem: not a PEM private key", __LINE__);
	check_bad_key("k", "", 0, "cannot read the DKIM key k: not a PEM private key",
		      __LINE__);
	check_bad_key("k", cert, sizeof(cert) - 1, "cannot read the DKIM key k: no private "
		      "key in the PEM text", __LINE__);
	/* A damaged key: OpenSSL's reason. */
	CU_ASSERT(dkim_key_new(bad64, sizeof(bad64) - 1, "k", NULL, err, sizeof(err)) == NULL);
	CU_ASSERT(strncmp(err, "cannot read the DKIM key k: ", 28) == 0 && strlen(err) > 28);
	dkim_key_free(NULL);
}

/* ------------------------------------------------------------ RFC 8463 */

/*
 * RFC 8463 Appendix A.3: the example's two signatures.  Their fields are
 * not laid out as dkim_sign() lays out its own (tag order, "h=from : to"),
 * so the data they sign is built here from the RFC's text: the fields of
 * h= in its order (from, to, subject, date, message-id; the second from,
 * subject and date find no other field and add nothing), relaxed, then
 * the RFC's field with an empty b=, relaxed, without CR LF.  Signing it
 * with the RFC's keys must give the RFC's b= values octet for octet.
 */
static void check_rfc8463(const char *keyfile, const char *sigfield, const char *want)
{
	struct dkim_key *k = key_ok(keyfile);
	struct msg *m = message(rfc_msg);
	struct sb data = SB_INIT;
	struct msg_header h;
	char err[ERRLEN], *b64 = NULL;

	for (size_t i = 0; i < 5; i++) {
		CU_ASSERT_FATAL(msg_header_get(m, i, &h) == 0);
		dkim_canon_field(DKIM_RELAXED, h.field, h.field_len, true, &data);
	}
	dkim_canon_field(DKIM_RELAXED, sigfield, strlen(sigfield), false, &data);
	CU_ASSERT_FATAL(data.err == SB_OK);
	CU_ASSERT(dkim_sign_data(k, data.p, data.len, &b64, err, sizeof(err)) == 0);
	CU_ASSERT(b64 != NULL && strcmp(b64, want) == 0);
	if (b64 != NULL && strcmp(b64, want) != 0)
		fprintf(stderr, "%s: b=%s\n", keyfile, b64);
	free(b64);
	sb_free(&data);
	msg_free(m);
	dkim_key_free(k);
}

static void test_rfc8463(void)
{
	check_rfc8463("rfc8463-ed25519.pem",
		      "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
		      " d=football.example.com; i=@football.example.com;\r\n"
		      " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
		      " subject : date : message-id : from : subject : date;\r\n"
		      " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
		      " b=",
		      "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus"
		      "Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==");
	check_rfc8463("rfc8463-rsa.pem",
		      "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
		      " d=football.example.com; i=@football.example.com;\r\n"
		      " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
		      " date : message-id : from : subject : date;\r\n"
		      " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
		      " b=",
		      "F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3"
		      "DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz"
		      "dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=");
}

/* ---------------------------------------------------------------- main */

#define T(f) { #f, f }

static const struct unit_test body_tests[] = {
	T(test_body_vectors),
	T(test_body_random),
	T(test_body_large),
	T(test_body_api),
};

static const struct unit_test header_tests[] = {
	T(test_canon_header),
	T(test_select),
	T(test_sign_errors),
	T(test_field_layout),
	T(test_field_columns),
};

static const struct unit_test key_tests[] = {
	T(test_keys),
	T(test_rfc8463),
};

static const struct unit_suite suites[] = {
	{ "dkim body hash", NULL, NULL, body_tests, UNIT_COUNT(body_tests) },
	{ "dkim header fields", NULL, NULL, header_tests, UNIT_COUNT(header_tests) },
	{ "dkim keys and RFC 8463", NULL, NULL, key_tests, UNIT_COUNT(key_tests) },
};

int main(void)
{
	const char *top = getenv("top_srcdir");
	char err[ERRLEN];

	if (top == NULL || *top == '\0') {
		fprintf(stderr, "test_dkim: set top_srcdir to the source tree\n");
		return 99;
	}
	snprintf(keydir, sizeof(keydir), "%s/tests/dkimsign", top);
	if (ossl_load(err, sizeof(err)) != 0) {
		fprintf(stderr, "test_dkim: skipped: %s\n", err);
		return 77;
	}
	return unit_run(suites, UNIT_COUNT(suites));
}
