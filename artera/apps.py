from django.apps import AppConfig


class ArteraConfig(AppConfig):
    name = "artera"
    verbose_name = "Platform"
