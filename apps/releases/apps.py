from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "apps.releases"
    label = "releases"

    def ready(self) -> None:
        # The change sets' sample (facts, below this app) shows production's answers: this app gives them.
        from apps.facts.changesets.queries import production_answers_wanted
        from apps.releases.answers import production_answers

        production_answers_wanted.connect(production_answers, dispatch_uid="releases.production_answers")
