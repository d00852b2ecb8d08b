/*
 * parser.y -- the grammar of the configuration language.
 *
 * The language is line-oriented, so the grammar is a sequence of lines.
 * Actions only build nodes through the fe_* calls (compiler/frontend.c);
 * where a line may appear and what its names mean is judged there and in
 * compiler/check.c.  A bad line is skipped up to its end and parsing goes on.
 */
%code top {
#include "config.h"
}

%code requires {
#include <stdbool.h>
#include "frontend.h"
typedef void *yyscan_t;
/* A span starts at its first non-empty part: an empty opt_hide sits at the
   end of the previous token and would pull in the blanks before the name. */
#define YYLLOC_DEFAULT(Cur, Rhs, N) \
	do { \
		if (N) { \
			int yyfirst_ = 1; \
			while (yyfirst_ < (N) && YYRHSLOC(Rhs, yyfirst_).begin == \
						 YYRHSLOC(Rhs, yyfirst_).end) \
				yyfirst_++; \
			(Cur).begin = YYRHSLOC(Rhs, yyfirst_).begin; \
			(Cur).end = YYRHSLOC(Rhs, N).end; \
		} else { \
			(Cur).begin = (Cur).end = YYRHSLOC(Rhs, 0).end; \
		} \
	} while (0)
}

%code provides {
int yylex(YYSTYPE *yylval_param, YYLTYPE *yylloc_param, yyscan_t yyscanner);
}

%code {
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bison calls this only for "memory exhausted"; syntax errors go through
   yyreport_syntax_error below. */
static void yyerror(const YYLTYPE *l, yyscan_t scanner, struct fe_ctx *ctx,
		    const char *msg)
{
	(void)scanner;
	fe_syntax_error(ctx, l, msg);
}
}

%define api.pure full
%define api.location.type {struct fe_loc}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%lex-param {yyscan_t scanner}
%parse-param {yyscan_t scanner} {struct fe_ctx *ctx}

%union {
	char *str;
	bool flag;
	struct ast_option *opt;
	struct ast_rule *rule;
}

%token NL "end of line"
%token EQ "'='"
%token HIDE "'hide'"
%token <str> BEGIN_SEC "'begin' line"
%token <str> INSTANCE "driver instance name"
%token <str> LISTKIND "named list type"
%token <str> NAME "option name"
%token <str> VALUE "value"
%token <str> WORD "word"
%token <str> JUNK "text"

%type <flag> opt_hide
%type <opt> setting
%type <rule> words

%destructor { free($$); } <str>
%destructor { ast_option_free($$); } <opt>
%destructor { ast_rule_free($$); } <rule>

%%

config
	: %empty
	| config line
	;

line
	: NL
	| setting NL			{ fe_option(ctx, $1); }
	| INSTANCE NL			{ fe_instance(ctx, $1, &@1); }
	| INSTANCE setting NL		{ fe_instance(ctx, $1, &@1); fe_option(ctx, $2); }
	/* Keep the instance despite a bad setting after it, or each of its
	   options below would be reported as outside any instance. */
	| INSTANCE error NL		{ fe_instance(ctx, $1, &@1); yyerrok; }
	| BEGIN_SEC NL			{ fe_begin(ctx, $1, &@1); }
	/* The scanner has already switched to the new section's lines; follow
	   it, or every line of the section would be misread. */
	| BEGIN_SEC error NL		{ fe_begin(ctx, $1, &@1); yyerrok; }
	| words NL			{ fe_rule(ctx, $1, &@1); }
	| error NL			{ yyerrok; }
	;

opt_hide
	: %empty			{ $$ = false; }
	| HIDE				{ $$ = true; }
	;

setting
	: opt_hide NAME			{ $$ = fe_setting(ctx, $1, NULL, $2, &@2, NULL, NULL, &@$); }
	| opt_hide NAME EQ		{ $$ = fe_setting(ctx, $1, NULL, $2, &@2, strdup(""), &@3, &@$); }
	| opt_hide NAME EQ VALUE	{ $$ = fe_setting(ctx, $1, NULL, $2, &@2, $4, &@4, &@$); }
	| opt_hide LISTKIND NAME EQ	{ $$ = fe_setting(ctx, $1, $2, $3, &@3, strdup(""), &@4, &@$); }
	| opt_hide LISTKIND NAME EQ VALUE
					{ $$ = fe_setting(ctx, $1, $2, $3, &@3, $5, &@5, &@$); }
	;

words
	: WORD				{ $$ = fe_rule_word(ctx, NULL, $1, &@1); }
	| words WORD			{ $$ = fe_rule_word(ctx, $1, $2, &@2); }
	;

%%

/* A token's name from the grammar, without the quotes bison adds. */
static void symbol_text(yysymbol_kind_t k, char *buf, size_t size)
{
	const char *s = yysymbol_name(k);
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	snprintf(buf, size, "%.*s", (int)n, s);
}

static int yyreport_syntax_error(const yypcontext_t *yyctx, yyscan_t scanner,
				 struct fe_ctx *ctx)
{
	(void)scanner;
	enum { NEXP = 4 };
	yysymbol_kind_t exp[NEXP];
	int n = yypcontext_expected_tokens(yyctx, exp, NEXP);
	yysymbol_kind_t tok = yypcontext_token(yyctx);
	const YYLTYPE *l = yypcontext_location(yyctx);
	char msg[512], name[64];
	size_t len = 0;

	symbol_text(tok, name, sizeof(name));
	if (tok == YYSYMBOL_YYEOF) {
		len = (size_t)snprintf(msg, sizeof(msg), "unexpected end of file");
	} else if (tok == YYSYMBOL_NL || tok == YYSYMBOL_EQ || tok == YYSYMBOL_HIDE ||
		   l->end <= l->begin || l->end > ctx->textlen) {
		len = (size_t)snprintf(msg, sizeof(msg), "unexpected %s", name);
	} else {
		size_t tl = l->end - l->begin;
		len = (size_t)snprintf(msg, sizeof(msg), "unexpected %s '%.*s%s'", name,
				       (int)(tl > 40 ? 40 : tl), ctx->text + l->begin,
				       tl > 40 ? "..." : "");
	}
	if (n > 0 && n <= NEXP) {
		for (int i = 0; i < n && len < sizeof(msg); i++) {
			symbol_text(exp[i], name, sizeof(name));
			len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s",
						i == 0 ? ", expected " :
						i == n - 1 ? " or " : ", ", name);
		}
	} else if (n == 0 && yypcontext_expected_tokens(yyctx, NULL, 0) > NEXP &&
		   len < sizeof(msg)) {
		/* Too many tokens to list: that is the start of a line. */
		snprintf(msg + len, sizeof(msg) - len, ", expected an option setting, "
			 "a driver instance 'name:' or a 'begin' line");
	}
	fe_syntax_error(ctx, l, msg);
	return 0;
}
