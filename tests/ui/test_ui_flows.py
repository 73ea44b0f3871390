"""End-to-end: real clicks in headless Chromium against a real server.

Each test starts from a URL, clicks as a person would, and checks what the page shows;
every test also fails if the page logged a script error (see conftest.Ui).
"""

from __future__ import annotations

import pytest
import requests

from tests.ui.conftest import Ui, UiServer, expect
from tests.ui.seed import CSV_TEXT, Demo

pytestmark = pytest.mark.slow

ROWS = "#runs-table tbody tr[data-run-id]"


def _run_names(ui: Ui) -> list[str]:
    return ui.page.locator(f"{ROWS} td:nth-child(2)").all_inner_texts()


def _open_demo(ui: Ui, demo: Demo) -> None:
    ui.open("/experiments")
    ui.page.get_by_role("link", name=demo.experiment_name, exact=True).click()
    expect(ui.page.locator("main")).to_have_attribute("data-state", "complete")


def test_open_an_experiment(ui: Ui, demo: Demo) -> None:
    _open_demo(ui, demo)
    assert ui.page.url.endswith(f"#/experiments/{demo.experiment_id}")
    expect(ui.page.locator("h1")).to_have_text(demo.experiment_name)
    assert sorted(_run_names(ui)) == sorted(demo.runs)
    # Metric and param columns are chosen by default; values are shown.
    headers = ui.page.locator("#runs-table thead th").all_inner_texts()
    assert any("loss" in h for h in headers) and any("lr" in h for h in headers)
    expect(ui.page.locator("#runs-status")).to_have_text(f"{len(demo.runs)} runs")
    ui.shot("runs")


def test_filter_with_the_search_language_and_see_a_bad_filters_error(ui: Ui, demo: Demo) -> None:
    _open_demo(ui, demo)
    box = ui.page.locator("#run-filter")
    box.fill("params.optimizer = 'adam' AND metrics.loss < 1")
    box.press("Enter")
    expect(ui.page.locator(ROWS)).to_have_count(2)
    assert sorted(_run_names(ui)) == ["deep", "wide"]
    assert "filter=params.optimizer" in ui.page.url  # the view is a link
    ui.shot("filtered")

    box.fill("metrics.loss < ")
    ui.page.get_by_role("button", name="Filter", exact=True).click()
    error = ui.page.locator("#filter-error")
    expect(error).to_contain_text("position")
    expect(box).to_have_attribute("aria-invalid", "true")
    ui.shot("bad-filter")

    # A good filter clears the error.
    box.fill("tags.team = 'vision'")
    box.press("Enter")
    expect(error).to_be_empty()
    expect(ui.page.locator(ROWS)).to_have_count(2)


def test_sort_by_a_column_header(ui: Ui, demo: Demo) -> None:
    _open_demo(ui, demo)
    header = ui.page.locator("#runs-table th button[data-sort='metrics.`loss`']")
    header.click()
    expect(ui.page.locator("#runs-table th[aria-sort='ascending']")).to_contain_text("loss")
    expect(ui.page.locator("main")).to_have_attribute("data-state", "complete")
    ascending = _run_names(ui)[:5]
    assert ascending == ["tuned", "deep", "wide", "baseline", "tiny"]
    header = ui.page.locator("#runs-table th button[data-sort='metrics.`loss`']")
    header.click()
    expect(ui.page.locator("#runs-table th[aria-sort='descending']")).to_contain_text("loss")
    expect(ui.page.locator("main")).to_have_attribute("data-state", "complete")
    assert _run_names(ui)[:5] == list(reversed(ascending))
    assert "DESC" in ui.page.url
    ui.shot("sorted")


