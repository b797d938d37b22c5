"""Shared model plumbing."""

import uuid

from django.db import models


class PublicModel(models.Model):
    """A model whose primary key is safe to show outside: a random UUID, never a counter."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)

    class Meta:
        abstract = True
