#!/usr/bin/env python
"""Django's command-line utility for Amend."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amend.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:  # a setting the environment lacks: one line that says which, no traceback
        sys.exit(f"manage.py: {error}")