def test_open_a_run_and_its_artifact_previews(ui: Ui, ui_server: UiServer, demo: Demo) -> None:
    _open_demo(ui, demo)
    ui.page.get_by_role("link", name="baseline", exact=True).click()
    page = ui.page
    expect(page.locator("h1")).to_have_text("baseline")
    expect(page.locator("#run-params")).to_contain_text("optimizer")
    expect(page.locator("#run-metrics")).to_contain_text("loss")
    expect(page.locator("#run-metrics canvas[data-state='drawn']")).to_have_count(2)
    expect(page.locator("#run-datasets")).to_contain_text("cifar10")
    expect(page.get_by_role("link", name="fold-1")).to_be_visible()  # child runs
    expect(page.get_by_role("link", name=f"{demo.model_name} v1")).to_be_visible()
    # The note is Markdown, rendered without running the script or the onerror in it.
    note = page.locator("#run-note .markdown")
    expect(note.locator("h2")).to_have_text("Baseline")
    expect(note.locator("strong").first).to_have_text("best")
    assert note.locator("script, img").count() == 0
    assert note.get_by_role("link", name="a bad link").get_attribute("href") == "#"
    assert page.evaluate("() => window.__injected === undefined")
    ui.shot("run")

    page.get_by_role("link", name="Artifacts").click()
    preview = page.locator("#artifact-preview")
    page.get_by_role("button", name="config").click()
    page.get_by_role("button", name="params.json").click()
    expect(preview.locator("pre")).to_contain_text('"layers": [')
    assert "path=config%2Fparams.json" in page.url or "path=config/params.json" in page.url
    page.get_by_role("button", name="model.yaml").click()
    expect(preview.locator("pre")).to_contain_text("optimizer: adam")
    page.get_by_role("button", name="metrics.csv").click()
    expect(preview.locator("table.csv tbody tr")).to_have_count(3)
    expect(preview.locator("table.csv thead")).to_contain_text("accuracy")
    # Download: the link serves the file's bytes through the artifact proxy.
    href = preview.get_by_role("link", name="Download").get_attribute("href")
    assert href and requests.get(ui_server.url + href, timeout=10).text == CSV_TEXT
    with page.expect_download() as download:
        preview.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == "metrics.csv"
    page.get_by_role("button", name="notes.txt").click()
    expect(preview.locator("pre")).to_contain_text("second line")
    page.get_by_role("button", name="page.html").click()
    expect(preview.locator("pre")).to_contain_text("<script>")
    page.get_by_role("button", name="plots").click()
    page.get_by_role("button", name="curve.png").click()
    image = preview.locator("img")
    expect(image).to_be_visible()
    page.wait_for_function("() => document.querySelector('#artifact-preview img').naturalWidth > 0")
    assert page.evaluate("() => window.__injected === undefined")
    ui.shot("artifacts")

    # The artifact view is a deep link: opening the URL shows the same file.
    url = page.url
    page.goto("about:blank")
    page.goto(url)
    expect(page.locator("#artifact-preview img")).to_be_visible()


def test_edit_the_note(ui: Ui, ui_server: UiServer, demo: Demo) -> None:
    run_id = demo.runs["tiny"]
    ui.open(f"/runs/{run_id}")
    ui.page.get_by_role("button", name="Add a note").click()
    ui.page.get_by_label("Note (Markdown)").fill("## Findings\n\n*too* small <b>x</b>")
    expect(ui.page.locator(".note-edit .markdown h3")).to_have_text("Findings")  # preview
    ui.page.get_by_role("button", name="Save").click()
    # The editor's preview matches the same selectors: wait until the saved view is back.
    expect(ui.page.get_by_role("button", name="Edit note")).to_be_visible()
    expect(ui.page.locator("#run-note .note-edit")).to_have_count(0)
    expect(ui.page.locator("#run-note .markdown em")).to_have_text("too")
    expect(ui.page.locator("#run-note .markdown")).to_contain_text("<b>x</b>")
    run = requests.get(
        f"{ui_server.url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, timeout=10
    ).json()["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["mlflow.note.content"] == "## Findings\n\n*too* small <b>x</b>"


def _select(ui: Ui, *names: str) -> None:
    for name in names:
        ui.page.get_by_label(f"Select {name}", exact=True).check()


def test_compare_two_runs(ui: Ui, demo: Demo) -> None:
    _open_demo(ui, demo)
    _select(ui, "wide", "deep")
    ui.page.locator("#compare-selected").click()
    page = ui.page
    expect(page.locator("h1")).to_have_text("Compare 2 runs")
    expect(page.locator("#compare-runs thead")).to_contain_text("wide")
    params = page.locator("#compare-params")
    # wide and deep share the optimizer; with "only differences", that row is hidden.
    expect(params.locator("tr.differs")).to_have_count(2)
    assert params.locator("tr[data-key='optimizer']").count() == 0
    page.get_by_label("Show only differences").uncheck()
    expect(params.locator("tr[data-key='optimizer']")).to_have_count(1)
    expect(page.locator("#compare-metrics tr.differs")).to_have_count(2)
    expect(page.locator("#scatter")).to_have_attribute("data-state", "drawn")
    expect(page.locator("#parallel")).to_have_attribute("data-state", "drawn")
    page.locator("#scatter-x").select_option("p:lr")
    assert "x=p%3Alr" in page.url or "x=p:lr" in page.url
    ui.shot("compare")


def test_open_a_chart_with_two_runs_overlaid(ui: Ui, demo: Demo) -> None:
    _open_demo(ui, demo)
    _select(ui, "baseline", "tiny")
    ui.page.locator("#chart-selected").click()
    page = ui.page
    chart = page.locator("#chart")
    expect(chart).to_have_attribute("data-state", "drawn")
    expect(chart).to_have_attribute("data-series", "2")
    assert int(chart.get_attribute("data-points") or 0) == 400  # 2 runs x 200 steps
    expect(page.locator("#chart-legend button")).to_have_count(2)
    expect(page.locator("h1")).to_have_text("Chart: accuracy")
    page.locator("#chart-metric").select_option("loss")
    expect(page.locator("h1")).to_have_text("Chart: loss")
    page.get_by_label("Log scale").check()
    page.locator("#chart-smoothing").fill("0.6")
    ui.shot("chart")
    # Drag to zoom: the x range lands in the URL; Reset zoom takes it out again.
    box = page.locator("#chart").bounding_box()
    assert box
    page.mouse.move(box["x"] + 300, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + 700, box["y"] + 205, steps=5)
    page.mouse.up()
    page.wait_for_function("() => location.hash.includes('zoom=')")
    assert "log=1" in page.url and "smooth=0.6" in page.url
    ui.shot("chart-zoomed")
    page.locator("#chart-reset").click()
    page.wait_for_function("() => !location.hash.includes('zoom=')")
    # Hiding a run from the legend.
    page.locator("#chart-legend button").first.click()
    expect(page.locator("#chart-legend button").first).to_have_attribute("aria-pressed", "false")


def test_experiments_create_rename_delete(ui: Ui) -> None:
    ui.open("/experiments")
    page = ui.page
    page.get_by_role("button", name="Create experiment").click()
    page.get_by_label("Experiment name").fill("made-in-the-ui")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("h1")).to_have_text("made-in-the-ui")
    ui.open("/experiments")
    page.get_by_role("button", name="Rename made-in-the-ui").click()
    page.get_by_label("New name").fill("renamed-in-the-ui")
    page.get_by_role("button", name="Rename", exact=True).click()
    expect(page.get_by_role("link", name="renamed-in-the-ui")).to_be_visible()
    page.get_by_placeholder("Search experiments by name").fill("renamed-in")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#experiments tbody tr")).to_have_count(1)
    ui.shot("experiments")
    page.get_by_role("button", name="Delete renamed-in-the-ui").click()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("link", name="renamed-in-the-ui")).to_have_count(0)
    page.get_by_label("Show deleted").check()
    expect(page.locator("#experiments")).to_contain_text("renamed-in-the-ui")


