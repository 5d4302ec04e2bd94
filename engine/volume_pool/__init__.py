"""The volume-pool kind (``kind: volume-pool``): ZFS volumes exported over iSCSI on a storage host.

A run connects to the storage host over SSH with the restricted key (its host
key pinned), takes the pool's lock, reads the live state (three commands), and
diffs it with the spec (engine.volume_pool.diff). ``engine plan`` stops there
and prints the actions. ``engine run`` applies them with
``playbooks/volume-pool.yml`` (Ansible ``raw`` tasks through the same key and
wrapper, over one multiplexed OpenSSH connection), then reads the state again:
what is still pending is an error naming it, and the state is reported.

``engine setup`` prepares the host once with admin rights
(``playbooks/storage-host.yml``): the kind's setup plan, not part of a routine run.

Modules: ``diff`` (the live state read from the host's answers, and the
actions that reach the spec: pure functions on text), ``steps`` (the plan),
``state``, ``handlers`` (carry the steps out over SSH and Ansible), ``setup``
(the admin plan), ``report`` (the texts) and ``kind`` (what the engine drives
it through).
"""
