"""tools/checksrc.py: banned calls are found, mentions in comments and strings are not."""
import os
import subprocess
import sys
import tempfile

CHECKSRC = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "checksrc.py")


def checksrc(text, name="planted.c"):
    with tempfile.TemporaryDirectory(prefix="kioskd-checksrc-") as d:
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([sys.executable, CHECKSRC, d], capture_output=True, text=True,
                           timeout=60)
        return p.returncode, p.stdout.replace(d + os.sep, "")


def test_checksrc_finds_each_banned_call():
    for call in ("strcpy(a, b)", "strcat (a, b)", "sprintf(a, \"%d\", 1)", "vsprintf(a, f, ap)",
                 "gets(a)", "atoi(s)", "atol(s)"):
        rc, out = checksrc(f"#include <string.h>\n\nvoid f(void)\n{{\n    {call};\n}}\n")
        name = call.split("(")[0].strip()
        assert rc == 1, (call, out)
        assert out.startswith(f"planted.c:5: {name}() is banned"), (call, out)
    rc, out = checksrc("int x(void) { return atoi(\"1\"); }\n", name="planted.h")
    assert rc == 1 and out.startswith("planted.h:1: atoi()"), out


def test_checksrc_ignores_comments_strings_and_safe_calls():
    text = ("/* strcpy(a, b) is banned; so is\n   sprintf(a, b) */\n"
            "// atoi(s) too\n"
            "static const char *msg = \"never strcat(a, b) or gets(a)\";\n"
            "static const char q = '\"'; /* a quote that must not open a string: atol( */\n"
            "void f(char *a, const char *b, char *s)\n{\n"
            "    snprintf(a, 8, \"%s\", b);\n    vsnprintf(a, 8, b, 0);\n"
            "    fgets(a, 8, 0);\n    strtol(s, 0, 10);\n    my_strcpy(a, b);\n"
            "    x.strcpy(a);\n}\n")
    rc, out = checksrc(text)
    assert rc == 0 and out == "", out
