"""The floor under every app: what all of them share and none of them owns.

Text validation (`text`), the workflow's refusal (`errors.TransitionError`), JSON as Amend reads it
from clients (`strict_json`) and the pieces every REST view uses (`api`: strict input, pagination, write
throttling, the refusals' schema; `serializers`). It imports no
app: every app reaches it downward. Role permissions live with the roles (apps.accounts.permissions);
the one map of refusals to HTTP codes is the project's (amend.refusals).
"""
