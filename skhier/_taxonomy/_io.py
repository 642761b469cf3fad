"""Reading and writing taxonomies: OBO ontologies, networkx graphs, JSON and text drawings.

Every reader returns the node and parent lists the :class:`~skhier.Taxonomy` constructor
takes; the class's ``from_*`` / ``to_*`` methods are the public face. A file is
untrusted input: it is parsed as text, never executed, and a damaged one fails with a
:class:`~skhier.exceptions.TaxonomyError` naming the line or the value.
"""

from __future__ import annotations

import json

import numpy as np

from ..exceptions import TaxonomyError
from ._build import from_edges, one_or_list
from ._storage import fmt_nodes as _fmt_nodes

__all__ = ["read_obo", "read_networkx", "write_networkx", "write_json", "read_json", "draw"]


def read_networkx(graph) -> tuple[list, list]:
    """Nodes and parents of a ``networkx.DiGraph`` with edges parent -> child."""
    if not (hasattr(graph, "edges") and hasattr(graph, "nodes")):
        raise TypeError(f"expected a networkx DiGraph, got {type(graph).__name__}")
    if hasattr(graph, "is_directed") and not graph.is_directed():
        raise TaxonomyError("the graph must be directed, with edges parent -> child")
    if graph.number_of_nodes() == 1:
        (only,) = graph.nodes
        return [only], [None]
    isolated = [n for n in graph.nodes if graph.degree(n) == 0]
    if isolated:
        raise TaxonomyError(f"node(s) with no edge: {_fmt_nodes(isolated)}")
    return from_edges(list(graph.edges))


def read_obo(source, relations, root) -> tuple[list, list]:
    """Nodes and parents of an OBO ontology (text, path or open file); see ``Taxonomy.from_obo``."""
    if hasattr(source, "read"):
        text = source.read()
    else:
        text = str(source)
        if not text.strip():
            raise ValueError("source is empty: from_obo needs OBO text, a path to an .obo file or an open file")
        if "\n" not in text and "[Term]" not in text:
            with open(text, encoding="utf-8") as f:
                text = f.read()
    relations = tuple(relations)
    unknown_types = [r for r in relations if not isinstance(r, str)]
    if unknown_types:
        raise TypeError(f"relations must be strings, got {unknown_types!r}")
    terms: dict = {}
    retired: set = set()
    stanza, current, obsolete = None, None, False

    def close():
        if stanza == "Term" and current is not None:
            if obsolete:
                retired.add(current["id"])
            else:
                terms[current["id"]] = current["parents"]

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("!", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            close()
            stanza, current, obsolete = line[1:-1], None, False
            continue
        if stanza != "Term":
            continue
        tag, _, value = line.partition(":")
        tag, value = tag.strip(), value.strip()
        if tag == "id":
            current = {"id": value, "parents": []}
        elif current is None:
            raise TaxonomyError(f"OBO line {lineno}: {raw.strip()!r} comes before the stanza's id")
        elif tag == "is_obsolete":
            obsolete = value.lower() == "true"
        elif tag == "is_a" and "is_a" in relations:
            current["parents"].append(value.split()[0])
        elif tag == "relationship":
            parts = value.split()
            if len(parts) < 2:
                raise TaxonomyError(f"OBO line {lineno}: relationship needs a type and a term, got {value!r}")
            if parts[0] in relations:
                current["parents"].append(parts[1])
    close()
    if not terms:
        raise TaxonomyError("the OBO text has no [Term] stanza")
    edges = []
    for term, parents in terms.items():
        for p in dict.fromkeys(parents):
            if p not in terms:
                why = "an obsolete term" if p in retired else "not a term of this ontology"
                raise TaxonomyError(f"OBO edge ({p!r}, {term!r}): the parent {p!r} is {why}")
            edges.append((p, term))
    children = {c for _, c in edges}
    tops = [t for t in terms if t not in children]
    if len(tops) > 1:
        edges += [(root, t) for t in tops]
    if not edges:
        return [tops[0]], [None]
    return from_edges(edges)


def write_networkx(taxonomy):
    """A ``networkx.DiGraph`` with edges parent -> child."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(taxonomy.nodes)
    child, par = taxonomy.edges
    g.add_edges_from((taxonomy.nodes[p], taxonomy.nodes[c]) for c, p in zip(child.tolist(), par.tolist()))
    return g


def write_json(taxonomy) -> str:
    """JSON text with the node identifiers and their parents."""
    parents = [one_or_list([taxonomy.nodes[q] for q in ps]) for ps in taxonomy.parents]
    return json.dumps({"nodes": list(taxonomy.nodes), "parents": parents})


def read_json(text: str) -> tuple[list, list]:
    """Nodes and parents of the JSON text :func:`write_json` writes."""
    data = json.loads(text)
    if not isinstance(data, dict) or not {"nodes", "parents"} <= set(data):
        raise TaxonomyError("taxonomy JSON must be an object with 'nodes' and 'parents'")
    return data["nodes"], data["parents"]


def draw(taxonomy, max_lines: int) -> str:
    """The taxonomy drawn as text, one node a line; a DAG as its depth-first walk."""
    if not taxonomy.is_tree:
        return _dag_text(taxonomy, max_lines)
    lines = [str(taxonomy.names[0])]
    # the prefix of a node's children depends on whether each ancestor is a last child
    last = np.zeros(taxonomy.n_nodes, dtype=bool)
    for kids in taxonomy.children:
        if len(kids):
            last[kids[-1]] = True
    for v in range(1, taxonomy.n_nodes):
        if len(lines) >= max_lines:
            lines.append(f"... ({taxonomy.n_nodes - v} more nodes)")
            break
        chain = taxonomy.path_indices[v][1 : taxonomy.depth[v] + 1]
        prefix = "".join("    " if last[a] else "│   " for a in chain[:-1])
        lines.append(prefix + ("└── " if last[v] else "├── ") + str(taxonomy.names[v]))
    return "\n".join(lines)


def _dag_text(taxonomy, max_lines: int) -> str:
    """A DAG drawn as its depth-first walk: a node met again is marked ``(*)`` and not expanded."""
    lines = [str(taxonomy.names[0])]
    seen = {0}
    stack = [(c, "", i == len(taxonomy.children[0]) - 1) for i, c in reversed(list(enumerate(taxonomy.children[0])))]
    while stack:
        if len(lines) >= max_lines:
            lines.append(f"... (cut at {max_lines} lines; {taxonomy.n_nodes} nodes)")
            break
        v, prefix, is_last = stack.pop()
        again = v in seen
        mark = " (*)" if again else ""
        lines.append(prefix + ("└── " if is_last else "├── ") + str(taxonomy.names[v]) + mark)
        if again:
            continue
        seen.add(v)
        kids = taxonomy.children[v]
        sub = prefix + ("    " if is_last else "│   ")
        stack.extend((c, sub, i == len(kids) - 1) for i, c in reversed(list(enumerate(kids))))
    return "\n".join(lines)

