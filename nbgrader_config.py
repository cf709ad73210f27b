"""nbgrader configuration, for nbgrader and the Formgrader started at the repository root.

The real configuration is autograder/nbgrader_config.py; this file only loads it.
"""

import os

load_subconfig(  # noqa: F821 - injected by traitlets when it loads this file
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "autograder", "nbgrader_config.py")
)
