"""Database helpers the ORM does not offer in one statement."""

from __future__ import annotations

from django.db import connections, router
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery


def insert_unless_conflict(instance: Model) -> bool:
    """INSERT `instance` unless a row with the same unique key exists: True when it was
    inserted, False when a unique constraint (or a concurrent insert of the same key, which
    it waits for) kept it out.

    One statement (`INSERT … ON CONFLICT DO NOTHING`, on PostgreSQL and SQLite) instead of a
    savepoint, an INSERT that may fail and a rollback to the savepoint. The primary key must be
    set by the model (a UUID), since nothing is read back. Other integrity errors (a foreign key,
    a check) still raise.
    """
    model = type(instance)
    if instance.pk is None:
        raise ValueError(f"{model.__name__} needs its primary key set before the insert.")
    using = router.db_for_write(model, instance=instance)
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
    query.insert_values(list(model._meta.local_concrete_fields), [instance])
    [(sql, params)] = query.get_compiler(using=using).as_sql()
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.rowcount == 1
    if inserted:
        instance._state.adding = False
        instance._state.db = using
    return inserted
