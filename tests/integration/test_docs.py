"""The guides cannot drift from the binary: every route row is in docs/api.md with a curl line."""
import os
import re
import subprocess

from harness import BIN

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_every_route_has_a_curl_example_in_the_api_guide():
    p = subprocess.run([BIN, "routes"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    rows = [ln.split(" ")[:2] for ln in p.stdout.splitlines()]
    assert len(rows) > 40, p.stdout
    with open(os.path.join(ROOT, "docs", "api.md"), encoding="utf-8") as f:
        guide = f.read()
    section = guide[guide.index("## Every endpoint with a curl example"):]
    missing = []
    for method, pattern in rows:
        line = re.search(r"^- `" + re.escape(f"{method} {pattern}") + r"`.*$", section, re.M)
        if not line or "curl " not in line.group(0):
            missing.append(f"{method} {pattern}")
    assert not missing, missing


def test_the_readme_links_the_guides_and_its_pictures_exist():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    for guide in ("docs/operations.md", "docs/api.md", "docs/wechat.md", "docs/sync.md"):
        assert f"({guide})" in readme, guide
    for img in re.findall(r"\]\((docs/img/[^)]+)\)", readme):
        assert os.path.exists(os.path.join(ROOT, img)), img
