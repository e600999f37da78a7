"""The `approvals` command line (click): global options, then one command per task."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import click

from approvals_cli import __version__, audit, doctor, listing, policies, timeline, traces
from approvals_cli.aws import Aws, aws_errors
from approvals_cli.deployment import Deployment, Sources, find
from approvals_cli.errors import CliError, ExitCode
from approvals_cli.gate import Gate, wait_exit_code
from approvals_cli.output import Output, parse_time
from approvals_cli.records import STATUSES
from approvals_cli.redrive import gate_functions, redrive

EXIT_CODES = """\b
Exit codes: 0 done (wait: approved), 1 AWS error, 2 bad usage, 3 no such approval,
4 refused (not an approver, IAM), 5 nothing changed (already decided, expired, closed),
6 no deployment or credentials, 7 problems found (doctor, redrive);
wait: 10 rejected, 11 expired, 12 cancelled or closed, 13 failed or never started,
14 --timeout passed."""


class Context:
    """What every command may need, built on first use (so --help needs nothing)."""

    def __init__(self, output: Output, sources: Sources, profile: str | None, region: str | None):
        self.output = output
        self.sources = sources
        self.profile = profile
        self.region = region

    @cached_property
    def deployment(self) -> Deployment:
        return find(self.sources)

    @cached_property
    def aws(self) -> Aws:
        aws = Aws(self.profile, self.region, self.deployment.region)
        aws.check_credentials()
        return aws

    @cached_property
    def gate(self) -> Gate:
        return Gate(self.deployment, self.aws)


pass_context = click.make_pass_decorator(Context)


@click.group(
    epilog=EXIT_CODES,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables.")
@click.option(
    "--profile", envvar="AWS_PROFILE", help="AWS profile (as the AWS CLI's; AWS_PROFILE)."
)
@click.option("--region", help="AWS Region (default: AWS_REGION, the profile's, the gate's).")
@click.option(
    "--config",
    "config",
    metavar="FILE",
    help="JSON of the gate's Terraform outputs (APPROVALS_CONFIG).",
)
@click.option(
    "--terraform-dir",
    metavar="DIR",
    help="Terraform configuration that deployed the gate (APPROVALS_TERRAFORM_DIR).",
)
@click.option(
    "--terraform-state",
    metavar="FILE",
    help="Its state file, when not the default (APPROVALS_TERRAFORM_STATE).",
)
@click.version_option(__version__, prog_name="approvals")
@click.pass_context
def cli(
    ctx: click.Context,
    as_json: bool,
    profile: str | None,
    region: str | None,
    config: str | None,
    terraform_dir: str | None,
    terraform_state: str | None,
) -> None:
    """Approvals of the approval gate: what waits for you, decide, follow, audit, recover.

    Uses your AWS credentials, profile, Region and AWS_ENDPOINT_URL as the AWS CLI does. The
    gate is found from --terraform-dir, --config, APPROVALS_* variables or
    ~/.config/approvals/config.json.

    \b
    Examples:
      approvals --terraform-dir terraform/examples/aws list --mine
      terraform -chdir=infra output -json > ~/.config/approvals/config.json
      approvals show 27a57dbc-a550-5d7d-8e34-98538b79f2d4
      approvals approve 27a57dbc-a550-5d7d-8e34-98538b79f2d4 -m "checked the diff"
      approvals --json list --all --since 7d | jq '.[].approval_id'
    """
    ctx.obj = Context(
        Output(as_json),
        Sources.from_options(config, terraform_dir, terraform_state),
        profile,
        region,
    )


# --- approvers ------------------------------------------------------------------------------


@cli.command("list", epilog=EXIT_CODES)
@click.option("--mine", is_flag=True, help="Only those you may decide (you are an approver).")
@click.option("--all", "every", is_flag=True, help="Every status, not only pending.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only this status (repeatable).",
)
@click.option(
    "--since", metavar="WHEN", help="Requested since: 2026-11-30, an ISO time, or 2h / 3d ago."
)
@click.option(
    "--execution", metavar="ARN|NAME", help="Only the approvals of this workflow execution."
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=listing.DEFAULT_LIMIT,
    show_default=True,
    help="At most this many, the newest (0: all).",
)
@pass_context
def list_command(
    context: Context,
    mine: bool,
    every: bool,
    statuses: tuple[str, ...],
    since: str | None,
    execution: str | None,
    limit: int,
) -> ExitCode:
    """Approvals, newest first (pending ones by default): request, approvers and quorum, who
    decided, how long they wait, time left before expiry, workflow.

    \b
    Examples:
      approvals list                       # what is pending
      approvals list --mine                # what waits for you
      approvals list --all --since 2d      # everything of the last two days
      approvals list --limit 0             # every pending one, not only the newest 50
      approvals list --status DECIDED --execution my-release-42
    """
    chosen = STATUSES if every else tuple(s.upper() for s in statuses) or ("PENDING",)
    gate = context.gate
    with aws_errors(f"listing approvals (index by_status of table {gate.records.table})"):
        found = listing.rows(gate, chosen, _since(since), execution, mine, limit or None)
    if found.more and context.output.as_json:
        context.output.note(f"the newest {limit} only: --limit N for more, --limit 0 for all")
    context.output.emit(
        found.rows, lambda console: listing.render(console, found.rows, chosen, found.more)
    )
    return ExitCode.OK


@cli.command(epilog=EXIT_CODES)
@click.argument("approval")
@pass_context
def show(context: Context, approval: str) -> ExitCode:
    """One approval's timeline: requested (by which workflow, what), notified, each decision
    with its comment, delivered, the workflow's final state; console links.

    APPROVAL is an approval id, its automation execution id, or its workflow execution's ARN
    or name.

    \b
    Example:
      approvals show my-release-42
    """
    gate = context.gate
    found = gate.resolve(approval)
    with aws_errors("reading the approval"):
        shown = timeline.details(gate, found)
    context.output.emit(shown, lambda console: timeline.render(console, shown))
    return ExitCode.OK


def _decide(context: Context, approval: str, verb: str, message: str) -> ExitCode:
    decided, automation = context.gate.decide(approval, verb, message)
    done = {
        "approval_id": decided.approval_id,
        "automation_execution_id": automation.automation_execution_id,
        "signal": verb,
        "comment": message,
        "caller": context.aws.caller.arn,
        # The stage decided (null for a one-stage approval).
        "stage": {
            "number": decided.stage_number,
            "count": len(decided.stages),
            "name": decided.waiting_stage.get("name"),
        }
        if decided.staged
        else None,
    }
    quorum = automation.min_required_approvals
    reached = (
        f"This stage ends once its quorum ({quorum}) is reached; the workflow gets the "
        "decision once every stage has approved, or one rejects"
        if decided.staged
        else f"The workflow gets the decision once the quorum ({quorum}) is reached"
    )
    context.output.emit(
        done,
        lambda console: console.print(
            f"{'Approved' if verb == 'approve' else 'Rejected'} approval {decided.approval_id}"
            + (f" at {decided.stage}" if decided.staged else "")
            + (f' with "{message}"' if message else "")
            + f" as {context.aws.caller.arn}. {reached}: "
            f"approvals wait {decided.approval_id}"
        ),
    )
    return ExitCode.OK


def _decision_command(verb: str, example: str) -> None:
    """`approve` and `reject`: the same command but for the signal."""

    @click.argument("approval")
    @click.option("-m", "--message", default="", help="Your comment (the workflow gets it).")
    @pass_context
    def decide(context: Context, approval: str, message: str) -> ExitCode:
        return _decide(context, approval, verb, message)

    decide.__doc__ = f"""{verb.capitalize()}, as yourself (SSM checks you are one of the approvers).

    \b
    Example:
      approvals {verb} 27a57dbc-a550-5d7d-8e34-98538b79f2d4 -m "{example}"
    """
    cli.command(verb, epilog=EXIT_CODES)(decide)


_decision_command("approve", "looks good")
_decision_command("reject", "not before the freeze")


@cli.command(epilog=EXIT_CODES)
@click.argument("approval")
@click.option("--timeout", type=float, help="Give up after this many seconds (exit 14).")
@click.option(
    "--interval", type=float, default=2.0, show_default=True, help="Seconds between reads."
)
@pass_context
def wait(context: Context, approval: str, timeout: float | None, interval: float) -> ExitCode:
    """Wait until the workflow has the decision; the exit status tells which.

    \b
    Example (a pipeline step):
      approvals wait my-release-42 --timeout 3600 && ./deploy.sh
    """
    gate = context.gate
    with context.output.errors.status(f"waiting for {approval} ..."):
        finished = gate.wait(approval, timeout, interval)
    code = wait_exit_code(finished)
    result = finished.to_json() | {"exit_code": int(code)}
    context.output.emit(
        result,
        lambda console: console.print(
            f"Approval {finished.approval_id}: {finished.status} "
            f"{finished.outcome or finished.closed_reason or ''}"
            + (f", callback {finished.callback}" if finished.callback else "")
        ),
    )
    return code


@cli.command(epilog=EXIT_CODES)
@click.argument("approval")
@pass_context
def withdraw(context: Context, approval: str) -> ExitCode:
    """Withdraw a pending approval (the workflow's owner): its automation is cancelled, the
    approvers are no longer asked, the workflow gets Approval.Cancelled.

    \b
    Example:
      approvals withdraw my-release-42
    """
    withdrawn, automation = context.gate.withdraw(approval)
    done = {
        "approval_id": withdrawn.approval_id,
        "automation_execution_id": automation.automation_execution_id,
        "withdrawn": True,
    }
    context.output.emit(
        done,
        lambda console: console.print(
            f"Withdrew approval {withdrawn.approval_id}: automation "
            f"{automation.automation_execution_id} cancelled; the workflow gets Approval.Cancelled."
        ),
    )
    return ExitCode.OK


@cli.command(epilog=EXIT_CODES)
@click.argument("approval")
@pass_context
def trace(context: Context, approval: str) -> ExitCode:
    """The approval's X-Ray traces: functions and their AWS calls, with times.

    \b
    Example:
      approvals trace 27a57dbc-a550-5d7d-8e34-98538b79f2d4
    """
    gate = context.gate
    found = gate.resolve(approval)
    annotations = {"approval_id": found.approval_id, "execution_arn": found.execution_arn}
    if found.automation_execution_id:
        annotations["automation_execution_id"] = found.automation_execution_id
    start = (parse_time(found.requested_at) or datetime.now(UTC)) - timedelta(minutes=5)
    end = max((parse_time(found.updated_at or "") or start), datetime.now(UTC)) + timedelta(
        minutes=1
    )
    with aws_errors("reading X-Ray traces (xray:GetTraceSummaries, xray:BatchGetTraces)"):
        documents = traces.find_traces(context.aws.client("xray"), annotations, start, end)
    trees = [traces.tree(docs) for docs in documents]
    data = {
        "approval_id": found.approval_id,
        "traces": [[n.to_json() for n in roots] for roots in trees],
    }
    context.output.emit(data, lambda console: traces.render(console, found.approval_id, trees))
    return ExitCode.OK


# --- operators ------------------------------------------------------------------------------


@cli.command(epilog=EXIT_CODES)
@pass_context
def sweep(context: Context) -> ExitCode:
    """Run the sweep now: delivers decisions whose event was lost, expiries, half-finished
    callbacks (what the schedule does every sweep_interval_minutes)."""
    (function,) = context.deployment.require("sweep_function_name")
    with aws_errors(f"invoking {function}"):
        response = context.aws.client("lambda").invoke(
            FunctionName=function, Qualifier=doctor.ALIAS, Payload=b"{}"
        )
    answer = response["Payload"].read().decode()
    failed = bool(response.get("FunctionError"))
    context.output.emit(
        {"function": function, "failed": failed, "answer": answer},
        lambda console: console.print(f"{'Sweep failed' if failed else 'Swept'}: {answer}"),
    )
    return ExitCode.FAILED if failed else ExitCode.OK


@cli.command("redrive", epilog=EXIT_CODES)
@click.option("--dry-run", is_flag=True, help="List what would be replayed, change nothing.")
@pass_context
def redrive_command(context: Context, dry_run: bool) -> ExitCode:
    """Replay the events of the dead-letter queue to their functions (after fixing the
    cause): SSM's results to receive_result, ended workflows to close_approvals. A message is
    deleted only once its function succeeded.

    \b
    Examples:
      approvals redrive --dry-run
      approvals redrive
    """
    queue, result_function, close_function = context.deployment.require(
        "dead_letter_queue_url", "receive_result_alias_arn", "close_approvals_alias_arn"
    )
    with aws_errors("redriving the dead-letter queue"):
        result = redrive(
            context.aws.client("sqs"),
            context.aws.client("lambda"),
            queue,
            gate_functions(result_function, close_function),
            dry_run=dry_run,
        )
    data = {
        "dry_run": dry_run,
        "replayed": result.replayed,
        "failed": result.failed,
        "messages": result.messages,
    }

    def render(console: Any) -> None:
        for message in result.messages:
            verb = "would replay" if dry_run else "replayed"
            console.print(
                f"{verb} {message['message_id']} to {message['function']}: "
                f"{message.get('event') or message.get('answer', '')}"[:300]
            )
        for failure in result.failed:
            console.print(f"[red]still failing (kept in the queue)[/red]: {failure}")
        console.print(
            f"{result.replayed} replayed, {len(result.failed)} failed"
            + (f", {len(result.messages)} to replay" if dry_run else "")
        )

    context.output.emit(data, render)
    return ExitCode.PROBLEMS if result.failed else ExitCode.OK


@cli.command(epilog=EXIT_CODES)
@click.option(
    "--since",
    required=True,
    metavar="WHEN",
    help="Requested since: a date, an ISO time, or 30d ago.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here, not to stdout.",
)
@pass_context
def export(context: Context, since: str, fmt: str, output: Path | None) -> ExitCode:
    """The audit trail: every approval requested since WHEN, who asked (the workflow), what,
    the approvers and quorum, each decision with comment and time, the outcome and how it
    reached the workflow.

    \b
    Examples:
      approvals export --since 2026-11-01 --format csv -o approvals-november.csv
      approvals export --since 30d | jq -c 'select(.outcome == "Rejected")'
    """
    since_epoch = _since(since)
    assert since_epoch is not None
    with aws_errors("reading the approvals"):
        rows = audit.audit_rows(context.gate, since_epoch)
    text = audit.to_csv(rows) if fmt == "csv" else audit.to_jsonl(rows)
    if output:
        output.write_text(text)
        context.output.note(f"{len(rows)} approval(s) written to {output}")
    else:
        sys.stdout.write(text)
    return ExitCode.OK


@cli.command("doctor", epilog=EXIT_CODES)
@pass_context
def doctor_command(context: Context) -> ExitCode:
    """Check the deployment: rules enabled, functions' aliases, dead letters waiting, alarms,
    approvals pending past their expiry, callbacks stuck half-way; what to do about each."""
    with aws_errors("checking the deployment"):
        checks = doctor.run(context.gate)

    def render(console: Any) -> None:
        for check in checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            console.print(f"{mark} {check.name}: {check.detail}")
            if check.fix:
                console.print(f"       -> {check.fix}")

    context.output.emit([c.to_json() for c in checks], render)
    return ExitCode.OK if all(c.ok for c in checks) else ExitCode.PROBLEMS


@cli.command("policy", epilog=EXIT_CODES)
@click.argument("role", type=click.Choice(policies.ROLES), default="approver")
@pass_context
def policy_command(context: Context, role: str) -> ExitCode:
    """The IAM policy (JSON) a ROLE needs for its commands on this deployment: approver (list,
    show, trace, wait, approve, reject), owner (also withdraw), operator (also sweep, redrive,
    export, doctor).

    \b
    Example:
      aws iam put-user-policy --user-name alice --policy-name approvals-cli \\
        --policy-document "$(approvals policy approver)"
    """
    print(json.dumps(policies.policy(context.deployment, role), indent=2))
    return ExitCode.OK


# --- helpers --------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _since(value: str | None) -> int | None:
    """2026-11-30, an ISO 8601 time, or a duration ago (90m, 2h, 3d, 1w) as epoch seconds."""
    if not value:
        return None
    relative = _RELATIVE.match(value.strip())
    if relative:
        return (
            int(datetime.now(UTC).timestamp()) - int(relative.group(1)) * _UNITS[relative.group(2)]
        )
    parsed = parse_time(value.strip())
    if parsed is None:
        raise click.BadParameter(
            f"{value!r} is not a date (2026-11-30), an ISO time or a duration (2h, 3d)",
            param_hint="--since",
        )
    return int(parsed.timestamp())


def main(argv: list[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="approvals", standalone_mode=False)
    except CliError as error:
        click.echo(f"approvals: {error.message}", err=True)
        sys.exit(int(error.code))
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    sys.exit(int(code or 0))
