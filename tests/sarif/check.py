"""check.py -- what tests/sarif.sh asks of noqc's SARIF, in Python.

Run by tests/sarif.sh with Debian's python3 and python3-jsonschema:

  check.py cases SCHEMA MANIFEST
      MANIFEST has one case a line, fields separated by tabs:
          NAME  DIR  FILES  SARIF  TEXT  JSON  OPTIONS
      NAME names the case (and picks the values written out below), DIR
      is where noqc ran (file names in diagnostics are relative to it),
      FILES the configurations it checked, separated by blanks, SARIF,
      TEXT and JSON its outputs for the three formats, and OPTIONS a
      comma-separated list: "werror" (-Werror was given), "clean" (no
      result may come out).  Every SARIF log must validate against SCHEMA
      and meet code scanning's needs, and say what the text says: the same
      diagnostics in the same order, levels, rules, files, lines, columns
      (bytes in the text, UTF-16 code units in SARIF), notes as related
      locations, and the count of what --max-errors left out.  Some cases
      are also compared with values written out below.  Prints "PASS NAME"
      or "FAIL NAME: WHY" for each case.

  check.py valid SCHEMA SARIF
      SARIF validates and meets code scanning's needs.  Prints PASS or
      FAIL.

  check.py same SARIF PART...
      The SARIF log of one run on several files holds the results of the
      runs on each file alone (PART...), in order.  Prints PASS or FAIL.

  check.py uri SARIF PATH
      The first result's artifact URI is PATH as a file: URI (PATH
      absolute) or as a relative reference, percent-encoded where needed,
      and decodes back to PATH.  Prints PASS or FAIL.

  check.py workflow YAML
      YAML (examples/ci/noq-lint.yml) is a GitHub Actions workflow that
      uploads SARIF with code scanning's action and may write security
      events; prints its variables and the noqc command lines of its
      steps as a script for sh to run.  Exits 1 with a reason on stderr
      otherwise.

  check.py hooks YAML
      YAML (.pre-commit-hooks.yaml) defines the hook "noqc" as pre-commit
      wants it; prints its entry.  Exits 1 with a reason otherwise.
"""

import json
import re
import sys
import urllib.parse

LOCATED = re.compile(r"^(.*?):(\d+):(\d+): (error|warning|note): (.*)$")
UNLOCATED = re.compile(r"^noqc: (error|warning|note): (.*)$")
CUT = re.compile(r"^noqc: note: (\d+ more errors? and \d+ more warnings? not shown .*)$")


