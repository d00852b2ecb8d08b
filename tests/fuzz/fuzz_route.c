/*
 * fuzz_route.c -- differential libFuzzer target: the single-transaction
 * proof (compiler/sema_proof.c) against routing at send time
 * (runtime/route.c).
 *
 * The input is not parsed: its bytes drive a generator that writes a small
 * configuration (main options, named lists, one or two smtp transports, one
 * to eight accept, manualroute and redirect routers with preconditions,
 * conditions, address_data, affixes, more/unseen, errors_to and header
 * changes, constant lists, 'begin aliases' tables and send-time data) and a
 * handful of recipients drawn from the same small vocabularies, so that the
 * routers' conditions go both ways.  The configuration is compiled in
 * process as noqc compiles it; a refusal ends the run (counted).  A policy
 * that compiles is encoded, loaded and decoded as noq does, then the
 * recipients are routed all together (twice: routing must be
 * deterministic) and each alone, and the program aborts, printing the
 * configuration, the recipients and the routing tree, when:
 *
 *  - route_all() fails other than for its documented limits (too many
 *    addresses, a routing loop);
 *  - the runtime tuple check trips (config_problem): an address was
 *    delivered by a route the proof did not establish;
 *  - a delivered address's route, worked out from what was generated (its
 *    router's or rule's transport, hosts, errors_to inherited from the
 *    redirecting ancestors, header changes, return_path), is not the
 *    policy's route.
 *
 * Built with libFuzzer (--enable-fuzzing).  With -DFUZZ_STANDALONE it has
 * its own main() (make tests/fuzz/fuzz_route_run, any compiler):
 *   fuzz_route_run FILE...        run each file as one input
 *   fuzz_route_run -r N [SEED]    run N inputs of random bytes
 * FUZZ_ROUTE_VERBOSE=1 prints every configuration and its routing;
 * FUZZ_ROUTE_STATS=1 prints how many compiled at exit (always in
 * standalone mode), with the most frequent reasons for refusals.
 *
 * FUZZ_ROUTE_AVOID=TAG,... leaves out a shape of configuration, so that
 * a campaign can go on past a finding while it is open.  The first
 * campaign's findings, all fixed since, had these tags:
 *   unseen-redirect  unseen on a redirect router with errors_to or header
 *                    changes whose data only blackholes: the unseen copy
 *                    inherited them and tripped the runtime tuple check;
 *   ndeliver         an unseen option that does not expand to a boolean
 *                    deferred an address already counted in ndeliver;
 *   escapes          a backslash in a constant condition ("n\o", "\x30",
 *                    "\N0\N") or list item ("\N!\Nx"): noqc read it as
 *                    text, noq expands it;
 *   list-fail        a list expanded at send time whose forced failure
 *                    means "not in the list", after a "*" item that noqc
 *                    took as matching everything.
 */
#include "config.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "model.h"
#include "policy.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ================================================================ input */

#define NEL(a) FZ_NEL(a)
#define ONE(in, a) ((a)[fz_pick((in), NEL(a))])

/*
 * Whether FUZZ_ROUTE_AVOID (comma-separated) names @what: a shape of
 * configuration the generator then leaves out, so that a campaign can go
 * on past a known finding.
 */
static bool avoid(const char *what)
{
	const char *e = getenv("FUZZ_ROUTE_AVOID");
	size_t l = strlen(what);

	for (const char *p = e; p != NULL && *p; p += strcspn(p, ",")) {
		p += *p == ',';
		if (strncmp(p, what, l) == 0 && (p[l] == ',' || p[l] == '\0'))
			return true;
	}
	return false;
}

/* ========================================================== vocabulary */

