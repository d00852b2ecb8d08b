/*
 * xp_parse.c -- compile an expansion string into nodes (xp.h): Exim 4.96's
 * grammar (expand_string_internal, eval_condition, read_subs,
 * process_yesno), its error messages, and noq's refusals of what it does
 * not run, each at the construct's offset.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "re.h"
#include "xp_int.h"

/* ---- the tables --------------------------------------------------------- */

#define P_R XP_ROUTER
#define P_T (XP_TRANSPORT | XP_RECEIVED | XP_DKIM)
#define P_D XP_DKIM
#define P_H XP_RECEIVED
#define P_W XP_REWRITE
#define P_G XP_GLOBAL
#define P_ALL (P_R | P_T | P_G)

static const struct {
	const char *name;
	enum xp_var id;
	unsigned places;
} var_tab[] = {
	{ "address_data", XV_ADDRESS_DATA, P_R },
	{ "caller_gid", XV_CALLER_GID, P_R | P_T | P_G },
	{ "caller_uid", XV_CALLER_UID, P_R | P_T | P_G },
	{ "domain", XV_DOMAIN, P_R | P_W },
	{ "home", XV_HOME, P_R },
	{ "local_part", XV_LOCAL_PART, P_R | P_W },
	{ "local_part_prefix", XV_LOCAL_PART_PREFIX, P_R },
	{ "local_part_suffix", XV_LOCAL_PART_SUFFIX, P_R },
	{ "message_size", XV_MESSAGE_SIZE, P_R | P_T },
	{ "original_domain", XV_ORIGINAL_DOMAIN, P_R },
	{ "original_local_part", XV_ORIGINAL_LOCAL_PART, P_R },
	{ "originator_gid", XV_ORIGINATOR_GID, P_R | P_T | P_G },
	{ "originator_uid", XV_ORIGINATOR_UID, P_R | P_T | P_G },
	{ "primary_hostname", XV_PRIMARY_HOSTNAME, P_ALL },
	{ "qualify_domain", XV_QUALIFY_DOMAIN, P_ALL },
	{ "qualify_recipient", XV_QUALIFY_RECIPIENT, P_ALL },
	{ "sender_address", XV_SENDER_ADDRESS, P_R | P_T },
	{ "sender_address_domain", XV_SENDER_ADDRESS_DOMAIN, P_R | P_T },
	{ "sender_address_local_part", XV_SENDER_ADDRESS_LOCAL_PART, P_R | P_T },
	{ "tod_bsdinbox", XV_TOD_BSDINBOX, P_ALL },
	{ "tod_epoch", XV_TOD_EPOCH, P_ALL },
	{ "tod_epoch_l", XV_TOD_EPOCH_L, P_ALL },
	{ "tod_full", XV_TOD_FULL, P_ALL },
	{ "tod_log", XV_TOD_LOG, P_ALL },
	{ "tod_logfile", XV_TOD_LOGFILE, P_ALL },
	{ "tod_zone", XV_TOD_ZONE, P_ALL },
	{ "tod_zulu", XV_TOD_ZULU, P_ALL },
	{ "authenticated_id", XV_AUTHENTICATED_ID, P_H },
	{ "message_exim_id", XV_MESSAGE_EXIM_ID, P_H },
	{ "message_id", XV_MESSAGE_ID, P_H },
	{ "received_for", XV_RECEIVED_FOR, P_H },
	{ "received_protocol", XV_RECEIVED_PROTOCOL, P_H },
	{ "sender_helo_name", XV_SENDER_HELO_NAME, P_H },
	{ "sender_host_address", XV_SENDER_HOST_ADDRESS, P_H },
	{ "sender_host_name", XV_SENDER_HOST_NAME, P_H },
	{ "sender_ident", XV_SENDER_IDENT, P_H },
	{ "sender_rcvhost", XV_SENDER_RCVHOST, P_H },
	{ "tls_in_cipher", XV_TLS_IN_CIPHER, P_H },
	{ "tls_in_cipher_std", XV_TLS_IN_CIPHER_STD, P_H },
	{ "tls_in_ver", XV_TLS_IN_VER, P_H },
	{ "dkim_domain", XV_DKIM_DOMAIN, P_D },
	{ "dkim_selector", XV_DKIM_SELECTOR, P_D },
	{ "version_number", XV_VERSION_NUMBER, P_H },
};
#define NVARTAB (sizeof(var_tab) / sizeof(var_tab[0]))

const char *xp_var_name(enum xp_var v)
{
	for (size_t i = 0; i < NVARTAB; i++)
		if (var_tab[i].id == v)
			return var_tab[i].name;
	return "?";
}

/* Variables Exim has that noq does not set: refused by name, not as unknown. */
static const char *const exim_only_vars[] = {
	"address_file", "address_pipe", "authenticated_sender",
	"body_linecount", "body_zerocount", "compile_date", "compile_number",
	"config_dir", "config_file", "exim_gid", "exim_path", "exim_uid", "host",
	"host_address", "interface_address", "interface_port", "local_user_gid",
	"local_user_uid", "localhost_number", "message_body", "message_body_end",
	"message_body_size", "message_headers", "message_headers_raw",
	"message_linecount", "pid", "received_count",
	"recipients", "recipients_count", "reply_address", "return_path",
	"router_name", "self_hostname", "sender_fullname",
	"sender_host_authenticated",
	"sender_host_port", "smtp_command",
	"spool_directory", "tls_out_cipher", "transport_name",
	"value", "item", "domain_data", "local_part_data",
	"parent_domain", "parent_local_part", "runrc", "message_age",
	"h", "header", "acl_verify_message", "exim_version",
	/* Exim 4.96's other variables, those of the features noq does not
	   have (content scanning, SPF, DMARC, ARC, filters, ...) too. */
	"acl_arg1", "acl_arg2", "acl_arg3", "acl_arg4", "acl_arg5", "acl_arg6",
	"acl_arg7", "acl_arg8", "acl_arg9", "acl_narg", "arc_domains",
	"arc_oldest_pass", "arc_state", "arc_state_reason", "av_failed",
	"bmi_alt_location", "bmi_base64_tracker_verdict", "bmi_base64_verdict",
	"bmi_deliver", "bounce_recipient", "bounce_return_size_limit",
	"callout_address", "csa_status", "dcc_header", "dcc_result",
	"dmarc_domain_policy", "dmarc_status", "dmarc_status_text",
	"dmarc_used_domain", "dnslist_domain", "dnslist_matched", "dnslist_text",
	"dnslist_value", "event_data", "event_defer_errno", "event_name",
	"headers_added", "host_data", "host_lookup_deferred", "host_lookup_failed",
	"host_port", "initial_cwd", "inode", "ldap_dn", "load_average",
	"local_part_prefix_v", "local_part_suffix_v", "local_scan_data", "log_inodes",
	"log_space", "lookup_dnssec_authenticated", "mailstore_basename",
	"malware_name", "max_received_linelength", "message_smtputf8",
	"mime_anomaly_level", "mime_anomaly_text", "mime_boundary", "mime_charset",
	"mime_content_description", "mime_content_disposition", "mime_content_id",
	"mime_content_size", "mime_content_transfer_encoding", "mime_content_type",
	"mime_decoded_filename", "mime_filename", "mime_is_coverletter",
	"mime_is_multipart", "mime_is_rfc822", "mime_part_count", "n0", "n1", "n2",
	"n3", "n4", "n5", "n6", "n7", "n8", "n9", "prdr_requested",
	"proxy_external_address", "proxy_external_port", "proxy_local_address",
	"proxy_local_port", "proxy_session", "prvscheck_address", "prvscheck_keynum",
	"prvscheck_result", "queue_name", "queue_size", "rcpt_count",
	"rcpt_defer_count", "rcpt_fail_count", "received_for", "received_ip_address",
	"received_port", "received_time", "recipient_data", "recipient_verify_failure",
	"return_size_limit", "sender_address_data", "sender_data", "sender_fullhost",
	"sender_helo_dnssec", "sender_host_dnssec", "sender_rate", "sender_rate_limit",
	"sender_rate_period", "sender_verify_failure", "sending_ip_address",
	"sending_port", "smtp_active_hostname", "smtp_command_argument",
	"smtp_command_history", "smtp_count_at_connection_start",
	"smtp_notquit_reason", "sn0", "sn1", "sn2", "sn3", "sn4", "sn5", "sn6", "sn7",
	"sn8", "sn9", "spam_action", "spam_bar", "spam_report", "spam_score",
	"spam_score_int", "spf_guess", "spf_header_comment", "spf_received",
	"spf_result", "spf_result_guessed", "spf_smtp_comment", "spool_inodes",
	"spool_space", "srs_recipient", "thisaddress", "verify_mode",
	"warn_message_delay", "warn_message_recipient", "warn_message_recipients",
	"warnmsg_delay", "warnmsg_recipient", "warnmsg_recipients",
};

/* Exim's items noq does not run. */
static const char *const exim_items[] = {
	"acl", "authresults", "certextract", "dlfunc", "env", "filter", "hash", "hmac",
	"imapfolder", "listextract", "listquote", "map", "nhash", "perl", "prvs",
	"prvscheck", "readsocket", "reduce", "run", "sort", "srs_encode", "tr",
};

