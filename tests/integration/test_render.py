"""kioskd render TEMPLATE_FILE DATA_JSON_FILE [--partials DIR]: the Mustache engine of
the reminders from the command line (a partial, Chinese data, parse errors with
file, line and column, bad JSON, missing files, refused partial names)."""
import json
import os
import shutil

from harness import Daemon


def setup(files):
    """A daemon folder (not started) holding files {relative path: text or JSON value}."""
    d = Daemon(start=False)
    for name, content in files.items():
        path = os.path.join(d.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(content if isinstance(content, str) else json.dumps(content,
                                                                        ensure_ascii=False))
    return d


def render(d, *args):
    p = d.cli("render", *args, check=False)
    err = p.stderr.decode()
    assert "Sanitizer" not in err and "runtime error:" not in err, err
    return p.returncode, p.stdout.decode(), err


CONFIRM = ("尊敬的{{name}}：\n"
           "您已报名「{{event.title}}」，{{event.time}}在{{event.venue}}。\n"
           "{{#guests}}\n"
           "  {{> guest}}\n"
           "{{/guests}}\n"
           "{{^guests}}无同行人\n{{/guests}}"
           "凭票入场：{{{link}}}\n")
DATA = {"name": "王**", "event": {"title": "养老规划沙龙 🎉", "time": "11月23日 周一 14:30",
                                  "venue": "<二楼> 贵宾室 & 茶歇"},
        "guests": [{"who": "李*"}, {"who": "𠀋𡈽"}],
        "link": "https://kiosk.example/t/AbC?x=1&y=2"}


def test_render_with_a_partial_and_chinese_data():
    d = setup({"confirm.mustache": CONFIRM, "data.json": DATA,
               "partials/guest.mustache": "同行：{{who}}\n（请携带证件）\n"})
    try:
        rc, out, err = render(d, "confirm.mustache", "data.json", "--partials", "partials")
        assert rc == 0, err
        assert out == ("尊敬的王**：\n"
                       "您已报名「养老规划沙龙 🎉」，11月23日 周一 14:30在&lt;二楼&gt; 贵宾室 &amp; 茶歇。\n"
                       "  同行：李*\n  （请携带证件）\n"
                       "  同行：𠀋𡈽\n  （请携带证件）\n"
                       "凭票入场：https://kiosk.example/t/AbC?x=1&y=2\n"), out
        assert err == ""
        # no guests: the inverted section; the same files give the same bytes again
        d2 = dict(DATA, guests=[])
        with open(os.path.join(d.dir, "data2.json"), "w", encoding="utf-8") as f:
            json.dump(d2, f, ensure_ascii=False)
        rc, out, err = render(d, "confirm.mustache", "data2.json", "--partials", "partials")
        assert rc == 0 and "无同行人\n凭票入场" in out and "同行：" not in out, (out, err)
    finally:
        d.cleanup()


def test_parse_errors_name_file_line_and_column():
    d = setup({"open.mustache": "第一行\n尊敬的{{#guests}}\n{{who}}\n",
               "mismatch.mustache": "{{#a}}\n  {{#b}}\n  {{/a}}\n{{/b}}\n",
               "tag.mustache": "{{name}\n", "data.json": {}})
    try:
        rc, out, err = render(d, "open.mustache", "data.json")
        assert (rc, out) == (1, ""), (rc, out, err)
        assert err == "open.mustache:2:4: section 'guests' is not closed\n", err
        rc, out, err = render(d, "mismatch.mustache", "data.json")
        assert (rc, out) == (1, "")
        assert err.startswith("mismatch.mustache:3:3: closing tag 'a' does not match 'b' opened "
                              "at line 2, column 3"), err
        rc, out, err = render(d, "tag.mustache", "data.json")
        assert rc == 1 and err.startswith("tag.mustache:1:1: tag is not closed"), err
    finally:
        d.cleanup()


def test_errors_inside_partials_and_refused_names():
    d = setup({"main.mustache": "a\n{{> broken}}\n", "self.mustache": "x{{> self}}",
               "escape.mustache": "{{> ../secret}}", "data.json": {},
               "p/broken.mustache": "ok\n{{/nothing}}\n", "p/self.mustache": "y{{> self}}",
               "secret.mustache": "not to be read"})
    try:
        rc, out, err = render(d, "main.mustache", "data.json", "--partials", "p")
        assert (rc, out) == (1, "")
        assert "p/broken.mustache:2:1: closing tag 'nothing' without an open section" in err, err
        rc, out, err = render(d, "self.mustache", "data.json", "--partials", "p")
        assert (rc, out) == (1, "")
        assert err.startswith("p/self.mustache:1:2: sections and partials nested deeper"), err
        rc, out, err = render(d, "escape.mustache", "data.json", "--partials", "p")
        assert (rc, out) == (1, "") and "partial name '../secret' refused" in err, err
    finally:
        d.cleanup()


def test_bad_json_and_missing_files():
    d = setup({"t.mustache": "{{a}}|{{> gone}}|\n", "bad.json": '{"a": "x",\n "b": }\n',
               "dup.json": '{"a": 1, "a": 2}', "good.json": {"a": "好"}})
    try:
        rc, out, err = render(d, "t.mustache", "bad.json")
        assert (rc, out) == (1, "")
        assert err.startswith("bad.json:2:") and "bad JSON data" in err, err
        rc, out, err = render(d, "t.mustache", "dup.json")
        assert rc == 1 and "duplicate" in err, err
        rc, out, err = render(d, "missing.mustache", "good.json")
        assert rc == 1 and "missing.mustache: No such file or directory" in err, err
        rc, out, err = render(d, "t.mustache", "missing.json")
        assert rc == 1 and "missing.json: No such file or directory" in err, err
        # a missing partial renders as nothing, with a warning
        os.makedirs(os.path.join(d.dir, "p"))
        rc, out, err = render(d, "t.mustache", "good.json", "--partials", "p")
        assert (rc, out) == (0, "好||\n"), (rc, out, err)
        assert "no partial p/gone.mustache" in err, err
        rc, out, err = render(d, "t.mustache")
        assert rc == 2 and "usage: kioskd render" in err, err
        rc, out, err = render(d, "t.mustache", "good.json", "--bogus")
        assert rc == 2, err
    finally:
        shutil.rmtree(os.path.join(d.dir, "p"), ignore_errors=True)
        d.cleanup()