static const char *const v_doms[] = {
	"example.org", "mail.example.org", "a.example.com", "example.com",
	"b.example.net", "other.test",
};
static const char *const v_lps[] = {
	"alice", "bob", "root", "x", "1abc", "42", "team", "no",
};
static const char *const v_hosts[] = {
	"h1.example.net", "h2.example.net", "h1.example.net:h2.example.net",
};
/* Items of domain lists (also of dl0, dl1; never self-referring there). */
static const char *const v_dom_items[] = {
	"example.org", "EXAMPLE.com", "*.example.com", "*example.com", "^[ab]\\.",
	"\\N^a\\.\\N", "\\N^.*\\.net$\\N", "@", "*", "!other.test", "!*.example.com",
	"mail.example.org", "other.test", "+dl0", "!+dl0", "+dl1",
};
static const char *const v_lp_items[] = {
	"alice", "Bob", "^[0-9]", "\\N^\\d\\N", "^\\d", "*", "!root", "*-foo",
	"bob-foo", "+ll0", "!+ll0", "x", "^[A-Z]", "!^b", "no",
};
static const char *const v_conds[] = {
	"${if eq{$local_part}{bob}}",
	"${if eqi{$local_part}{BOB}}",
	"${if match{$local_part}{\\N^\\d\\N}}",
	"${if match{$local_part}{^[0-9]}}",
	"${if inlist{$domain}{example.org:example.com}}",
	"${if bool{yes}}",
	"${if bool{no}}",
	"${if !eq{$domain}{other.test}}",
	"${if eq{$local_part_suffix}{-foo}}",
	"${if def:local_part_prefix}",
	"${if eq{$address_data}{hit}}",
	"${if or{{eq{$local_part}{x}}{eq{$domain}{example.com}}}}",
	"${if match_domain{$domain}{+dl0}}",
	"$local_part",
	"${lc:$domain}",
	"yes", "no", "0", "1", "true", "false", "No", "",
};
static const char *const v_addr_data[] = {
	"${if eq{$local_part}{bob}{hit}fail}",
	"${if match{$domain}{^a}{hit}fail}",
	"${if eq{$local_part}{x}{}fail}",
	"hit",
	"${if eq{$local_part}{root}{hit}{miss}}",
};
static const char *const v_errors_to[] = {
	"postmaster@example.org", "errors@example.com",
};
static const char *const v_hadd[] = {
	"X-Routed: yes", "X-Other: 1",
};
static const char *const v_hrem[] = {
	"X-Secret", "Received",
};
static const char *const v_rt_data[] = {
	"${if eq{$local_part}{bob}{alice@example.org}{}}",
	"${if eq{$domain}{example.com}{$local_part@example.org}{}}",
	"$local_part@b.example.net",
	"${lc:$local_part}@example.org",
	"${if match{$local_part}{^[0-9]}{:fail: digits}{x@other.test}}",
	"${if eq{$local_part}{team}{alice, bob}fail}",
};
/*
 * Words that found bugs, each tagged with what FUZZ_ROUTE_AVOID calls it:
 * the generator takes one now and then unless avoided.
 */
struct tricky {
	const char *text;
	const char *tag;
};
static const struct tricky t_conds[] = {
	{ "n\\o", "escapes" }, { "\\x30", "escapes" }, { "\\N0\\N", "escapes" },
};
static const struct tricky t_dom_items[] = {
	{ "\\N!\\Nother.test", "escapes" }, { "\\N*\\N", "escapes" },
	{ "${if eq{$local_part}{bob}{}fail}", "list-fail" },
};
static const struct tricky t_lp_items[] = {
	{ "\\N!\\Nbob", "escapes" },
	{ "${if eq{$domain}{example.com}{}fail}", "list-fail" },
};
static const char *const v_suffix[] = { "-foo", "-*", "+*", "-foo" };
static const char *const v_prefix[] = { "owner-", "*-", "owner-" };

/* =============================================================== model */

enum { GK_ACCEPT, GK_MANUAL, GK_REDIRECT };

/* What was generated, for the expected route of a delivery. */
struct grule {
	char pat[64];
	char hosts[64];
	int transport;          /* -1: the router's */
};

struct grouter {
	char name[16];
	int kind;
	int transport;          /* -1: none */
	struct grule rules[3];
	int nrules;
	const char *errors_to, *hadd, *hrem;   /* NULL: unset */
};

struct gtrans {
	char name[16];
	const char *hosts;
	bool override;
	const char *hadd, *hrem, *return_path;
};

struct gen {
	struct fz_in in;
	FILE *f;                /* the configuration */
	char *conf;
	size_t conflen;
	struct grouter r[8];
	int nr;
	struct gtrans t[2];
	int nt;
	char *rcpt[10];
	size_t nrcpt;
	const char *sender;
	const char *qualify;    /* main qualify_domain, or NULL */
	const char *t0_hosts;   /* chosen before the routers */
};

/* A word of @v, or now and then one of @t (@nt) that is not avoided. */
static const char *word(struct gen *g, const char *const *v, size_t nv,
			const struct tricky *t, size_t nt)
{
	if (nt > 0 && fz_chance(&g->in, 6)) {
		const struct tricky *w = &t[fz_pick(&g->in, (unsigned)nt)];

		if (!avoid(w->tag))
			return w->text;
	}
	return v[fz_pick(&g->in, (unsigned)nv)];
}

/* A list of 1..@max items from @v or @t, joined with " : ". */
static void put_list(struct gen *g, const char *const *v, size_t nv, const struct tricky *t,
		     size_t nt, unsigned max, const char *skip_prefix)
{
	unsigned n = 1 + fz_pick(&g->in, max);

	for (unsigned k = 0; k < n; k++) {
		const char *it = word(g, v, nv, t, nt);

		if (skip_prefix != NULL && strstr(it, skip_prefix) != NULL)
			it = v[0];
		fprintf(g->f, "%s%s", k ? " : " : "", it);
	}
}

static void put_case(FILE *f, const char *s, unsigned how)
{
	for (size_t i = 0; s[i]; i++) {
		int c = (unsigned char)s[i];

		if (how == 2 || (how == 1 && i == 0))
			c = c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
		fputc(c, f);
	}
}

