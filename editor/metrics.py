"""The names of the editor's metrics: stated once, imported by the evaluation, the benchmark, the gates,
the wording and the pipeline. Plain strings (no torch), so the web app imports them cheaply.

What the model *says* (greedy answer begins with the target, normalised) leads; the literature's
teacher-forced token accuracies are kept beside it, named as such in the UI, so numbers compare with
papers. Keys are what versions store and MLflow logs, so they never change meaning.
"""

# What the model says: share of prompts whose greedy continuation begins with the target.
GENERATION_EFFICACY = "generation_efficacy"  # the edit prompts
GENERATION_GENERALIZATION = "generation_generalization"  # wordings the edit was not computed on
GENERATION_RETENTION = "generation_retention"  # earlier facts of the lineage, after the newest batch

# Teacher-forced token accuracy of the target tokens (EasyEdit's ZsRE protocol: ES, GS, retention).
TOKEN_EFFICACY = "efficacy"
TOKEN_GENERALIZATION = "generalization"
TOKEN_RETENTION = "retention"

# Unrelated prompts: agreement with the pre-edit model, and accuracy against given answers.
LOCALITY = "locality"
LOCALITY_ACCURACY = "locality_accuracy"

# Fluency: perplexity of a fixed text, and its relative change from the parent version.
PERPLEXITY = "perplexity"
PERPLEXITY_DRIFT = "perplexity_drift"
