#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The style rules that hold for the whole tree, checked on every test run (rtl_433's
tests/style-check.c in spirit). .clang-format formats; this decides.

    style-check.py SOURCE_ROOT      one line per violation "FILE:LINE: RULE: what", exit 1 if any
    style-check.py --self-test      plants one violation per rule in a scratch tree and checks that
                                    each rule finds its own, and that the clean tree passes
"""

import os
import re
import sys
import tempfile

SCANNED_DIRS = ("daemon", "include", "tests", "bench")
C_SUFFIXES = (".c", ".h")
SPDX = "/* SPDX-License-Identifier: MIT */"
LINE_MAX = 140  # columns for code; a line with a string literal may be longer (messages stay greppable)
# Pure cores: bytes and time come in as arguments; they never read a clock, log, print or talk to a
# bus or broker (docs/architecture.md).
PURE_DIRS = ("daemon/decoders", "daemon/gait", "daemon/reminders", "daemon/alerts")
IMPURE_CALLS = re.compile(r"\b(clock_gettime|gettimeofday|time|sd_event_now|printf|fprintf|vfprintf|puts|fputs|"
                          r"log_(?:debug|info|notice|warning|error|emergency)(?:_errno)?|sd_bus_\w+|mosquitto_\w+)\s*\(")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')

RULES = ("spdx", "pragma-once", "tabs", "trailing-whitespace", "line-length", "cpp-comment", "include-order",
         "private-header", "pure-core")


def source_files(root):
    for top in SCANNED_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if d not in ("corpus", "__pycache__"))
            for name in sorted(filenames):
                if name.endswith(C_SUFFIXES) or name == "meson.build":
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def strip_c(text):
    """Blanks out comments and string/char literals (keeping line breaks and columns), and returns
    the code plus the (line, column) of each // comment."""
    out, slashes = [], []
    i, n, line, state = 0, len(text), 1, None
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if state is None:
            if c == "/" and nxt == "*":
                state, out, i = "block", out + ["  "], i + 2
                continue
            if c == "/" and nxt == "/":
                slashes.append(line)
                state, out, i = "line", out + ["  "], i + 2
                continue
            if c in "\"'":
                state = c
            out.append(c)
        elif state == "block":
            if c == "*" and nxt == "/":
                state, out, i = None, out + ["  "], i + 2
                continue
            out.append("\n" if c == "\n" else " ")
        elif state == "line":
            if c == "\n":
                state = None
                out.append(c)
            else:
                out.append(" ")
        else:  # inside a string or char literal
            if c == "\\" and nxt:
                out.append("  " if nxt != "\n" else " \n")
                line += nxt == "\n"
                i += 2
                continue
            if c == state or c == "\n":
                state = None
                out.append(c)
            else:
                out.append(" ")
        line += c == "\n"
        i += 1
    return "".join(out), slashes


def module_of(path):
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] == "daemon" and len(parts) > 2 else None


def check(root):
    files = list(source_files(root))
    problems = []
    private_headers = {}  # "wearer.h" -> "daemon/core"
    # The command-line front-ends show a pure library's own records (decode prints the decoders'
    # typed records), so they may read that library's private header; nothing else may.
    friends = {"daemon/cli": {"daemon/decoders"}}
    public_headers = {os.path.basename(f) for f in files if f.startswith("include/")}
    for f in files:
        if f.endswith(".h") and module_of(f):
            private_headers.setdefault(os.path.basename(f), module_of(f))

    def report(f, line, rule, what):
        problems.append(f"{f}:{line}: {rule}: {what}")

    for f in files:
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        lines = text.split("\n")
        is_c = f.endswith(C_SUFFIXES)

        for no, l in enumerate(lines, 1):
            if "\t" in l:
                report(f, no, "tabs", "a tab; indent with spaces")
            if l != l.rstrip():
                report(f, no, "trailing-whitespace", "blanks at the end of the line")
        if not is_c:
            continue

        if not lines or lines[0] != SPDX:
            report(f, 1, "spdx", f"the first line must be {SPDX}")
        if f.endswith(".h") and "#pragma once" not in lines:
            report(f, 1, "pragma-once", "a header needs #pragma once")

        code, slashes = strip_c(text)
        for no in slashes:
            report(f, no, "cpp-comment", "a // comment; write /* ... */")
        for no, l in enumerate(lines, 1):
            if len(l) > LINE_MAX and '"' not in l:
                report(f, no, "line-length", f"{len(l)} columns, at most {LINE_MAX} (string literals excepted)")

        # includes: <system> first, then "ours"; each block of "ours" sorted; no duplicates or paths
        seen, last_kind, block, block_start, depth = set(), None, [], 0, 0
        for no, l in enumerate(lines + [""], 1):
            if re.match(r"\s*#\s*if", l):
                depth += 1
            elif re.match(r"\s*#\s*endif", l):
                depth -= 1
            m = INCLUDE.match(l)
            if m and depth > 0:
                continue  # conditional includes keep the order their conditions need
            if not m:
                if block and block != sorted(block):
                    report(f, block_start, "include-order", f"sort these includes: {', '.join(block)}")
                block = []
                continue
            kind, name = m.groups()
            if name in seen:
                report(f, no, "include-order", f"{name} is included twice")
            seen.add(name)
            if kind == "<" and last_kind == '"':
                report(f, no, "include-order", f"<{name}> after our own headers; system headers come first")
            last_kind = kind
            if kind == '"':
                if "/" in name:
                    report(f, no, "include-order", f'"{name}": include by name, the build gives the directory')
                if not block:
                    block_start = no
                block.append(name)
                # layout: a module's private header stays in its module (and its tests)
                owner = private_headers.get(name)
                here = module_of(f)
                if owner and name not in public_headers and (
                        (here and here != owner and owner not in friends.get(here, ())) or f.startswith("include/")):
                    report(f, no, "private-header", f"{name} is private to {owner}")
            elif block:
                if block != sorted(block):
                    report(f, block_start, "include-order", f"sort these includes: {', '.join(block)}")
                block = []

        if f.startswith(PURE_DIRS) and f.endswith(".c"):
            for no, l in enumerate(code.split("\n"), 1):
                m = IMPURE_CALLS.search(l)
                if m:
                    report(f, no, "pure-core", f"{m.group(1)}() in a pure core: take it as an argument, "
                           "report it to the caller")
    return files, problems


