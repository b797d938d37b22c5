"""Message.kind: what an automated text is for (security code, keyword confirmation,
after-hours reply, automation reply, shared-phone prompt), so staff never see a security code
and the shared-phone routing ignores texts that expect no answer.

Texts already stored are marked from the records that name them (after-hours and automation
replies, prompts) and, for security codes and keyword confirmations, from the fixed wording
the platform sends them with (`messaging.secure.CODE_TEXT`, `messaging.keywords`)."""

from django.conf import settings
from django.db import migrations, models


def mark_automated_texts(apps, schema_editor):
    Message = apps.get_model("messaging", "Message")
    AfterHoursReply = apps.get_model("messaging", "AfterHoursReply")
    AutomationReply = apps.get_model("messaging", "AutomationReply")
    MpspPrompt = apps.get_model("messaging", "MpspPrompt")
    automated = Message.objects.filter(
        direction="outbound", sender_kind="automation", kind="conversation"
    )
    automated.filter(body__startswith="Your ", body__contains=" security code is ").update(
        kind="security_code"
    )
    automated.filter(body__endswith="Msg & data rates may apply.").update(kind="keyword_reply")
    automated.filter(pk__in=AfterHoursReply.objects.values("message_id")).update(kind="after_hours")
    automated.filter(pk__in=AutomationReply.objects.values("message_id")).update(kind="auto_reply")
    automated.filter(pk__in=MpspPrompt.messages.through.objects.values("message_id")).update(
        kind="mpsp_prompt"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("channels_app", "0004_inbox_at_scale"),
        ("messaging", "0005_secure_links"),
        ("practices", "0001_initial"),
        ("webhooks", "0004_outbound_webhooks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="kind",
            field=models.CharField(
                choices=[
                    ("conversation", "Conversation"),
                    ("mpsp_prompt", "Shared-phone prompt"),
                    ("security_code", "Security code"),
                    ("keyword_reply", "Keyword confirmation (STOP/START/HELP)"),
                    ("after_hours", "After-hours auto-response"),
                    ("auto_reply", "Automation auto-reply"),
                ],
                default="conversation",
                db_default="conversation",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("kind", "conversation"), ("sender_kind", "automation"), _connector="OR"
                ),
                name="message_automated_kind_from_automation",
            ),
        ),
        migrations.RunPython(mark_automated_texts, migrations.RunPython.noop, elidable=True),
    ]