def load_validator(schema_path):
    import jsonschema

    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def clean_text(s):
    """A message as the text format prints it: control bytes as '?', each
    run of undecodable bytes as one U+FFFD."""
    s = "".join("?" if (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F else c for c in s)
    return re.sub("\ufffd+", "\ufffd", s)


def parse_text(path):
    """The diagnostics of a text run: a list of dicts, notes attached."""
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8", errors="replace").split("\n")
    diags, cuts = [], []
    for line in lines:
        m = CUT.match(line)
        if m:
            cuts.append(m.group(1))
            continue
        m = LOCATED.match(line)
        if m:
            d = {"file": m.group(1), "line": int(m.group(2)), "col": int(m.group(3)),
                 "level": m.group(4), "msg": clean_text(m.group(5)), "notes": []}
        else:
            m = UNLOCATED.match(line)
            if not m:
                continue
            d = {"file": None, "level": m.group(1), "msg": clean_text(m.group(2)),
                 "notes": []}
        if d["level"] == "note":
            if d["file"] is None:
                continue  # run-level notes: -Werror, and the cut above
            if diags:
                diags[-1]["notes"].append(d)
        else:
            diags.append(d)
    return diags, cuts


def utf16_column(line, col, first):
    """The UTF-16 column of 1-based byte column col of line (bytes): what
    Python's decoder makes of the bytes before it (one U+FFFD for each
    maximal subpart that is not UTF-8, as a browser's), in UTF-16 units;
    a byte order mark opening the file counts none, bytes past the end of
    the line one each."""
    prefix = line[: col - 1]
    if first and prefix.startswith(b"\xef\xbb\xbf"):
        prefix = prefix[3:]
    text = prefix.decode("utf-8", errors="replace")
    return len(text.encode("utf-16-le")) // 2 + 1 + max(0, col - 1 - len(line))


def source_line(base, path, lineno):
    import os

    full = path if os.path.isabs(path) else os.path.join(base, path)
    with open(full, "rb") as f:
        lines = f.read().split(b"\n")
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else b""
    return line[:-1] if line.endswith(b"\r") else line


def uri_path(uri):
    """The file name an artifact URI stands for."""
    if uri.startswith("file://"):
        return urllib.parse.unquote(uri[len("file://"):])
    return urllib.parse.unquote(uri)


def text_path(path):
    while path.startswith("./"):
        path = path[2:].lstrip("/")
    return path


def check_github(log):
    """What code scanning needs beyond the schema."""
    errs = []
    if log.get("version") != "2.1.0":
        errs.append("version is not 2.1.0")
    runs = log.get("runs") or []
    if len(runs) != 1:
        return errs + ["%d runs, not 1" % len(runs)]
    run = runs[0]
    driver = run["tool"]["driver"]
    if not driver.get("name"):
        errs.append("no tool.driver.name")
    rules = driver.get("rules", [])
    ids = [r["id"] for r in rules]
    for r in rules:
        if not r.get("shortDescription", {}).get("text") or \
                not r.get("fullDescription", {}).get("text"):
            errs.append("rule %s lacks a description" % r["id"])
    if "results" not in run:
        errs.append("no results array")
    for k, res in enumerate(run.get("results", [])):
        where = "result %d" % k
        if res.get("ruleId") not in ids:
            errs.append("%s: ruleId %r is not a rule" % (where, res.get("ruleId")))
        elif ids.index(res["ruleId"]) != res.get("ruleIndex"):
            errs.append("%s: ruleIndex does not match ruleId" % where)
        if not res.get("message", {}).get("text"):
            errs.append("%s: no message text" % where)
        locs = res.get("locations", [])
        if not locs:
            errs.append("%s: no location" % where)
        for loc in locs + res.get("relatedLocations", []):
            phys = loc.get("physicalLocation", {})
            uri = phys.get("artifactLocation", {}).get("uri", "")
            if not uri or uri.startswith("./") or (uri.startswith("/")):
                errs.append("%s: artifact URI %r" % (where, uri))
            if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri) and not uri.startswith("file:///"):
                errs.append("%s: URI %r has a scheme other than file:" % (where, uri))
            if phys.get("region", {}).get("startLine", 0) < 1:
                errs.append("%s: no region.startLine" % where)
    return errs


