"""Every page of a rendered report keeps its text on the page and its text blocks apart.

Rendered from the synthetic study of tests/test_report.py (every page kind, claims included);
checked with matplotlib's own text extents after drawing on the Agg canvas.
"""

from __future__ import annotations

import itertools

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from test_report import make_config, make_tables

from initlab.report import plan_pages
from initlab.report.data import load_tables
from initlab.report.style import rc_context

pytestmark = pytest.mark.slow


def _first_line_box(text: Text, box: Bbox) -> Bbox:
    """A suptitle holds blank lines that reserve room for the subtitle below it: its own ink is
    the first line."""
    n = text.get_text().count("\n") + 1
    return Bbox.from_extents(box.x0, box.y1 - box.height / n, box.x1, box.y1)


def _boxes(fig: Figure) -> tuple[list[tuple[Text, Bbox]], list[tuple[Text, Bbox]]]:
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    suptitle = getattr(fig, "_suptitle", None)
    page_texts = [t for t in fig.texts if t.get_visible() and t.get_text().strip()]
    if suptitle is not None and suptitle not in page_texts and suptitle.get_text().strip():
        page_texts.append(suptitle)
    labels = [
        t
        for ax in fig.axes
        if ax.get_visible()
        for t in (ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts)
        if t.get_visible() and t.get_text().strip()
    ]

    def box(t: Text) -> Bbox:
        b = t.get_window_extent(renderer)
        return _first_line_box(t, b) if t is suptitle else b

    return [(t, box(t)) for t in page_texts], [(t, box(t)) for t in labels]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list:
    out = tmp_path_factory.mktemp("layout")
    make_tables(out)
    return plan_pages(make_config(), load_tables(out))


def layout_problems(pages: list) -> list[str]:
    """Text off the page, or page-level text blocks overlapping (more than 5% of the smaller)."""
    problems = []
    with rc_context():
        for number, page in enumerate(pages, start=1):
            fig = page.build()
            page_texts, labels = _boxes(fig)
            width, height = fig.bbox.width, fig.bbox.height
            for t, b in page_texts + labels:
                if b.x0 < -1 or b.y0 < -1 or b.x1 > width + 1 or b.y1 > height + 1:
                    problems.append(
                        f"page {number} ({page.section}): off the page: {t.get_text()[:40]!r}"
                    )
            for (ta, a), (tb, b) in itertools.combinations(page_texts, 2):
                inter = Bbox.intersection(a, b)
                if inter is None:
                    continue
                small = min(a.width * a.height, b.width * b.height)
                if inter.width * inter.height > 0.05 * small:
                    problems.append(
                        f"page {number} ({page.section}): {ta.get_text()[:30]!r} overlaps "
                        f"{tb.get_text()[:30]!r}"
                    )
    return problems


def test_every_page_keeps_its_text_on_the_page_and_apart(pages: list) -> None:
    problems = layout_problems(pages)
    assert not problems, "\n".join(problems)
