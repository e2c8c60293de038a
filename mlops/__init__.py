"""Ground floor: Amend's MLflow adapters (tracking runs and registered versions, the pyfunc model that
serves a version). Used by the apps and the workers; imports no app and no worker."""
