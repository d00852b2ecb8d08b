/*
 * re.c -- regular expressions as Exim has them: PCRE2, loaded when first
 * needed (re.h).
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "re.h"

/* Debian's libpcre2-8-0; the soname has been 0 since PCRE2 10.00. */
#define PCRE2_LIB "libpcre2-8.so.0"

/** struct re_fn - the functions of libpcre2-8 that noq calls. */
struct re_fn {
	pcre2_code *(*compile)(PCRE2_SPTR, PCRE2_SIZE, uint32_t, int *, PCRE2_SIZE *,
			       pcre2_compile_context *);
	void (*code_free)(pcre2_code *);
	int (*pattern_info)(const pcre2_code *, uint32_t, void *);
	int (*get_error_message)(int, PCRE2_UCHAR *, PCRE2_SIZE);
	pcre2_match_data *(*match_data_create_from_pattern)(const pcre2_code *,
							     pcre2_general_context *);
	void (*match_data_free)(pcre2_match_data *);
	int (*match)(const pcre2_code *, PCRE2_SPTR, PCRE2_SIZE, PCRE2_SIZE, uint32_t,
		     pcre2_match_data *, pcre2_match_context *);
	PCRE2_SIZE *(*get_ovector_pointer)(pcre2_match_data *);
	uint32_t (*get_ovector_count)(pcre2_match_data *);
};

/* The name of each function, in the order of struct re_fn. */
static const char *const fn_name[] = {
	"pcre2_compile_8", "pcre2_code_free_8", "pcre2_pattern_info_8",
	"pcre2_get_error_message_8", "pcre2_match_data_create_from_pattern_8",
	"pcre2_match_data_free_8", "pcre2_match_8", "pcre2_get_ovector_pointer_8",
	"pcre2_get_ovector_count_8",
};

/* The one-time load: 0 not tried, 1 loaded, -1 failed (@err says why). */
static struct {
	int state;
	char err[200];
	struct re_fn fn;
} ld;

static int load(void)
{
	void *h = dlopen(PCRE2_LIB, RTLD_NOW | RTLD_LOCAL);
	char *fp = (char *)&ld.fn;

	_Static_assert(sizeof(ld.fn) == sizeof(fn_name) / sizeof(fn_name[0]) * sizeof(void *),
		       "one name per function");
	if (h == NULL) {
		const char *why = dlerror();

		snprintf(ld.err, sizeof(ld.err), "cannot load %s (Debian: libpcre2-8-0): %s",
			 PCRE2_LIB, why ? why : "unknown error");
		return -1;
	}
	for (size_t i = 0; i < sizeof(fn_name) / sizeof(fn_name[0]); i++) {
		void *p = dlsym(h, fn_name[i]);

		if (p == NULL) {
			snprintf(ld.err, sizeof(ld.err), "%s lacks %s", PCRE2_LIB, fn_name[i]);
			return -1;
		}
		/* dlsym() gives a void *; it is copied into a function pointer. */
		memcpy(fp + i * sizeof(void *), &p, sizeof(p));
	}
	return 0;
}

/* Once, whichever thread asks first (noq opens its SMTP session in a
   second thread while it reads the message). */
static pthread_once_t ld_once = PTHREAD_ONCE_INIT;

static void load_once(void)
{
	ld.state = load() == 0 ? 1 : -1;
}

static int loaded(char *err, size_t errlen)
{
	pthread_once(&ld_once, load_once);
	if (ld.state > 0)
		return 0;
	snprintf(err, errlen, "%s", ld.err);
	return -1;
}

int re_compile(const char *pat, size_t len, unsigned flags, struct re **out,
	       char *err, size_t errlen, size_t *erroff)
{
	int code;
	PCRE2_SIZE off = 0;
	pcre2_code *c;

	*out = NULL;
	if (erroff != NULL)
		*erroff = (size_t)-1;
	if (loaded(err, errlen) != 0)
		return -1;
	c = ld.fn.compile((PCRE2_SPTR)pat, len, flags & RE_CASELESS ? PCRE2_CASELESS : 0,
			  &code, &off, NULL);
	if (c == NULL) {
		PCRE2_UCHAR msg[160];

		if (ld.fn.get_error_message(code, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", code);
		snprintf(err, errlen, "%s", (const char *)msg);
		if (erroff != NULL)
			*erroff = off;
		return -1;
	}
	*out = (struct re *)c;
	return 0;
}

unsigned re_captures(const struct re *re)
{
	uint32_t n = 0;

	if (ld.fn.pattern_info((const pcre2_code *)re, PCRE2_INFO_CAPTURECOUNT, &n) != 0)
		return 0;
	return n;
}

int re_match(const struct re *re, const char *subj, size_t len, size_t *ov,
	     size_t nov, char *err, size_t errlen)
{
	return re_match_from(re, subj, len, 0, 0, ov, nov, err, errlen);
}

int re_match_from(const struct re *re, const char *subj, size_t len, size_t start,
		  unsigned opts, size_t *ov, size_t nov, char *err, size_t errlen)
{
	const pcre2_code *c = (const pcre2_code *)re;
	pcre2_match_data *md = ld.fn.match_data_create_from_pattern(c, NULL);
	int rc;

	if (md == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = ld.fn.match(c, (PCRE2_SPTR)subj, len, start,
			 (opts & RE_NOTEMPTY ? PCRE2_NOTEMPTY : 0) |
			 (opts & RE_ANCHORED ? PCRE2_ANCHORED : 0), md, NULL);
	if (rc == PCRE2_ERROR_NOMATCH) {
		ld.fn.match_data_free(md);
		return 0;
	}
	if (rc < 0) {
		PCRE2_UCHAR msg[160];

		if (ld.fn.get_error_message(rc, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", rc);
		snprintf(err, errlen, "regular expression: %s", (const char *)msg);
		ld.fn.match_data_free(md);
		return -1;
	}

	const PCRE2_SIZE *v = ld.fn.get_ovector_pointer(md);
	size_t have = (size_t)rc * 2;   /* the pairs PCRE2 set */

	for (size_t i = 0; ov != NULL && i < nov * 2; i++)
		ov[i] = i < have && v[i] != PCRE2_UNSET ? (size_t)v[i] : (size_t)-1;
	ld.fn.match_data_free(md);
	return 1;
}

void re_free(struct re *re)
{
	if (re != NULL && ld.state > 0)
		ld.fn.code_free((pcre2_code *)re);
}
