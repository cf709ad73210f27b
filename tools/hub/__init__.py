"""The class server: one JupyterHub on one machine, with nbgrader's exchange (``make hub``).

* ``roster.py``: reads the roster CSV (student id, name, email[, role]).
* ``accounts.py``: Unix accounts and the course groups, the exchange and the folders'
  permissions (what students may and may not read).
* ``settings.py``: where the hub keeps its state, and the per-role Jupyter configuration
  written there (students see only the Assignments tab).
* ``jupyterhub_config.py``: the JupyterHub configuration (PAM login, local processes,
  the Formgrader as a hub service run by the grader account).
* ``__main__.py``: ``python -m tools.hub`` = set everything up, then run the hub.
"""
