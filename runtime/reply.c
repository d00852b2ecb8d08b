/*
 * reply.c -- a server's reply, parsed strictly (see smtp.h).
 *
 * Apart from the connection, so that it can be tested and fuzzed alone.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "smtp.h"
#include "txt.h"

static bool digit(char c, char lo)
{
	return c >= lo && c <= '9';
}

int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len, char *why,
		    size_t whylen)
{
	size_t tl = strlen(r->text);

	if (len < 3 || !digit(line[0], '2') || line[0] > '5' || !digit(line[1], '0') ||
	    !digit(line[2], '0') || (len > 3 && line[3] != ' ' && line[3] != '-')) {
		char shown[80];

		txt_clean(shown, sizeof(shown), line, len, TXT_ASCII);
		snprintf(why, whylen, "a malformed reply '%s'", shown);
		return -1;
	}
	if (len + 2 > SMTP_LINE_MAX) {
		snprintf(why, whylen, "a reply line longer than %d octets", SMTP_LINE_MAX);
		return -1;
	}

	int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');

	if (r->nlines == 0) {
		r->code = code;
	} else if (code != r->code) {
		snprintf(why, whylen, "a reply whose lines have different codes (%d, then %d)",
			 r->code, code);
		return -1;
	}
	if (++r->nlines > SMTP_LINES_MAX) {
		snprintf(why, whylen, "a reply of more than %d lines", SMTP_LINES_MAX);
		return -1;
	}
	r->lastlen = len > 4 ? len - 4 : 0;
	if (r->lastlen > 0)
		memcpy(r->last, line + 4, r->lastlen);
	r->last[r->lastlen] = '\0';

	/* The text: "250 a / b", the first line with its code. */
	if (tl + 4 < sizeof(r->text)) {
		if (r->nlines == 1) {
			memcpy(r->text, line, 3);
			tl = 3;
			if (len > 4) {
				r->text[tl++] = ' ';
				tl += txt_clean(r->text + tl, sizeof(r->text) - tl, line + 4,
						len - 4, TXT_ASCII);
			}
			r->text[tl] = '\0';
		} else if (len > 4) {
			memcpy(r->text + tl, " / ", 4);
			tl += 3;
			txt_clean(r->text + tl, sizeof(r->text) - tl, line + 4, len - 4,
				  TXT_ASCII);
		}
	}
	return len == 3 || line[3] == ' ';
}
