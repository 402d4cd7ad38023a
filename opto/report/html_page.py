"""One self-contained HTML page: inline style, one inline script, images as ``data:`` URIs.

Every text that comes from a run file goes through ``esc`` (or a helper that calls it);
markup built here is wrapped in ``Html`` so the two cannot be confused. The page's Content
Security Policy allows no network request at all, images only from ``data:`` URIs and only
the one script whose hash it names: even a text that escaped escaping could not load or run
anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

TEXT_LIMIT = 100_000  # characters of one text block shown; the rest is cut with a note


class Html(str):
    """Markup made by this package (already escaped where it holds text)."""


def esc(value: object) -> Html:
    """``value`` as text, HTML-escaped (quotes included)."""
    return Html(html.escape(str(value), quote=True))


def cell(value: Html | str) -> Html:
    """``value`` as HTML: markup built here stays, plain text is escaped."""
    return value if isinstance(value, Html) else esc(value)


def pre(text: str, css_class: str = "") -> Html:
    """A preformatted block of ``text``, cut at ``TEXT_LIMIT`` characters with a note;
    ``css_class`` styles it (``diff``, ``code``, ...)."""
    shown = text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT]
    note = "" if shown is text else f"\n[... {len(text) - TEXT_LIMIT:,} more characters not shown]"
    class_attribute = f' class="{esc(css_class)}"' if css_class else ""
    return Html(f"<pre{class_attribute}>{esc(shown)}{esc(note)}</pre>")


def details(summary: Html | str, body: Html, opened: bool = False) -> Html:
    """A foldable block: ``summary`` always shown, ``body`` when unfolded (from the start if
    ``opened``), so long prompts do not swamp the page."""
    flag = " open" if opened else ""
    return Html(f"<details{flag}><summary>{cell(summary)}</summary>{body}</details>")


def pairs_table(rows: Iterable[tuple[str, Html | str]]) -> Html:
    """A two-column table of the ``(label, value)`` pairs of ``rows``."""
    body = "".join(f"<tr><th>{esc(label)}</th><td>{cell(value)}</td></tr>" for label, value in rows)
    return Html(f'<table class="pairs">{body}</table>')


@dataclass
class Column:
    """A column of ``data_table``: its title and the key ``#sort=key`` links use."""

    title: str
    key: str


