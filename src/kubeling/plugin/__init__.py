"""`kubectl kubeling`: the kubectl plugin shipped with kubeling (kubectl runs any `kubectl-<name>`
on PATH). `kubectl kubeling rollout get|promote|abort|retry|undo NAME` and `rollout set image NAME
CONTAINER=IMAGE` drive `rollouts.kubeling.io` Rollouts the way Argo Rollouts' plugin drives its
own: every command is a patch of the Rollout (status subresource for the controller's switches);
the controller does the rest.

  kubeconfig.py  kubectl's client configuration rules (KUBECONFIG list, --kubeconfig, --context,
                 -n/--namespace)
  rollout.py     what each command writes (pure: Rollout + ReplicaSets → patch)
  view.py        the status view of `get` (pure: Rollout + ReplicaSets + pods → text)
  cli.py         arguments, API calls, `get --watch`, one-line errors
"""
