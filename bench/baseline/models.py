from django.db import models


class BaselineRow(models.Model):
    """One accepted write of the baseline scenario: about the size of a text."""

    to = models.CharField(max_length=20)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.to} at {self.created_at:%H:%M:%S}"
