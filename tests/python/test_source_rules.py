"""Source rules of issue 10 that a grep can check (comments and strings are
stripped first, so only code counts):

- numbers are parsed in the "C" locale: no strtod/strtof/strtold/atof
  in the library or the CLI outside src/core/text.c (cls_strtod_c);
- errno messages come from cls_errno_string, never strerror (shared buffer)
  in the library;
- only src/core sets the OpenBLAS / OpenMP thread counts
  (cls_threads_enter/leave).

Exceptions are listed here with the reason (files other work owns: remove
them from the list once those files follow the rule)."""
import glob
import os
import re

import pytest

SRC = os.environ.get("CLS_SOURCE_DIR", ".")


def code_of(path):
    """The file with comments, string and character literals blanked."""
    text = open(path, encoding="utf-8", errors="replace").read()
    pat = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)

    def blank(m):
        s = m.group(0)
        if s.startswith('"'):
            return '""'
        return re.sub(r"[^\n]", " ", s)

    return pat.sub(blank, text)


def sources(*patterns):
    out = []
    for p in patterns:
        out += glob.glob(os.path.join(SRC, p), recursive=True)
    return sorted(set(os.path.relpath(f, SRC) for f in out))


LIB_AND_CLI = ("src/**/*.c", "src/**/*.h", "cli/*.c", "cli/*.h")

RULES = {
    "locale-dependent number parsing (use cls_strtod_c)": (
        re.compile(r"\b(strtod|strtof|strtold|atof)\s*\("),
        LIB_AND_CLI,
        {"src/core/text.c": "the C-locale helper itself"},
    ),
    "strerror (use cls_errno_string)": (
        re.compile(r"\bstrerror\s*\("),
        LIB_AND_CLI,
        {},
    ),
    "thread counts set outside src/core (use cls_threads_enter/leave)": (
        re.compile(r"\b(openblas_set_num_threads|omp_set_num_threads)\s*\("),
        LIB_AND_CLI,
        {"src/core/": "the one save/restore"},
    ),
}


def excepted(path, exceptions):
    return next((k for k in exceptions if path == k or (k.endswith("/") and path.startswith(k))), None)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule(rule):
    regex, patterns, exceptions = RULES[rule]
    files = sources(*patterns)
    assert len(files) > 50, f"found only {len(files)} source files under {SRC}"
    bad = []
    for f in files:
        code = code_of(os.path.join(SRC, f))
        for i, line in enumerate(code.splitlines(), 1):
            if regex.search(line):
                if not excepted(f, exceptions):
                    bad.append(f"{f}:{i}: {line.strip()[:100]}")
    assert not bad, f"{rule}:\n" + "\n".join(bad)


def test_rules_can_fail(tmp_path):
    # The patterns catch the calls they are about, and skip comments and strings.
    f = tmp_path / "x.c"
    f.write_text('double v = strtod(s, &e); /* strtod( */ const char *m = "atof(";\n'
                 'x = atof(t); openblas_set_num_threads(2); y = strerror(errno);\n')
    code = code_of(str(f)).splitlines()
    assert RULES["locale-dependent number parsing (use cls_strtod_c)"][0].search(code[0])
    assert "atof" not in code[0].split(";", 1)[1]
    assert RULES["locale-dependent number parsing (use cls_strtod_c)"][0].search(code[1])
    assert RULES["strerror (use cls_errno_string)"][0].search(code[1])
    assert RULES["thread counts set outside src/core (use cls_threads_enter/leave)"][0].search(code[1])
