# ruff: noqa: E501 — CSS rules read best one per line
"""The monthly pack as one HTML page: charts embedded as data URIs so the file works alone
(e-mailed, opened from a share) — the same PNGs are written beside it for slides."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape

from grafana import style

CSS = f"""
body {{ font-family: Arial, "Helvetica Neue", sans-serif; color: #212B32; margin: 0; background: #F0F4F5; }}
header {{ background: {style.NHS_BLUE}; color: white; padding: 20px 40px; }}
header h1 {{ margin: 0; font-size: 28px; }}
header p {{ margin: 4px 0 0; font-size: 16px; opacity: .9; }}
main {{ max-width: 1180px; margin: 0 auto; padding: 20px 40px 40px; }}
section {{ background: white; border-radius: 4px; padding: 16px 24px; margin: 18px 0; }}
h2 {{ font-size: 21px; margin: 4px 0 12px; }}
.cards {{ display: flex; gap: 16px; flex-wrap: wrap; }}
.card {{ flex: 1 1 200px; background: white; border-left: 6px solid {style.NHS_BLUE}; padding: 12px 16px; }}
.card .value {{ font-size: 34px; font-weight: bold; }}
.card .label {{ font-size: 14px; color: #4C6272; }}
.card.alert {{ border-left-color: {style.SPC_CONCERN}; }}
.grid2 {{ display: grid; grid-template-columns: 1fr 1fr; gap: 16px; align-items: start; }}
img {{ max-width: 100%; height: auto; }}
table {{ border-collapse: collapse; width: 100%; font-size: 14px; }}
th, td {{ text-align: left; padding: 6px 8px; border-bottom: 1px solid #D8DDE0; }}
th {{ background: #F0F4F5; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.up {{ color: #B3541E; font-weight: bold; }} .down {{ color: #006747; font-weight: bold; }}
.verdict {{ font-size: 14px; margin: 2px 0 14px; }}
.tag {{ display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: bold; color: white; }}
.tag.concern {{ background: #C07A00; }} .tag.improvement {{ background: #1D6FA5; }} .tag.common {{ background: #6B6D6D; }}
.tag.firing {{ background: {style.BAD}; }} .tag.resolved {{ background: {style.GOOD}; }}
.note {{ font-size: 13px; color: #4C6272; }}
@media print {{ body {{ background: white; }} section {{ break-inside: avoid; }} }}
"""


@dataclass(frozen=True)
class Figure:
    name: str  # file name in the output directory
    png: bytes
    alt: str

    def img(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{escape(self.alt)}">'


def change(this: int, previous: int) -> str:
    """'+12 (+30%)' coloured: up is orange-brown (more feedback to look at), down green."""
    diff = this - previous
    if diff == 0:
        return "no change"
    pct = f" ({diff / previous:+.0%})" if previous else ""
    return f'<span class="{"up" if diff > 0 else "down"}">{diff:+,}{pct}</span>'


def table(
    headers: list[str], rows: list[list[str]], numeric: set[int] | None = None, empty: str = "None"
) -> str:
    numeric = numeric or set()
    if not rows:
        return f'<p class="note">{escape(empty)}</p>'
    head = "".join(
        f'<th class="{"num" if i in numeric else ""}">{escape(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"num" if i in numeric else ""}">{cell}</td>' for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, subtitle: str, sections: list[str]) -> str:
    return (
        '<!doctype html>\n<html lang="en-GB"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header><main>"
        + "\n".join(sections)
        + "</main></body></html>\n"
    )
