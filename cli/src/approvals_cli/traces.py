"""`approvals trace`: an approval's X-Ray traces as a tree of functions and AWS calls.

The functions annotate their traces with `approval_id` (receive_result, sweep_approvals),
`automation_execution_id` and `execution_arn` (close_approvals). X-Ray's GetTraceSummaries finds
them by a filter expression on those annotations; where the filter is not supported (the local
AWS answers InternalFailure), the traces of the approval's time window are read whole and
matched on the same annotations here. BatchGetTraces then gives their segments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from rich.markup import escape
from rich.tree import Tree

from approvals_cli.aws import error_code

# X-Ray answers at most 6 hours per GetTraceSummaries (a longer approval is read in parts).
_WINDOW = timedelta(hours=6)
_BATCH = 5  # trace ids per BatchGetTraces


@dataclass
class Node:
    id: str
    name: str
    start: float
    end: float | None
    kind: str  # segment or subsegment
    detail: str
    error: bool
    annotations: dict[str, Any]
    children: list[Node] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "start": self.start,
            "duration_ms": self.duration_ms,
            "detail": self.detail,
            "error": self.error,
            "annotations": self.annotations,
            "children": [child.to_json() for child in self.children],
        }

    @property
    def duration_ms(self) -> float | None:
        return None if self.end is None else round((self.end - self.start) * 1000, 1)


def filter_expression(annotations: dict[str, str]) -> str:
    return " OR ".join(f'annotation.{name} = "{value}"' for name, value in annotations.items())


def find_traces(
    xray: Any, annotations: dict[str, str], start: datetime, end: datetime
) -> list[list[dict[str, Any]]]:
    """The documents (segments and subsegments) of each trace that carries one of
    `annotations` (name -> value), oldest trace first."""
    try:
        ids = _summaries(xray, start, end, filter_expression(annotations))
        matched_here = False
    except ClientError as error:
        if error_code(error) not in ("InternalFailure", "InvalidRequestException"):
            raise
        ids = _summaries(xray, start, end, None)
        matched_here = True
    traces = []
    for batch in range(0, len(ids), _BATCH):
        token: str | None = None
        while True:
            page = xray.batch_get_traces(
                TraceIds=ids[batch : batch + _BATCH], **({"NextToken": token} if token else {})
            )
            for trace in page.get("Traces", []):
                documents = [
                    document
                    for segment in trace.get("Segments", [])
                    if (document := _document(segment["Document"]))
                ]
                if not matched_here or _carries(documents, annotations):
                    traces.append(documents)
            token = page.get("NextToken")
            if not token:
                break
    traces.sort(key=lambda docs: min((d.get("start_time", 0) for d in docs), default=0))
    return traces


def _summaries(xray: Any, start: datetime, end: datetime, expression: str | None) -> list[str]:
    ids: list[str] = []
    window_start = start
    while window_start < end:
        window_end = min(window_start + _WINDOW, end)
        request: dict[str, Any] = {"StartTime": window_start, "EndTime": window_end}
        if expression:
            request["FilterExpression"] = expression
        while True:
            page = xray.get_trace_summaries(**request)
            ids += [s["Id"] for s in page.get("TraceSummaries", []) if s["Id"] not in ids]
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        window_start = window_end
    return ids


def _document(raw: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _walk(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = [document]
    for child in document.get("subsegments", []):
        found += _walk(child)
    return found


def _carries(documents: list[dict[str, Any]], annotations: dict[str, str]) -> bool:
    for document in documents:
        for part in _walk(document):
            for name, value in (part.get("annotations") or {}).items():
                if annotations.get(name) == value:
                    return True
    return False


def tree(documents: list[dict[str, Any]]) -> list[Node]:
    """The trace's segments as trees: nested subsegments, and subsegments sent on their own
    (`parent_id`) under their parent."""
    nodes: dict[str, Node] = {}
    parents: dict[str, str | None] = {}

    def add(document: dict[str, Any], parent: str | None, kind: str) -> None:
        node = _node(document, kind)
        nodes[node.id] = node
        parents[node.id] = document.get("parent_id") or parent
        for child in document.get("subsegments", []):
            add(child, node.id, "subsegment")

    for document in documents:
        add(document, None, document.get("type", "segment"))
    roots = []
    for node_id, node in nodes.items():
        parent = parents[node_id]
        if parent and parent in nodes:
            nodes[parent].children.append(node)
        else:
            roots.append(node)
    for node in nodes.values():
        node.children.sort(key=lambda n: n.start)
    return sorted(roots, key=lambda n: n.start)


def _node(document: dict[str, Any], kind: str) -> Node:
    aws = document.get("aws") or {}
    detail = ""
    if aws.get("operation"):
        detail = f"{document.get('namespace', 'aws')} {aws['operation']}"
        resource = aws.get("table_name") or aws.get("queue_url") or aws.get("function_name")
        if resource:
            detail += f" {resource}"
    elif document.get("origin"):
        detail = str(document["origin"])
    http = (document.get("http") or {}).get("response") or {}
    if http.get("status"):
        detail += f" HTTP {http['status']}"
    return Node(
        id=str(document.get("id", "")),
        name=str(document.get("name", "?")),
        start=float(document.get("start_time", 0)),
        end=float(document["end_time"]) if document.get("end_time") else None,
        kind=kind,
        detail=detail.strip(),
        error=bool(document.get("error") or document.get("fault") or document.get("throttle")),
        annotations=dict(document.get("annotations") or {}),
    )


def render(console: Any, approval_id: str, traces: list[list[Node]]) -> None:
    if not traces:
        console.print(f"No X-Ray traces carry approval {approval_id} (yet).")
        return
    for number, roots in enumerate(traces, 1):
        first = min(root.start for root in roots)
        started = datetime.fromtimestamp(first, UTC).isoformat(timespec="milliseconds")
        top = Tree(f"[bold]trace {number}[/bold]  {started}")
        for root in roots:
            _branch(top, root, first)
        console.print(top)


def _branch(parent: Tree, node: Node, origin: float) -> None:
    took = f"{node.duration_ms:.1f} ms" if node.duration_ms is not None else "unfinished"
    flag = " [red]error[/red]" if node.error else ""
    label = (
        f"+{(node.start - origin) * 1000:.0f} ms  [bold]{escape(node.name)}[/bold] {took}{flag}"
        + (f"  [dim]{escape(node.detail)}[/dim]" if node.detail else "")
    )
    branch = parent.add(label)
    for child in node.children:
        _branch(branch, child, origin)
