"""The Rollout controller (canary, blue-green and gray releases; Argo Rollouts' semantics on
kubeling's built-in `rollouts.kubeling.io` CRD): controller.py wires informers and the status
write, canary.py and bluegreen.py are the strategies, steps.py and status.py the pure logic,
replicasets.py and services.py the writes, analysis.py and checks.py the HTTP analysis."""
