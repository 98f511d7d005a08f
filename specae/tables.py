"""The result tables of the extensions' report scripts, made once as data.

Each script prints them and writes them as Markdown (report.md, for people) and keeps the same data
in its report.json under "tables" (with "notes" for sentences above them), which the report page
reads: nothing parses the Markdown back. Shared by the extensions that write tables (denoise, deep,
anomaly, vae, separation).
"""
import os
import sys

from specae.files import atomic_path, save_json


def table(header, rows):
    """A table as data: its header cells and its rows of cells, all text."""
    return {"header": [str(cell) for cell in header], "rows": [[str(cell) for cell in row] for row in rows]}


def markdown(tables, notes=()):
    """The notes as paragraphs, then each table as a pipe table, blank lines between them."""
    blocks = list(notes)
    for item in tables:
        lines = ["| " + " | ".join(item["header"]) + " |", "|---" * len(item["header"]) + "|"]
        blocks.append("\n".join(lines + ["| " + " | ".join(row) + " |" for row in item["rows"]]))
    return "\n\n".join(blocks) + "\n"


def save_markdown(path, tables, notes=()):
    """Print the tables and write them to ``path`` (report.md), atomically."""
    text = markdown(tables, notes)
    print(text, end="")
    with atomic_path(path) as temporary:
        with open(temporary, "w") as stream:
            stream.write(text)


def figure(path, caption, out):
    """A figure for report.json: its file relative to the folder of report.json (``out``), and a caption."""
    return {"file": os.path.relpath(path, out), "caption": caption}


def save_report(out, tables, notes=(), figures=(), audio=(), **data):
    """An extension's report: report.md (the tables, printed too) and report.json, which keeps the same
    tables and notes as data beside ``data``, the figures and WAVs the report page shows (``figures``: made
    by `figure`; ``audio``: WAV paths), both relative to ``out``, and the command line exactly as it ran
    (sys.argv, like run.json of the training stages)."""
    save_markdown(os.path.join(out, "report.md"), tables, notes)
    save_json(os.path.join(out, "report.json"), dict(
        data, command=sys.argv, tables=list(tables), notes=list(notes), figures=list(figures),
        audio=[os.path.relpath(path, out) for path in audio]))