/* An address of the vocabulary, maybe with case changes and affixes. */
static void put_addr(struct gen *g, FILE *f, bool qualified)
{
	unsigned lc = fz_pick(&g->in, 6), dc = fz_pick(&g->in, 6);

	if (fz_chance(&g->in, 15))
		fputs("owner-", f);
	put_case(f, ONE(&g->in, v_lps), lc < 3 ? 0 : lc - 3);
	if (fz_chance(&g->in, 20))
		fputs(fz_chance(&g->in, 50) ? "-foo" : "+bar", f);
	if (qualified || fz_chance(&g->in, 75)) {
		fputc('@', f);
		put_case(f, ONE(&g->in, v_doms), dc < 4 ? 0 : dc - 3);
	}
}

/* A target list of a redirect router: addresses, or one :fail:, ... */
static void put_targets(struct gen *g, FILE *f)
{
	switch (fz_pick(&g->in, 8)) {
	case 1:
		fputs(":fail: gone away", f);
		return;
	case 2:
		fputs(":blackhole:", f);
		return;
	case 3:
		if (fz_chance(&g->in, 50)) {
			fputs(":defer: later", f);
			return;
		}
		fputs("\\", f);
		break;
	default:
		break;
	}
	unsigned n = 1 + fz_pick(&g->in, 3);

	for (unsigned k = 0; k < n; k++) {
		if (k)
			fputs(", ", f);
		put_addr(g, f, false);
	}
	if (fz_chance(&g->in, 5))
		fputs(", :fail: mixed", f);
}

static void gen_preconditions(struct gen *g, struct grouter *R, bool no_unseen)
{
	FILE *f = g->f;

	(void)R;
	if (fz_chance(&g->in, 30)) {
		fputs("  domains = ", f);
		put_list(g, v_dom_items, NEL(v_dom_items), t_dom_items, NEL(t_dom_items), 3,
			 NULL);
		fputc('\n', f);
	}
	if (fz_chance(&g->in, 30)) {
		fputs("  local_parts = ", f);
		put_list(g, v_lp_items, NEL(v_lp_items), t_lp_items, NEL(t_lp_items), 3, NULL);
		fputc('\n', f);
	}
	if (fz_chance(&g->in, 30))
		fprintf(f, "  condition = %s\n",
			word(g, v_conds, NEL(v_conds), t_conds, NEL(t_conds)));
	if (fz_chance(&g->in, 12))
		fprintf(f, "  address_data = %s\n", ONE(&g->in, v_addr_data));
	if (fz_chance(&g->in, 10))
		fprintf(f, "  local_part_suffix = %s\n%s", ONE(&g->in, v_suffix),
			fz_chance(&g->in, 50) ? "  local_part_suffix_optional\n" : "");
	if (fz_chance(&g->in, 8))
		fprintf(f, "  local_part_prefix = %s\n%s", ONE(&g->in, v_prefix),
			fz_chance(&g->in, 50) ? "  local_part_prefix_optional\n" : "");
	if (fz_chance(&g->in, 10))
		fputs("  caseful_local_part\n", f);
	if (fz_chance(&g->in, 6))
		fputs("  check_local_user\n", f);
	if (fz_chance(&g->in, 6))
		fprintf(f, "  senders = %s\n", fz_pick(&g->in, 2) ? "*@example.org" : ": *@other.test");
	if (fz_chance(&g->in, 10))
		fputs("  no_more\n", f);
	if (fz_chance(&g->in, 10) && !no_unseen)
		fprintf(f, "  unseen%s\n", !fz_chance(&g->in, 30) ? "" : fz_chance(&g->in, 80) ?
			" = ${if eq{$local_part}{bob}{yes}{no}}" : " = ${if eq{$local_part}{bob}}");
	if (fz_chance(&g->in, 5))
		fputs("  verify_only\n", f);
}

/* errors_to, headers_add, headers_remove: in the route's tuple. */
static void gen_tuple_opts(struct gen *g, struct grouter *R, unsigned pct)
{
	if (fz_chance(&g->in, pct)) {
		R->errors_to = ONE(&g->in, v_errors_to);
		fprintf(g->f, "  errors_to = %s\n", R->errors_to);
	}
	if (fz_chance(&g->in, pct)) {
		R->hadd = ONE(&g->in, v_hadd);
		fprintf(g->f, "  headers_add = %s\n", R->hadd);
	}
	if (fz_chance(&g->in, pct)) {
		R->hrem = ONE(&g->in, v_hrem);
		fprintf(g->f, "  headers_remove = %s\n", R->hrem);
	}
}

static int gen_transport_ref(struct gen *g)
{
	/* Mostly t0, so that two transports do not always clash. */
	return g->nt > 1 && fz_chance(&g->in, 25) ? 1 : 0;
}

static const char *const v_patterns[] = {
	"*", "example.org", "example.com", "*.example.com", "*example.com",
	"!other.test", "@", "b.example.net", "a.example.com",
};

