"""Sphinx extension of the pyNN.bss_emu documentation: tables generated from the code at build
time, so that they cannot go stale.

Directives (usable from MyST markdown as ```` ```{bss-setup-options} ```` and from rst):

``bss-setup-options``
    Every ``setup()`` keyword (:data:`pyNN_bss_emu.backend.options.KEYWORDS`) with its default
    (read from the option tree), its description and the values ``setup()`` accepts
    (:func:`~pyNN_bss_emu.backend.options.accepted_values`, from the keyword's typed spec).
``bss-parameter-ranges``
    The neuron parameter ranges the emulated wafer accepts at the default ``setup()`` settings
    (:func:`pyNN_bss_emu.hardware.parameter_transform.parameter_ranges`), for both cell types.

Event handler:

``source-read``
    On the page ``benchmarks``, the marker line ``BENCHMARKS_MARKER`` is replaced by
    ``benchmarks/README.md`` (the measured tables), so the documentation shows the same
    numbers as the repository.  On any page, a line
    ``<!-- benchmarks/README.md section: Heading / Subheading -->`` is replaced by the body of
    that section of the README (e.g. the in-the-loop results on the training page).  Links to
    the benchmark scripts (which are not part of the documentation) become their repository
    paths in code style, the README's title is dropped (the page has its own), and the
    ``---`` separators between sections are dropped (docutils does not allow a transition
    right before a section title).
``missing-reference``
    A Python reference that the standard lookup misses (docstrings name objects relative to
    their own module) links to the one documented object whose name ends with it.

Static file ``static/bss_docs.css``: wide tables stay inside the text column, program output
wraps.
"""
from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS_README = REPO_ROOT / "benchmarks" / "README.md"
#: the page that receives benchmarks/README.md, and the marker line it is inserted at
BENCHMARKS_PAGE = "benchmarks"
BENCHMARKS_MARKER = "<!-- benchmarks/README.md is inserted here at build time -->"


# ------------------------------------------------------------------ table helpers
def _text_cell(text: str, literal: bool = False) -> nodes.entry:
    entry = nodes.entry()
    para = nodes.paragraph()
    para += nodes.literal(text, text) if literal else nodes.Text(text)
    entry += para
    return entry


def _table(header: list[str], rows: list[list[nodes.entry]], widths: list[int],
           classes=()) -> nodes.table:
    table = nodes.table(classes=list(classes))
    group = nodes.tgroup(cols=len(header))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for title in header:
        row += _text_cell(title)
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            row += cell
        body += row
    return table


# ------------------------------------------------------------------ setup() options
class SetupOptionsTable(SphinxDirective):
    """Table of the ``setup()`` keywords (``pyNN_bss_emu.backend.options.KEYWORDS``, in its
    order): default (read from the option tree), description and accepted values (from the
    keyword's typed spec)."""
    has_content = False

    def run(self):
        from pyNN_bss_emu.backend import options
        from pyNN_bss_emu.hardware import parameter_transform
        from pyNN_bss_emu.mapping import options as mapping_options
        # the defaults live in the dataclasses of these modules
        for module in (options, mapping_options, parameter_transform):
            self.env.note_dependency(module.__file__)
        rows = []
        for name, (default, description) in options.setup_keywords().items():
            meaning = _text_cell(description)
            accepted = nodes.paragraph()
            accepted += nodes.emphasis("", "Accepted: ")
            for text, literal in options.accepted_values(name):
                accepted += nodes.literal(text, text) if literal else nodes.Text(text)
            meaning += accepted
            rows.append([_text_cell(name, literal=True), _text_cell(repr(default), literal=True),
                         meaning])
        return [_table(["option", "default", "meaning"], rows, [26, 18, 56],
                       classes=["bss-setup-options"])]


# ------------------------------------------------------------------ parameter ranges
class ParameterRangesTable(SphinxDirective):
    """Allowed bio ranges of the neuron parameters at the default transformation."""
    has_content = False

    def run(self):
        from pyNN_bss_emu.hardware import parameter_transform as pt
        self.env.note_dependency(pt.__file__)
        lif = pt.parameter_ranges(cell_type="IF_cond_exp")
        adex = pt.parameter_ranges(cell_type="EIF_cond_exp_isfa_ista")
        zero_disables = getattr(pt, "_ZERO_DISABLES", ())
        rows = []
        for name, (lo, hi, unit) in adex.items():
            note = "" if name in lif else "AdEx only"
            if name in zero_disables:
                note = "AdEx only; 0 switches the term off"
            if name in ("a", "b"):
                note += "; range for cm = 1 nF, scales with cm"
            rows.append([_text_cell(name, literal=True), _text_cell(f"{lo:.4g}"),
                         _text_cell(f"{hi:.4g}"), _text_cell(unit), _text_cell(note)])
        return [_table(["parameter", "lowest", "highest", "unit", "note"], rows,
                       [16, 12, 12, 8, 40], classes=["bss-parameter-ranges"])]


