/*
 * ml.c -- the items of Exim's matching lists, classified once (ml.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ml.h"

static bool blank(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void bad(struct ml_item *it, const char *why)
{
	it->kind = MLI_BAD;
	it->text = why;
}

#define WHY_LOCAL "it needs the local host's addresses or the DNS, which noq does not consult"
/* Lookups are compiled into the policy for domain and local-part lists only. */
#define WHY_LOOKUP "a lookup; noq looks up files only in domain and local-part lists"
/* Exim reads an item that starts with '/', in every kind of list, as a file
   of more items, one a line. */
#define WHY_FILE "a file of list items, which noq does not read (Exim reads each line as an item)"

/* A domain item (@domain) or a local-part item @t: no '!' or '+'. */
static void plain(char *t, bool domain, struct ml_item *it)
{
	if (strcmp(t, "*") == 0) {
		it->kind = MLI_ANY;
	} else if (domain && strcmp(t, "@") == 0) {
		it->kind = MLI_HOSTNAME;
	} else if (t[0] == '^') {
		it->kind = MLI_REGEX;
		it->text = t;
	} else if (strchr(t, ';') != NULL) {
		it->kind = MLI_LOOKUP;
		it->text = t;
	} else if (domain && t[0] == '@') {
		bad(it, WHY_LOCAL);
	} else if (t[0] == '*') {
		it->kind = MLI_SUFFIX;
		it->text = t + 1;
	} else {
		it->kind = MLI_EXACT;
		it->text = t;
	}
}

/* Exim's check_address() order: regex, lookup, <>, then the domain. */
static void address(char *t, struct ml_item *it)
{
	if (t[0] == '^') {
		it->kind = MLI_REGEX;
		it->text = t;
	} else if (strchr(t, ';') != NULL) {
		bad(it, WHY_LOOKUP);
	} else if (t[0] == '\0') {
		it->kind = MLI_EXACT;
		it->text = t;
	} else if (strcmp(t, "*") == 0) {
		it->kind = MLI_ANY;
	} else if (strcmp(t, "@") == 0) {
		it->kind = MLI_HOSTNAME;
	} else if (t[0] == '@' && (t[1] == '@' || t[1] == '[' || strncmp(t, "@mx_", 4) == 0)) {
		bad(it, WHY_LOCAL);
	} else {
		char *at = strrchr(t, '@');
		struct ml_item d = { 0 };

		it->kind = MLI_ADDR;
		it->text = "";
		if (at == NULL) {
			plain(t, true, &d);
		} else {
			*at = '\0';
			if (t[0] == '*') {
				it->flags |= MLF_WILD;
				it->text = t + 1;
			} else {
				it->text = t;
			}
			if (at[1] == '\0')
				bad(&d, "an address pattern without a domain");
			else
				plain(at + 1, true, &d);
		}
		it->dkind = d.kind;
		it->aux = d.text;
	}
}

static bool ip_literal(const char *t)
{
	unsigned char a[16];

	return inet_pton(AF_INET, t, a) == 1 || inet_pton(AF_INET6, t, a) == 1;
}

/* "ADDRESS/BITS" with a prefix length the family allows. */
static bool ip_net(char *t, struct ml_item *it)
{
	char *slash = strchr(t, '/'), *end;
	unsigned char a[16];
	unsigned long bits;
	int max;

	if (slash == NULL || slash[1] < '0' || slash[1] > '9')
		return false;
	*slash = '\0';
	max = inet_pton(AF_INET, t, a) == 1 ? 32 : inet_pton(AF_INET6, t, a) == 1 ? 128 : -1;
	bits = strtoul(slash + 1, &end, 10);
	if (max < 0 || *end != '\0' || bits > (unsigned long)max) {
		*slash = '/';
		return false;
	}
	it->kind = MLI_NET;
	it->text = t;
	it->num = (uint32_t)bits;
	return true;
}

static void host(char *t, struct ml_item *it)
{
	if (strcmp(t, "*") == 0) {
		it->kind = MLI_ANY;
	} else if (t[0] == '^') {
		it->kind = MLI_REGEX;
		it->text = t;
	} else if (strchr(t, ';') != NULL) {
		bad(it, WHY_LOOKUP);
	} else if (t[0] == '@') {
		bad(it, "it names the local host, whose names and addresses noq does not "
		    "consult");
	} else if (ip_literal(t)) {
		it->kind = MLI_IP;
		it->text = t;
	} else if (ip_net(t, it)) {
		/* set */
	} else if (strchr(t, '/') != NULL) {
		bad(it, "not an IP address and prefix length");
	} else if (t[0] == '*') {
		it->kind = MLI_SUFFIX;
		it->text = t + 1;
	} else {
		it->kind = MLI_EXACT;
		it->text = t;
	}
}

void ml_classify(enum ml_kind k, char *t, struct ml_item *it)
{
	memset(it, 0, sizeof(*it));
	while (*t == '!') {
		it->flags ^= MLF_NEG;
		t++;
		while (blank((unsigned char)*t))
			t++;
	}
	if (t[0] == '/' && k != ML_ROUTE && k != ML_STRINGS) {
		bad(it, WHY_FILE);
		return;
	}
	if (t[0] == '+' && t[1] != '\0') {
		const char *w = t + 1;

		if (k == ML_ADDRESS && strcmp(w, "caseful") == 0) {
			it->kind = MLI_CASEFUL;
		} else if (k == ML_HOST && (strcmp(w, "include_unknown") == 0 ||
					    strcmp(w, "ignore_unknown") == 0 ||
					    strcmp(w, "include_defer") == 0 ||
					    strcmp(w, "ignore_defer") == 0)) {
			it->kind = MLI_NOP;
		} else {
			it->kind = MLI_NAMED;
			it->text = w;
		}
		return;
	}
	switch (k) {
	case ML_DOMAIN:
	case ML_LOCAL_PART:
		plain(t, k == ML_DOMAIN, it);
		break;
	case ML_ADDRESS:
		address(t, it);
		break;
	case ML_HOST:
		host(t, it);
		break;
	case ML_ROUTE:
	case ML_STRINGS:
		bad(it, "not a matching list");
		break;
	}
}

const char *ml_kind_name(enum ml_kind k)
{
	switch (k) {
	case ML_DOMAIN:
		return "domain";
	case ML_LOCAL_PART:
		return "local part";
	case ML_ADDRESS:
		return "address";
	case ML_HOST:
		return "host";
	case ML_ROUTE:
		return "route";
	case ML_STRINGS:
		return "string";
	}
	return "?";
}