/* Router @i; @terminal: an accept or manualroute router. */
static void gen_router(struct gen *g, int i, FILE *aliases, bool terminal)
{
	struct grouter *R = &g->r[i];
	FILE *f = g->f;
	unsigned k = fz_pick(&g->in, terminal ? 5 : 10);

	snprintf(R->name, sizeof(R->name), "r%d", i);
	R->transport = -1;
	R->kind = k < 3 ? GK_ACCEPT : k < 5 ? GK_MANUAL : GK_REDIRECT;
	fprintf(f, "%s:\n", R->name);
	switch (R->kind) {
	case GK_ACCEPT:
		fputs("  driver = accept\n", f);
		if (!fz_chance(&g->in, 1)) {
			R->transport = gen_transport_ref(g);
			fprintf(f, "  transport = t%d\n", R->transport);
		}
		gen_tuple_opts(g, R, 5);
		break;
	case GK_MANUAL:
		fputs("  driver = manualroute\n", f);
		R->nrules = 1 + (int)fz_pick(&g->in, fz_chance(&g->in, 30) ? 3 : 1);
		fputs("  route_list =", f);
		for (int n = 0; n < R->nrules; n++) {
			struct grule *ru = &R->rules[n];

			snprintf(ru->pat, sizeof(ru->pat), "%s",
				 n + 1 == R->nrules && fz_chance(&g->in, 50) ? "*"
				 : ONE(&g->in, v_patterns));
			snprintf(ru->hosts, sizeof(ru->hosts), "%s",
				 fz_chance(&g->in, 30) ? ONE(&g->in, v_hosts) : g->t0_hosts);
			ru->transport = fz_chance(&g->in, 10) ? gen_transport_ref(g) : -1;
			fprintf(f, "%s %s %s", n ? " ;" : "", ru->pat, ru->hosts);
			if (ru->transport >= 0)
				fprintf(f, " t%d", ru->transport);
		}
		fputc('\n', f);
		if (!fz_chance(&g->in, 2)) {
			R->transport = gen_transport_ref(g);
			fprintf(f, "  transport = t%d\n", R->transport);
		}
		gen_tuple_opts(g, R, 5);
		break;
	case GK_REDIRECT:
		fputs("  driver = redirect\n", f);
		switch (fz_pick(&g->in, 4)) {
		case 0:
		case 1:
			fputs("  data = ", f);
			put_targets(g, f);
			fputc('\n', f);
			break;
		case 2: {
			bool full = fz_chance(&g->in, 25);
			unsigned nk = 1 + fz_pick(&g->in, 4);

			fprintf(f, "  data = ${lookup{$local_part%s}lsearch{/nonexistent/%s}}\n",
				full ? "@$domain" : "", R->name);
			fprintf(aliases, "%s:\n", R->name);
			unsigned k0 = fz_pick(&g->in, NEL(v_lps));

			/* Distinct keys, mostly: a key twice is refused. */
			for (unsigned n = 0; n < nk; n++) {
				unsigned key = fz_chance(&g->in, 3) ? k0 : (k0 + n) % NEL(v_lps);

				fputs("  ", aliases);
				put_case(aliases, v_lps[key], fz_pick(&g->in, 4) == 3);
				if (full)
					fprintf(aliases, "@%s", ONE(&g->in, v_doms));
				fputs(": ", aliases);
				put_targets(g, aliases);
				fputc('\n', aliases);
			}
			break;
		}
		default:
			fprintf(f, "  data = %s\n", ONE(&g->in, v_rt_data));
			break;
		}
		if (!fz_chance(&g->in, 10))
			fputs("  allow_fail\n", f);
		if (!fz_chance(&g->in, 30))
			fputs("  allow_defer\n", f);
		if (fz_chance(&g->in, 10))
			fputs("  check_ancestor\n", f);
		if (fz_chance(&g->in, 10))
			fputs("  qualify_preserve_domain\n", f);
		else if (fz_chance(&g->in, 10))
			fputs("  qualify_domain = example.com\n", f);
		if (fz_chance(&g->in, 5))
			fputs("  forbid_blackhole\n", f);
		if (fz_chance(&g->in, 5))
			fputs("  no_repeat_use\n", f);
		if (fz_chance(&g->in, 10))
			fprintf(f, "  redirect_router = r%u\n", fz_pick(&g->in, (unsigned)g->nr));
		gen_tuple_opts(g, R, 4);
		break;
	}
	gen_preconditions(g, R, R->kind == GK_REDIRECT && avoid("unseen-redirect") &&
			  (R->errors_to || R->hadd || R->hrem));
}