def compare(case, log, text_diags, cuts):
    """The SARIF results say what the text says."""
    errs = []
    run = log["runs"][0]
    results = run.get("results", [])
    if len(results) != len(text_diags):
        return ["%d results, but the text has %d errors and warnings"
                % (len(results), len(text_diags))]
    for k, (res, d) in enumerate(zip(results, text_diags)):
        where = "result %d" % k
        rule = "noqc.error" if d["level"] == "error" else "noqc.warning"
        level = "error" if d["level"] == "error" or "werror" in case["options"] else "warning"
        if res["ruleId"] != rule or res["level"] != level:
            errs.append("%s: %s/%s, text says %s" % (where, res["ruleId"], res["level"], d["level"]))
        if clean_text(res["message"]["text"]) != d["msg"]:
            errs.append("%s: message %r, text says %r" % (where, res["message"]["text"], d["msg"]))
        phys = res["locations"][0]["physicalLocation"]
        path = uri_path(phys["artifactLocation"]["uri"])
        region = phys["region"]
        if d["file"] is None:
            # A diagnostic outside any file is placed at the top of the
            # configuration checked (one of those given).
            if path not in map(text_path, case["configs"]) or region != {"startLine": 1}:
                errs.append("%s: placed at %s %r, not at the top of a file checked"
                            % (where, path, region))
            continue
        errs += compare_place(case, where, path, region, d)
        related = res.get("relatedLocations", [])
        if len(related) < len(d["notes"]):
            errs.append("%s: %d related locations for %d notes"
                        % (where, len(related), len(d["notes"])))
            continue
        for j, (rel, note) in enumerate(zip(related, d["notes"])):
            if rel.get("id") != j + 1:
                errs.append("%s: related location %d has id %r" % (where, j, rel.get("id")))
            if clean_text(rel["message"]["text"]) != note["msg"]:
                errs.append("%s: note %r, text says %r" % (where, rel["message"]["text"], note["msg"]))
            rphys = rel["physicalLocation"]
            errs += compare_place(case, "%s note %d" % (where, j),
                                  uri_path(rphys["artifactLocation"]["uri"]),
                                  rphys["region"], note)
        # Past the notes come only the lines that include the file.
        for rel in related[len(d["notes"]):]:
            if not rel["message"]["text"].endswith(" is included here"):
                errs.append("%s: related location %r is neither a note nor an include"
                            % (where, rel["message"]["text"]))
    notes = [n["message"]["text"] for inv in run.get("invocations", [])
             for n in inv.get("toolExecutionNotifications", [])]
    if notes != cuts:
        errs.append("notifications %r, text says %r" % (notes, cuts))
    return errs


def compare_place(case, where, path, region, d):
    errs = []
    if path != text_path(d["file"]):
        errs.append("%s: file %r, text says %r" % (where, path, d["file"]))
    if region.get("startLine") != d["line"]:
        errs.append("%s: line %r, text says %d" % (where, region.get("startLine"), d["line"]))
    if d["col"] == 0:
        return errs
    line = source_line(case["dir"], d["file"], d["line"])
    want = utf16_column(line, d["col"], d["line"] == 1)
    if region.get("startColumn") != want:
        errs.append("%s: column %r, text says byte %d, which is UTF-16 column %d"
                    % (where, region.get("startColumn"), d["col"], want))
    if region.get("endColumn", 0) <= region.get("startColumn", 0):
        errs.append("%s: endColumn %r not past startColumn" % (where, region.get("endColumn")))
    return errs


# Values written out by hand for a few cases of tests/golden.
def known(name, run):
    res = run["results"]

    def place(r, n=0):
        p = r["locations"][0]["physicalLocation"] if n == 0 else \
            r["relatedLocations"][n - 1]["physicalLocation"]
        reg = p["region"]
        return (p["artifactLocation"]["uri"], reg["startLine"], reg.get("startColumn"),
                reg.get("endColumn"))

    if name == "format-sarif":
        assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in res] == \
            [("noqc.warning", 1, "warning"), ("noqc.error", 0, "error")], res
        assert place(res[0]) == ("format-sarif.conf", 3, 1, 16), place(res[0])
        assert place(res[1]) == ("format-sarif.conf", 5, 1, 15), place(res[1])
        assert res[1]["message"]["text"] == \
            "option 'qualify_domain' is set more than once in the main section"
        assert res[1]["relatedLocations"][0]["message"]["text"] == "first set here"
        assert place(res[1], 1) == ("format-sarif.conf", 4, 1, 15), place(res[1], 1)
    elif name == "include-chain-error":
        assert len(res) == 1 and res[0]["ruleId"] == "noqc.error"
        assert place(res[0]) == ("inc/chain-inner.conf", 4, 20, 21), place(res[0])
        rel = res[0]["relatedLocations"]
        assert [(r["id"], r["message"]["text"]) for r in rel] == [
            (1, "inc/chain-inner.conf is included here"),
            (2, "inc/chain-outer.conf is included here")], rel
        assert place(res[0], 1)[:2] == ("inc/chain-outer.conf", 3)
        assert place(res[0], 2)[:2] == ("include-chain-error.conf", 2)
    elif name == "format-sarif-utf8":
        # 14 + "José" + " " + "Müller" + " — " + 2 for the emoji + " ".
        assert place(res[0]) == ("format-sarif-utf8.conf", 3, 32, 34), place(res[0])
    elif name == "werror":
        assert [(r["ruleId"], r["level"]) for r in res] == [("noqc.warning", "error")], res
    elif name == "max-errors-cap":
        notes = run["invocations"][0]["toolExecutionNotifications"]
        assert len(res) == 3 and len(notes) == 1, (res, notes)
        assert notes[0]["message"]["text"].endswith("(limit 3; see --max-errors)")
    elif name == "check-several-sarif":
        uris = [place(r)[0] for r in res]
        assert uris == ["inc/several-missing.conf", "inc/several-warning.conf",
                        "inc/several-errors.conf"], uris
        assert place(res[0]) == ("inc/several-missing.conf", 1, None, None)


