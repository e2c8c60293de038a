from django.apps import AppConfig


class ModellinesConfig(AppConfig):
    name = "apps.modellines"
    label = "modellines"