static bool generate(struct gen *g)
{
	char *al = NULL;
	size_t allen = 0;
	FILE *aliases = open_memstream(&al, &allen);

	g->f = open_memstream(&g->conf, &g->conflen);
	if (g->f == NULL || aliases == NULL)
		abort();
	fputs("primary_hostname = mail.example.org\n", g->f);
	switch (fz_pick(&g->in, 3)) {
	case 0:
		g->qualify = "example.org";
		break;
	case 1:
		g->qualify = "example.com";
		break;
	default:
		g->qualify = NULL;
		break;
	}
	if (g->qualify != NULL)
		fprintf(g->f, "qualify_domain = %s\n", g->qualify);
	fputs("domainlist dl0 = ", g->f);
	put_list(g, v_dom_items, NEL(v_dom_items), t_dom_items, NEL(t_dom_items), 3, "dl");
	fputs("\ndomainlist dl1 = ", g->f);
	put_list(g, v_dom_items, NEL(v_dom_items), t_dom_items, NEL(t_dom_items), 2, "dl1");
	fputs("\nlocalpartlist ll0 = ", g->f);
	put_list(g, v_lp_items, NEL(v_lp_items), t_lp_items, NEL(t_lp_items), 3, "ll0");
	fputs("\n\nbegin routers\n", g->f);

	g->nt = 1 + (int)fz_chance(&g->in, 30);
	g->nr = 1 + (int)fz_pick(&g->in, 8);
	g->t0_hosts = ONE(&g->in, v_hosts);
	for (int i = 0; i < g->nr; i++)
		gen_router(g, i, aliases, i + 1 == g->nr && fz_chance(&g->in, 50));

	fputs("\nbegin transports\n", g->f);
	for (int i = 0; i < g->nt; i++) {
		struct gtrans *T = &g->t[i];

		snprintf(T->name, sizeof(T->name), "t%d", i);
		T->hosts = i == 0 || fz_chance(&g->in, 50) ? g->t0_hosts : ONE(&g->in, v_hosts);
		fprintf(g->f, "%s:\n  driver = smtp\n  hosts = %s\n", T->name, T->hosts);
		if (fz_chance(&g->in, 10)) {
			T->override = true;
			fputs("  hosts_override\n", g->f);
		}
		if (fz_chance(&g->in, 8)) {
			T->hadd = ONE(&g->in, v_hadd);
			fprintf(g->f, "  headers_add = %s\n", T->hadd);
		}
		if (fz_chance(&g->in, 8)) {
			T->hrem = ONE(&g->in, v_hrem);
			fprintf(g->f, "  headers_remove = %s\n", T->hrem);
		}
		if (fz_chance(&g->in, 8)) {
			T->return_path = "bounce@example.org";
			fprintf(g->f, "  return_path = %s\n", T->return_path);
		}
	}
	fclose(aliases);
	if (allen > 0)
		fprintf(g->f, "\nbegin aliases\n%s", al);
	free(al);
	fclose(g->f);
	g->f = NULL;

	static const char *const senders[] = { "sender@example.org", "", "x@other.test" };

	g->sender = ONE(&g->in, senders);
	g->nrcpt = 1 + fz_pick(&g->in, 10);
	for (size_t i = 0; i < g->nrcpt; i++) {
		size_t len = 0;
		FILE *f = open_memstream(&g->rcpt[i], &len);

		if (f == NULL)
			abort();
		put_addr(g, f, true);
		fclose(f);
	}
	return g->conf != NULL;
}

static void gen_free(struct gen *g)
{
	free(g->conf);
	for (size_t i = 0; i < g->nrcpt; i++)
		free(g->rcpt[i]);
}

/* ========================================================== statistics */

static struct {
	unsigned long runs, compiled, refused, routed;
	struct {
		char why[96];
		unsigned long n;
	} why[64];
	size_t nwhy;
} st;

/* Count the first error of a refusal by its words before any quote. */
static void count_refusal(const char *diags)
{
	const char *e = diags ? strstr(diags, "error: ") : NULL;
	char why[96];
	size_t n = 0;

	if (e == NULL) {
		snprintf(why, sizeof(why), "(no error message)");
	} else {
		char q = 0;

		for (e += 7; *e && *e != '\n' && n < sizeof(why) - 1; e++) {
			if (q != 0) {
				q = *e == q ? 0 : q;
			} else if (*e == '\'' || *e == '"') {
				q = *e;
				why[n++] = 'Q';
			} else {
				why[n++] = *e;
			}
		}
		why[n] = '\0';
	}
	for (size_t i = 0; i < st.nwhy; i++) {
		if (strcmp(st.why[i].why, why) == 0) {
			st.why[i].n++;
			return;
		}
	}
	if (st.nwhy < NEL(st.why)) {
		snprintf(st.why[st.nwhy].why, sizeof(st.why[0].why), "%s", why);
		st.why[st.nwhy++].n = 1;
	}
}

static void print_stats(void)
{
	fprintf(stderr, "fuzz_route: %lu inputs: %lu compiled (routed), %lu refused\n",
		st.runs, st.compiled, st.refused);
	for (size_t i = 0; i < st.nwhy; i++) {
		size_t best = i;

		for (size_t j = i + 1; j < st.nwhy; j++)
			if (st.why[j].n > st.why[best].n)
				best = j;
		if (best != i) {
			char t[sizeof(st.why[0])];

			memcpy(t, &st.why[i], sizeof(t));
			memcpy(&st.why[i], &st.why[best], sizeof(t));
			memcpy(&st.why[best], t, sizeof(t));
		}
		if (i < 15)
			fprintf(stderr, "  %8lu  %s\n", st.why[i].n, st.why[i].why);
	}
}

