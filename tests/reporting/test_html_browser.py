"""index.html in a real headless Chromium: no console errors, no network requests, and
the plots and verdict rows are laid out (measured in the page, read back from the DOM).

Chromium's own background traffic is told apart from the page's by the request's
initiator; a control page with a script error and a remote image proves the checks
can fail.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_modelguard.reporting.signoff import write_report
from tests.reporting.test_signoff import Page, record, verdicts  # noqa: F401  (module fixtures)

CHROMIUM = Path("/usr/bin/chromium")
if os.environ.get("CI") and not CHROMIUM.exists():  # CI installs it: a skip there would hide that
    raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium; CI has it)",
)

#: measures, in the page, what is laid out; the result goes into the DOM for --dump-dom
PROBE = """<script>
const seen = {rows: [], charts: []};
for (const row of document.querySelectorAll("tr.verdict")) {
  const box = row.getBoundingClientRect();
  if (box.width > 0 && box.height > 0) seen.rows.push(row.id);
}
for (const svg of document.querySelectorAll("svg.chart")) {
  const box = svg.getBoundingClientRect();
  const drawn = [...svg.querySelectorAll("rect.bar, polyline.line")].filter(
    (mark) => { const b = mark.getBBox(); return b.width > 0 || b.height > 0; });
  if (box.width > 100 && box.height > 50 && drawn.length > 0) seen.charts.push(svg.id);
}
document.body.setAttribute("data-probe", JSON.stringify(seen));
</script>"""


@dataclass
class Loaded:
    dom: str
    console: list[str]
    requests: list[str]


def load(page: Path, scratch: Path) -> Loaded:
    """Open ``page`` in headless Chromium with every host unresolvable; what happened."""
    scratch.mkdir(parents=True, exist_ok=True)
    netlog = scratch / "netlog.json"
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={scratch / 'profile'}",
            "--enable-logging=stderr",
            "--log-level=0",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--log-net-log={netlog}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Loaded(done.stdout, console, _page_requests(netlog))


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for; Chromium's own requests have no origin as initiator."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start
        and event.get("params", {}).get("url")
        and event["params"].get("initiator") != "not an origin"
    ]


@pytest.fixture(scope="module")
def report_page(record, tmp_path_factory) -> Path:  # noqa: F811
    directory = tmp_path_factory.mktemp("browser-report")
    write_report(directory, record)
    return directory / "index.html"


def test_the_page_loads_offline_with_no_errors_or_requests(report_page, record, tmp_path):  # noqa: F811
    loaded = load(report_page, tmp_path / "plain")
    assert loaded.console == []
    assert loaded.requests == []
    parsed = Page()
    parsed.feed(loaded.dom)  # the DOM as Chromium built it, not the file as written
    assert len(parsed.rows) == len(record.gates)
    assert len(parsed.svgs) >= 8 and all(marks >= 1 for marks in parsed.marks)


def test_plots_and_rows_are_laid_out(report_page, record, tmp_path):  # noqa: F811
    probed = tmp_path / "index.html"
    text = report_page.read_text(encoding="utf-8")
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    loaded = load(probed, tmp_path / "probe")
    assert loaded.console == []
    found = re.search(r'data-probe="([^"]*)"', loaded.dom)
    assert found, "the probe did not run"
    seen = json.loads(html.unescape(found.group(1)))
    assert len(seen["rows"]) == len(record.gates)
    charts = re.findall(r'<svg id="([^"]+)" class="chart', text)
    assert charts and sorted(seen["charts"]) == sorted(charts)


def test_the_checks_catch_a_console_error_and_a_request(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><img src="http://example.invalid/a.png">'
        "<script>console.error('boom'); missing();</script></body></html>"
    )
    loaded = load(bad, tmp_path / "bad")
    assert any("boom" in line for line in loaded.console)
    assert any("missing is not defined" in line for line in loaded.console)
    assert loaded.requests == ["http://example.invalid/a.png"]
