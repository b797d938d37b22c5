"""The index of the inbox's search in message bodies (`inbox.selectors.messages_search_for_user`).

It lives with the inbox, which is the only reader, rather than in `messaging`: a GIN index on
`to_tsvector('english', body)` of the messages' table, on PostgreSQL only (SQLite, the
zero-setup default, searches with LIKE and needs nothing). Built CONCURRENTLY, so a large
messages table keeps taking writes while it is made (hence `atomic = False`). The expression
must stay exactly the one the selector's query uses (`BODY_SEARCH_VECTOR`), or the planner
cannot use the index.
"""

from django.db import migrations

INDEX = "message_body_search"
VECTOR = "to_tsvector('english'::regconfig, \"body\")"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" ON "messaging_message" USING gin ({VECTOR})'
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("messaging", "0006_message_kind")]

    operations = [migrations.RunPython(create, drop)]