/* Exim's operators. */
static const char *const exim_ops_underscore[] = {
	"from_utf8", "local_part", "quote_local_part", "reverse_ip", "time_eval",
	"time_interval", "utf8_domain_from_alabel", "utf8_domain_to_alabel",
	"utf8_localpart_from_alabel", "utf8_localpart_to_alabel",
};
static const char *const exim_ops_main[] = {
	"address", "addresses", "base32", "base32d", "base62", "base62d", "base64",
	"base64d", "domain", "escape", "escape8bit", "eval", "eval10", "expand", "h",
	"hash", "hex2b64", "hexquote", "ipv6denorm", "ipv6norm", "l", "lc", "length",
	"listcount", "listnamed", "mask", "md5", "nh", "nhash", "quote", "randint",
	"rfc2047", "rfc2047d", "rxquote", "s", "sha1", "sha2", "sha256", "sha3", "stat",
	"str2b64", "strlen", "substr", "uc", "utf8clean",
};

static const struct {
	const char *name;
	enum xp_opcode op;
} op_tab[] = {
	{ "lc", XO_LC }, { "uc", XO_UC }, { "domain", XO_DOMAIN },
	{ "local_part", XO_LOCAL_PART }, { "address", XO_ADDRESS }, { "quote", XO_QUOTE },
	{ "quote_local_part", XO_QUOTE_LOCAL_PART }, { "strlen", XO_STRLEN },
	{ "length", XO_LENGTH }, { "l", XO_LENGTH }, { "substr", XO_SUBSTR },
	{ "s", XO_SUBSTR }, { "rxquote", XO_RXQUOTE },
};

static const struct {
	const char *name;
	enum xp_cond c;
} cond_tab[] = {
	{ "def", XC_DEF }, { "exists", XC_EXISTS }, { "isip", XC_ISIP },
	{ "isip4", XC_ISIP4 }, { "isip6", XC_ISIP6 }, { "bool", XC_BOOL },
	{ "bool_lax", XC_BOOL_LAX }, { "eq", XC_EQ }, { "eqi", XC_EQI }, { "lt", XC_LT },
	{ "lti", XC_LTI }, { "le", XC_LE }, { "lei", XC_LEI }, { "gt", XC_GT },
	{ "gti", XC_GTI }, { "ge", XC_GE }, { "gei", XC_GEI }, { "=", XC_NUM_EQ },
	{ "==", XC_NUM_EQ }, { "<", XC_NUM_LT }, { "<=", XC_NUM_LE }, { ">", XC_NUM_GT },
	{ ">=", XC_NUM_GE }, { "match", XC_MATCH }, { "match_address", XC_MATCH_ADDRESS },
	{ "match_domain", XC_MATCH_DOMAIN }, { "match_local_part", XC_MATCH_LOCAL_PART },
	{ "inlist", XC_INLIST }, { "inlisti", XC_INLISTI }, { "and", XC_AND },
	{ "or", XC_OR },
};

/* Exim's conditions noq does not evaluate. */
static const char *const exim_conds[] = {
	"acl", "crypteq", "first_delivery", "forall", "forall_json", "forall_jsons",
	"forany", "forany_json", "forany_jsons", "inbound_srs", "ldapauth", "match_ip",
	"pam", "pwcheck", "queue_running", "radius", "saslauthd",
};

static const struct {
	const char *name;
	int k;
} lookup_tab[] = {
	{ "lsearch", XK_LSEARCH }, { "wildlsearch", XK_WILDLSEARCH },
	{ "nwildlsearch", XK_NWILDLSEARCH }, { "iplsearch", XK_IPLSEARCH },
};

/* Exim's other lookup types. */
static const char *const exim_lookups[] = {
	"cdb", "dbm", "dbmjz", "dbmnz", "dnsdb", "dsearch", "ibase", "json", "ldap",
	"ldapdn", "ldapm", "lmdb", "mysql", "nis", "nis0", "nisplus", "oracle", "passwd",
	"pgsql", "redis", "sqlite", "spf", "testdb", "whoson",
};

