"""Every editing method, registered: ``Editor(loaded, config)`` builds the one named by ``config.method``
from this registry, so whoever builds an Editor imports it from here (or from the package).

The base class and the faithful rule live in ``editor.py``, the others in a module each; they register
themselves with ``@editing_method`` when this module imports them.
"""

from .amend import Amend
from .editor import EDITORS, Editor, Prepared, UltraEdit
from .finetune import FineTune

__all__ = ["EDITORS", "Amend", "Editor", "FineTune", "Prepared", "UltraEdit"]
