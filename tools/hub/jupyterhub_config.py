"""JupyterHub configuration of the class server; ``python -m tools.hub`` starts it with this.

Reads ``$COURSE_HUB_SETTINGS`` (``<state>/settings.json``, written by tools/hub/__main__.py).
PAM login with the roster's Unix accounts, one local process per student (JupyterHub's
LocalProcessSpawner runs it as that user), and the Formgrader as a hub service run by the
grader account in the course folder, which only the formgrade group may open.
"""

import os
from pathlib import Path

from tools.hub.settings import HubSettings, grader_account, group_names, service_name

s = HubSettings.load(Path(os.environ["COURSE_HUB_SETTINGS"]))
c = get_config()  # noqa: F821 - injected by traitlets
state, venv = Path(s.state), Path(s.venv)
students_group, graders_group = group_names(s.course)
service = service_name(s.course)

c.JupyterHub.ip = s.ip
c.JupyterHub.port = s.port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = s.hub_port
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
c.ConfigurableHTTPProxy.command = [str(venv / "bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(state / "hub" / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "hub" / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # a stopped hub stops the servers; files stay

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(s.students) | set(s.instructors)
c.Authenticator.admin_users = set(s.instructors)
c.PAMAuthenticator.open_sessions = False  # no systemd-logind session per login

# Every server: the course environment first on PATH (nbgrader runs `alembic` from it),
# the class's exchange, and the students' configuration (only the Assignments tab).
path = f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
common_env = {"PATH": path, "COURSE_EXCHANGE": str(s.exchange)}
if os.environ.get("COURSE_DATA_DIR"):
    common_env["COURSE_DATA_DIR"] = os.environ["COURSE_DATA_DIR"]
c.Spawner.cmd = [str(venv / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {**common_env, "JUPYTER_CONFIG_PATH": str(state / "jupyter-student")}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

c.JupyterHub.load_groups = {
    students_group: {"users": sorted(s.students)},
    graders_group: {"users": sorted(s.instructors)},
}
c.JupyterHub.load_roles = [
    {
        "name": graders_group,
        "groups": [graders_group],
        "scopes": [f"access:services!service={service}", "list:services"],
    },
]
c.JupyterHub.services = [
    {
        "name": service,
        "display": True,
        "url": f"http://127.0.0.1:{s.service_port}",
        "command": [
            str(venv / "bin" / "jupyterhub-singleuser"),
            f"--port={s.service_port}",
            f"--ServerApp.root_dir={s.course_root}",
        ],
        "user": grader_account(s.course),
        "cwd": s.course_root,
        "environment": {
            **common_env,
            "JUPYTERHUB_DEFAULT_URL": "/lab/tree",
            "JUPYTER_CONFIG_PATH": str(state / "jupyter-grader"),
        },
        "oauth_no_confirm": True,
    }
]
