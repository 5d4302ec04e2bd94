"""Host actions: Ansible runs (ansible.py) and SSH (ssh.py)."""