def data_table(
    columns: Sequence[Column],
    rows: Iterable[Sequence[tuple[Html | str, str]]],
    sortable: bool = False,
    table_id: str = "",
) -> Html:
    """A table with a header of ``columns`` and a line per entry of ``rows``; each cell is
    ``(content, sort value)`` (sort value ``""``: missing, last). ``table_id`` gives the
    table an ``id`` for links.

    With ``sortable=True`` clicking a header sorts by it, and ``#sort=KEY`` (or
    ``#sort=KEY-desc``) in the page's address sorts the table when the page opens.
    """
    head = "".join(f'<th data-key="{esc(c.key)}">{esc(c.title)}</th>' for c in columns)
    body = []
    for row in rows:
        cells = "".join(
            f'<td data-sort="{esc(sort)}">{cell(content)}</td>' for content, sort in row
        )
        body.append(f"<tr>{cells}</tr>")
    classes = "data sortable" if sortable else "data"
    identifier = f' id="{esc(table_id)}"' if table_id else ""
    return Html(
        f'<table class="{classes}"{identifier}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def image(uri: str, alt: str, css_class: str = "plot") -> Html:
    """An ``<img>`` of ``uri``, a ``data:`` URI (anything else is refused: the page loads
    nothing), with ``alt`` text and the ``css_class`` that sizes it."""
    if not uri.startswith("data:image/"):
        raise ValueError("the report embeds data: images only")
    return Html(f'<img class="{esc(css_class)}" src="{esc(uri)}" alt="{esc(alt)}">')


def note(text: str) -> Html:
    """``text`` as a muted paragraph (what is missing or left out, and why)."""
    return Html(f'<p class="note">{esc(text)}</p>')


STYLE = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222;
       background: #fafafa; }
header { background: #1f3a5f; color: #fff; padding: 16px 28px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; opacity: 0.85; }
nav { padding: 8px 28px; background: #e9eef5; font-size: 13px; }
nav a { margin-right: 14px; color: #1f3a5f; }
main { padding: 8px 28px 40px; max-width: 1200px; }
section { background: #fff; border: 1px solid #e2e2e2; border-radius: 6px; padding: 12px 18px;
          margin: 16px 0; }
h2 { font-size: 18px; margin: 4px 0 10px; color: #1f3a5f; }
h3 { font-size: 15px; margin: 14px 0 6px; }
table { border-collapse: collapse; font-size: 13px; }
table.pairs th { text-align: left; color: #555; font-weight: normal; padding: 2px 16px 2px 0;
                 vertical-align: top; }
table.pairs td { padding: 2px 0; }
table.data th, table.data td { border-bottom: 1px solid #eee; padding: 3px 10px 3px 0;
                               text-align: left; vertical-align: top; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; }
pre { background: #f6f8fa; border: 1px solid #e5e5e5; padding: 8px; overflow-x: auto;
      white-space: pre-wrap; word-break: break-word; font-size: 12px; max-height: 480px; }
pre.diff .add { background: #e6ffec; display: block; }
pre.diff .del { background: #ffebe9; display: block; }
pre.diff .hunk { color: #6f42c1; display: block; }
details { margin: 4px 0; }
summary { cursor: pointer; color: #1f3a5f; }
img.plot { max-width: 100%; height: auto; margin: 6px 12px 6px 0; border: 1px solid #eee; }
img.graph { max-width: none; height: auto; }
div.scroll { overflow-x: auto; max-width: 100%; }
.note { color: #8a6d3b; background: #fcf8e3; padding: 4px 8px; border-radius: 4px; }
.refused { color: #b00020; }
.applied { color: #1b7f3b; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px;
         background: #eee; margin-left: 6px; }
.plots { display: flex; flex-wrap: wrap; }
"""

SCRIPT = """
(function () {
  function key(cell) {
    var v = cell.getAttribute('data-sort');
    if (v === null) { v = cell.textContent; }
    if (v === '') { return null; }
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  function sortTable(table, column, descending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[column]), y = key(b.cells[column]);
      if (x === null || y === null) { return (x === null) - (y === null); }
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      var order = x < y ? -1 : (x > y ? 1 : 0);
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) {
      heads[i].setAttribute('aria-sort',
        i === column ? (descending ? 'descending' : 'ascending') : 'none');
    }
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (head, column) {
      head.setAttribute('aria-sort', 'none');
      head.tabIndex = 0;
      head.addEventListener('click', function () {
        sortTable(table, column, head.getAttribute('aria-sort') === 'ascending');
      });
    });
  });
  var wanted = /^#sort=([A-Za-z0-9_]+?)(-desc)?$/.exec(location.hash);
  if (wanted) {
    var head = document.querySelector('table.sortable th[data-key="' + wanted[1] + '"]');
    if (head) { sortTable(head.closest('table'), head.cellIndex, Boolean(wanted[2])); }
  }
})();
"""


def _script_hash() -> str:
    digest = hashlib.sha256(SCRIPT.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, Html]]) -> str:
    """The whole document: a header of ``title`` and ``subtitle``, a table of contents and
    the ``(id, title, body)`` ``sections``."""
    policy = (
        f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src '{_script_hash()}'; base-uri 'none'; form-action 'none'"
    )
    links = "".join(f'<a href="#{esc(ident)}">{esc(name)}</a>' for ident, name, _ in sections)
    body = "".join(
        f'<section id="{esc(ident)}"><h2>{esc(name)}</h2>{content}</section>'
        for ident, name, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(policy)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body><header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
        f"<nav>{links}</nav><main>{body}</main>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
