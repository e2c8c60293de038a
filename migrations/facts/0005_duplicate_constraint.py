"""The duplicate rule as a unique index (issue 16), on keys that see through look-alikes.

First every fact's keys are recomputed with apps.core.keys (NFKC + the TR39 confusables skeleton: they were
NFC only). Facts that were duplicates under the new keys before the index existed (a race, or a look-alike
accepted earlier) would make the index fail half-way: the migration stops first and names them, so a person
withdraws or rejects the extra copies (their history stays in the audit trail) and runs it again.
"""

from collections import defaultdict

import django.db.models.functions.text
from django.db import migrations, models

from apps.core.keys import prompt_key, target_key

# Literal, as the migration must keep meaning what it meant (apps.facts.models.DUPLICATE_STATES today).
DUPLICATE_STATES = [
    "applied", "approved", "changes_requested", "draft", "held", "queued", "regressed", "rolled_back", "submitted"
]


def recompute_keys(apps, schema_editor) -> None:
    fact_edit = apps.get_model("facts", "FactEdit")
    copies: dict[tuple, list[int]] = defaultdict(list)
    changed = []
    for fact in fact_edit.objects.only("pk", "model_line_id", "prompt", "target", "state").iterator(chunk_size=2000):
        fact.normalized_prompt, fact.normalized_target = prompt_key(fact.prompt), target_key(fact.target)
        changed.append(fact)
        if fact.state in DUPLICATE_STATES:
            copies[(fact.model_line_id, fact.normalized_prompt, fact.normalized_target)].append(fact.pk)
    clashes = [ids for ids in copies.values() if len(ids) > 1]
    if clashes:
        listed = "; ".join(", ".join(f"#{pk}" for pk in ids) for ids in clashes[:20])
        raise RuntimeError(
            f"{len(clashes)} group(s) of facts are the same fact (same line, prompt and target once look-alikes "
            f"are seen through): {listed}. Withdraw or reject all but one of each, then migrate again."
        )
    fact_edit.objects.bulk_update(changed, ["normalized_prompt", "normalized_target"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("facts", "0004_fact_regressions"),
        ("modellines", "0003_line_self_check_settings"),
    ]

    operations = [
        migrations.RunPython(recompute_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="factedit",
            constraint=models.UniqueConstraint(
                models.F("model_line"),
                django.db.models.functions.text.MD5("normalized_prompt"),
                django.db.models.functions.text.MD5("normalized_target"),
                condition=models.Q(("state__in", DUPLICATE_STATES)),
                name="fact_once_per_line",
            ),
        ),
    ]