/* ============================================================ checking */

static const char *const st_names[] = {
	"deliver", "redirected", "blackhole", "duplicate", "fail", "defer",
};

/* The routing tree, one node a line (malloc'd). */
static char *dump(const struct route_result *res, const struct model *m)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (f == NULL)
		abort();
	fprintf(f, "ndeliver %zu, config_problem %d\n", res->ndeliver, res->config_problem);
	for (size_t i = 0; i < res->n; i++) {
		const struct route_node *v = &res->v[i];

		fprintf(f, "  %zu: %s %s %s", i, v->addr,
			(size_t)v->status < NEL(st_names) ? st_names[v->status] : "?",
			v->router >= 0 && (size_t)v->router < m->nrouters ?
			m->routers[v->router].name : "-");
		if (v->parent >= 0)
			fprintf(f, " <%ld", v->parent);
		if (v->local)
			fputs(" local", f);
		if (v->msg != NULL && v->msg[0] != '\0')
			fprintf(f, ": %s", v->msg);
		fputc('\n', f);
	}
	fclose(f);
	return out;
}

static void print_route(const struct model *m)
{
	const struct mdl_route *rt = &m->route;

	fprintf(stderr, "the policy's route: transport %s, hosts",
		rt->transport < m->ntransports ? m->transports[rt->transport].name : "?");
	for (size_t i = 0; i < rt->nhosts; i++)
		fprintf(stderr, "%s%s", i ? ":" : " ", rt->hosts[i].name);
	fprintf(stderr, ", return_path %s, errors_to %s, headers_add %s, headers_remove %s\n",
		rt->return_path ? rt->return_path : "unset",
		rt->errors_to ? rt->errors_to : "unset",
		rt->headers_add ? rt->headers_add : "unset",
		rt->headers_remove ? rt->headers_remove : "unset");
}

struct run {
	struct gen *g;
	const struct model *m;
};

static void fail(const struct run *R, const char *const *rcpts, size_t n,
		 const struct route_result *res, const char *f, ...)
	__attribute__((format(printf, 5, 6), noreturn));

static void fail(const struct run *R, const char *const *rcpts, size_t n,
		 const struct route_result *res, const char *f, ...)
{
	va_list ap;

	fprintf(stderr, "\n==== fuzz_route: ");
	va_start(ap, f);
	vfprintf(stderr, f, ap);
	va_end(ap);
	fprintf(stderr, "\n==== configuration:\n%s==== sender: <%s>; recipients:", R->g->conf,
		R->g->sender);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %s", rcpts[i]);
	fputc('\n', stderr);
	print_route(R->m);
	if (res != NULL) {
		char *d = dump(res, R->m);

		fprintf(stderr, "==== routing: %s", d);
		free(d);
	}
	abort();
}

static const struct grouter *grouter_named(const struct gen *g, const char *name)
{
	for (int i = 0; i < g->nr; i++)
		if (strcmp(g->r[i].name, name) == 0)
			return &g->r[i];
	return NULL;
}

/* Whether route_list pattern @p matches @dom (lower case); -1: unknown. */
static int pattern_match(const char *p, const char *dom)
{
	bool neg = p[0] == '!';
	int m;

	if (neg)
		p++;
	if (strcmp(p, "*") == 0) {
		m = 1;
	} else if (strcmp(p, "@") == 0) {
		m = strcasecmp(dom, "mail.example.org") == 0;
	} else if (p[0] == '*') {
		size_t pl = strlen(p + 1), dl = strlen(dom);

		m = dl >= pl && strcasecmp(dom + dl - pl, p + 1) == 0;
	} else if (strchr("^+\\", p[0]) == NULL) {
		m = strcasecmp(p, dom) == 0;
	} else {
		return -1;
	}
	return neg ? !m : m;
}

static bool str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static char *join(const char *a, const char *b, const char *sep)
{
	char *p = NULL;

	if (a == NULL && b == NULL)
		return NULL;
	if (asprintf(&p, "%s%s%s", a ? a : "", a && b ? sep : "", b ? b : "") < 0)
		abort();
	return p;
}

/* The model's host list is @want ("a:b"). */
static bool hosts_are(const struct mdl_route *rt, const char *want)
{
	size_t i = 0;

	for (const char *p = want; *p; i++) {
		size_t l = strcspn(p, ":");

		if (i >= rt->nhosts || strlen(rt->hosts[i].name) != l ||
		    strncasecmp(rt->hosts[i].name, p, l) != 0)
			return false;
		p += l;
		if (*p == ':')
			p++;
	}
	return i == rt->nhosts;
}

/* Node @i was delivered: its route, worked out from the generator's
   records, must be the policy's route. */
