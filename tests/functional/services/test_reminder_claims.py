"""A reminder's claim on the approval record (ApprovalRecords.claim_reminder), on moto's
table and on the unit layer's fake alike: from the count read, once, only while PENDING."""

from __future__ import annotations

from approval_core.records import ApprovalRecord
from tests.functional.services.test_fake_records import NOW, new_record, records

__all__ = ["records"]  # the fixture: each case runs on moto's table and on the fake


def reminded(approval_id: str) -> ApprovalRecord:
    return new_record(approval_id, remind_after_seconds=600, max_reminders=2, reminders_sent=0)


def test_a_reminder_is_claimed_once_from_the_count_read(records):
    records.create_or_refresh(reminded("a"))

    claimed = records.claim_reminder("a", 0)

    assert claimed is not None
    assert (claimed.reminders_sent, claimed.remind_after_seconds, claimed.max_reminders) == (
        1,
        600,
        2,
    )
    assert records.claim_reminder("a", 0) is None  # another sweep read 0 too: it lost
    assert records.get("a") == claimed
    assert records.claim_reminder("a", 1).reminders_sent == 2


def test_no_reminder_is_claimed_once_the_approval_is_decided(records):
    records.create_or_refresh(reminded("a"))
    decided = records.claim_decision("a", "Approved", NOW)

    assert records.claim_reminder("a", 0) is None
    assert records.get("a") == decided


def test_a_record_without_reminders_never_gets_one(records):
    records.create_or_refresh(new_record("a"))

    assert records.claim_reminder("a", 0) is None
    assert records.get("a").reminders_sent is None
