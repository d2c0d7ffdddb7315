"""Benchmarks that print tables, run from the repository root as `python -m bench.<name>`.

webhook (latency and throughput against a floor function), e2e (a customer's message to the
reply), media (preparation time and memory per type), dashboard (every page with realistic
data), hostile (CPU and peak memory of hostile files, before and after their limits), knowledge
(retrieval's added latency per reply and the Knowledge page's ingestion rate), guardrails (what
the checks before the model add to a reply; export and erasure rates). They share `bench.support`; none is part of the pass/fail suite.
"""
