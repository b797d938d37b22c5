# The inbox at 100,000 conversations (issue 10): its pages read straight off indexes.
#
# - `channel_inbox_*` gain the id, the pages' tie-breaker, so a page is one ordered index scan.
# - `patient_mrn_upper` serves the search by MRN (`mrn__iexact` is `UPPER(mrn) = UPPER(%s)`).
# - On PostgreSQL, trigram (pg_trgm) GIN indexes serve the "contains" searches: names
#   (`first_name__icontains` is `UPPER(first_name) LIKE UPPER('%…%')`, hence the UPPER) and phone
#   numbers. They are made here only, not declared in the models' Meta: SQLite, the zero-setup
#   default, has no such index, and SQLite rebuilds a table from its declared indexes whenever a
#   later migration alters it. On SQLite this step does nothing.

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


# (name, table, indexed expression): each `gin_trgm_ops`, which answers LIKE '%…%'.
TRIGRAM_INDEXES = [
    ("patient_first_trgm", "channels_app_patient", 'UPPER("first_name")'),
    ("patient_last_trgm", "channels_app_patient", 'UPPER("last_name")'),
    ("channel_phone_trgm", "channels_app_patientchannel", '"phone"'),
    ("patientphone_number_trgm", "channels_app_patientphone", '"number"'),
]


def trigram_indexes_add(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # What Django's TrigramExtension operation does, whose reverse fails on SQLite. pg_trgm is
    # a trusted extension: the database's owner may create it. It is left in place on reverse.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, expression in TRIGRAM_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX "{name}" ON "{table}" USING gin ({expression} gin_trgm_ops)'
        )


def trigram_indexes_remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _expression in TRIGRAM_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):

    dependencies = [
        ('channels_app', '0003_inbox_collaboration'),
        ('practices', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='patientchannel',
            name='channel_inbox_folder',
        ),
        migrations.RemoveIndex(
            model_name='patientchannel',
            name='channel_inbox_all',
        ),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(django.db.models.functions.text.Upper('mrn'), name='patient_mrn_upper'),
        ),
        migrations.AddIndex(
            model_name='patientchannel',
            index=models.Index(fields=['practice', 'status', '-last_activity_at', '-id'], name='channel_inbox_folder'),
        ),
        migrations.AddIndex(
            model_name='patientchannel',
            index=models.Index(fields=['practice', '-last_activity_at', '-id'], name='channel_inbox_all'),
        ),
        # Skipped on databases other than PostgreSQL.
        migrations.RunPython(trigram_indexes_add, trigram_indexes_remove),
    ]
