"""The HTML report: one self-contained file (thumbnails embedded as data URIs).

Each row shows input, output and reference, with a before/after slider over input and output;
clicking a column header sorts by that metric.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from llid_cli.evaluation.scoring import CaseResult
from llid_cli.evaluation.table import columns, fmt

THUMB = 320

_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse}th,td{padding:6px 10px;border-bottom:1px solid #ddd;text-align:right;vertical-align:middle}
th{cursor:pointer;background:#f4f4f4;user-select:none}th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
td.name{text-align:left;font-family:monospace}img.thumb{display:block;width:160px}
.slider{position:relative;width:320px;line-height:0}.slider img{width:320px}
.slider .before{position:absolute;top:0;left:0;height:100%;overflow:hidden;width:50%}
.slider .before img{width:320px;max-width:none}.slider input{width:320px;margin:4px 0 0}
.summary td{font-weight:bold}.note{color:#666}
"""

_SCRIPT = """
document.querySelectorAll('.slider input').forEach(function(r){r.addEventListener('input',function(){
  r.parentElement.querySelector('.before').style.width=r.value+'%';});});
document.querySelectorAll('th[data-key]').forEach(function(th){th.addEventListener('click',function(){
  var key=th.dataset.key,body=document.querySelector('#cases tbody'),asc=!th.classList.contains('sorted-asc');
  document.querySelectorAll('th').forEach(function(h){h.classList.remove('sorted-asc','sorted-desc');});
  th.classList.add(asc?'sorted-asc':'sorted-desc');
  var rows=Array.from(body.rows);
  rows.sort(function(a,b){var x=parseFloat(a.dataset[key]),y=parseFloat(b.dataset[key]);
    if(isNaN(x))x=asc?Infinity:-Infinity;if(isNaN(y))y=asc?Infinity:-Infinity;return asc?x-y:y-x;});
  rows.forEach(function(r){body.appendChild(r);});});});
"""


def _thumbnail(path: Path | None) -> str:
    if path is None:
        return ""
    import cv2
    import numpy as np

    from llid_cli.evaluation.scoring import load_rgb8

    try:
        rgb = load_rgb8(path)
    except Exception:  # a thumbnail must never break the report
        return ""
    scale = THUMB / max(rgb.shape[1], 1)
    if scale < 1:
        rgb = cv2.resize(rgb, (THUMB, max(1, round(rgb.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode() if ok else ""


def render_html(results: list[CaseResult], payload: dict) -> str:
    names = columns(results)
    title = html.escape(str(payload.get("title", "")))
    head = "".join(f'<th data-key="{n}">{html.escape(n.upper())}</th>' for n in names)
    rows = []
    for r in results:
        if r.error is not None:
            continue
        inp, out, ref = _thumbnail(r.input), _thumbnail(r.pred), _thumbnail(r.ref)
        data = " ".join(f'data-{n}="{r.metrics.get(n, "")}"' for n in names)
        slider = (f'<div class="slider"><img src="{out}" alt="output"><div class="before"><img src="{inp}" alt="input">'
                  f'</div><input type="range" min="0" max="100" value="50" aria-label="before/after"></div>') if inp else ""
        cells = "".join(f"<td>{fmt(n, r.metrics.get(n))}</td>" for n in names)
        rows.append(f'<tr {data}><td class="name">{html.escape(r.name)}</td><td><img class="thumb" src="{inp}" alt="">'
                    f'</td><td>{slider or f"<img class=thumb src={out!r}>"}</td><td><img class="thumb" src="{ref}" alt=""></td>{cells}</tr>')
    summary = "".join(
        f'<tr class="summary"><td class="name">{label}</td><td></td><td></td><td></td>'
        + "".join(f"<td>{fmt(n, payload['summary'].get(label, {}).get(n))}</td>" for n in names) + "</tr>"
        for label in ("mean", "median")
    )
    notes = []
    if payload.get("lpips") == "unavailable":
        notes.append("LPIPS: unavailable (its weights are not on this machine).")
    failed = [r for r in results if r.error]
    if failed:
        notes.append(f"{len(failed)} case(s) failed: " + "; ".join(html.escape(r.error) for r in failed))
    if payload.get("gt_mean_summary"):
        gm = payload["gt_mean_summary"]["mean"]
        notes.append("After GT-mean scaling (not comparable with the figures above): mean "
                     + ", ".join(f"{n.upper()} {fmt(n, gm.get(n))}" for n in names))
    note_html = "".join(f'<p class="note">{n}</p>' for n in notes)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>llid eval {title}</title><style>{_STYLE}</style></head>"
            f"<body><h1>llid eval</h1><p>{title}</p>{note_html}<table id='cases'><thead><tr><th>image</th><th>input</th>"
            f"<th>output (slide: before/after)</th><th>reference</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
            f"<tfoot>{summary}</tfoot></table><script>{_SCRIPT}</script></body></html>")
