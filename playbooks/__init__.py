"""The Ansible playbooks the engine runs (engine/hosts/ansible.py), as package data.

A package only so that the wheel ships them beside the engine and
``importlib.resources`` finds them wherever it is installed; no code here.
"""
