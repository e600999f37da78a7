"""docs/aws-behaviour.md is the one reference the code cites: every citation resolves, and
every setting of the local AWS that plays an undocumented behaviour is written up there
with each of its values."""

from __future__ import annotations

import re
from pathlib import Path

from sandbox.core.settings import variants

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "aws-behaviour.md"
CITING = ("sandbox", "services", "libs", "terraform", "scripts", "tests", "bench", "docs")


def anchors() -> set[str]:
    return set(re.findall(r'<a id="([a-z0-9-]+)"></a>', PAGE.read_text()))


def citations() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    paths = [REPO / "README.md"]
    for folder in CITING:
        paths += [
            p
            for p in (REPO / folder).rglob("*")
            if p.suffix in (".py", ".tf", ".md", ".hcl", ".tftpl")
        ]
    for path in paths:
        for anchor in re.findall(
            r"aws-behaviour\.md#([a-z0-9-]+)", path.read_text(errors="replace")
        ):
            found.setdefault(anchor, []).append(str(path.relative_to(REPO)))
    return found


def test_every_citation_names_an_entry_of_the_page():
    missing = {a: where for a, where in citations().items() if a not in anchors()}
    assert not missing, f"cited but not in docs/aws-behaviour.md: {missing}"


def test_each_undocumented_behaviour_lists_every_variant_the_local_aws_plays():
    text = PAGE.read_text()
    for variant in variants():
        assert variant.anchor in anchors(), variant.name
        section = text.split(f'<a id="{variant.anchor}"></a>', 1)[1].split("<a id=", 1)[0]
        assert f"`{variant.name}`" in section, f"{variant.name} is not in its entry"
        for value in variant.values:
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            assert shown in section, f"{variant.name}={value!r} is not in its entry"