static void check_delivery(const struct run *R, const char *const *rcpts, size_t n,
			   const struct route_result *res, size_t i)
{
	const struct model *m = R->m;
	const struct route_node *v = &res->v[i];
	const struct mdl_route *rt = &m->route;

	if (v->router < 0 || (size_t)v->router >= m->nrouters)
		fail(R, rcpts, n, res, "node %zu delivered by no router", i);
	const struct grouter *G = grouter_named(R->g, m->routers[v->router].name);

	if (G == NULL || G->kind == GK_REDIRECT)
		fail(R, rcpts, n, res, "node %zu delivered by router %s, not a terminal one", i,
		     m->routers[v->router].name);

	/* The rule: the first whose pattern matches the domain. */
	const char *at = strrchr(v->addr, '@');
	const char *dom = at ? at + 1 : "";
	int tr = G->transport;
	const char *rhosts = NULL;
	bool known = true;

	if (G->kind == GK_MANUAL) {
		int k;

		for (k = 0; k < G->nrules; k++) {
			int pm = pattern_match(G->rules[k].pat, dom);

			if (pm < 0)
				known = false;
			if (pm != 0)
				break;
		}
		if (k == G->nrules)
			fail(R, rcpts, n, res, "node %zu delivered by %s, whose rules do not "
			     "match its domain", i, G->name);
		if (G->rules[k].transport >= 0)
			tr = G->rules[k].transport;
		rhosts = G->rules[k].hosts;
	}
	if (!known)
		return;
	if (tr < 0 || tr >= R->g->nt)
		fail(R, rcpts, n, res, "node %zu delivered by %s, which has no transport", i,
		     G->name);
	const struct gtrans *T = &R->g->t[tr];

	if (rt->transport >= m->ntransports ||
	    strcmp(m->transports[rt->transport].name, T->name) != 0)
		fail(R, rcpts, n, res, "node %zu delivered by %s through transport %s, not "
		     "the route's", i, G->name, T->name);
	const char *hosts = rhosts != NULL && !T->override ? rhosts : T->hosts;

	if (!hosts_are(rt, hosts))
		fail(R, rcpts, n, res, "node %zu delivered by %s to hosts %s, not the "
		     "route's", i, G->name, hosts);
	if (!str_same(T->return_path, rt->return_path))
		fail(R, rcpts, n, res, "node %zu: return_path %s, not the route's", i,
		     T->return_path ? T->return_path : "unset");

	/* errors_to: the router's, else the nearest redirecting ancestor's;
	   header changes of redirecting ancestors reach this delivery. */
	const char *et = G->errors_to;
	const char *ahadd = NULL, *ahrem = NULL;

	for (long q = (long)i, p = v->parent; p >= 0; q = p, p = res->v[p].parent) {
		const struct route_node *pv = &res->v[p];

		/* An unseen copy gets nothing from the router it was copied at
		   (Exim: the copy's errors_to is unset). */
		if (res->v[q].copy)
			continue;
		const struct grouter *P = pv->router >= 0 && (size_t)pv->router < m->nrouters
					  ? grouter_named(R->g, m->routers[pv->router].name)
					  : NULL;

		if (P == NULL || P->kind != GK_REDIRECT)
			continue;
		if (et == NULL)
			et = P->errors_to;
		if (ahadd == NULL)
			ahadd = P->hadd;
		if (ahrem == NULL)
			ahrem = P->hrem;
	}
	if (!str_same(et, rt->errors_to))
		fail(R, rcpts, n, res, "node %zu gets errors_to %s, not the route's", i,
		     et ? et : "unset");
	if (ahadd != NULL || ahrem != NULL)
		fail(R, rcpts, n, res, "node %zu gets the header changes of a redirect "
		     "router that generated it (%s%s%s)", i, ahadd ? ahadd : "",
		     ahadd && ahrem ? ", remove " : "", ahrem ? ahrem : "");
	char *ha = join(G->hadd, T->hadd, "\n"), *hr = join(G->hrem, T->hrem, ":");
	bool ok = str_same(ha, rt->headers_add) && str_same(hr, rt->headers_remove);

	free(ha);
	free(hr);
	if (!ok)
		fail(R, rcpts, n, res, "node %zu delivered by %s with other header changes "
		     "than the route's", i, G->name);
}

static const struct passwd *fake_getpw(const char *name, void *arg)
{
	static struct passwd pw[2];
	static char names[2][8] = { "alice", "root" };
	static char homes[2][32] = { "/nonexistent/alice", "/nonexistent/root" };

	(void)arg;
	for (size_t i = 0; i < 2; i++) {
		if (strcmp(name, names[i]) == 0) {
			pw[i].pw_name = names[i];
			pw[i].pw_dir = homes[i];
			pw[i].pw_uid = (uid_t)(1000 + i);
			pw[i].pw_gid = (gid_t)(1000 + i);
			return &pw[i];
		}
	}
	return NULL;
}

/* Route @rcpts; check everything; returns the dump (malloc'd) or NULL when
   route_all() stopped at a documented limit. */
