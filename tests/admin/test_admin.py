"""The Django admin: every page renders, bad input is a form error, secrets are shown once."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Model
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape
from oauth2_provider.models import Application

from artera.phones import format_us_phone
from artera.secrets import token_hash
from channels_app.models import (
    AuditLog,
    Patient,
    PatientChannel,
    PatientPhone,
)
from messaging.models import (
    Message,
    OptOut,
    ShortLink,
    SimulatorNumber,
    SimulatorText,
)
from practices.models import (
    AfterHoursTranslation,
    Enterprise,
    Holiday,
    Line,
    Membership,
    Practice,
    PracticeHours,
    PracticeLocation,
    SmartPhrase,
)
from tests.factories import (
    EnterpriseFactory,
    LineFactory,
    MessageFactory,
    OptOutFactory,
    PatientFactory,
    PracticeFactory,
    PracticeLocationFactory,
    SmartPhraseFactory,
    UserFactory,
)
from tests.support import client_for
from tests.support.admin import (
    OURS,
    REGISTERED,
    add_inline_row,
    admin_url,
    errors_of,
    form_data,
    label,
    make_world,
    only_secret_shown,
)
from webhooks.models import (
    ApiClient,
    CallToTextWorkflow,
    SmapiKey,
)
from webhooks.services import api_client_create, call_to_text_workflow_create


@pytest.fixture
def root(superuser: Any) -> Client:
    return client_for(superuser)


# --- (a) every page renders -----------------------------------------------------------------


@pytest.mark.parametrize("model", REGISTERED, ids=label)
def test_changelist_and_add_page_render(
    model: type[Model], world: dict[type[Model], Model], superuser: Any, root: Client
) -> None:
    assert root.get(admin_url(model, "changelist")).status_code == 200
    request = RequestFactory().get("/")
    request.user = superuser
    can_add = admin.site._registry[model].has_add_permission(request)
    assert root.get(admin_url(model, "add")).status_code == (200 if can_add else 403)


@pytest.mark.parametrize("model", OURS, ids=label)
def test_change_page_renders(
    model: type[Model], world: dict[type[Model], Model], root: Client
) -> None:
    obj = world[model]
    response = root.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200
    assert escape(str(obj)) in response.content.decode()


@pytest.mark.parametrize("model", OURS, ids=label)
@pytest.mark.parametrize("term", ["Clinic", "(818) 555-0001", "18185550001", "MRN", "00000000"])
def test_search_never_fails(
    model: type[Model], term: str, world: dict[type[Model], Model], root: Client
) -> None:
    assert root.get(admin_url(model, "changelist"), {"q": term}).status_code == 200


@pytest.mark.parametrize("model", OURS, ids=label)
def test_delete_page_renders(
    model: type[Model], world: dict[type[Model], Model], root: Client
) -> None:
    # The audit trail is append-only: not even a platform superuser deletes an entry here.
    expected = 403 if model is AuditLog else 200
    assert root.get(admin_url(model, "delete", world[model].pk)).status_code == expected


def test_user_change_page_has_practice_roles(world: dict[type[Model], Model], root: Client) -> None:
    membership = world[Membership]
    response = root.get(admin_url(get_user_model(), "change", membership.user_id))  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert "Practice roles" in response.content.decode()


@pytest.mark.parametrize("model", OURS, ids=label)
def test_changelist_queries_do_not_grow_with_rows(
    model: type[Model], world: dict[type[Model], Model], root: Client
) -> None:
    url = admin_url(model, "changelist")
    root.get(url)  # warm up the session and content-type caches
    with CaptureQueriesContext(connection) as one:
        assert root.get(url).status_code == 200
    make_world()
    make_world()
    with CaptureQueriesContext(connection) as three:
        assert root.get(url).status_code == 200
    assert len(three) == len(one), [q["sql"] for q in three.captured_queries]


# --- Searching, filtering, linking ----------------------------------------------------------


def test_patient_found_by_phone_in_any_format(
    world: dict[type[Model], Model], root: Client
) -> None:
    patient = world[Patient]
    phone = world[PatientPhone]
    national = phone.number.as_national  # type: ignore[attr-defined]
    response = root.get(admin_url(Patient, "changelist"), {"q": national})
    assert patient.mrn in response.content.decode()  # type: ignore[attr-defined]


def test_message_found_by_id_and_number(world: dict[type[Model], Model], root: Client) -> None:
    message = world[Message]
    MessageFactory()  # to another number
    national = format_us_phone(message.to_number)  # type: ignore[attr-defined]
    for term in (str(message.pk), national, message.to_number[2:]):  # type: ignore[attr-defined]
        response = root.get(admin_url(Message, "changelist"), {"q": term})
        assert list(response.context["cl"].result_list) == [message], term


def test_channel_links_to_its_messages(world: dict[type[Model], Model], root: Client) -> None:
    channel = world[PatientChannel]
    MessageFactory()  # another channel's message
    response = root.get(admin_url(PatientChannel, "changelist"))
    link = admin_url(Message, "changelist") + f"?channel__id__exact={channel.pk}"
    assert link in response.content.decode()
    listed = root.get(link).context["cl"].result_list
    assert [m.channel_id for m in listed] == [channel.pk]


@pytest.mark.parametrize(
    ("level", "expected"),
    [("enterprise", "Christmas"), ("practice", "Staff day"), ("line", "Move")],
)
def test_holiday_level_filter(
    level: str, expected: str, world: dict[type[Model], Model], root: Client
) -> None:
    response = root.get(admin_url(Holiday, "changelist"), {"level": level})
    assert [h.name for h in response.context["cl"].result_list] == [expected]


def test_smart_phrase_kind_filter(world: dict[type[Model], Model], root: Client) -> None:
    owned = root.get(admin_url(SmartPhrase, "changelist"), {"kind": "owned"})
    general = root.get(admin_url(SmartPhrase, "changelist"), {"kind": "general"})
    assert [p.owner_id for p in owned.context["cl"].result_list] == [world[Membership].user_id]  # type: ignore[attr-defined]
    assert [p.owner_id for p in general.context["cl"].result_list] == [None]


# --- (b) bad input is a form error, and nothing is written ----------------------------------


def _post_rejected(
    client: Client, url: str, data: dict[str, Any], expected: str, model: type[Model]
) -> None:
    before = model._default_manager.count()
    response = client.post(url, data)
    assert expected in errors_of(response)
    assert 'class="errornote"' in response.content.decode()
    assert model._default_manager.count() == before


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("555-12", "Enter a valid phone number"),
        ("not a number", "Enter a valid phone number"),
        ("+442071838750", "Enter a valid US phone number"),
    ],
)
def test_line_bad_phone(practice_a: Practice, root: Client, phone: str, expected: str) -> None:
    data = form_data(root, admin_url(Line, "add"))
    data.update(practice=practice_a.pk, name="Second", phone_number=phone, send_rate="1")
    _post_rejected(root, admin_url(Line, "add"), data, expected, Line)


def test_line_duplicate_number(practice_a: Practice, practice_b: Practice, root: Client) -> None:
    taken = practice_a.lines.get().phone_number.as_e164
    data = form_data(root, admin_url(Line, "add"))
    data.update(practice=practice_b.pk, name="Copy", phone_number=taken, send_rate="1")
    _post_rejected(
        root, admin_url(Line, "add"), data, "Line with this Phone number already exists.", Line
    )


def test_line_second_default(practice_a: Practice, root: Client) -> None:
    data = form_data(root, admin_url(Line, "add"))
    data.update(
        practice=practice_a.pk,
        name="Second",
        phone_number="+12135559999",
        send_rate="1",
        is_default="on",
    )
    _post_rejected(
        root, admin_url(Line, "add"), data, "This practice already has a default line.", Line
    )


def test_line_second_default_in_practice_inline(practice_a: Practice, root: Client) -> None:
    url = admin_url(Practice, "change", practice_a.pk)
    data = form_data(root, url)
    add_inline_row(
        data, "lines", name="Second", phone_number="+12135559998", send_rate="1", is_default="on"
    )
    _post_rejected(root, url, data, "This practice already has a default line.", Line)


def test_line_can_move_default_in_practice_inline(practice_a: Practice, root: Client) -> None:
    url = admin_url(Practice, "change", practice_a.pk)
    data = form_data(root, url)
    data.pop("lines-0-is_default")
    add_inline_row(
        data, "lines", name="New main", phone_number="+12135559997", send_rate="1", is_default="on"
    )
    assert root.post(url, data).status_code == 302
    assert practice_a.lines.get(is_default=True).name == "New main"


def test_line_send_rate_must_be_positive(practice_a: Practice, root: Client) -> None:
    data = form_data(root, admin_url(Line, "add"))
    data.update(practice=practice_a.pk, name="Slow", phone_number="+12135559996", send_rate="0")
    _post_rejected(
        root,
        admin_url(Line, "add"),
        data,
        "Ensure this value is greater than or equal to 0.01.",
        Line,
    )


def test_patient_duplicate_mrn_on_add(practice_a: Practice, root: Client) -> None:
    existing = PatientFactory(enterprise=practice_a.enterprise, mrn="M-1")
    data = form_data(root, admin_url(Patient, "add"))
    data.update(enterprise=existing.enterprise_id, mrn="M-1", first_name="Other", is_verified="on")
    _post_rejected(
        root,
        admin_url(Patient, "add"),
        data,
        "Another patient of this enterprise has this MRN.",
        Patient,
    )


def test_patient_duplicate_mrn_on_change(practice_a: Practice, root: Client) -> None:
    PatientFactory(enterprise=practice_a.enterprise, mrn="M-1")
    other = PatientFactory(enterprise=practice_a.enterprise, mrn="M-2")
    url = admin_url(Patient, "change", other.pk)
    data = form_data(root, url)
    data["mrn"] = "M-1"
    response = root.post(url, data)
    assert "Another patient of this enterprise has this MRN." in errors_of(response)
    other.refresh_from_db()
    assert other.mrn == "M-2"


def test_patient_same_mrn_in_another_enterprise_is_fine(
    practice_a: Practice, practice_b: Practice, root: Client
) -> None:
    PatientFactory(enterprise=practice_a.enterprise, mrn="M-1")
    data = form_data(root, admin_url(Patient, "add"))
    data.update(enterprise=practice_b.enterprise_id, mrn="M-1", first_name="B", is_verified="on")
    assert root.post(admin_url(Patient, "add"), data).status_code == 302


def test_patient_verified_needs_mrn(practice_a: Practice, root: Client) -> None:
    data = form_data(root, admin_url(Patient, "add"))
    data.update(enterprise=practice_a.enterprise_id, mrn="  ", first_name="X", is_verified="on")
    _post_rejected(
        root, admin_url(Patient, "add"), data, "A verified patient needs an MRN.", Patient
    )


def test_patient_phone_inline_bad_number(practice_a: Practice, root: Client) -> None:
    data = form_data(root, admin_url(Patient, "add"))
    data.update(enterprise=practice_a.enterprise_id, first_name="Pat")
    add_inline_row(data, "phones", number="12", kind="mobile", is_primary="on")
    _post_rejected(root, admin_url(Patient, "add"), data, "Enter a valid phone number", Patient)


def test_patient_phone_inline_takes_enterprise_from_patient(
    practice_a: Practice, root: Client
) -> None:
    data = form_data(root, admin_url(Patient, "add"))
    data.update(enterprise=practice_a.enterprise_id, first_name="Pat", last_name="Doe")
    add_inline_row(data, "phones", number="(818) 555-7777", kind="mobile", is_primary="on")
    assert root.post(admin_url(Patient, "add"), data).status_code == 302
    phone = PatientPhone.objects.get()
    assert phone.enterprise_id == practice_a.enterprise_id
    assert phone.number.as_e164 == "+18185557777"


def test_patient_phone_inline_duplicate_number(practice_a: Practice, root: Client) -> None:
    data = form_data(root, admin_url(Patient, "add"))
    data.update(enterprise=practice_a.enterprise_id, first_name="Pat")
    add_inline_row(data, "phones", number="8185557777", kind="mobile")
    add_inline_row(data, "phones", number="(818) 555-7777", kind="home")
    _post_rejected(
        root, admin_url(Patient, "add"), data, "Please correct the duplicate data", Patient
    )


def _practice_add_data(root: Client, enterprise: Enterprise) -> dict[str, Any]:
    data = form_data(root, admin_url(Practice, "add"))
    data.update(enterprise=enterprise.pk, name="New clinic", kind="clinic")
    return data


def test_practice_add_with_inlines(db: None, root: Client) -> None:
    enterprise = EnterpriseFactory()
    data = _practice_add_data(root, enterprise)
    assert data["timezone"] == "America/New_York"
    add_inline_row(data, "locations", location_id="DEP-1")
    add_inline_row(data, "lines", name="Main", phone_number="(213) 555-4444", send_rate="1")
    add_inline_row(data, "hours", weekday="0", opens_at="08:00", closes_at="17:00")
    add_inline_row(data, "holidays", date="2030-07-04", name="Independence Day", is_closed="on")
    add_inline_row(data, "after_hours_translations", language="es", message="Cerrado.")
    add_inline_row(data, "quick_responses", topic="Hi", text="Hello!", language="en", position="0")
    response = root.post(admin_url(Practice, "add"), data)
    assert response.status_code == 302, errors_of(response)
    practice = Practice.objects.get(name="New clinic")
    location = practice.locations.get()
    assert (location.location_id, location.enterprise_id) == ("DEP-1", enterprise.pk)
    holiday = practice.holidays.get()
    assert (holiday.enterprise_id, holiday.level) == (enterprise.pk, "practice")
    assert practice.lines.get().phone_number.as_e164 == "+12135554444"


def test_practice_add_without_enterprise_is_a_form_error(db: None, root: Client) -> None:
    # The inlines read the enterprise from the practice: with none picked they must not crash.
    data = _practice_add_data(root, EnterpriseFactory())
    data["enterprise"] = ""
    add_inline_row(data, "locations", location_id="DEP-1")
    add_inline_row(data, "holidays", date="2030-07-04", name="Independence Day", is_closed="on")
    _post_rejected(root, admin_url(Practice, "add"), data, "This field is required.", Practice)
    assert not Holiday.objects.exists()


def test_patient_add_without_enterprise_is_a_form_error(db: None, root: Client) -> None:
    data = form_data(root, admin_url(Patient, "add"))
    data.update(first_name="Pat")
    add_inline_row(data, "phones", number="8185557777", kind="mobile")
    _post_rejected(root, admin_url(Patient, "add"), data, "This field is required.", Patient)


def test_practice_after_hours_message_too_long(db: None, root: Client) -> None:
    data = _practice_add_data(root, EnterpriseFactory())
    data.update(after_hours_enabled="on", after_hours_message="x" * 321)
    _post_rejected(
        root,
        admin_url(Practice, "add"),
        data,
        "Ensure this value has at most 320 characters (it has 321).",
        Practice,
    )


def test_practice_after_hours_on_needs_message(db: None, root: Client) -> None:
    data = _practice_add_data(root, EnterpriseFactory())
    data.update(after_hours_enabled="on", after_hours_message="")
    _post_rejected(
        root, admin_url(Practice, "add"), data, "Write the after-hours message", Practice
    )


def test_practice_unknown_timezone(db: None, root: Client) -> None:
    data = _practice_add_data(root, EnterpriseFactory())
    data["timezone"] = "Mars/Olympus_Mons"
    _post_rejected(
        root,
        admin_url(Practice, "add"),
        data,
        "Select a valid choice. Mars/Olympus_Mons is not one of the available choices.",
        Practice,
    )


def test_practice_duplicate_name_in_enterprise(practice_a: Practice, root: Client) -> None:
    data = _practice_add_data(root, practice_a.enterprise)
    data["name"] = practice_a.name
    _post_rejected(
        root,
        admin_url(Practice, "add"),
        data,
        "Practice with this Enterprise and Name already exists.",
        Practice,
    )


def test_practice_enterprise_cannot_be_moved(
    practice_a: Practice, practice_b: Practice, root: Client
) -> None:
    url = admin_url(Practice, "change", practice_a.pk)
    data = form_data(root, url)
    data["enterprise"] = practice_b.enterprise_id
    assert root.post(url, data).status_code == 302
    practice_a.refresh_from_db()
    assert practice_a.enterprise_id != practice_b.enterprise_id


def test_practice_location_taken_in_enterprise(practice_a: Practice, root: Client) -> None:
    PracticeLocationFactory(
        practice=PracticeFactory(enterprise=practice_a.enterprise), location_id="D1"
    )
    url = admin_url(Practice, "change", practice_a.pk)
    data = form_data(root, url)
    add_inline_row(data, "locations", location_id="D1")
    _post_rejected(root, url, data, "Location id D1 already maps to", PracticeLocation)


def test_practice_location_listed_twice(practice_a: Practice, root: Client) -> None:
    url = admin_url(Practice, "change", practice_a.pk)
    data = form_data(root, url)
    add_inline_row(data, "locations", location_id="D2")
    add_inline_row(data, "locations", location_id="D2")
    _post_rejected(root, url, data, "This location id is listed twice.", PracticeLocation)


def test_practice_hours_close_before_open(practice_a: Practice, root: Client) -> None:
    url = admin_url(Practice, "change", practice_a.pk)
    data = form_data(root, url)
    add_inline_row(data, "hours", weekday="1", opens_at="17:00", closes_at="09:00")
    _post_rejected(root, url, data, "Closing time must be after opening time.", PracticeHours)


def test_practice_translation_too_long(practice_a: Practice, root: Client) -> None:
    url = admin_url(Practice, "change", practice_a.pk)
    data = form_data(root, url)
    add_inline_row(data, "after_hours_translations", language="es", message="x" * 400)
    _post_rejected(
        root, url, data, "Ensure this value has at most 320 characters", AfterHoursTranslation
    )


def test_practice_holiday_inline_line_level(practice_a: Practice, root: Client) -> None:
    line = practice_a.lines.get()
    url = admin_url(Practice, "change", practice_a.pk)
    data = form_data(root, url)
    add_inline_row(
        data,
        "holidays",
        date="2030-01-02",
        name="Half day",
        line=line.pk,
        opens_at="09:00",
        closes_at="12:00",
    )
    assert root.post(url, data).status_code == 302
    holiday = Holiday.objects.get()
    assert (holiday.level, holiday.enterprise_id) == ("line", practice_a.enterprise_id)


def test_practice_holiday_inline_rejects_other_practice_line(
    practice_a: Practice, practice_b: Practice, root: Client
) -> None:
    url = admin_url(Practice, "change", practice_a.pk)
    data = form_data(root, url)
    add_inline_row(
        data,
        "holidays",
        date="2030-01-02",
        name="X",
        line=practice_b.lines.get().pk,
        is_closed="on",
    )
    _post_rejected(root, url, data, "Select a valid choice.", Holiday)


def test_practice_holiday_inline_special_hours(practice_a: Practice, root: Client) -> None:
    url = admin_url(Practice, "change", practice_a.pk)
    data = form_data(root, url)
    add_inline_row(
        data, "holidays", date="2030-01-02", name="X", opens_at="12:00", closes_at="9:00"
    )
    _post_rejected(root, url, data, "Closing time must be after opening time.", Holiday)


def test_enterprise_holiday_inline(practice_a: Practice, root: Client) -> None:
    url = admin_url(Enterprise, "change", practice_a.enterprise_id)
    data = form_data(root, url)
    add_inline_row(data, "holidays", date="2030-11-28", name="Thanksgiving", is_closed="on")
    assert root.post(url, data).status_code == 302
    assert Holiday.objects.get().level == "enterprise"


def test_enterprise_shortening_needs_domains(db: None, root: Client) -> None:
    data = form_data(root, admin_url(Enterprise, "add"))
    data.update(name="Acme", url_shortening="domains", url_shortening_domains="")
    _post_rejected(
        root, admin_url(Enterprise, "add"), data, "List at least one domain to shorten", Enterprise
    )


def _holiday_data(root: Client, **fields: Any) -> dict[str, Any]:
    data = form_data(root, admin_url(Holiday, "add"))
    data.update(date="2030-05-01", name="Closed", is_closed="on")
    data.update(fields)
    return data


def test_holiday_line_of_another_practice(
    practice_a: Practice, practice_b: Practice, root: Client
) -> None:
    other = PracticeFactory(enterprise=practice_a.enterprise)
    data = _holiday_data(
        root,
        enterprise=practice_a.enterprise_id,
        practice=practice_a.pk,
        line=LineFactory(practice=other).pk,
    )
    _post_rejected(
        root, admin_url(Holiday, "add"), data, "This line belongs to another practice.", Holiday
    )


def test_holiday_practice_of_another_enterprise(
    practice_a: Practice, practice_b: Practice, root: Client
) -> None:
    data = _holiday_data(root, enterprise=practice_a.enterprise_id, practice=practice_b.pk)
    _post_rejected(
        root,
        admin_url(Holiday, "add"),
        data,
        "This practice belongs to another enterprise.",
        Holiday,
    )


def test_holiday_closing_before_opening(practice_a: Practice, root: Client) -> None:
    data = _holiday_data(
        root, enterprise=practice_a.enterprise_id, opens_at="14:00", closes_at="10:00"
    )
    data.pop("is_closed")
    _post_rejected(
        root, admin_url(Holiday, "add"), data, "Closing time must be after opening time.", Holiday
    )


def test_holiday_special_day_needs_hours(practice_a: Practice, root: Client) -> None:
    data = _holiday_data(root, enterprise=practice_a.enterprise_id)
    data.pop("is_closed")
    _post_rejected(
        root,
        admin_url(Holiday, "add"),
        data,
        "A specially open day needs opening and closing times.",
        Holiday,
    )


def test_holiday_needs_enterprise_or_practice(db: None, root: Client) -> None:
    data = _holiday_data(root)
    _post_rejected(root, admin_url(Holiday, "add"), data, "Pick the enterprise", Holiday)


def test_holiday_takes_practice_and_enterprise_from_line(
    practice_a: Practice, root: Client
) -> None:
    line = practice_a.lines.get()
    data = _holiday_data(root, line=line.pk)
    assert root.post(admin_url(Holiday, "add"), data).status_code == 302
    holiday = Holiday.objects.get()
    assert (holiday.practice_id, holiday.enterprise_id) == (practice_a.pk, practice_a.enterprise_id)


def test_smart_phrase_duplicate_general(practice_a: Practice, root: Client) -> None:
    SmartPhraseFactory(enterprise=practice_a.enterprise, name="parking")
    data = form_data(root, admin_url(SmartPhrase, "add"))
    data.update(enterprise=practice_a.enterprise_id, name="parking", text="Lot B")
    _post_rejected(
        root,
        admin_url(SmartPhrase, "add"),
        data,
        "A general smart phrase with this name already exists.",
        SmartPhrase,
    )


def test_smart_phrase_builtin_name(practice_a: Practice, root: Client) -> None:
    data = form_data(root, admin_url(SmartPhrase, "add"))
    data.update(enterprise=practice_a.enterprise_id, name="practiceName", text="x")
    _post_rejected(
        root, admin_url(SmartPhrase, "add"), data, "is filled in by the platform", SmartPhrase
    )


def test_membership_duplicate(staff_a: Any, practice_a: Practice, root: Client) -> None:
    data = form_data(root, admin_url(Membership, "add"))
    data.update(user=staff_a.pk, practice=practice_a.pk, role="manager")
    _post_rejected(
        root,
        admin_url(Membership, "add"),
        data,
        "Membership with this User and Practice already exists.",
        Membership,
    )


def test_user_page_gives_practice_role(practice_a: Practice, root: Client) -> None:
    user = UserFactory()
    url = admin_url(get_user_model(), "change", user.pk)
    data = form_data(root, url)
    add_inline_row(data, "memberships", practice=practice_a.pk, role="manager")
    response = root.post(url, data)
    assert response.status_code == 302, errors_of(response)
    assert Membership.objects.get(user=user).role == "manager"


@pytest.mark.parametrize(
    ("phone", "expected"),
    [("123", "Enter a valid US phone number"), ("call me", "Enter a valid US phone number")],
)
def test_opt_out_bad_phone(practice_a: Practice, root: Client, phone: str, expected: str) -> None:
    data = form_data(root, admin_url(OptOut, "add"))
    data.update(line=practice_a.lines.get().pk, phone=phone, keyword="")
    _post_rejected(root, admin_url(OptOut, "add"), data, expected, OptOut)


def test_opt_out_phone_is_normalized(practice_a: Practice, root: Client) -> None:
    data = form_data(root, admin_url(OptOut, "add"))
    data.update(line=practice_a.lines.get().pk, phone="(818) 555-1234", keyword="STOP")
    assert root.post(admin_url(OptOut, "add"), data).status_code == 302
    assert OptOut.objects.get().phone == "+18185551234"


def test_opt_out_duplicate(practice_a: Practice, root: Client) -> None:
    line = practice_a.lines.get()
    OptOutFactory(line=line, phone="+18185551234")
    data = form_data(root, admin_url(OptOut, "add"))
    data.update(line=line.pk, phone="818.555.1234")
    _post_rejected(
        root,
        admin_url(OptOut, "add"),
        data,
        "Opt-out with this Line and Phone already exists.",
        OptOut,
    )


def test_simulator_number_normalized_and_checked(db: None, root: Client) -> None:
    data = form_data(root, admin_url(SimulatorNumber, "add"))
    data.update(number="landline please", kind="landline")
    _post_rejected(
        root,
        admin_url(SimulatorNumber, "add"),
        data,
        "Enter a valid US phone number",
        SimulatorNumber,
    )
    data["number"] = "(818) 555-3434"
    assert root.post(admin_url(SimulatorNumber, "add"), data).status_code == 302
    assert SimulatorNumber.objects.get().number == "+18185553434"


# --- Webhooks: bad input --------------------------------------------------------------------


def _api_client_data(root: Client, enterprise: Enterprise, **fields: Any) -> dict[str, Any]:
    data = form_data(root, admin_url(ApiClient, "add"))
    data.update(enterprise=enterprise.pk, name="Epic", webhook_url="https://emr.example.org/hook")
    data.update(fields)
    return data


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"allowed_ips": "10.0.0.0/8\n10.0.0.300"}, "Not an IP address or network: 10.0.0.300."),
        (
            {"scopes": ["messages:send", "admin:all"]},
            "Select a valid choice. admin:all is not one of the available choices.",
        ),
        ({"scopes": []}, "This field is required."),
        ({"webhook_url": "not a url"}, "Enter a valid URL."),
        ({"name": "x" * 200}, "the name can be at most"),
    ],
)
def test_api_client_bad_input(
    db: None, root: Client, fields: dict[str, Any], expected: str
) -> None:
    # A long enterprise name, so that the OAuth application's "<enterprise>: <name>" is too.
    enterprise = EnterpriseFactory(name="Health System of the Very Long Name " * 4)
    data = _api_client_data(root, enterprise, **fields)
    if data.get("scopes") == []:
        del data["scopes"]
    before = Application.objects.count()
    _post_rejected(root, admin_url(ApiClient, "add"), data, expected, ApiClient)
    assert Application.objects.count() == before


def test_api_client_change_bad_ip(practice_a: Practice, root: Client) -> None:
    api_client = api_client_create(enterprise=practice_a.enterprise, name="Epic").api_client
    url = admin_url(ApiClient, "change", api_client.pk)
    data = form_data(root, url)
    data["allowed_ips"] = "banana"
    response = root.post(url, data)
    assert "Not an IP address or network: banana." in errors_of(response)
    api_client.refresh_from_db()
    assert api_client.allowed_ips == ""


def _workflow_data(root: Client, practice: Practice, **fields: Any) -> dict[str, Any]:
    data = form_data(root, admin_url(CallToTextWorkflow, "add"))
    data.update(
        practice=practice.pk,
        line=practice.lines.get().pk,
        kind="call_to_text",
        language="en",
        message="Thanks for calling! Reply here and we will help you by text.",
    )
    data.update(fields)
    return data


def test_workflow_line_of_another_practice(
    practice_a: Practice, practice_b: Practice, root: Client
) -> None:
    data = _workflow_data(root, practice_a, line=practice_b.lines.get().pk)
    _post_rejected(
        root,
        admin_url(CallToTextWorkflow, "add"),
        data,
        "This line belongs to another practice.",
        CallToTextWorkflow,
    )


def test_workflow_message_too_long(practice_a: Practice, root: Client) -> None:
    data = _workflow_data(root, practice_a, message="x" * 256)
    _post_rejected(
        root,
        admin_url(CallToTextWorkflow, "add"),
        data,
        "Ensure this value has at most 255 characters (it has 256).",
        CallToTextWorkflow,
    )


def test_workflow_bad_ip(practice_a: Practice, root: Client) -> None:
    data = _workflow_data(root, practice_a, allowed_ips="300.1.1.1")
    _post_rejected(
        root,
        admin_url(CallToTextWorkflow, "add"),
        data,
        "Not an IP address or network: 300.1.1.1.",
        CallToTextWorkflow,
    )


def test_workflow_practice_without_line(db: None, root: Client) -> None:
    data = form_data(root, admin_url(CallToTextWorkflow, "add"))
    data.update(practice=PracticeFactory().pk, kind="call_to_text", language="en", message="Hi")
    _post_rejected(
        root,
        admin_url(CallToTextWorkflow, "add"),
        data,
        "This practice has no line to text from",
        CallToTextWorkflow,
    )


def test_workflow_change_to_other_practice_line(
    practice_a: Practice, practice_b: Practice, root: Client
) -> None:
    workflow, _ = call_to_text_workflow_create(
        practice=practice_a, kind="call_to_text", message="Hello"
    )
    url = admin_url(CallToTextWorkflow, "change", workflow.pk)
    data = form_data(root, url)
    data["line"] = practice_b.lines.get().pk
    assert "Select a valid choice." in errors_of(root.post(url, data))
    workflow.refresh_from_db()
    assert workflow.line.practice_id == practice_a.pk


# --- (c) credentials are made by the services and shown once --------------------------------


def test_api_client_add_shows_credentials_once(practice_a: Practice, root: Client) -> None:
    data = _api_client_data(
        root, practice_a.enterprise, scopes=["messages:send"], allowed_ips="203.0.113.0/24"
    )
    response = root.post(admin_url(ApiClient, "add"), data, follow=True)
    assert response.status_code == 200
    client_id, client_secret, webhook_secret = only_secret_shown(response)

    api_client = ApiClient.objects.get()
    assert api_client.application.client_id == client_id
    assert api_client.scopes == "messages:send"
    assert api_client.allowed_ips == "203.0.113.0/24"
    assert api_client.enterprise_id == practice_a.enterprise_id
    assert api_client.webhook_secret == webhook_secret
    assert webhook_secret.startswith("whsec_")
    stored = api_client.application.client_secret
    assert stored != client_secret
    assert check_password(client_secret, stored)
    # The admin's history names the client the service made.
    assert LogEntry.objects.get().object_id == str(api_client.pk)

    again = root.get(admin_url(ApiClient, "change", api_client.pk)).content.decode()
    assert client_id in again
    assert client_secret not in again
    assert webhook_secret not in again
    assert client_secret not in root.get(admin_url(ApiClient, "changelist")).content.decode()


def test_api_client_change_edits_scopes(practice_a: Practice, root: Client) -> None:
    api_client = api_client_create(enterprise=practice_a.enterprise, name="Epic").api_client
    url = admin_url(ApiClient, "change", api_client.pk)
    data = form_data(root, url)
    assert data["scopes"] == ["messages:send", "messages:read"]
    data.update(scopes=["messages:read"], name="Epic prod")
    assert root.post(url, data).status_code == 302
    api_client.refresh_from_db()
    assert (api_client.scopes, api_client.name) == ("messages:read", "Epic prod")


def test_api_client_delete_removes_oauth_application(practice_a: Practice, root: Client) -> None:
    api_client = api_client_create(enterprise=practice_a.enterprise, name="Epic").api_client
    response = root.post(admin_url(ApiClient, "delete", api_client.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not ApiClient.objects.exists()
    assert not Application.objects.exists()


def test_smapi_key_add_shows_key_once(practice_a: Practice, root: Client) -> None:
    data = form_data(root, admin_url(SmapiKey, "add"))
    data.update(enterprise=practice_a.enterprise_id, name="Old portal")
    response = root.post(admin_url(SmapiKey, "add"), data, follow=True)
    (key,) = only_secret_shown(response)
    row = SmapiKey.objects.get()
    assert row.key_hash == token_hash(key)
    assert key not in (row.key_hash, row.key_prefix)
    assert row.name == "Old portal"
    again = root.get(admin_url(SmapiKey, "change", row.pk)).content.decode()
    assert key not in again
    assert row.key_hash not in again


def test_workflow_add_shows_url_once(practice_a: Practice, root: Client) -> None:
    data = _workflow_data(root, practice_a, line="", allowed_ips="198.51.100.7", name="Main IVR")
    response = root.post(admin_url(CallToTextWorkflow, "add"), data, follow=True)
    (url,) = only_secret_shown(response)
    prefix = settings.PUBLIC_BASE_URL + "/webhook/call-to-text/"
    assert url.startswith(prefix)
    token = url.removeprefix(prefix).rstrip("/")
    workflow = CallToTextWorkflow.objects.get()
    assert workflow.token_hash == token_hash(token)
    assert workflow.line == practice_a.lines.get()  # the default line, as none was picked
    assert workflow.allowed_ips == "198.51.100.7"
    again = root.get(admin_url(CallToTextWorkflow, "change", workflow.pk)).content.decode()
    assert token not in again


# --- (d) messages are a record --------------------------------------------------------------


@pytest.mark.parametrize("model", [Message, ShortLink, SimulatorText], ids=label)
def test_records_have_no_add(
    model: type[Model], world: dict[type[Model], Model], root: Client
) -> None:
    assert root.get(admin_url(model, "add")).status_code == 403
    changelist = root.get(admin_url(model, "changelist")).content.decode()
    assert admin_url(model, "add") not in changelist
    obj = world[model]
    assert root.post(admin_url(model, "change", obj.pk), {}).status_code == 403


def test_message_fields_cannot_be_changed(world: dict[type[Model], Model], root: Client) -> None:
    message = world[Message]
    url = admin_url(Message, "change", message.pk)
    page = root.get(url).content.decode()
    assert 'name="body"' not in page
    assert 'name="_save"' not in page
    assert "Status history" in page
    assert "status_history-0-status" not in page  # the history is shown, not a form
    response = root.post(url, {"body": "Changed", "status": "delivered"})
    assert response.status_code == 403
    message.refresh_from_db()
    assert (message.body, message.status) == ("Your appointment is tomorrow at 9:00.", "received")  # type: ignore[attr-defined]


def test_message_delete_is_for_superusers_only(
    world: dict[type[Model], Model], root: Client
) -> None:
    message = world[Message]
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="messaging"))
    staff_client = client_for(staff)
    assert staff_client.get(admin_url(Message, "change", message.pk)).status_code == 200
    assert staff_client.get(admin_url(Message, "delete", message.pk)).status_code == 403
    assert staff_client.post(admin_url(Message, "change", message.pk), {}).status_code == 403

    assert root.post(admin_url(Message, "delete", message.pk), {"post": "yes"}).status_code == 302
    assert not Message.objects.filter(pk=message.pk).exists()


def test_message_status_history_is_read_only(world: dict[type[Model], Model], root: Client) -> None:
    inline = admin.site._registry[Message].inlines[0]
    request = RequestFactory().get("/")
    request.user = get_user_model()(is_superuser=True, is_staff=True)
    instance = inline(Message, admin.site)
    assert not instance.has_add_permission(request, world[Message])
    assert not instance.has_change_permission(request, world[Message])
    assert not instance.has_delete_permission(request, world[Message])
