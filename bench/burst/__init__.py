"""A burst of concurrent approvals through the gate deployed in the local AWS.

`python -m bench.burst --help`; what it measures and checks: __main__.py and docs/benchmarks.md.
Its parts, each importing only the ones above it:

- gate.py: the deployed gate as the bench sees it (shared boto3 clients, what the local AWS
  lists, its SSM API rates, the calls it refused and the calls it counted);
- approvals.py: the approvals of a burst, planned before it starts;
- driver.py: the burst itself (starts, automations seen in the records, waves of decisions,
  the approvers' signals paced);
- logs.py: what each function did, from its logs;
- checks.py: the verdicts (each decided as signalled, none lost, none duplicated);
- proc.py: memory and CPU of the processes (/proc) and the machine;
- report.py: the JSON summary and the text report (the rates against SSM's quotas);
- __main__.py: the command line, and one run from deploy to destroy.
"""
