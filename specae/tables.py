"""The result tables of the extensions' report scripts, made once as data.

Each script prints them and writes them as Markdown (report.md, for people) and keeps the same data
in its report.json under "tables" (with "notes" for sentences above them), which the report page
reads: nothing parses the Markdown back. Shared by the extensions that write tables (denoise, deep,
anomaly, vae, separation).
"""
from specae.files import atomic_path


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
