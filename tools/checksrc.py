#!/usr/bin/env python3
"""Refuses the C calls kioskd never uses, in the spirit of curl's checksrc.

    tools/checksrc.py [FILE|FOLDER ...]   (default: the source folders)

Prints `file:line: message` for each banned call outside comments and string
or character literals; exits 1 when there is one, 0 otherwise.
"""
import os
import re
import sys

FOLDERS = ("core", "store", "handlers", "daemon", "tools", "tests", "bench")
BANNED = {
    "strcpy": "use snprintf(dst, size, \"%s\", src) or memcpy with a checked length",
    "strcat": "use a struct buf or snprintf with the remaining size",
    "sprintf": "use snprintf with the buffer's size",
    "vsprintf": "use vsnprintf with the buffer's size",
    "gets": "use fgets with the buffer's size",
    "atoi": "use strtol and check the end pointer and range",
    "atol": "use strtol and check the end pointer and range",
}
CALL = re.compile(r"(?<![\w.>])(" + "|".join(BANNED) + r")\s*\(")


def blank(text):
    """Text with comments and string/char literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def sources(args):
    for arg in args:
        if os.path.isdir(arg):
            for root, dirs, files in os.walk(arg):
                dirs[:] = sorted(d for d in dirs if d != "node_modules" and not d.startswith("."))
                for f in sorted(files):
                    if f.endswith((".c", ".h")):
                        yield os.path.join(root, f)
        elif os.path.exists(arg):
            yield arg


def check(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = blank(f.read())
    problems = []
    for lineno, line in enumerate(text.split("\n"), 1):
        for m in CALL.finditer(line):
            problems.append(f"{path}:{lineno}: {m.group(1)}() is banned: {BANNED[m.group(1)]}")
    return problems


def main(argv):
    args = argv[1:] or [d for d in FOLDERS if os.path.isdir(d)]
    problems = [p for path in sources(args) for p in check(path)]
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
