"""The calls and the cost of one approval through the gate deployed in the local AWS, beside
the article's original stack (`python -m bench.cost`; docs/benchmarks.md, "Calls and cost per
approval")."""
