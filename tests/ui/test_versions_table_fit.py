"""The versions table fits a 1366 px laptop screen with its MLflow column in view (no sideways scroll inside
its card), and stays usable on a phone: nothing wider than the screen, the version, state and gates readable,
and the MLflow link reachable (issue 10, item 15)."""

import pytest

from tests.fixtures.browser import BROWSER, sign_in

pytestmark = BROWSER

# What the table shows when it is laid out: its width against its card's, and the MLflow cell's edges.
MEASURE = """() => {
  const wrap = document.querySelector('#versions .table-wrap');
  const table = wrap.querySelector('table');
  const cell = table.querySelector('tbody tr .mlflow');
  const box = wrap.getBoundingClientRect(), c = cell.getBoundingClientRect();
  return {page: document.documentElement.scrollWidth, table: table.scrollWidth, wrap: wrap.clientWidth,
          cellLeft: c.left, cellRight: c.right, cellWidth: c.width, boxLeft: box.left, boxRight: box.right,
          visible: getComputedStyle(cell).display !== 'none',
          link: cell.querySelector('a') ? cell.querySelector('a').textContent.trim() : ''};
}"""


@pytest.mark.parametrize("width", [1366, 1280, 390])
def test_the_versions_table_fits_the_screen_with_its_mlflow_column(
    width, transactional_db, live_server, browser, releases, settings
):
    settings.MLFLOW_UI_URL = live_server.url  # any answering address: the links are drawn
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, live_server, "otto")
    page.goto(f"{live_server.url}/model-lines/{releases.line.name}/")
    m = page.evaluate(MEASURE)
    context.close()
    assert m["page"] <= width, m
    assert m["table"] <= m["wrap"] + 1, m  # no part of the table hidden behind a sideways scroll
    assert m["visible"] and m["cellWidth"] > 0 and m["link"].startswith("registered #"), m
    assert m["boxLeft"] - 1 <= m["cellLeft"] and m["cellRight"] <= m["boxRight"] + 1, m
