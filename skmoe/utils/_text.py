"""Plain-text and HTML tables for reports (MoEParams, summary, command line)."""

import html
import math


def format_number(value, digits=4):
    """A number in ``digits`` significant digits; ``""`` for None or NaN.

    Parameters
    ----------
    value : float or None
        The number.
    digits : int, default=4
        Significant digits.

    Returns
    -------
    text : str
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    value = float(value)
    if math.isnan(value):
        return ""
    if value == 0:
        return "0"
    return f"{value:.{digits}g}"


def format_p_value(p):
    """A p-value as R prints it: ``"<2e-16"`` below machine precision.

    Parameters
    ----------
    p : float or None
        The p-value.

    Returns
    -------
    text : str
    """
    if p is None or math.isnan(p):
        return ""
    if p < 2.2e-16:
        return "<2e-16"
    return f"{p:.3g}"


def text_table(header, rows, *, right=None, indent=""):
    """Rows of cells as aligned text lines, the header underlined.

    Parameters
    ----------
    header : list of str
        Column titles.
    rows : list of list
        Cells (converted with ``str``).
    right : set of int, default=None
        Columns aligned to the right (numbers); the others to the left.
    indent : str, default=""
        Prefix of every line.

    Returns
    -------
    lines : list of str
    """
    right = set() if right is None else set(right)
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]

    def line(r):
        parts = [c.rjust(w) if j in right else c.ljust(w)
                 for j, (c, w) in enumerate(zip(r, widths, strict=True))]
        return (indent + "  ".join(parts)).rstrip()

    out = [line(cells[0]), indent + "-" * (sum(widths) + 2 * (len(widths) - 1))]
    return out + [line(r) for r in cells[1:]]


def html_table(header, rows, caption=None):
    """Rows of cells as an HTML table (escaped).

    Parameters
    ----------
    header : list of str
        Column titles.
    rows : list of list
        Cells.
    caption : str, default=None
        The table's caption.

    Returns
    -------
    html : str
    """
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
        for r in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f"<table>{cap}<thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def labelled_frame(columns, keys, names):
    """A pandas DataFrame indexed by labels in the order given.

    The index levels are ordered categoricals whose categories are the
    labels in order of first appearance, so that the rows keep the report's
    order and partial indexing (``frame.loc[0]``, ``frame.loc[(0, "gate")]``)
    needs no sorting.

    Parameters
    ----------
    columns : dict of str to sequence
        The columns.
    keys : list of tuple
        One label tuple per row.
    names : list of str
        The names of the index levels.

    Returns
    -------
    frame : pandas.DataFrame
    """
    import pandas as pd

    levels = [pd.CategoricalIndex(values, categories=list(dict.fromkeys(values)),
                                  ordered=True)
              for values in zip(*keys, strict=True)] if keys else [
        pd.CategoricalIndex([]) for _ in names]
    index = pd.MultiIndex.from_arrays(levels, names=names)
    return pd.DataFrame(dict(columns), index=index)