def cmd_cases(schema, manifest):
    validator = load_validator(schema)
    with open(manifest, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for name, base, files, sarif, text, jsonout, options in rows:
        case = {"name": name, "dir": base, "options": options.split(","),
                "configs": files.split()}
        try:
            with open(sarif, "rb") as f:
                log = json.loads(f.read().decode("utf-8"))
        except (ValueError, OSError) as e:
            print("FAIL %s: the SARIF output is not JSON: %s" % (name, e))
            continue
        errs = ["schema: %s at /%s" % (e.message, "/".join(map(str, e.absolute_path)))
                for e in validator.iter_errors(log)]
        if not errs:
            errs = check_github(log)
        if not errs:
            text_diags, cuts = parse_text(text)
            errs = compare(case, log, text_diags, cuts)
            if "clean" in case["options"] and log["runs"][0]["results"]:
                errs.append("results from a clean configuration")
        if not errs:
            with open(jsonout, "rb") as f:
                doc = json.loads(f.read().decode("utf-8"))
            n = len(log["runs"][0]["results"])
            if len(doc["diagnostics"]) != n:
                errs.append("%d JSON diagnostics for %d SARIF results"
                            % (len(doc["diagnostics"]), n))
            # The counts: those shown in the text and those it says it hid.
            hidden = [tuple(map(int, re.findall(r"\d+", c)[:2])) for c in cuts]
            warnings = sum(d["level"] == "warning" for d in text_diags) + \
                sum(h[1] for h in hidden)
            errors = sum(d["level"] == "error" for d in text_diags) + \
                sum(h[0] for h in hidden) + (warnings if "werror" in case["options"] else 0)
            got = (doc["errors"], doc["warnings"], doc["not_shown"])
            if got != (errors, warnings, sum(map(sum, hidden))):
                errs.append("JSON counts errors, warnings, not shown %r; the text says %r"
                            % (got, (errors, warnings, sum(map(sum, hidden)))))
        if not errs:
            try:
                known(name, log["runs"][0])
            except (AssertionError, KeyError, IndexError) as e:
                errs.append("not the values expected: %r" % (e,))
        if errs:
            print("FAIL %s: %s" % (name, "; ".join(errs[:5])))
        else:
            print("PASS %s" % name)


def cmd_valid(schema, sarif):
    validator = load_validator(schema)
    try:
        with open(sarif, "rb") as f:
            log = json.loads(f.read().decode("utf-8"))
    except (ValueError, OSError) as e:
        print("FAIL: not JSON: %s" % e)
        return
    errs = ["schema: %s" % e.message for e in validator.iter_errors(log)] or check_github(log)
    print("FAIL: %s" % "; ".join(errs[:5]) if errs else "PASS")


def cmd_same(whole, parts):
    with open(whole, encoding="utf-8") as f:
        log = json.load(f)
    want = []
    for p in parts:
        with open(p, encoding="utf-8") as f:
            part = json.load(f)
        want += part["runs"][0]["results"]
    got = log["runs"][0]["results"]
    if len(log["runs"]) == 1 and got == want:
        print("PASS")
    else:
        print("FAIL: %d runs, %d results; the files alone give %d"
              % (len(log["runs"]), len(got), len(want)))


def cmd_uri(sarif, path):
    with open(sarif, encoding="utf-8") as f:
        log = json.load(f)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"]["uri"]
    parsed = urllib.parse.urlsplit(uri)
    ok = uri_path(uri) == text_path(path) and " " not in uri and not parsed.query \
        and not parsed.fragment
    if path.startswith("/"):
        ok = ok and parsed.scheme == "file" and uri.startswith("file:///")
    else:
        ok = ok and parsed.scheme == ""
    print("PASS" if ok else "FAIL: %r for %r" % (uri, path))


def load_yaml(path, what):
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        sys.exit("%s: %s" % (what, " ".join(str(e).split())))


def cmd_workflow(path):
    wf = load_yaml(path, "workflow")
    if not isinstance(wf, dict):
        sys.exit("workflow: not a mapping")
    jobs = wf.get("jobs") or {}
    # PyYAML reads the key "on" as True.
    if not (wf.get("on") or wf.get(True)) or not jobs:
        sys.exit("workflow: no trigger or no job")
    commands, uploads = [], 0
    for job in jobs.values():
        perms = job.get("permissions") or wf.get("permissions") or {}
        steps = job.get("steps") or []
        for step in steps:
            uses = step.get("uses", "")
            if uses.startswith("github/codeql-action/upload-sarif@"):
                if uses != "github/codeql-action/upload-sarif@v3":
                    sys.exit("workflow: upload-sarif is not @v3: %s" % uses)
                if perms.get("security-events") != "write":
                    sys.exit("workflow: the job that uploads may not write security events")
                if not (step.get("with") or {}).get("sarif_file"):
                    sys.exit("workflow: upload-sarif without sarif_file")
                uploads += 1
            for line in (step.get("run") or "").splitlines():
                if re.search(r"\bnoqc --check\b", line):
                    commands.append(line.strip())
    if uploads != 1 or not commands:
        sys.exit("workflow: %d SARIF uploads and %d noqc commands" % (uploads, len(commands)))
    # The workflow's variables, then its noqc commands: a script for sh.
    env = dict(wf.get("env") or {})
    for job in jobs.values():
        env.update(job.get("env") or {})
    for key, value in env.items():
        print("%s='%s'; export %s" % (key, str(value).replace("'", "'\\''"), key))
    print("\n".join(commands))


def cmd_hooks(path):
    hooks = load_yaml(path, "hooks")
    if not isinstance(hooks, list):
        sys.exit("hooks: not a list of hooks")
    byid = {h.get("id"): h for h in hooks}
    h = byid.get("noqc")
    if h is None:
        sys.exit("hooks: no hook with id noqc")
    for key in ("name", "entry", "language", "files", "description"):
        if not h.get(key):
            sys.exit("hooks: noqc has no %s" % key)
    if h["language"] != "system" or not h["entry"].startswith("noqc --check"):
        sys.exit("hooks: noqc is not 'noqc --check' with language system")
    for name in ("noq.conf", "etc/noq/noq.conf", "mail/relay.conf"):
        if not re.search(h["files"], name):
            sys.exit("hooks: files does not match %s" % name)
    print(h["entry"])


def main(argv):
    if len(argv) >= 3 and argv[0] == "cases":
        cmd_cases(argv[1], argv[2])
    elif len(argv) == 3 and argv[0] == "valid":
        cmd_valid(argv[1], argv[2])
    elif len(argv) >= 3 and argv[0] == "same":
        cmd_same(argv[1], argv[2:])
    elif len(argv) == 3 and argv[0] == "uri":
        cmd_uri(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "workflow":
        cmd_workflow(argv[1])
    elif len(argv) == 2 and argv[0] == "hooks":
        cmd_hooks(argv[1])
    else:
        sys.exit("usage: check.py cases|valid|same|uri|workflow|hooks ...")


if __name__ == "__main__":
    main(sys.argv[1:])