def test_model_registry_and_lineage(ui: Ui, demo: Demo) -> None:
    ui.open("/models")
    page = ui.page
    page.get_by_role("link", name=demo.model_name).click()
    versions = page.locator("#model-versions")
    expect(versions).to_contain_text("Production")
    expect(versions).to_contain_text("@champion")
    ui.shot("model")
    page.get_by_role("link", name="v1", exact=True).first.click()
    expect(page.locator("h1")).to_have_text(f"{demo.model_name} v1")
    page.locator("#lineage-run").click()
    expect(page.locator("h1")).to_have_text("baseline")
    assert page.url.endswith(f"#/runs/{demo.runs['baseline']}")


@pytest.mark.parametrize("ui", ["light", "dark"], indirect=True)
def test_themes_and_keyboard(ui: Ui, demo: Demo) -> None:
    ui.open(f"/runs/{demo.runs['baseline']}")
    page = ui.page
    expect(page.locator("#run-metrics canvas[data-state='drawn']")).to_have_count(2)
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    ui.shot("theme")
    # The toggle switches to the other theme and remembers it.
    page.locator("#theme-toggle").click()
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") != background
    assert page.evaluate("() => localStorage.getItem('trackway.theme')") in ("light", "dark")
    ui.shot("theme-toggled")
    # Keyboard: Tab walks the navigation with a visible focus ring; Enter follows a link.
    page.locator(".brand").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Experiments"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Models"
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Registered models")


def test_deep_links_open_the_same_view(ui: Ui, demo: Demo) -> None:
    ids = f"{demo.runs['wide']},{demo.runs['deep']}"
    ui.open(f"/compare?runs={ids}&all=1")
    expect(ui.page.locator("#compare-params tr[data-key='optimizer']")).to_have_count(1)
    ui.open(f"/charts?runs={ids}&metric=loss&x=relative")
    expect(ui.page.locator("#chart")).to_have_attribute("data-state", "drawn")
    expect(ui.page.locator("#chart-x")).to_have_value("relative")
    ui.open(f"/experiments/{demo.experiment_id}?filter=params.lr%20%3D%20'0.1'")
    expect(ui.page.locator(ROWS)).to_have_count(1)
    expect(ui.page.locator("#run-filter")).to_have_value("params.lr = '0.1'")
    ui.open("/nowhere")
    expect(ui.page.locator("h1")).to_have_text("Not found")