static char *route_check(const struct run *R, const struct pol *pol, const char *const *rcpts,
			 size_t n)
{
	struct route_ctx c;
	struct route_result res = { 0 };
	char err[256];

	fz_route_ctx(&c, pol, R->m, R->g->sender, fake_getpw);
	if (route_all(&c, rcpts, n, &res, err, sizeof(err)) != 0) {
		route_result_free(&res);
		if (strncmp(err, "too many addresses", 18) == 0 ||
		    strncmp(err, "routing loop", 12) == 0)
			return NULL;
		fail(R, rcpts, n, NULL, "route_all failed: %s", err);
	}
	if (res.ntop != n)
		fail(R, rcpts, n, &res, "ntop %zu, not %zu", res.ntop, n);
	size_t nd = 0;

	for (size_t i = 0; i < res.n; i++) {
		if (res.v[i].status != RS_DELIVER)
			continue;
		nd++;
		check_delivery(R, rcpts, n, &res, i);
	}
	if (nd != res.ndeliver && !avoid("ndeliver"))
		fail(R, rcpts, n, &res, "ndeliver %zu, but %zu nodes delivered", res.ndeliver, nd);
	if (res.config_problem)
		fail(R, rcpts, n, &res, "the runtime tuple check tripped (config_problem): "
		     "the proof missed a route");
	char *d = dump(&res, R->m);

	route_result_free(&res);
	return d;
}

/* ============================================================== driver */

static bool verbose(void)
{
	static int v = -1;

	if (v < 0) {
		const char *e = getenv("FUZZ_ROUTE_VERBOSE");

		v = e != NULL && e[0] != '\0' && strcmp(e, "0") != 0;
	}
	return v != 0;
}

static void stats_at_exit(void)
{
	static bool once;

	if (once)
		return;
	once = true;
	{
		const char *e = getenv("FUZZ_ROUTE_STATS");

		if (e != NULL && e[0] != '\0' && strcmp(e, "0") != 0)
			atexit(print_stats);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gen g;
	char *diags = NULL;

	stats_at_exit();
	memset(&g, 0, sizeof(g));
	g.in = (struct fz_in){ data, size, 0 };
	if (!generate(&g))
		abort();
	st.runs++;

	struct model *cm = fz_compile(g.conf, &diags);

	if (cm == NULL) {
		st.refused++;
		count_refusal(diags);
		if (verbose())
			fprintf(stderr, "---- refused:\n%s%s", g.conf, diags ? diags : "");
		free(diags);
		gen_free(&g);
		return 0;
	}
	st.compiled++;
	free(diags);

	unsigned char *img = NULL;
	size_t len = 0;
	struct pol *pol = NULL;
	struct model *m = NULL;
	char err[POL_ERRLEN];
	struct run R = { &g, cm };
	const char *const *rcpts = (const char *const *)g.rcpt;

	if (pol_encode(cm, "fuzz_route", &img, &len, err) != 0 ||
	    pol_load(img, len, &pol, err) != 0 || pol_core_model(pol, &m, err) != 0)
		fail(&R, rcpts, g.nrcpt, NULL, "the compiled model does not load: %s", err);
	R.m = m;

	/* All together (as noq routes a message), twice, then each alone. */
	char *d1 = route_check(&R, pol, rcpts, g.nrcpt);
	char *d2 = route_check(&R, pol, rcpts, g.nrcpt);

	if ((d1 == NULL) != (d2 == NULL) || (d1 != NULL && strcmp(d1, d2) != 0)) {
		fprintf(stderr, "first routing:\n%s\nsecond routing:\n%s\n", d1 ? d1 : "(limit)",
			d2 ? d2 : "(limit)");
		fail(&R, rcpts, g.nrcpt, NULL, "routing is not deterministic");
	}
	if (verbose())
		fprintf(stderr, "---- compiled:\n%s---- sender <%s>, routing: %s", g.conf,
			g.sender, d1 ? d1 : "(limit)\n");
	for (size_t i = 0; i < g.nrcpt; i++)
		free(route_check(&R, pol, &rcpts[i], 1));
	free(d1);
	free(d2);

	model_free(m);
	pol_close(pol);
	free(img);
	model_free(cm);
	gen_free(&g);
	return 0;
}

#ifdef FUZZ_STANDALONE
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t buf[65536];
	size_t n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc >= 3 && strcmp(argv[1], "-r") == 0) {
		unsigned long n = strtoul(argv[2], NULL, 10);
		uint64_t x = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
		uint8_t buf[512];

		x = x ? x : 1;
		for (unsigned long k = 0; k < n; k++) {
			size_t len;

			/* xorshift64* */
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			len = (size_t)((x * 2685821657736338717ULL) >> 33) % sizeof(buf);
			for (size_t i = 0; i < len; i++) {
				x ^= x >> 12;
				x ^= x << 25;
				x ^= x >> 27;
				buf[i] = (uint8_t)((x * 2685821657736338717ULL) >> 56);
			}
			LLVMFuzzerTestOneInput(buf, len);
		}
	} else if (argc >= 2) {
		for (int i = 1; i < argc; i++)
			if (run_file(argv[i]) != 0)
				rc = 1;
	} else {
		fprintf(stderr, "usage: %s FILE... | -r N [SEED]\n", argv[0]);
		return 2;
	}
	print_stats();
	return rc;
}
#endif
