"""scripts/upgrade_plan.py's verdict on a `terraform show -json` plan: moves, creations and
in-place updates pass (and are listed); a replacement, a destruction or a forgotten resource
fails the upgrade. (The whole check, with Terraform and the local AWS, takes over a minute:
`python -m scripts.upgrade_plan --from-ref <ref>`.)"""

from __future__ import annotations

from typing import Any

from scripts.upgrade_plan import judge, summary

FUNCTION = 'module.approval_gate.module.functions["receive_result"].aws_lambda_function.this'
OLD_FUNCTION = "module.approval_gate.module.receive_result.aws_lambda_function.this"
TABLE = "module.approval_gate.aws_dynamodb_table.approvals"
POLICY_DOCUMENT = "module.approval_gate.data.aws_iam_policy_document"


def change(
    address: str,
    actions: list[str],
    *,
    mode: str = "managed",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "address": address,
        "mode": mode,
        "change": {
            "actions": actions,
            "before": before or {},
            "after": after or {},
            "after_unknown": {},
        },
        **extra,
    }


def plan(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"format_version": "1.2", "resource_changes": list(changes)}


def test_moves_alone_pass_and_are_listed():
    verdict = judge(plan(change(FUNCTION, ["no-op"], previous_address=OLD_FUNCTION)))

    assert verdict.ok
    assert [(c.previous_address, c.address) for c in verdict.moved] == [(OLD_FUNCTION, FUNCTION)]
    assert f"{OLD_FUNCTION} -> {FUNCTION}" in summary(verdict, "v1")
    assert "Verdict: OK" in summary(verdict, "v1")


def test_an_in_place_update_passes_and_names_what_changes():
    verdict = judge(
        plan(
            change(
                TABLE,
                ["update"],
                before={"name": "gate-approvals", "deletion_protection_enabled": False},
                after={"name": "gate-approvals", "deletion_protection_enabled": True},
            )
        )
    )

    assert verdict.ok
    assert [(c.address, c.attributes) for c in verdict.updated] == [
        (TABLE, ("deletion_protection_enabled",))
    ]
    assert f"{TABLE}: deletion_protection_enabled" in summary(verdict, "v1")


def test_an_update_names_what_is_known_only_after_apply():
    update = change(
        FUNCTION,
        ["update"],
        before={"handler": "old.handler", "version": "1", "architectures": ["x86_64"]},
        after={"handler": "new.handler", "architectures": ["x86_64"]},
    )
    update["change"]["after_unknown"] = {"version": True, "architectures": [False]}

    verdict = judge(plan(update))

    assert verdict.ok
    assert verdict.updated[0].attributes == ("handler", "version")


def test_a_new_resource_passes_and_is_listed():
    verdict = judge(plan(change("module.approval_gate.aws_sns_topic.other", ["create"])))

    assert verdict.ok
    assert [c.address for c in verdict.created] == ["module.approval_gate.aws_sns_topic.other"]


def test_a_replacement_fails_with_its_reason():
    verdict = judge(
        plan(
            change(TABLE, ["delete", "create"], action_reason="replace_because_cannot_update"),
            change(FUNCTION, ["create", "delete"], previous_address=OLD_FUNCTION),
        )
    )

    assert not verdict.ok
    assert [c.address for c in verdict.lost] == [TABLE, FUNCTION]
    assert verdict.created == [] and verdict.moved == []
    text = summary(verdict, "v1")
    assert f"{TABLE}: delete then create (replace_because_cannot_update)" in text
    assert "Verdict: FAILED" in text


def test_a_destruction_fails():
    verdict = judge(
        plan(change(OLD_FUNCTION, ["delete"], action_reason="delete_because_no_resource_config"))
    )

    assert not verdict.ok
    assert [c.address for c in verdict.lost] == [OLD_FUNCTION]


def test_a_forgotten_resource_fails():
    verdict = judge(plan(change(TABLE, ["forget"])))

    assert not verdict.ok


def test_data_sources_and_unchanged_resources_are_not_listed():
    verdict = judge(
        plan(
            change(f"{POLICY_DOCUMENT}.kms[0]", ["read"], mode="data"),
            change(TABLE, ["no-op"]),
        )
    )

    assert verdict.ok
    assert (verdict.moved, verdict.created, verdict.updated, verdict.lost) == ([], [], [], [])