CLEAN = {
    "include/widget.h": SPDX + "\n#pragma once\n\n#include <stdint.h>\n\nint widget_count(const char *s);\n",
    "daemon/core/core-private.h": SPDX + "\n#pragma once\n\nint core_private(void);\n",
    "daemon/core/core.c": SPDX + '\n#include <errno.h>\n#include <string.h>\n\n#include "core-private.h"\n'
                          '#include "widget.h"\n\nint core_private(void) {\n        return (int) strlen("a // b");'
                          "  /* // inside a comment */\n}\n",
    "daemon/gait/engine.c": SPDX + '\n#include "widget.h"\n\n/* printf() is named here only */\n'
                            "int widget_count(const char *s) {\n        return s ? 1 : 0;\n}\n",
    "tests/core/test-core.c": SPDX + '\n#include "core-private.h"\n\nint main(void) {\n'
                              '        return core_private() + (\'/\' == \'/\');\n}\n',
    "daemon/core/meson.build": "lib = static_library('core',\n                     files('core.c'))\n",
}

PLANTED = {
    "spdx": ("daemon/gait/engine.c", lambda t: t.replace(SPDX + "\n", "/* no licence line */\n", 1)),
    "pragma-once": ("include/widget.h", lambda t: t.replace("#pragma once\n", "")),
    "tabs": ("daemon/core/meson.build", lambda t: t.replace("                     files", "\tfiles")),
    "trailing-whitespace": ("daemon/core/core.c", lambda t: t.replace("#include <errno.h>\n", "#include <errno.h> \n")),
    "line-length": ("daemon/gait/engine.c", lambda t: t.replace("return s ? 1 : 0;", "return s ? 1 : 0" +
                                                                " + 0" * 40 + ";")),
    "cpp-comment": ("daemon/gait/engine.c", lambda t: t.replace("return s ? 1 : 0;", "return s ? 1 : 0; // why")),
    "include-order": ("daemon/core/core.c", lambda t: t.replace('#include "core-private.h"\n#include "widget.h"\n',
                                                                '#include "widget.h"\n#include "core-private.h"\n')),
    "private-header": ("daemon/gait/engine.c", lambda t: t.replace('#include "widget.h"\n',
                                                                   '#include "core-private.h"\n#include "widget.h"\n')),
    "pure-core": ("daemon/gait/engine.c", lambda t: t.replace("return s ? 1 : 0;",
                                                              'printf("%s", s);\n        return 1;')),
}


def write_tree(root, files):
    for path, text in files.items():
        os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(root, path), "w", encoding="utf-8") as fh:
            fh.write(text)


def self_test():
    failures = 0
    with tempfile.TemporaryDirectory(prefix="i2m-style-") as root:
        write_tree(root, CLEAN)
        _, problems = check(root)
        if problems:
            print("not ok: the clean tree is refused:\n  " + "\n  ".join(problems))
            failures += 1
        else:
            print("ok: the clean tree passes")
    for rule in RULES:
        path, plant = PLANTED[rule]
        with tempfile.TemporaryDirectory(prefix="i2m-style-") as root:
            files = dict(CLEAN)
            files[path] = plant(files[path])
            write_tree(root, files)
            _, problems = check(root)
            found = [p for p in problems if f": {rule}: " in p]
            others = [p for p in problems if f": {rule}: " not in p]
            if found and not others:
                print(f"ok: {rule} finds {found[0]}")
            else:
                print(f"not ok: {rule}: found {found}, others {others}")
                failures += 1
    print(f"{len(RULES) + 1 - failures} passed, {failures} failed")
    return 1 if failures else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    files, problems = check(argv[1])
    for p in problems:
        print(p)
    print(f"{len(files)} files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
