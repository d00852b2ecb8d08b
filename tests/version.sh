#!/bin/sh
# version.sh -- one version, from configure.ac, everywhere it is shown.
#
# noq --version, noq -bV, noqc --version, the compiler version a policy
# records, the top entry of debian/changelog (a native package: the
# version itself) and the latest release in NEWS must all say the
# PACKAGE_VERSION that configure took from AC_INIT.  Run by "make check"
# with NOQ, NOQC, top_srcdir and PACKAGE_VERSION set.

[ -n "${top_srcdir:-}" ] || top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
. "$top_srcdir/tests/report.sh"

v=${PACKAGE_VERSION:-}
if [ -z "$v" ]; then
	echo "$0: set PACKAGE_VERSION (make check does)" >&2
	exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-version.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# is NAME GOT WANT
is() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', expected '$3'"; fi
}

is "noq --version" "$("$NOQ" --version 2>/dev/null | sed -n 1p)" \
	"noq $v (sendmail-compatible submitter: no queue, no daemon)"
is "noqc --version" "$("$NOQC" --version 2>&1)" "noqc (noq) $v"
printf 'begin routers\nr:\n  driver = manualroute\n  route_list = * h.example\n  transport = t\nbegin transports\nt:\n  driver = smtp\n' \
	>"$tmp/v.conf"
"$NOQC" -o "$tmp/v.policy" "$tmp/v.conf" || exit 99
is "noq -bV: the compiler the policy records" \
	"$("$NOQ" -C "$tmp/v.policy" -bV | sed -n 2p)" "policy $tmp/v.policy, compiled by noqc $v"
is "debian/changelog" "$(sed -n '1s/^noq (\([^)]*\)).*/\1/p' "$top_srcdir/debian/changelog")" "$v"
is "NEWS: the latest release" \
	"$(sed -n 's/^\* Noteworthy changes in release \([^ ]*\) .*/\1/p' "$top_srcdir/NEWS" | sed -n 1p)" "$v"
finish
