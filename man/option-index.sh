#!/bin/sh
# option-index.sh -- the OPTION INDEX section of noq.conf(5), in roff, from
# "noqc --list-options" on standard input (scope, name, type, state and
# reason, separated by tabs).  "make option-index" puts its output between
# the markers in man/noq.conf.5; tests/options.sh checks that they agree.
awk -F '\t' '
function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	return s
}
function heading(scope,   k, d) {
	k = scope; d = ""
	if (index(scope, " ")) {
		k = substr(scope, 1, index(scope, " ") - 1)
		d = substr(scope, index(scope, " ") + 1)
	}
	if (k == "main")
		return "The main section"
	if (d == "")
		return "Generic options of " k "s"
	return "The " d " " k
}
$1 != last {
	printf ".SS \"%s\"\n", heading($1)
	last = $1
	first = 1
}
{
	if (!first)
		print ".br"
	first = 0
	line = "\\fB" esc($2) "\\fR \\(em " $4
	if ($5 != "")
		line = line ": " esc($5)
	print line
}'