# ------------------------------------------------------------------ benchmarks page
_SCRIPT_LINK = re.compile(r"\[([^\]\n]+)\]\(((?!https?:)[\w./-]+)\)")


def benchmarks_markdown() -> str:
    """benchmarks/README.md, made fit for the docs page (see the module docstring)."""
    text = BENCHMARKS_README.read_text(encoding="utf-8")

    def link(m):
        label, target = m.group(1), m.group(2)
        path = f"`benchmarks/{target}`"
        return path if label.strip("`") == target else f"{label} ({path})"
    text = _SCRIPT_LINK.sub(link, text)
    lines = text.splitlines()
    fenced = _in_fence(lines)
    lines = [line for i, line in enumerate(lines)        # transitions (outside code blocks)
             if fenced[i] or not re.match(r"^---+\s*$", line)]
    text = "\n".join(lines) + "\n"
    return re.sub(r"\A\s*# [^\n]*\n", "", text)           # its title: the page has one


def _in_fence(lines: list[str]) -> list[bool]:
    """Per line: inside a fenced code block (``` or ~~~), fence lines included."""
    out, fence = [], None
    for line in lines:
        m = re.match(r"^\s*(```+|~~~+)", line)
        if fence is None and m:
            fence = m.group(1)
            out.append(True)
        elif fence is not None:
            out.append(True)
            if line.strip().startswith(fence):
                fence = None
        else:
            out.append(False)
    return out


_SECTION_MARKER = re.compile(r"^<!-- benchmarks/README\.md section: (.+?) -->[ \t]*$", re.M)


def _heading(line: str):
    m = re.match(r"^(#+)\s+(.*)$", line)
    return (len(m.group(1)), m.group(2).strip()) if m else None


def benchmarks_section(path: str) -> str:
    """The body of one section of benchmarks/README.md, e.g. ``"In-the-loop training /
    Results"``: the first heading containing the first part, then the first heading below it
    containing the next part, and so on; the body runs to the next heading of the same or a
    higher level.  Raises ``ValueError`` if a heading is not found (the build then fails
    instead of showing a stale or empty table)."""
    lines = benchmarks_markdown().splitlines()
    fenced = _in_fence(lines)
    start, level = 0, 0
    for part in (p.strip() for p in path.split("/")):
        for i in range(start, len(lines)):
            h = None if fenced[i] else _heading(lines[i])
            if h and part.lower() in h[1].lower():
                start, level = i + 1, h[0]
                break
        else:
            raise ValueError(f"benchmarks/README.md has no heading containing {part!r} "
                             f"(section path {path!r})")
    end = len(lines)
    for i in range(start, len(lines)):
        h = None if fenced[i] else _heading(lines[i])
        if h and h[0] <= level:
            end = i
            break
    return "\n".join(lines[start:end]).strip() + "\n"


def _source_read(app, docname, source):
    text = source[0]
    if docname == BENCHMARKS_PAGE and BENCHMARKS_MARKER in text:
        app.env.note_dependency(str(BENCHMARKS_README))
        text = text.replace(BENCHMARKS_MARKER, benchmarks_markdown())
    if _SECTION_MARKER.search(text):
        app.env.note_dependency(str(BENCHMARKS_README))
        text = _SECTION_MARKER.sub(lambda m: benchmarks_section(m.group(1)), text)
    source[0] = text


# ------------------------------------------------------------------ cross-references
def _resolve_by_suffix(app, env, node, contnode):
    """A Python reference that the standard lookup did not find (docstrings write
    ``:func:`place_neurons``` or ``:class:`MappingStatistics``` relative to their own module,
    which autodoc may document under another name): link it to the one documented object
    whose full name ends with the target, if there is exactly one."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip(".~")
    if not target:
        return None
    objects = env.get_domain("py").objects
    matches = [name for name in objects if name == target or name.endswith("." + target)]
    if len(matches) != 1:
        return None
    from sphinx.util.nodes import make_refnode
    entry = objects[matches[0]]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode,
                        matches[0])


def _add_static_path(app):
    app.config.html_static_path.append(str(Path(__file__).resolve().parent / "static"))


def setup(app):
    app.connect("builder-inited", _add_static_path)
    app.add_css_file("bss_docs.css")
    app.add_directive("bss-setup-options", SetupOptionsTable)
    app.add_directive("bss-parameter-ranges", ParameterRangesTable)
    app.connect("source-read", _source_read)
    app.connect("missing-reference", _resolve_by_suffix)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
