"""The book: papermill execution of the chapters, the Jupyter Book build, and how pages look.

The build tests copy the book's sources into a temporary folder and build them there with the
``smoke`` profile. Once every chapter notebook of ``valint.pages.NOTEBOOK_ORDER`` exists, that is
the whole book, as CI builds it so that a broken chapter never lands; until then it is the
chapters that exist without the figure experiments (fig2, report, rerun).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from valint import book, offline, pages, student
from valint.claims import LEDGER_COLUMNS

REPO = Path(__file__).resolve().parents[1]
INFRASTRUCTURE_CHAPTERS = ("fig2", "report", "rerun")
FIGURE_CHAPTERS = tuple(name for name in pages.NOTEBOOK_ORDER if name.startswith("fig"))
OFFLINE_PAGES = ("book/intro", "book/generated/fig5", "book/generated/report",
                 "book/generated/teaching")
FORBIDDEN_IN_PAGES = ("Traceback (most recent call last)", "PapermillExecutionError",
                      "injected-parameters", "\u2588")
TQDM_BAR = re.compile(r"\d+%\|")


def _missing_chapters() -> list[str]:
    return [name for name in pages.NOTEBOOK_ORDER
            if not (REPO / "notebooks" / f"{name}.ipynb").exists()]


def _copy_sources(destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(REPO / name, destination / name)
    shutil.copytree(REPO / "book", destination / "book",
                    ignore=shutil.ignore_patterns("generated"))
    shutil.copytree(REPO / "notebooks", destination / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return destination


def _ledger_row(figure: str, claim_id: str, verdict: str) -> dict[str, object]:
    return {"claim_id": claim_id, "figure": figure, "claim": "a claim of the test",
            "paper": "p = 0.03", "as_published": "", "measured": "p = 0.04",
            "verdict": verdict, "effect": "a - b = +0.1 (95% CI -0.1 to +0.3)", "margin": "",
            "method": "Student t-test", "n_seeds": 2,
            "profile": "smoke"}


def _notebook(path: Path, *sources: str) -> Path:
    cells = [new_code_cell('profile = "smoke"', metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(source) for source in sources]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@dataclass(frozen=True)
class BuiltBook:
    source: Path
    html: Path
    chapters: tuple[str, ...]
    complete: bool

    def page(self, chapter: str) -> Path:
        return self.html / "book" / "generated" / f"{chapter}.html"


@pytest.fixture(scope="module")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> BuiltBook:
    source = _copy_sources(tmp_path_factory.mktemp("book") / "source")
    complete = not _missing_chapters()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VALINT_RESULTS", str(source / "results"))
        patch.setenv("MPLBACKEND", "Agg")
        if complete:
            html = book.build_book(profile="smoke", source_dir=source)
            chapters = pages.NOTEBOOK_ORDER
        else:
            patch.setenv("VALINT_BOOK_GENERATED", str(source / "book" / "generated"))
            rows = [_ledger_row("fig4", "fig4_isr_beats_frozen", "holds"),
                    _ledger_row("fig4", "fig4_isr_equals_oracle", "inconclusive")]
            pages.save_claims(pd.DataFrame(rows), "fig4")
            html = book.build_book(profile="smoke", source_dir=source,
                                   notebooks=INFRASTRUCTURE_CHAPTERS)
            chapters = INFRASTRUCTURE_CHAPTERS
    return BuiltBook(source=source, html=html, chapters=tuple(chapters), complete=complete)


def _pages(built: BuiltBook) -> list[Path]:
    return sorted(built.html.rglob("*.html"))


class _ImageSources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources += [value for name, value in attrs if name == "src" and value]


def _screenshot(page: Path, png: Path) -> None:
    command = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={png.parent / 'chromium-profile'}",
        f"--screenshot={png}", "--window-size=1280,2000", page.as_uri(),
    ]
    subprocess.run(command, capture_output=True, timeout=180, check=False)


NO_NETWORK_FLAGS = (
    # A proxy to a closed port on this machine and a resolver that finds no host: any request
    # for a network resource fails, and the net log records it.
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
)
RAW_TEX = re.compile(r"\\[()\[\]]|\$[^$\s][^$]*\$|\\(?:frac|mathrm|text|times|cdot|left|right)\b")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)


class _Resources(HTMLParser):
    """What a page loads: scripts, stylesheets, icons, images, frames, media."""

    LOADING = {("script", "src"), ("img", "src"), ("iframe", "src"), ("source", "src"),
               ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data"),
               ("link", "href")}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and not {"stylesheet", "icon", "preload", "modulepreload",
                                  "manifest"} & set((values.get("rel") or "").split()):
            return  # a link to another page loads nothing
        self.urls += [value for name, value in attrs
                      if (tag, name) in self.LOADING and value]


class _RenderedText(HTMLParser):
    """The text a reader sees outside code, scripts and typeset math; and the math typeset."""

    SKIP = {"script", "style", "pre", "code", "mjx-container", "noscript", "template"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.text: list[str] = []
        self.typeset = 0
        self.errors = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.typeset += tag == "mjx-container"
        self.errors += tag == "mjx-merror"
        self.depth += tag in self.SKIP

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag in self.SKIP and self.depth > 0

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.text.append(data)


def _math_elements(html: str) -> int:
    """How many math elements Sphinx wrote into a page for MathJax to typeset."""
    return len(re.findall(r'<(?:span|div) class="math[ "]', html))


def _load_offline(page: Path, work: Path, *, screenshot: Path | None = None) -> tuple[str, list[str]]:
    """Load ``page`` in headless Chromium with the network disabled.

    Returns the DOM after the page's scripts ran (MathJax included), and every URL the page
    asked for that is not a local file (from Chromium's net log; the browser's own background
    requests are left out, they carry no page as their initiator).
    """
    net_log = work / "net-log.json"
    command = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", *NO_NETWORK_FLAGS, f"--user-data-dir={work / 'chromium-profile'}",
        f"--log-net-log={net_log}", "--virtual-time-budget=20000",
    ]
    if screenshot is None:
        command.append("--dump-dom")
    else:
        command += [f"--screenshot={screenshot}", "--window-size=1280,2000"]
    done = subprocess.run([*command, page.as_uri()], capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requested = [event["params"]["url"] for event in log["events"]
                 if event["type"] == start_job and "url" in event.get("params", {})
                 and (event["params"].get("initiator") == "null"
                      or "file://" in event["params"].get("network_isolation_key", ""))]
    remote = [url for url in requested if not url.startswith(("file:", "data:", "blob:"))]
    return done.stdout, remote


def test_check_profile_names_the_option_and_the_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"--profile must be one of paper, quick, smoke"):
        pages.check_profile("full")
    assert pages.check_profile("smoke") == "smoke"


def test_build_book_rejects_an_unknown_profile_before_any_work(tmp_path: Path) -> None:
    source = tmp_path / "does-not-exist"
    with pytest.raises(ValueError, match="--profile"):
        book.build_book(profile="fast", source_dir=source)
    assert not source.exists()


def test_main_reports_an_unknown_profile_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert book.main(["--profile", "fast"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "--profile" in error and "paper, quick, smoke" in error and "'fast'" in error


def test_main_rejects_an_unknown_chapter(capsys: pytest.CaptureFixture[str]) -> None:
    assert book.main(["--only", "fig9"]) == 2
    assert "fig9" in capsys.readouterr().err


def test_build_book_names_a_missing_chapter_notebook(tmp_path: Path) -> None:
    _notebook(tmp_path / "notebooks" / "fig2.ipynb")
    with pytest.raises(book.BookBuildError, match=r"notebooks/fig1\.ipynb") as raised:
        book.build_book(profile="smoke", source_dir=tmp_path)
    assert "notebooks/fig2.ipynb" not in str(raised.value)


def test_saved_claims_load_back_in_chapter_order(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALINT_BOOK_GENERATED", str(tmp_path))
    pages.save_claims(pd.DataFrame([_ledger_row("fig5", "fig5_b", "fails"),
                                   _ledger_row("fig5", "fig5_a", "holds")]), "fig5")
    pages.save_claims(pd.DataFrame([_ledger_row("fig1", "fig1_a", "holds")]), "fig1")
    pages.save_claims(pd.DataFrame(columns=list(LEDGER_COLUMNS)), "fig2")
    claims = pages.load_claims()
    assert (tmp_path / "claims" / "fig5.csv").exists()
    assert list(claims.columns) == list(LEDGER_COLUMNS)
    assert list(claims["claim_id"]) == ["fig1_a", "fig5_a", "fig5_b"]
    assert claims.loc[0, "paper"] == "p = 0.03"
    assert pages.verdict_counts(claims) == {"holds": 2, "fails": 1, "inconclusive": 0}
    assert pages.profiles_in(claims) == "smoke"


def test_a_claim_repeated_on_the_same_runs_is_counted_once(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALINT_BOOK_GENERATED", str(tmp_path))
    pages.save_claims(pd.DataFrame([_ledger_row("fig1", "fig1_none_unlearns", "holds")]), "fig1")
    pages.save_claims(pd.DataFrame([_ledger_row("fig4", "fig4_none_unlearns", "holds"),
                                   _ledger_row("fig4", "fig4_isr_no_loss", "fails")]), "fig4")
    claims = pages.load_claims()
    assert len(claims) == 3
    unique = pages.unique_claims(claims)
    assert list(unique["claim_id"]) == ["fig1_none_unlearns", "fig4_isr_no_loss"]
    assert pages.verdict_counts(unique) == {"holds": 1, "fails": 1, "inconclusive": 0}
    # Without Fig. 1 in the build, Fig. 4's row is the only one of that claim and stays.
    alone = claims[claims["figure"] == "fig4"]
    assert list(pages.unique_claims(alone)["claim_id"]) == ["fig4_isr_no_loss", "fig4_none_unlearns"]
    # Empty margins and published tests read back as empty text, not "nan".
    assert claims.loc[0, "margin"] == "" and claims.loc[0, "as_published"] == ""


def test_load_claims_without_files_is_an_empty_ledger(tmp_path: Path) -> None:
    claims = pages.load_claims(tmp_path / "nothing-here")
    assert claims.empty and list(claims.columns) == list(LEDGER_COLUMNS)
    assert pages.verdict_counts(claims) == {"holds": 0, "fails": 0, "inconclusive": 0}


def test_save_claims_rejects_a_table_without_the_ledger_columns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALINT_BOOK_GENERATED", str(tmp_path))
    with pytest.raises(ValueError, match="verdict"):
        pages.save_claims(pd.DataFrame({"claim_id": ["x"]}), "fig1")


def test_verdict_counts_rejects_an_unknown_verdict() -> None:
    claims = pd.DataFrame([_ledger_row("fig1", "fig1_a", "maybe")])
    with pytest.raises(ValueError, match="maybe"):
        pages.verdict_counts(claims)


def test_bench_summary_says_when_the_benchmark_was_not_run(tmp_path: Path) -> None:
    note = pages.bench_summary(tmp_path / "bench.json")
    assert "was not run" in note.data
    assert pages.bench_table(tmp_path / "bench.json") is None


def test_bench_summary_shows_one_row_per_pipeline_with_the_ratio(tmp_path: Path) -> None:
    def result(pipeline: str, runs: int, per_core: float) -> dict:
        return {"pipeline": pipeline, "runs": runs, "threads": 1, "env_steps_per_s": per_core,
                "env_steps_per_s_per_core": per_core, "training_gflops": per_core * 0.045,
                "fraction_of_peak": per_core * 0.045 / 160, "max_rss_mb_after": 400.0}

    bench = {"device": "cpu", "cores": 2, "rollouts_per_run": 2, "steps_per_rollout": 2048,
             "epochs": 10, "flops_per_env_step": 45.0e6, "matmul_peak_gflops_1_thread": 160.0,
             "matmul_peak_gflops_all_cores": 300.0, "max_rss_mb": 484.0,
             "results": [result("valint", 1, 1000.0), result("valint", 10, 1200.0),
                         result("stable-baselines3 + minigrid", 1, 400.0)],
             "provenance": {"timestamp_utc": "2026-11-22T06:45:01+00:00"}}
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    table = pages.bench_table(tmp_path / "bench.json")
    assert table["vs_sb3"].tolist() == pytest.approx([2.5, 3.0, 1.0])
    page = pages.bench_summary(tmp_path / "bench.json").data
    assert "45.0 MFLOP" in page and "2026-11-22T06:45:01" in page and "× Stable-Baselines3" in page
    assert "cannot train faster" not in page  # an older benchmark file has no ceiling
    bench |= {"gemm_ceiling_gflops_1_thread": 90.0, "ceiling_env_steps_per_s_per_core": 2000.0}
    for row in bench["results"]:
        row["fraction_of_ceiling"] = row["training_gflops"] / 90.0
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    assert pages.bench_table(tmp_path / "bench.json")["fraction_of_ceiling"].tolist() == pytest.approx([0.5, 0.6, 0.2])
    page = pages.bench_summary(tmp_path / "bench.json").data
    assert "cannot train faster than 2,000 environment steps" in page and "share of ceiling" in page
    assert "torch.func" not in page  # nor the gradient rows
    bench["gradient_step"] = {"runs": 10, "batch": 64, "threads": 1, "rows": [
        {"method": m, "label": label, "ms": ms, "gflops": 2800 / ms, "vs_kernel": ms / 36.0}
        for m, label, ms in (("kernel", "hand-written stacked kernel (valint)", 36.0),
                             ("torch.func", "torch.func vmap(grad(loss))", 50.4),
                             ("autograd", "torch autograd, stacked weights", 41.4))]}
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    page = pages.bench_summary(tmp_path / "bench.json").data
    assert "hand-written stacked kernel (valint)" in page and "torch.func vmap(grad(loss))" in page
    assert "1.40" in page and "1.15" in page and "× kernel's time" in page


@pytest.mark.slow
def test_a_failing_chapter_stops_the_build_with_its_name(tmp_path: Path) -> None:
    _notebook(tmp_path / "notebooks" / "broken.ipynb",
              'raise ValueError("deliberately broken chapter")')
    with pytest.raises(book.BookBuildError) as raised:
        book.build_book(profile="smoke", source_dir=tmp_path, notebooks=["broken"])
    message = str(raised.value)
    assert "broken" in message and "ValueError" in message
    assert "deliberately broken chapter" in message
    assert (tmp_path / "book" / "generated" / "failed" / "broken.ipynb").exists()
    assert not (tmp_path / "book" / "generated" / "broken.ipynb").exists()
    assert not (tmp_path / "_build").exists()


@pytest.mark.slow
def test_keep_going_runs_every_chapter_in_this_environment_then_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VALINT_RESULTS", raising=False)
    monkeypatch.setenv("TQDM_DISABLE", "0")
    # a quick build measures throughput first; `valint bench` has its own tests, so here the
    # call is only recorded (it would spend a minute of the test on measuring)
    benched: list[Path] = []
    monkeypatch.setattr(book, "_run_bench", benched.append)
    _notebook(tmp_path / "notebooks" / "broken.ipynb", 'raise ValueError("first chapter")')
    _notebook(
        tmp_path / "notebooks" / "probe.ipynb",
        "import os, sys\nfrom pathlib import Path",
        f"assert Path(sys.prefix).resolve() == Path({sys.prefix!r}).resolve(), sys.prefix",
        'assert os.environ["TQDM_DISABLE"] == "1" and os.environ["VALINT_PROGRESS"] == "0"',
        f'assert os.environ["VALINT_RESULTS"] == {str(tmp_path / "results")!r}',
        f"assert Path.cwd().resolve() == Path({str(tmp_path)!r}).resolve()",
        'assert profile == "quick", profile',
    )
    with pytest.raises(book.BookBuildError) as raised:
        book.build_book(profile="quick", source_dir=tmp_path, notebooks=["broken", "probe"],
                        keep_going=True)
    message = str(raised.value)
    assert "1 chapter(s) failed" in message and "broken" in message
    assert "probe" not in message
    bench_json = (tmp_path / "book" / "generated" / "bench.json").resolve()
    assert [path.resolve() for path in benched] == [bench_json]
    times = pd.read_csv(tmp_path / "book" / "generated" / "build_times.csv")
    assert list(times["notebook"]) == ["probe"] and list(times["profile"]) == ["quick"]
    assert os.environ["TQDM_DISABLE"] == "0" and "VALINT_BOOK_SOURCE" not in os.environ


@pytest.mark.slow
def test_whole_smoke_book_has_a_page_per_figure(built_book: BuiltBook) -> None:
    missing = _missing_chapters()
    if missing:
        pytest.skip("chapter notebooks not written yet: " + ", ".join(missing))
    for chapter in pages.NOTEBOOK_ORDER:
        assert built_book.page(chapter).exists(), chapter
    assert (built_book.html / "book" / "references.html").exists()


@pytest.mark.slow
def test_book_has_the_intro_and_every_executed_chapter(built_book: BuiltBook) -> None:
    assert 'url=book/intro.html' in (built_book.html / "index.html").read_text()
    assert (built_book.html / "book" / "intro.html").exists()
    for chapter in built_book.chapters:
        assert built_book.page(chapter).exists(), chapter
    times = pages.load_build_times(built_book.source / "book" / "generated" / "build_times.csv")
    assert list(times["notebook"]) == list(built_book.chapters)
    assert set(times["profile"]) == {"smoke"} and (times["wall_time_s"] > 0).all()


@pytest.mark.slow
def test_report_page_has_the_claims_table(built_book: BuiltBook) -> None:
    html = built_book.page("report").read_text()
    assert "<table" in html
    for header in ("Claim", "Paper", "Ours", "Run", "Verdict", "Paper scale", "This build",
                   "Paper's test, our data"):
        assert f">{header}</th>" in html, header
    claims = pages.load_claims(built_book.source / "book" / "generated" / "claims")
    assert len(claims) > 0
    unique = pages.unique_claims(claims)
    for claim_id in unique["claim_id"]:
        assert claim_id in html
    # Fig. 4a's unlearning repeats Fig. 1b's test on the same runs: counted, and shown, once.
    assert "fig4_none_unlearns" in set(claims["claim_id"]) - set(unique["claim_id"])
    assert "fig4_none_unlearns" not in html


@pytest.mark.slow
def test_pages_show_no_tracebacks_progress_bars_or_injected_parameters(
        built_book: BuiltBook) -> None:
    for page in _pages(built_book):
        html = page.read_text()
        for text in FORBIDDEN_IN_PAGES:
            assert text not in html, f"{text!r} in {page}"
        assert not TQDM_BAR.search(html), f"a progress bar in {page}"


@pytest.mark.slow
def test_parameters_cell_is_collapsed_and_injected_cell_removed(built_book: BuiltBook) -> None:
    for chapter in built_book.chapters:
        executed = nbformat.read(built_book.source / "book" / "generated" / f"{chapter}.ipynb",
                                 as_version=4)
        tags = [cell.metadata.get("tags", []) for cell in executed.cells]
        assert ["injected-parameters", "remove-cell"] in tags, chapter
        assert ["parameters", "hide-input"] in tags, chapter
        html = built_book.page(chapter).read_text()
        assert "tag_parameters" in html and "tag_hide-input" in html, chapter
        assert "# Parameters" not in html, chapter


@pytest.mark.slow
def test_every_image_in_the_book_resolves(built_book: BuiltBook) -> None:
    for page in _pages(built_book):
        parser = _ImageSources()
        parser.feed(page.read_text())
        for source in parser.sources:
            if source.startswith(("data:", "http://", "https://")):
                continue
            target = (page.parent / source.split("#")[0].split("?")[0]).resolve()
            assert target.is_file(), f"{page.name}: broken image {source}"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
@pytest.mark.parametrize("page", ["book/intro", "book/generated/fig5", "book/generated/report"])
def test_page_screenshot_is_not_blank(built_book: BuiltBook, page: str, tmp_path: Path) -> None:
    path = built_book.html / f"{page}.html"
    assert path.exists(), f"{page} was not built: every chapter listed here has a notebook"
    png = tmp_path / "page.png"
    _screenshot(path, png)
    assert png.exists(), f"chromium wrote no screenshot of {page}"
    from PIL import Image

    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[:2] == (2000, 1280)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50, f"{page} is nearly one colour"
    assert (pixels < 200).any(axis=2).mean() > 0.01, f"{page} is nearly empty"



def test_mathjax_comes_from_the_pinned_package_and_a_url_is_refused() -> None:
    tree = offline.mathjax_tree()
    assert (tree / offline.ENTRY_POINT).is_file()
    assert (tree / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    from sphinx.errors import ExtensionError

    class Config:
        mathjax_path = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"

    with pytest.raises(ExtensionError, match="mathjax_path: mathjax/tex-mml-chtml.js"):
        offline._check_config(None, Config())
    Config.mathjax_path = "mathjax/tex-mml-chtml.js"
    offline._check_config(None, Config())
    import yaml

    config = yaml.safe_load((REPO / "_config.yml").read_text())["sphinx"]
    assert "valint.offline" in config["extra_extensions"]
    assert config["config"]["mathjax_path"] == "mathjax/tex-mml-chtml.js"


def test_rendered_text_check_finds_raw_tex() -> None:
    for raw in (r"<p>the cost \(R_e\)</p>", "<p>the cost $R_e$</p>", r"<div>\[U\]</div>"):
        parser = _RenderedText()
        parser.feed(raw)
        assert RAW_TEX.search("".join(parser.text)), raw
    parser = _RenderedText()
    parser.feed('<p>the cost <mjx-container>R</mjx-container></p><pre>echo "$HOME"</pre>')
    assert not RAW_TEX.search("".join(parser.text)) and parser.typeset == 1


@pytest.mark.slow
def test_pages_load_nothing_from_the_network(built_book: BuiltBook) -> None:
    pages = _pages(built_book)
    assert pages
    for page in pages:
        parser = _Resources()
        parser.feed(page.read_text())
        remote = [url for url in parser.urls if EXTERNAL.match(url)]
        assert not remote, f"{page.relative_to(built_book.html)} loads {remote}"
    for sheet in built_book.html.rglob("*.css"):
        css = sheet.read_text(errors="replace")
        assert not re.search(r"url\(\s*['\"]?(?:https?:)?//|@import\s+(?:url\()?['\"]?(?:https?:)?//",
                             css, re.I), f"{sheet} loads a network resource"
    intro = (built_book.html / "book" / "intro.html").read_text()
    assert 'src="../_static/mathjax/tex-mml-chtml.js"' in intro
    assert (built_book.html / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
@pytest.mark.parametrize("page", OFFLINE_PAGES)
def test_page_renders_its_equations_without_a_network(built_book: BuiltBook, page: str,
                                                      tmp_path: Path) -> None:
    path = built_book.html / f"{page}.html"
    assert path.exists(), f"{page} was not built: every chapter listed here has a notebook"
    expected = _math_elements(path.read_text())
    assert expected > 0, f"{page} has no equation to check"
    dom, remote = _load_offline(path, tmp_path)
    assert not remote, f"{page} asked the network for {remote}"
    rendered = _RenderedText()
    rendered.feed(dom)
    assert rendered.typeset >= expected, (f"{page}: MathJax typeset {rendered.typeset} of "
                                          f"{expected} equations")
    assert rendered.errors == 0, f"{page}: MathJax reported {rendered.errors} TeX errors"
    text = " ".join("".join(rendered.text).split())
    raw = RAW_TEX.search(text)
    assert raw is None, f"{page}: raw TeX left in the page: ...{text[max(raw.start() - 60, 0):raw.end() + 60]}..."


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_offline_screenshot_shows_the_typeset_equation(built_book: BuiltBook, tmp_path: Path) -> None:
    png = tmp_path / "intro.png"
    _, remote = _load_offline(built_book.html / "book" / "intro.html", tmp_path, screenshot=png)
    assert not remote
    keep = os.environ.get("VALINT_KEEP_SCREENSHOT")
    if keep:  # for a person to look at
        shutil.copy2(png, keep)
    from PIL import Image

    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[:2] == (2000, 1280)
    assert (pixels < 200).any(axis=2).mean() > 0.01


@pytest.mark.slow
def test_build_times_record_the_machine_and_the_store(built_book: BuiltBook) -> None:
    times = pages.load_build_times(built_book.source / "book" / "generated" / "build_times.csv")
    assert list(times.columns) == list(pages.BUILD_TIME_COLUMNS)
    assert (times["cores"] >= 1).all() and (times["load_avg_1min"] >= 0).all()
    assert times["store_entries_before"].iloc[0] == 0  # the test book starts from an empty store
    trained = times.set_index("notebook")["store_entries_written"]
    assert trained.sum() > 0 and (trained >= 0).all()
    if "fig1" in trained:
        assert trained["fig1"] > 0


@pytest.mark.slow
def test_teaching_page_shows_the_build_times_of_its_live_runs(built_book: BuiltBook) -> None:
    page = built_book.page("teaching")
    if not page.exists():
        pytest.skip("the teaching page was not built")
    html = page.read_text()
    times = pages.load_build_times(built_book.source / "book" / "generated" / "build_times.csv")
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    cells = [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
             for row in rows]
    live = {row[1]: row for row in cells if len(row) == 8 and row[0] in ("lecture", "lab")}
    assert sorted(live) == ["fig1", "fig4", "fig5", "fig6"]
    for chapter, row in live.items():
        measured = times.loc[times["notebook"] == chapter].iloc[0]
        assert row[4] == student.format_duration(measured["wall_time_s"]), chapter
        assert row[5] == measured["profile"] == "smoke", chapter
    for part in ("A lecture on Figures 1 and 4", "A lab on Figures 5 and 6", "Exercise"):
        assert part in html
    assert "Solution" not in html.split("A lecture on Figures 1 and 4", 1)[1]


def test_the_robustness_sentence_names_the_variants_that_did_not_learn_to_help():
    from valint import pages

    summary = pd.DataFrame({"layout_rule": ["authors", "goal-branch"], "obs_scale": ["raw", "raw"],
                            "random_learner": [0.35, 0.07], "sixth 1": [0.3, 0.1], "sixth 6": [0.9, 0.05]})
    text = pages.robustness_sentence(summary)
    assert "at or below the random level in goal-branch with raw inputs" in text
    assert "above it in authors with raw inputs" in text and "depends on these choices" in text
    both = summary.assign(**{"sixth 6": [0.9, 0.2]})
    assert "does not hinge" in pages.robustness_sentence(both)
