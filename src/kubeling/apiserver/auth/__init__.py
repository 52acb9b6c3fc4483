"""Who is asking and what they may do: request attributes, the RBAC and Node authorizers,
upstream's bootstrap policy, escalation checks on RBAC writes and impersonation."""