static bool in_list(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

#define IN(v, s) in_list(v, sizeof(v) / sizeof(v[0]), s)

/* ---- the parser's state ------------------------------------------------- */

struct pst {
	const char *s;
	size_t i;
	unsigned place;
	const struct xp_hooks *h;
	struct xp *x;
	struct xp_err *e;
	int depth;
	bool malformed;         /* a header name took a '}' (Exim's malformed_header) */
};

static int cur(const struct pst *p)
{
	return (unsigned char)p->s[p->i];
}

static void skip_ws(struct pst *p)
{
	while (xp_is_space(cur(p)))
		p->i++;
}

/* Fail with the construct at [@pos, @pos + @len). */
static int fail_at(struct pst *p, size_t pos, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_at(struct pst *p, size_t pos, size_t len, const char *fmt, ...)
{
	va_list ap;

	p->e->pos = pos;
	p->e->len = len;
	p->e->forced = false;
	va_start(ap, fmt);
	vsnprintf(p->e->msg, sizeof(p->e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int oom(struct pst *p)
{
	p->e->pos = (size_t)-1;
	p->e->len = 0;
	p->e->forced = false;
	snprintf(p->e->msg, sizeof(p->e->msg), "out of memory");
	return -1;
}

/* A new node (zeroed, links XP_NONE) at source offset @pos; XP_NONE when
   out of memory. */
static uint32_t node(struct pst *p, enum xp_kind k, size_t pos)
{
	struct xp *x = p->x;

	if (x->nn == x->capn) {
		uint32_t c = x->capn ? x->capn * 2 : 16;
		struct xp_node *v = realloc(x->n, c * sizeof(*v));

		if (v == NULL || c > UINT32_MAX / 4)
			return XP_NONE;
		x->n = v;
		x->capn = c;
	}
	struct xp_node *n = &x->n[x->nn];

	memset(n, 0, sizeof(*n));
	n->kind = (uint8_t)k;
	n->a = n->b = n->c = n->d = n->next = XP_NONE;
	n->pos = (uint32_t)pos;
	return x->nn++;
}

/* Store @len bytes in the pool: their offset in *@off. */
static int pool_put(struct pst *p, const char *s, size_t len, uint32_t *off)
{
	struct xp *x = p->x;

	if (len > UINT32_MAX / 4 || x->npool + len + 1 > UINT32_MAX / 2)
		return oom(p);
	if (x->npool + len + 1 > x->cappool) {
		size_t c = x->cappool ? x->cappool : 64;

		while (c < x->npool + len + 1)
			c *= 2;

		char *v = realloc(x->pool, c);

		if (v == NULL)
			return oom(p);
		x->pool = v;
		x->cappool = (uint32_t)c;
	}
	memcpy(x->pool + x->npool, s, len);
	x->pool[x->npool + len] = '\0';
	*off = x->npool;
	x->npool += (uint32_t)len + 1;
	return 0;
}

/* A chain being built: its head and tail. */
struct chain {
	uint32_t head, tail;
};

static void chain_add(struct pst *p, struct chain *c, uint32_t n)
{
	if (c->head == XP_NONE)
		c->head = n;
	else
		p->x->n[c->tail].next = n;
	c->tail = n;
}

/* Append literal text to @c, merging with a TEXT node just before. */
static int add_text(struct pst *p, struct chain *c, const char *s, size_t len, size_t pos)
{
	struct xp *x = p->x;

	if (len == 0)
		return 0;
	if (c->tail != XP_NONE && x->n[c->tail].kind == XN_TEXT &&
	    x->n[c->tail].a + x->n[c->tail].b + 1 == x->npool) {
		/* Extend the last pool string in place, over its NUL. */
		uint32_t off;

		x->npool--;
		if (pool_put(p, s, len, &off) != 0)
			return -1;
		x->n[c->tail].b += (uint32_t)len;
		x->n[c->tail].len += (uint32_t)len;
		return 0;
	}

	uint32_t n = node(p, XN_TEXT, pos), off;

	if (n == XP_NONE)
		return oom(p);
	if (pool_put(p, s, len, &off) != 0)
		return -1;
	x->n[n].a = off;
	x->n[n].b = (uint32_t)len;
	x->n[n].len = (uint32_t)len;
	chain_add(p, c, n);
	return 0;
}

/* Exim's read_name(): letters, digits and @extra; the length. */
static size_t name_len(const struct pst *p, const char *extra)
{
	size_t k = p->i;

	while (p->s[k] != '\0' &&
	       (isalnum((unsigned char)p->s[k]) || strchr(extra, p->s[k]) != NULL))
		k++;
	return k - p->i;
}

/* ---- variables ---------------------------------------------------------- */

/* Exim's hint after "unknown variable" for a name starting "acl_". */
static const char *acl_hint(const char *nm)
{
	if (strncmp(nm, "acl_", 4) != 0)
		return "";
	if (nm[4] == 'c' || nm[4] == 'm')
		return isalpha((unsigned char)nm[5])
		       ? " (6th character of a user-defined ACL variable must be a digit or "
			 "underscore)"
		       : " (strict_acl_vars is set)";
	return " (user-defined ACL variables must start acl_c or acl_m)";
}

/* A variable Exim has and noq does not set. */
static bool exim_only(const char *nm)
{
	if (IN(exim_only_vars, nm))
		return true;
	if ((strncmp(nm, "acl_c", 5) == 0 || strncmp(nm, "acl_m", 5) == 0) &&
	    !isalpha((unsigned char)nm[5]))
		return true;
	return strncmp(nm, "r_", 2) == 0 || strncmp(nm, "auth", 4) == 0 ||
	       strncmp(nm, "tls_", 4) == 0 || strncmp(nm, "dkim_", 5) == 0 ||
	       strncmp(nm, "regex", 5) == 0;
}

/*
 * Variables noq sets for received_header_text only ($message_exim_id...)
 * are, anywhere else, what they were before: not supported.
 */
static bool received_only(size_t i, unsigned place)
{
	return var_tab[i].places == P_H && place != XP_RECEIVED;
}

static const char *place_words(unsigned place)
{
	if (place == 0)
		return "this place";
	if (place & XP_TRANSPORT)
		return "a transport's options (one transaction serves every recipient)";
	if (place & XP_REWRITE)
		return "a rewrite rule's replacement";
	if (place & XP_GLOBAL)
		return "main options";
	if (place & XP_RECEIVED)
		return "received_header_text";
	if (place & XP_DKIM)
		return "a transport's dkim_* options";
	return "a router's options";
}

/*
 * The variable @name (@len bytes at @pos, @braced for ${name}) as a node in
 * @c.  Exim's words for an unknown one.
 */
static int variable(struct pst *p, struct chain *c, const char *name, size_t len,
		    size_t pos, size_t clen, bool braced)
{
	char nm[64];

	if (len >= sizeof(nm))
		return fail_at(p, pos, clen, braced ? "unknown variable in \"${%.40s...}\""
			       : "unknown variable name \"%.40s...\"", name);
	memcpy(nm, name, len);
	nm[len] = '\0';
	if (strcmp(nm, "value") == 0) {
		uint32_t n = node(p, XN_VALUE, pos);

		if (n == XP_NONE)
			return oom(p);
		p->x->n[n].len = (uint32_t)clen;
		chain_add(p, c, n);
		return 0;
	}
	for (size_t i = 0; i < NVARTAB; i++) {
		if (strcmp(var_tab[i].name, nm) != 0)
			continue;
		if (received_only(i, p->place))
			return fail_at(p, pos, clen, "variable $%s is not supported by noq", nm);
		if ((var_tab[i].places & p->place) != p->place)
			return fail_at(p, pos, clen, "variable $%s is not available in %s",
				       nm, place_words(p->place));

		uint32_t n = node(p, XN_VAR, pos);

		if (n == XP_NONE)
			return oom(p);
		p->x->n[n].a = var_tab[i].id;
		p->x->n[n].len = (uint32_t)clen;
		chain_add(p, c, n);
		return 0;
	}
	if (exim_only(nm))
		return fail_at(p, pos, clen, "variable $%s is not supported by noq", nm);
	return fail_at(p, pos, clen, braced ? "unknown variable in \"${%s}\"%s"
		       : "unknown variable name \"%s\"%s", nm, acl_hint(nm));
}

/* Whether @name (@len bytes) starts a header variable; its flavour. */
static int header_prefix(const char *name, size_t len, size_t *plen)
{
	static const struct {
		const char *p;
		int f;
	} pre[] = {
		{ "h_", XH_DECODED }, { "header_", XH_DECODED }, { "rh_", XH_RAW },
		{ "rheader_", XH_RAW }, { "bh_", XH_BASIC }, { "bheader_", XH_BASIC },
		{ "lh_", XH_LIST }, { "lheader_", XH_LIST },
	};

	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t n = strlen(pre[i].p);

		if (len >= n && strncmp(name, pre[i].p, n) == 0) {
			*plen = n;
			return pre[i].f;
		}
	}
	return -1;
}

/*
 * A header name after its prefix, as Exim's read_header_name(): the name
 * so far (from @from, @len bytes) then printing characters up to ':',
 * which is taken.  Stores "name:" in the pool.
 */
static int header_name(struct pst *p, size_t from, uint32_t *off, uint32_t *nlen)
{
	size_t start = from;
	size_t k = p->i;

	while (isgraph((unsigned char)p->s[k]) && p->s[k] != ':')
		k++;

	size_t n = k - start;
	char *buf = malloc(n + 2);

	if (memchr(p->s + start, '}', n) != NULL)
		p->malformed = true;

	if (buf == NULL)
		return oom(p);
	memcpy(buf, p->s + start, n);
	buf[n] = ':';
	if (p->s[k] == ':')
		k++;
	p->i = k;

	int rc = pool_put(p, buf, n + 1, off);

	free(buf);
	*nlen = (uint32_t)(n + 1);
	return rc;
}

/* ---- strings ------------------------------------------------------------ */

static int parse_string(struct pst *p, bool ket_ends, uint32_t *head);
static int parse_cond(struct pst *p, uint32_t *out);
static unsigned escape(struct pst *p);

/*
 * One argument in braces at the cursor (which is on '{'): its chain in
 * *@head, the cursor after the '}'.
 */
static int brace_arg(struct pst *p, uint32_t *head, const char *missing_end)
{
	size_t open = p->i;

	p->i++;
	if (parse_string(p, true, head) != 0)
		return -1;
	if (cur(p) != '}')
		return fail_at(p, open, p->i - open, "%s", missing_end);
	p->i++;
	return 0;
}

/*
 * Exim's read_subs(): up to @n arguments in braces (at least @m), blanks
 * between; with @check_end the item's closing '}'.  Missing ones are
 * XP_NONE with *@got counting the present.
 */
static int read_subs(struct pst *p, uint32_t *sub, int n, int m, bool check_end,
		     const char *name, size_t item_pos, int *got, size_t *pos)
{
	*got = 0;
	skip_ws(p);
	for (int i = 0; i < n; i++) {
		sub[i] = XP_NONE;
		if (cur(p) != '{') {
			if (i < m)
				return fail_at(p, item_pos, p->i - item_pos,
					       "Not enough arguments for '%s' (min is %d)",
					       name, m);
			for (int j = i; j < n; j++)
				sub[j] = XP_NONE;
			break;
		}
		if (pos != NULL)
			pos[i] = p->i;
		if (brace_arg(p, &sub[i], "missing or misplaced { or }") != 0)
			return -1;
		(*got)++;
		skip_ws(p);
	}
	if (check_end) {
		if (cur(p) != '}') {
			if (cur(p) == '{')
				return fail_at(p, item_pos, p->i + 1 - item_pos,
					       "Too many arguments for '%s' (max is %d)",
					       name, n);
			return fail_at(p, item_pos, p->i - item_pos,
				       "missing '}' after '%s'", name);
		}
		p->i++;
	}
	return 0;
}

/*
 * Exim's process_yesno(): after a condition or lookup, "}" alone, or
 * "{yes}" then "}" or "{no}}" or "fail}".  The XN_YESNO node in *@out.
 */
static int yesno_(struct pst *p, const char *type, size_t item_pos, uint32_t *out);

static int yesno(struct pst *p, const char *type, size_t item_pos, uint32_t *out)
{
	if (yesno_(p, type, item_pos, out) == 0)
		return 0;
	if (p->malformed && p->e->pos != (size_t)-1)
		snprintf(p->e->msg, sizeof(p->e->msg), "missing or misplaced { or } - could be "
			 "header name not terminated by colon");
	return -1;
}

static int yesno_(struct pst *p, const char *type, size_t item_pos, uint32_t *out)
{
	uint32_t n = node(p, XN_YESNO, item_pos);
	uint32_t a = XP_NONE, b = XP_NONE;
	uint16_t flags = 0;

	if (n == XP_NONE)
		return oom(p);
	skip_ws(p);
	if (cur(p) == '}') {
		p->i++;
		*out = n;
		return 0;
	}
	if (cur(p) != '{')
		return fail_at(p, p->i, 1, "'yes' part did not start with '{'");
	if (brace_arg(p, &a, "'yes' part did not end with '}'") != 0)
		return -1;
	flags |= XF_YES;
	skip_ws(p);
	if (cur(p) == '{') {
		if (brace_arg(p, &b, "'no' part did not start with '{'") != 0)
			return -1;
		flags |= XF_NO;
	} else if (cur(p) != '}') {
		size_t at = p->i, l = name_len(p, "_");

		if (l == 4 && strncmp(p->s + at, "fail", 4) == 0) {
			p->i += 4;
			flags |= XF_FAIL;
			skip_ws(p);
			if (cur(p) != '}')
				return fail_at(p, at, p->i - at,
					       "did not close with '}' after forcedfail");
		} else {
			return fail_at(p, at, l ? l : 1, "syntax error in \"%s\" item - "
				       "\"fail\" expected", type);
		}
	}
	skip_ws(p);
	if (cur(p) != '}')
		return fail_at(p, item_pos, p->i - item_pos, "missing } at end of \"%s\" item",
			       type);
	p->i++;

	struct xp_node *y = &p->x->n[n];

	y->a = a;
	y->b = b;
	y->flags = flags;
	*out = n;
	return 0;
}

/* Whether chain @h is literal text only (or empty); its pool text. */
static bool chain_literal(const struct pst *p, uint32_t h, const char **t, size_t *len)
{
	if (h == XP_NONE) {
		*t = "";
		*len = 0;
		return true;
	}
	const struct xp_node *n = &p->x->n[h];

	if (n->kind != XN_TEXT || n->next != XP_NONE)
		return false;
	*t = p->x->pool + n->a;
	*len = n->b;
	return true;
}

/* Check a literal regular expression at compile time, as PCRE2 sees it. */
static int check_regex(struct pst *p, uint32_t h, size_t at)
{
	const char *t;
	size_t len, off;
	char msg[160];
	struct re *re;

	if (!chain_literal(p, h, &t, &len))
		return 0;
	if (re_compile(t, len, 0, &re, msg, sizeof(msg), &off) != 0) {
		if (off == (size_t)-1)
			return fail_at(p, at, 1, "%s", msg);
		return fail_at(p, at, 1, "regular expression error in \"%.*s\": %s at offset %zu",
			       (int)(len > 60 ? 60 : len), t, msg, off);
	}
	re_free(re);
	return 0;
}

/* ---- conditions --------------------------------------------------------- */

/* @t (@n bytes) without surrounding white space: its new length. */
static size_t bool_trim(const char **t, size_t n)
{
	while (n > 0 && xp_is_space((unsigned char)**t)) {
		(*t)++;
		n--;
	}
	while (n > 0 && xp_is_space((unsigned char)(*t)[n - 1]))
		n--;
	return n;
}

/* Whether ${if bool{}} takes @t (@n bytes): Exim's bool rule. */
static bool bool_word(const char *t, size_t n)
{
	n = bool_trim(&t, n);
	if (n == 0)
		return true;

	size_t k = t[0] == '-' ? 1 : 0;

	while (k < n && isdigit((unsigned char)t[k]))
		k++;
	if (k == n)
		return true;
	return (n == 4 && strncasecmp(t, "true", 4) == 0) || (n == 3 && strncasecmp(t, "yes", 3) == 0) ||
	       (n == 5 && strncasecmp(t, "false", 5) == 0) || (n == 2 && strncasecmp(t, "no", 2) == 0);
}

static int two_args(struct pst *p, const char *opname, uint32_t *a, uint32_t *b,
		    bool expand_second, size_t *second_pos)
{
	for (int i = 0; i < 2; i++) {
		skip_ws(p);
		if (cur(p) != '{') {
			if (i == 0)
				return fail_at(p, p->i, 1, "missing { after \"%s\"", opname);
			return fail_at(p, p->i, 1, "missing 2nd string in {} after \"%s\"",
				       opname);
		}
		if (i == 1 && !expand_second) {
			/* Exim does not expand a match_* list: '$' is
			   itself, escapes still count, '}' ends it. */
			size_t open = p->i++;
			struct sb t = SB_INIT;
			uint32_t off;

			while (cur(p) != '\0' && cur(p) != '}') {
				if (cur(p) == '\\' && p->s[p->i + 1] == '\0') {
					sb_free(&t);
					return fail_at(p, p->i, 1, "\\ at end of string");
				}
				if (cur(p) == '\\' && p->s[p->i + 1] == 'N') {
					const char *f = p->s + p->i + 2, *e = strstr(f, "\\N");
					size_t n = e ? (size_t)(e - f) : strlen(f);

					sb_put(&t, f, n);
					p->i += 2 + n + (e ? 2 : 0);
				} else if (cur(p) == '\\') {
					sb_putc(&t, (int)escape(p));
				} else {
					sb_putc(&t, cur(p));
					p->i++;
				}
			}
			if (t.err != 0) {
				sb_free(&t);
				return oom(p);
			}
			if (cur(p) != '}') {
				sb_free(&t);
				return fail_at(p, open, p->i - open,
					       "missing } at end of \"%s\" condition", opname);
			}
			p->i++;

			int rc = pool_put(p, sb_str(&t), t.len, &off);

			sb_free(&t);
			if (rc != 0)
				return -1;
			*b = off;
			*second_pos = open + 1;
			continue;
		}

		size_t open = p->i;
		uint32_t h;

		p->i++;
		if (parse_string(p, true, &h) != 0)
			return -1;
		if (cur(p) != '}')
			return fail_at(p, open, p->i - open,
				       "missing } at end of \"%s\" condition", opname);
		p->i++;
		if (i == 0)
			*a = h;
		else {
			*b = h;
			*second_pos = open;
		}
	}
	return 0;
}

static int parse_cond(struct pst *p, uint32_t *out)
{
	bool neg = false;
	char name[32];
	size_t at, l;

	if (++p->depth > XP_DEPTH_MAX)
		return fail_at(p, p->i, 1, "conditions nested deeper than %d", XP_DEPTH_MAX);
	for (;;) {
		skip_ws(p);
		if (cur(p) != '!')
			break;
		neg = !neg;
		p->i++;
	}
	at = p->i;
	if (cur(p) == '=' || cur(p) == '<' || cur(p) == '>') {
		l = p->s[at + 1] == '=' ? 2 : 1;
	} else {
		l = name_len(p, "_");
	}
	if (l == 0)
		return fail_at(p, at, 1, "condition name expected, but found \"%.16s\"", p->s + at);
	if (l >= sizeof(name))
		return fail_at(p, at, l, "unknown condition \"%.*s...\"", 20, p->s + at);
	memcpy(name, p->s + at, l);
	name[l] = '\0';
	p->i += l;

	int c = -1;

	for (size_t i = 0; i < sizeof(cond_tab) / sizeof(cond_tab[0]); i++)
		if (strcmp(cond_tab[i].name, name) == 0)
			c = cond_tab[i].c;
	if (c < 0) {
		if (IN(exim_conds, name))
			return fail_at(p, at, l, "condition \"%s\" is not supported by noq", name);
		return fail_at(p, at, l, "unknown condition \"%s\"", name);
	}

	uint32_t n = node(p, XN_COND, at);

	if (n == XP_NONE)
		return oom(p);
	p->x->n[n].op = (uint8_t)c;
	if (neg)
		p->x->n[n].flags |= XF_NEG;

	uint32_t a = XP_NONE, b = XP_NONE, cc = XP_NONE, d = XP_NONE;
	uint16_t flags = 0;
	size_t second = 0;

	switch (c) {
	case XC_DEF: {
		if (cur(p) != ':')
			return fail_at(p, at, p->i - at, "\":\" expected after \"def\"");
		p->i++;

		size_t vat = p->i, vl = name_len(p, "_"), plen;
		int fl = header_prefix(p->s + vat, vl, &plen);

		if (vl == 0)
			return fail_at(p, at, p->i - at, "variable name omitted after \"def:\"");
		if (fl >= 0) {
			uint32_t off, hl;

			if (p->place & XP_REWRITE)
				return fail_at(p, vat, vl, "headers are not available in %s",
					       place_words(p->place));
			p->i += vl;
			if (header_name(p, vat + plen, &off, &hl) != 0)
				return -1;
			a = off;
			b = hl;
			flags |= XF_B;
			break;
		}

		char vn[64];

		p->i += vl;
		if (vl >= sizeof(vn))
			return fail_at(p, vat, vl, "unknown variable after \"def:\"");
		memcpy(vn, p->s + vat, vl);
		vn[vl] = '\0';

		bool found = false;

		for (size_t i = 0; i < NVARTAB; i++) {
			if (strcmp(var_tab[i].name, vn) != 0)
				continue;
			if (received_only(i, p->place))
				return fail_at(p, vat, vl, "variable $%s is not supported by noq",
					       vn);
			if ((var_tab[i].places & p->place) != p->place)
				return fail_at(p, vat, vl, "variable $%s is not available in %s",
					       vn, place_words(p->place));
			cc = var_tab[i].id;
			found = true;
		}
		if (!found) {
			if (exim_only(vn))
				return fail_at(p, vat, vl, "variable $%s is not supported by noq",
					       vn);
			return fail_at(p, vat, vl, "unknown variable \"%s\" after \"def:\"%s", vn,
				       acl_hint(vn));
		}
		break;
	}
	case XC_EXISTS: case XC_ISIP: case XC_ISIP4: case XC_ISIP6: {
		skip_ws(p);
		if (cur(p) != '{')
			return fail_at(p, p->i, 1, "missing { after \"%s\"", name);

		size_t open = p->i;

		p->i++;
		if (parse_string(p, true, &a) != 0)
			return -1;
		if (cur(p) != '}')
			return fail_at(p, open, p->i - open, "missing } at end of \"%s\" condition",
				       name);
		p->i++;
		break;
	}
	case XC_BOOL: case XC_BOOL_LAX: {
		int got;
		size_t bp;
		const char *t;
		size_t tl;

		skip_ws(p);
		if (cur(p) != '{')
			return fail_at(p, p->i, 1, "missing { after \"%s\"", name);
		if (read_subs(p, &a, 1, 1, false, name, at, &got, &bp) != 0)
			return -1;
		/* Exim checks the value even where the branch is not taken:
		   noqc checks a fixed one now. */
		if (c == XC_BOOL && chain_literal(p, a, &t, &tl) && !bool_word(t, tl))
			return fail_at(p, bp, p->i - bp, "unrecognised boolean value \"%.*s\"",
				       (int)bool_trim(&t, tl), t);
		break;
	}
	case XC_AND: case XC_OR: {
		struct chain ch = { XP_NONE, XP_NONE };

		skip_ws(p);
		if (cur(p) != '{')
			return fail_at(p, p->i, 1, "missing { after \"%s\"", name);
		p->i++;
		for (;;) {
			skip_ws(p);
			if (cur(p) == '}')
				break;
			if (cur(p) != '{')
				return fail_at(p, p->i, 1, "each subcondition inside an \"%s{...}\" "
					       "condition must be in its own {}", name);
			p->i++;

			uint32_t sub;

			if (parse_cond(p, &sub) != 0) {
				size_t ml = strlen(p->e->msg);

				if (p->e->msg[0] != '\0')
					snprintf(p->e->msg + ml, sizeof(p->e->msg) - ml,
						 " inside \"%s{...}\" condition", name);
				return -1;
			}
			chain_add(p, &ch, sub);
			skip_ws(p);
			if (cur(p) != '}')
				return fail_at(p, p->i, 1, "missing } at end of condition inside "
					       "\"%s\" group", name);
			p->i++;
		}
		p->i++;
		a = ch.head;
		break;
	}
	default: {
		bool raw = c == XC_MATCH_ADDRESS || c == XC_MATCH_DOMAIN ||
			   c == XC_MATCH_LOCAL_PART;

		if (two_args(p, name, &a, &b, !raw, &second) != 0)
			return -1;
		if (raw) {
			/* b: the list's pool offset; c: its length. */
			cc = (uint32_t)strlen(p->x->pool + b);
			if (p->h != NULL && p->h->check_list != NULL) {
				char msg[200] = "";
				enum xp_list k = c == XC_MATCH_ADDRESS ? XL_ADDRESS
						 : c == XC_MATCH_DOMAIN ? XL_DOMAIN
						 : XL_LOCAL_PART;

				if (p->h->check_list(p->h->arg, k, p->x->pool + b, second, msg,
						     sizeof(msg)) != 0)
					return fail_at(p, second, cc ? cc : 1, "%s", msg);
			}
		} else if (c == XC_MATCH) {
			if (check_regex(p, b, second + 1) != 0)
				return -1;
		}
		break;
	}
	}

	struct xp_node *nd = &p->x->n[n];

	nd->a = a;
	nd->b = b;
	nd->c = cc;
	nd->d = d;
	nd->flags |= flags;
	nd->len = (uint32_t)(p->i - at);
	*out = n;
	p->depth--;
	return 0;
}

/* ---- items -------------------------------------------------------------- */

/* Whether the condition tree at @n holds a match_* condition. */
static bool has_list_match(const struct xp *x, uint32_t n)
{
	const struct xp_node *c = &x->n[n];

	if (c->op == XC_MATCH_ADDRESS || c->op == XC_MATCH_DOMAIN || c->op == XC_MATCH_LOCAL_PART)
		return true;
	if (c->op == XC_AND || c->op == XC_OR)
		for (uint32_t s = c->a; s != XP_NONE; s = x->n[s].next)
			if (has_list_match(x, s))
				return true;
	return false;
}

/* Whether nodes in [@from, nn) read $value or $n. */
static bool reads_match_vars(const struct xp *x, uint32_t from)
{
	for (uint32_t i = from; i < x->nn; i++)
		if (x->n[i].kind == XN_VALUE || x->n[i].kind == XN_NUM)
			return true;
	return false;
}

static int item_if(struct pst *p, size_t at, uint32_t *out)
{
	uint32_t n = node(p, XN_IF, at), cnd, yn;

	if (n == XP_NONE)
		return oom(p);
	skip_ws(p);
	if (parse_cond(p, &cnd) != 0)
		return -1;

	uint32_t strings = p->x->nn;

	if (yesno(p, "if", at, &yn) != 0)
		return -1;
	/* Exim sets $value and $0.. from the item of a match_* list that
	   matched; noq does not, so it refuses strings that read them. */
	if (has_list_match(p->x, cnd) && reads_match_vars(p->x, strings))
		return fail_at(p, at, p->i - at, "$value and $0.. after match_domain, "
			       "match_local_part or match_address are not supported by noq");
	p->x->n[n].a = cnd;
	p->x->n[n].d = yn;
	*out = n;
	return 0;
}

static int item_sg(struct pst *p, size_t at, uint32_t *out)
{
	uint32_t sub[3];
	size_t pos[3];
	int got;

	if (read_subs(p, sub, 3, 3, true, "sg", at, &got, pos) != 0)
		return -1;
	if (check_regex(p, sub[1], pos[1] + 1) != 0)
		return -1;

	/* Exim expands the replacement twice: once as an argument, then for
	   each match with $1.. set.  noq needs the first to give fixed text,
	   which it compiles as the second. */
	const char *t;
	size_t len;

	if (!chain_literal(p, sub[2], &t, &len))
		return fail_at(p, pos[2], p->i - 1 - pos[2], "a ${sg} replacement that is not "
			       "fixed text is not supported by noq (write \\$1 for a group)");

	char *copy = strndup(t, len);
	struct pst q = *p;
	uint32_t n, repl;

	if (copy == NULL)
		return oom(p);
	q.s = copy;
	q.i = 0;
	if (parse_string(&q, false, &repl) != 0) {
		free(copy);
		p->e->pos = pos[2];
		p->e->len = p->i - 1 - pos[2];
		return -1;
	}
	free(copy);
	if ((n = node(p, XN_SG, at)) == XP_NONE)
		return oom(p);
	p->x->n[n].a = sub[0];
	p->x->n[n].b = sub[1];
	p->x->n[n].c = repl;
	*out = n;
	return 0;
}

/*
 * ${extract} whose first argument expands: Exim decides at run time, from
 * its value, whether the extraction is numbered (two more arguments) or
 * keyed (one), then reads the yes/no strings.  Up to four groups and
 * "fail" are read here; the evaluator sorts them out.
 */
static int extract_dynamic(struct pst *p, size_t at, uint32_t key, uint32_t *out)
{
	uint32_t g[4] = { XP_NONE, XP_NONE, XP_NONE, XP_NONE };
	int ng = 0;
	uint16_t flags = 0, yflags = 0;

	skip_ws(p);
	while (cur(p) == '{' && ng < 4) {
		if (brace_arg(p, &g[ng], "missing or misplaced { or }") != 0)
			return -1;
		ng++;
		skip_ws(p);
	}
	if (strncmp(p->s + p->i, "fail", 4) == 0 && !isalnum((unsigned char)p->s[p->i + 4]) &&
	    p->s[p->i + 4] != '_') {
		p->i += 4;
		yflags |= XF_FAIL;
		skip_ws(p);
	}
	if (cur(p) != '}')
		return fail_at(p, at, p->i - at, "missing } at end of \"extract\" item");
	p->i++;

	uint32_t n = node(p, XN_EXTRACT, at), yn = node(p, XN_YESNO, at);

	if (n == XP_NONE || yn == XP_NONE)
		return oom(p);
	flags |= ng > 0 ? XF_B : 0;
	flags |= ng > 1 ? XF_C : 0;
	yflags |= ng > 2 ? XF_YES : 0;
	yflags |= ng > 3 ? XF_NO : 0;
	p->x->n[yn].a = g[2];
	p->x->n[yn].b = g[3];
	p->x->n[yn].flags = yflags;
	p->x->n[n].op = XE_DYNAMIC;
	p->x->n[n].flags = flags;
	p->x->n[n].a = key;
	p->x->n[n].b = g[0];
	p->x->n[n].c = g[1];
	p->x->n[n].d = yn;
	*out = n;
	return 0;
}

static int item_extract(struct pst *p, size_t at, uint32_t *out)
{
	uint32_t sub[3] = { XP_NONE, XP_NONE, XP_NONE }, yn;
	int nargs = 2;

	skip_ws(p);
	if (cur(p) != '{') {
		if (strncmp(p->s + p->i, "json", 4) == 0)
			return fail_at(p, p->i, 4, "${extract json} is not supported by noq");
	}
	for (int i = 0; i < nargs; i++) {
		skip_ws(p);
		if (cur(p) != '{')
			return fail_at(p, p->i, 1, "missing '{' for arg %d of extract", i + 1);

		char msg[48];

		snprintf(msg, sizeof(msg), "missing '}' closing arg %d of extract", i + 1);
		if (brace_arg(p, &sub[i], msg) != 0)
			return -1;
		if (i == 0) {
			const char *t;
			size_t len;

			if (!chain_literal(p, sub[0], &t, &len))
				return extract_dynamic(p, at, sub[0], out);
			while (len > 0 && xp_is_space((unsigned char)*t)) {
				t++;
				len--;
			}
			while (len > 0 && xp_is_space((unsigned char)t[len - 1]))
				len--;
			if (len == 0)
				return fail_at(p, at, p->i - at,
					       "first argument of \"extract\" must not be empty");

			size_t k = t[0] == '-' ? 1 : 0;

			while (k < len && isdigit((unsigned char)t[k]))
				k++;
			if (k == len && k - (t[0] == '-') > 9)
				return fail_at(p, at, p->i - at, "field number \"%.*s\" of ${extract} "
					       "is too large (noq refuses the numbers Exim would wrap "
					       "around)", (int)len, t);
			if (k == len)
				nargs = 3;
		}
	}

	uint32_t n = node(p, XN_EXTRACT, at);

	if (n == XP_NONE)
		return oom(p);
	p->x->n[n].op = nargs == 3 ? XE_NUMBERED : XE_KEYED;
	if (yesno(p, "extract", at, &yn) != 0)
		return -1;
	p->x->n[n].a = sub[0];
	p->x->n[n].b = sub[1];
	p->x->n[n].c = sub[2];
	p->x->n[n].d = yn;
	*out = n;
	return 0;
}

/* Whether strtol() reads all of @t (@n bytes) as a number in int range,
   not negative when @positive: Exim's check of ${substr} arguments. */
static bool int_word(const char *t, size_t n, bool positive)
{
	char buf[32], *end;
	long v;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, t, n);
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	return *end == '\0' && v <= 2147483647L && v >= (positive ? 0 : -2147483647L - 1);
}

static int item_substr(struct pst *p, size_t at, bool length, uint32_t *out)
{
	uint32_t sub[3];
	int got;
	const char *nm = length ? "length" : "substr";

	if (read_subs(p, sub, length ? 2 : 3, 2, true, nm, at, &got, NULL) != 0)
		return -1;

	/* Exim checks the numbers even where the branch is not taken:
	   noqc checks fixed ones now. */
	for (int i = 0; i < got - 1; i++) {
		const char *t;
		size_t tl;
		bool second = (length && got == 2) || i == 1;

		if (chain_literal(p, sub[i], &t, &tl) && !int_word(t, tl, second))
			return fail_at(p, at, p->i - at, "\"%.*s\" is not a%s number (in \"%s\" "
				       "expansion)", (int)tl, t, second ? " positive" : "", nm);
	}

	uint32_t n = node(p, XN_SUBSTR, at);

	if (n == XP_NONE)
		return oom(p);

	struct xp_node *nd = &p->x->n[n];

	nd->op = length ? XO_LENGTH : XO_SUBSTR;
	if (got == 2) {
		nd->c = sub[1];
		if (length)
			nd->b = sub[0];
		else
			nd->a = sub[0];
		nd->flags = length ? XF_B : 0;
	} else {
		nd->a = sub[0];
		nd->b = sub[1];
		nd->c = sub[2];
		nd->flags = XF_B;
	}
	*out = n;
	return 0;
}

static int item_readfile(struct pst *p, size_t at, uint32_t *out)
{
	uint32_t sub[2];
	int got;

	if (read_subs(p, sub, 2, 1, true, "readfile", at, &got, NULL) != 0)
		return -1;

	uint32_t n = node(p, XN_READFILE, at);

	if (n == XP_NONE)
		return oom(p);
	p->x->n[n].a = sub[0];
	p->x->n[n].b = sub[1];
	if (got == 2)
		p->x->n[n].flags = XF_B;
	*out = n;
	return 0;
}

/*
 * The entries of an lsearch file (@data, @len bytes) as Exim's lsearch
 * reads them, appended to @out as "key\0data\0" pairs in file order:
 * comment and blank lines skipped, a key quoted or up to a colon or white
 * space, the data after blanks and one optional colon, continuation lines
 * (leading white space) joined with one blank, trailing white space of
 * each line dropped.  For wildlsearch (@expand) a key is an expansion
 * string, which noq needs fixed.  0, or -1 with @msg.
 */
static int lsearch_entries(const char *data, size_t len, bool expand,
			   struct sb *out, char *msg, size_t msglen)
{
	size_t i = 0;
	bool open = false;      /* an entry's data is being collected */
	bool shut = false;      /* ... but takes no more continuation lines */

	if (memchr(data, '\0', len) != NULL) {
		snprintf(msg, msglen, "the file holds a NUL byte, which noq refuses in a "
			 "lookup file");
		return -1;
	}

	while (i < len) {
		size_t e = i;

		while (e < len && data[e] != '\n')
			e++;

		size_t l = e;

		while (l > i && xp_is_space((unsigned char)data[l - 1]))
			l--;

		const char *ln = data + i;
		size_t n = l - i;

		i = e + 1;
		if (n == 0 || ln[0] == '#') {
			/* Exim: after a blank or comment line, an entry takes no
			   more continuation lines. */
			shut = open;
			continue;
		}
		if (xp_is_space((unsigned char)ln[0])) {
			if (open && !shut) {
				size_t k = 0;

				while (k < n && xp_is_space((unsigned char)ln[k]))
					k++;
				sb_putc(out, ' ');
				sb_put(out, ln + k, n - k);
			}
			continue;
		}
		if (open)
			sb_putc(out, '\0');
		open = false;
		shut = false;

		struct sb key = SB_INIT;
		size_t k = 0;

		if (ln[0] == '"') {
			k = 1;
			while (k < n && ln[k] != '"') {
				if (ln[k] == '\\' && k + 1 < n) {
					unsigned v;

					k += xp_escape(ln + k, n - k, &v);
					sb_putc(&key, (int)v);
				} else {
					sb_putc(&key, ln[k++]);
				}
			}
			if (k < n)
				k++;
		} else {
			while (k < n && ln[k] != ':' && !xp_is_space((unsigned char)ln[k]))
				k++;
			sb_put(&key, ln, k);
		}
		if (key.err != SB_OK) {
			sb_free(&key);
			snprintf(msg, msglen, "out of memory");
			return -1;
		}
		if (expand && xp_expands(sb_str(&key))) {
			struct xp *kx;
			struct xp_err ke;
			const char *t;
			size_t tl;

			if (xp_compile(sb_str(&key), XP_GLOBAL, NULL, &kx, &ke) != 0) {
				snprintf(msg, msglen, "key \"%.60s\": %.100s", sb_str(&key), ke.msg);
				sb_free(&key);
				return -1;
			}
			if (!xp_is_literal(kx, &t, &tl)) {
				snprintf(msg, msglen, "key \"%.60s\" needs expanding at send time, "
					 "which noq does not do for lookup keys", sb_str(&key));
				xp_free(kx);
				sb_free(&key);
				return -1;
			}
			sb_put(out, t, tl);
			xp_free(kx);
		} else {
			sb_put(out, sb_str(&key), key.len);
		}
		sb_free(&key);
		sb_putc(out, '\0');
		while (k < n && xp_is_space((unsigned char)ln[k]))
			k++;
		if (k < n && ln[k] == ':') {
			k++;
			while (k < n && xp_is_space((unsigned char)ln[k]))
				k++;
		}
		sb_put(out, ln + k, n - k);
		open = true;
	}
	if (open)
		sb_putc(out, '\0');
	if (out->err != SB_OK) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	return 0;
}

/* The table whose entries qsort() is ordering (qsort has no argument). */
static const char *index_base;

static int key_order(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = strcasecmp(index_base + x, index_base + y);

	return c != 0 ? c : x < y ? -1 : x > y;
}

/* Append the binary-search index of an lsearch table (see xp_int.h). */
static int lsearch_index(struct sb *t)
{
	size_t n = 0, len = t->len;
	uint32_t *v;

	for (size_t i = 0; i < len; i++)
		n += t->p[i] == '\0';
	n /= 2;
	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL)
		return -1;
	for (size_t i = 0, k = 0; i < len && k < n; k++) {
		v[k] = (uint32_t)i;
		i += strlen(t->p + i) + 1;
		i += strlen(t->p + i) + 1;
	}
	index_base = t->p;
	qsort(v, n, sizeof(*v), key_order);
	for (size_t k = 0; k <= n; k++) {
		uint32_t x = k < n ? v[k] : (uint32_t)n;
		unsigned char b[4] = { (unsigned char)x, (unsigned char)(x >> 8),
				       (unsigned char)(x >> 16), (unsigned char)(x >> 24) };

		sb_put(t, b, 4);
	}
	free(v);
	return t->err == SB_OK ? 0 : -1;
}

static int item_lookup(struct pst *p, size_t at, uint32_t *out)
{
	uint32_t key = XP_NONE, file, yn;
	char type[32];
	size_t tat, tl;
	int k = -1;

	skip_ws(p);
	if (cur(p) == '{' && brace_arg(p, &key, "missing '}' after lookup key") != 0)
		return -1;
	skip_ws(p);
	if (!isalpha(cur(p)))
		return fail_at(p, p->i, 1, "missing lookup type");
	if (key == XP_NONE && p->s[p->i - 1] != '}')
		return fail_at(p, at, p->i - at, "noq supports only single-key lookups "
			       "(lsearch, wildlsearch, nwildlsearch, iplsearch)");
	tat = p->i;
	while (cur(p) != '\0' && cur(p) != '{' && !xp_is_space(cur(p)))
		p->i++;
	tl = p->i - tat;
	if (tl < sizeof(type)) {
		memcpy(type, p->s + tat, tl);
		type[tl] = '\0';
		for (size_t i = 0; i < sizeof(lookup_tab) / sizeof(lookup_tab[0]); i++)
			if (strcmp(lookup_tab[i].name, type) == 0)
				k = lookup_tab[i].k;
	}
	if (k < 0) {
		char base[32];
		size_t bl = strcspn(p->s + tat, "*,{ \t");

		if (strncmp(p->s + tat, "partial", 7) == 0)
			bl = 0;
		snprintf(base, sizeof(base), "%.*s", (int)(bl < 31 ? bl : 31), p->s + tat);
		if (bl == tl && !IN(exim_lookups, base))
			return fail_at(p, tat, tl, "unknown lookup type \"%.*s\"",
				       (int)(tl > 40 ? 40 : tl), p->s + tat);
		return fail_at(p, tat, tl, "lookup type \"%.*s\" is not supported by noq "
			       "(lsearch, wildlsearch, nwildlsearch, iplsearch are)",
			       (int)(tl > 40 ? 40 : tl), p->s + tat);
	}
	skip_ws(p);
	if (cur(p) != '{')
		return fail_at(p, p->i, 1, "missing '{' for lookup file-or-query arg");

	size_t fat = p->i;

	if (brace_arg(p, &file, "missing '}' closing lookup file-or-query arg") != 0)
		return -1;

	const char *path;
	size_t plen;

	size_t ffin = p->i;

	if (!chain_literal(p, file, &path, &plen) || plen == 0 || path[0] != '/')
		return fail_at(p, fat, p->i - fat, "the file of a lookup must be a fixed "
			       "absolute path in noq: noqc reads it into the policy");
	/* @path is in the pool, which the strings below may move. */
	char msg[200], *pathz = strndup(path, plen);
	size_t dlen = 0;
	uint32_t n;

	if (pathz == NULL)
		return oom(p);
	if ((n = node(p, XN_LOOKUP, at)) == XP_NONE) {
		free(pathz);
		return oom(p);
	}
	if (yesno(p, "lookup", at, &yn) != 0) {
		free(pathz);
		return -1;
	}
	if (p->h == NULL || p->h->read_file == NULL) {
		free(pathz);
		return fail_at(p, at, p->i - at, "noq cannot read a ${lookup} file in %s",
			       place_words(p->place));
	}

	/* The file's table: one the tables hold already, or read now and
	   added to them. */
	struct xp_tables *tabs = p->h->tables != NULL ? p->h->tables : &p->x->own;
	long ti = xp_tables_find(tabs, (unsigned)k, pathz);

	if (ti < 0) {
		char *data = p->h->read_file(p->h->arg, pathz, &dlen, msg, sizeof(msg));
		struct sb ent = SB_INIT;

		if (data == NULL) {
			free(pathz);
			return fail_at(p, fat, ffin - fat, "%s", msg);
		}
		if (lsearch_entries(data, dlen, k == XK_WILDLSEARCH, &ent, msg,
				    sizeof(msg)) != 0) {
			free(data);
			free(pathz);
			sb_free(&ent);
			return fail_at(p, fat, ffin - fat, "%s", msg);
		}
		free(data);
		if (k == XK_LSEARCH && lsearch_index(&ent) != 0) {
			free(pathz);
			sb_free(&ent);
			return oom(p);
		}
		dlen = ent.len;
		data = sb_take(&ent);
		if (data == NULL ||
		    (ti = xp_tables_add(tabs, (unsigned)k, pathz, data, dlen)) < 0) {
			free(data);
			free(pathz);
			return oom(p);
		}
	} else {
		free(pathz);
	}

	struct xp_node *nd = &p->x->n[n];

	nd->op = (uint8_t)k;
	nd->a = key;
	nd->b = (uint32_t)ti;
	nd->d = yn;
	*out = n;
	return 0;
}

/*
 * An operator ${name:string}, the cursor on ':'.  Exim's rule for names:
 * those with an underscore in the table first, then the part before the
 * first '_' with what follows as the arguments.
 */
static int item_op(struct pst *p, size_t at, const char *name, size_t nl, uint32_t *out)
{
	char nm[64], base[64], *arg = NULL;
	int op = -1;

	if (nl >= sizeof(nm))
		return fail_at(p, at, nl + 2, "unknown expansion operator \"%.40s...\"", name);
	memcpy(nm, name, nl);
	nm[nl] = '\0';
	memcpy(base, nm, nl + 1);
	if (!IN(exim_ops_underscore, nm) && (arg = strchr(base, '_')) != NULL)
		*arg++ = '\0';
	if (strcmp(base, "quote") == 0 && arg != NULL) {
		/* ${quote_TYPE:} quotes for a lookup type; lsearch and its kin
		   have no quoting, so the text is kept. */
		char *u = strchr(arg, '_');

		if (u != NULL)
			*u = '\0';
		for (size_t i = 0; i < sizeof(lookup_tab) / sizeof(lookup_tab[0]); i++)
			if (strcmp(lookup_tab[i].name, arg) == 0)
				goto quoted_ok;
		if (IN(exim_lookups, arg))
			return fail_at(p, at, nl + 2, "expansion operator ${%s:} is not supported "
				       "by noq", nm);
		return fail_at(p, at, nl + 2, "unknown lookup type \"%s\"", arg);
quoted_ok:
		op = XO_QUOTE_NONE;
	}
	for (size_t i = 0; op < 0 && i < sizeof(op_tab) / sizeof(op_tab[0]); i++)
		if (strcmp(op_tab[i].name, base) == 0)
			op = op_tab[i].op;
	if (op < 0) {
		if (IN(exim_ops_underscore, nm) || IN(exim_ops_main, base))
			return fail_at(p, at, nl + 2, "expansion operator ${%s:} is not "
				       "supported by noq", nm);
		return fail_at(p, at, nl + 2, "unknown expansion operator \"%s\"", nm);
	}

	long v1 = 0, v2 = -1;
	uint16_t flags = 0;

	if (op == XO_LENGTH || op == XO_SUBSTR) {
		if (arg == NULL)
			return fail_at(p, at, nl + 2, "missing values after %.*s", (int)nl, name);

		long *pn;
		int sign = 1;

		if (op == XO_LENGTH) {
			pn = &v2;
			v2 = 0;
		} else {
			pn = &v1;
			if (*arg == '-') {
				sign = -1;
				arg++;
			}
		}

		const char *r = arg;

		while (*arg != '\0') {
			if (arg != r && *arg == '_' && pn == &v1) {
				pn = &v2;
				v2 = 0;
				if (arg[1] != '\0')
					arg++;
			} else if (!isdigit((unsigned char)*arg)) {
				return fail_at(p, at, nl + 2, "non-digit after underscore in \"%.*s\"",
					       (int)nl, name);
			} else {
				if (*pn > 100000000L)
					return fail_at(p, at, nl + 2, "number too large in \"%.*s\"",
						       (int)nl, name);
				*pn = *pn * 10 + (*arg++ - '0');
			}
		}
		v1 *= sign;
		flags = XF_B | XF_C;
	} else if (arg != NULL) {
		/* Exim ignores arguments it does not use. */
	}

	uint32_t n = node(p, XN_OP, at), a;

	if (n == XP_NONE)
		return oom(p);
	p->i++;         /* ':' */
	if (parse_string(p, true, &a) != 0)
		return -1;
	if (cur(p) != '}')
		return fail_at(p, at, p->i - at, "missing '}' after '%.*s'", (int)nl, name);
	p->i++;

	struct xp_node *nd = &p->x->n[n];

	nd->op = (uint8_t)op;
	nd->a = a;
	nd->b = (uint32_t)(int32_t)v1;
	nd->c = (uint32_t)(int32_t)v2;
	nd->flags = flags;
	*out = n;
	return 0;
}

/*
 * $N, or with @braced ${N}: the digits at the cursor, as an XP_NUM node in
 * @c (the construct starts at @at).  Exim wraps big numbers around; noq
 * refuses them.
 */
static int num_var(struct pst *p, struct chain *c, size_t at, bool braced)
{
	size_t from = p->i;
	unsigned long v = 0;
	uint32_t n;

	while (isdigit(cur(p))) {
		if (v < 100000)
			v = v * 10 + (unsigned long)(cur(p) - '0');
		p->i++;
	}
	if (v >= 100000)
		return fail_at(p, at, p->i - at, "$%.*s: no such variable (noq refuses the "
			       "numbers Exim would wrap around)", (int)(p->i - from), p->s + from);
	if (braced) {
		if (cur(p) != '}')
			return fail_at(p, at, p->i - at, "} expected after number");
		p->i++;
	}
	if ((n = node(p, XN_NUM, at)) == XP_NONE)
		return oom(p);
	p->x->n[n].a = (uint32_t)v;
	p->x->n[n].len = (uint32_t)(p->i - at);
	chain_add(p, c, n);
	return 0;
}

/* "${" at @at, the cursor after it. */
static int dollar_brace(struct pst *p, struct chain *c, size_t at)
{
	if (isdigit(cur(p)))
		return num_var(p, c, at, true);
	if (!isalpha(cur(p)))
		return fail_at(p, at, p->i - at + 1, "letter or digit expected after ${");

	size_t nat = p->i, nl = name_len(p, "_-");
	const char *name = p->s + nat;
	uint32_t n = XP_NONE;
	int rc;

	p->i += nl;
#define IS(w) (nl == strlen(w) && strncmp(name, w, nl) == 0)
	if (IS("if"))
		rc = item_if(p, at, &n);
	else if (IS("sg"))
		rc = item_sg(p, at, &n);
	else if (IS("extract"))
		rc = item_extract(p, at, &n);
	else if (IS("substr"))
		rc = item_substr(p, at, false, &n);
	else if (IS("length"))
		rc = item_substr(p, at, true, &n);
	else if (IS("readfile"))
		rc = item_readfile(p, at, &n);
	else if (IS("lookup"))
		rc = item_lookup(p, at, &n);
	else if (cur(p) == ':')
		return item_op(p, at, name, nl, &n) != 0 ? -1 : (chain_add(p, c, n), 0);
	else if (cur(p) == '}') {
		p->i++;
		return variable(p, c, name, nl, at, p->i - at, true);
	} else {
		char nm[64];

		snprintf(nm, sizeof(nm), "%.*s", (int)(nl < 60 ? nl : 60), name);
		if (IN(exim_items, nm))
			return fail_at(p, at, nl + 2, "expansion item ${%s} is not supported by noq",
				       nm);
		return fail_at(p, at, nl + 2, "\"${%s\" is not a known operator (or a } is "
			       "missing in a variable reference)", nm);
	}
#undef IS
	if (rc != 0)
		return -1;
	p->x->n[n].len = (uint32_t)(p->i - at);
	chain_add(p, c, n);
	return 0;
}

/* An escape at the cursor ('\\', not last, not \\N): its byte. */
static unsigned escape(struct pst *p)
{
	unsigned v;

	p->i += xp_escape(p->s + p->i, SIZE_MAX, &v);   /* stops at the NUL */
	return v;
}

/* Exim's expand_string_internal(): a string up to the end, or with
   @ket_ends up to an unmatched '}' (the cursor is left on it). */
static int parse_string(struct pst *p, bool ket_ends, uint32_t *head)
{
	struct chain c = { XP_NONE, XP_NONE };
	size_t start = p->i;

	if (++p->depth > XP_DEPTH_MAX)
		return fail_at(p, p->i, 1, "expansions nested deeper than %d", XP_DEPTH_MAX);
	while (cur(p) != '\0') {
		size_t at = p->i;

		if (cur(p) == '\\') {
			if (p->s[at + 1] == '\0')
				return fail_at(p, at, 1, "\\ at end of string");
			if (p->s[at + 1] == 'N') {
				const char *from = p->s + at + 2, *end = strstr(from, "\\N");
				size_t n = end ? (size_t)(end - from) : strlen(from);

				if (add_text(p, &c, from, n, at) != 0)
					return -1;
				p->i = at + 2 + n + (end ? 2 : 0);
				continue;
			}

			unsigned v = escape(p);
			char ch = (char)v;

			if (v == 0)
				return fail_at(p, at, p->i - at, "'%.*s' would put a NUL byte in the "
					       "expansion", (int)(p->i - at), p->s + at);
			if (add_text(p, &c, &ch, 1, at) != 0)
				return -1;
			continue;
		}
		if (ket_ends && cur(p) == '}')
			break;
		if (cur(p) != '$') {
			size_t k = at + 1;

			while (p->s[k] != '\0' && p->s[k] != '$' && p->s[k] != '}' &&
			       p->s[k] != '\\')
				k++;
			if (add_text(p, &c, p->s + at, k - at, at) != 0)
				return -1;
			p->i = k;
			continue;
		}
		p->i++;
		if (isalpha(cur(p))) {
			size_t nat = p->i, nl = name_len(p, "_"), plen;
			int fl = header_prefix(p->s + nat, nl, &plen);

			p->i += nl;
			if (fl >= 0) {
				if (p->place & XP_REWRITE)
					return fail_at(p, at, p->i - at, "headers are not available "
						       "in %s", place_words(p->place));

				uint32_t n = node(p, XN_HDR, at), off, hl;

				if (n == XP_NONE)
					return oom(p);
				if (header_name(p, nat + plen, &off, &hl) != 0)
					return -1;
				p->x->n[n].op = (uint8_t)fl;
				p->x->n[n].a = off;
				p->x->n[n].b = hl;
				p->x->n[n].len = (uint32_t)(p->i - at);
				chain_add(p, &c, n);
				continue;
			}
			if (variable(p, &c, p->s + nat, nl, at, p->i - at, false) != 0)
				return -1;
			continue;
		}
		if (isdigit(cur(p))) {
			if (num_var(p, &c, at, false) != 0)
				return -1;
			continue;
		}
		if (cur(p) != '{')
			return fail_at(p, at, 1, "$ not followed by letter, digit, or {");
		p->i++;
		if (dollar_brace(p, &c, at) != 0)
			return -1;
	}
	if (ket_ends && cur(p) == '\0')
		return fail_at(p, start > 0 ? start - 1 : 0, 1, "missing } at end of string%s",
			       p->malformed ? " - could be header name not terminated by colon"
			       : "");
	*head = c.head;
	p->depth--;
	return 0;
}

/* ---- entry points ------------------------------------------------------- */

int xp_compile(const char *s, unsigned place, const struct xp_hooks *hooks,
	       struct xp **out, struct xp_err *e)
{
	struct xp *x = calloc(1, sizeof(*x));
	struct pst p = { .s = s, .place = place, .h = hooks, .x = x, .e = e };

	*out = NULL;
	memset(e, 0, sizeof(*e));
	if (x == NULL || (x->src = strdup(s)) == NULL) {
		xp_free(x);
		return oom(&p);
	}
	x->tab = hooks != NULL && hooks->tables != NULL ? hooks->tables : &x->own;
	if (parse_string(&p, false, &x->root) != 0) {
		xp_free(x);
		return -1;
	}
	*out = x;
	return 0;
}

bool xp_is_literal(const struct xp *x, const char **text, size_t *len)
{
	if (x->root == XP_NONE) {
		*text = "";
		*len = 0;
		return true;
	}

	const struct xp_node *n = &x->n[x->root];

	if (n->kind != XN_TEXT || n->next != XP_NONE)
		return false;
	*text = x->pool + n->a;
	*len = n->b;
	return true;
}

bool xp_uses_var(const struct xp *x, enum xp_var v)
{
	for (uint32_t i = 0; i < x->nn; i++) {
		const struct xp_node *n = &x->n[i];

		if (n->kind == XN_VAR && n->a == (uint32_t)v)
			return true;
		if (n->kind == XN_COND && n->op == XC_DEF && !(n->flags & XF_B) &&
		    n->c == (uint32_t)v)
			return true;
	}
	return false;
}

static long capture_ref(const struct xp *x, uint32_t h, unsigned above, size_t *pos,
			size_t *len, int depth)
{
	for (uint32_t i = h; i != XP_NONE && depth < 2 * XP_DEPTH_MAX; i = x->n[i].next) {
		const struct xp_node *n = &x->n[i];
		/* The strings to search, in order (the yes/no node's last). */
		uint32_t kids[5] = { XP_NONE, XP_NONE, XP_NONE, XP_NONE, XP_NONE };
		long r;

		switch (n->kind) {
		case XN_NUM:
			if (n->a > above) {
				*pos = n->pos;
				*len = n->len;
				return (long)n->a;
			}
			continue;
		case XN_OP:
			kids[0] = n->a;
			break;
		case XN_SUBSTR:
			kids[0] = n->a;
			kids[1] = n->b;
			kids[2] = n->c;
			break;
		case XN_READFILE:
		case XN_SG:             /* its replacement sets its own $n */
			kids[0] = n->a;
			kids[1] = n->b;
			break;
		case XN_EXTRACT:
			kids[0] = n->a;
			kids[1] = n->b;
			kids[2] = n->c;
			kids[3] = x->n[n->d].a;
			kids[4] = x->n[n->d].b;
			break;
		case XN_LOOKUP:
			kids[0] = n->a;
			kids[3] = x->n[n->d].a;
			kids[4] = x->n[n->d].b;
			break;
		case XN_IF:             /* its strings may see a match's $n */
			kids[0] = n->a;
			break;
		case XN_COND:
			if (n->op == XC_AND || n->op == XC_OR) {
				kids[0] = n->a;
			} else if (n->op == XC_MATCH_ADDRESS || n->op == XC_MATCH_DOMAIN ||
				   n->op == XC_MATCH_LOCAL_PART) {
				kids[0] = n->a;
			} else if (n->op != XC_DEF) {
				kids[0] = n->a;
				kids[1] = n->b;
			}
			break;
		default:
			continue;
		}
		for (int k = 0; k < 5; k++)
			if (kids[k] != XP_NONE &&
			    (r = capture_ref(x, kids[k], above, pos, len, depth + 1)) >= 0)
				return r;
	}
	return -1;
}

long xp_capture_ref(const struct xp *x, unsigned above, size_t *pos, size_t *len)
{
	return capture_ref(x, x->root, above, pos, len, 0);
}

const char *xp_source(const struct xp *x)
{
	return x->src;
}
