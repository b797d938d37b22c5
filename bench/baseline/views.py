"""The baseline: the least a Django view can do to accept a write.

Parse a JSON body, insert one row, answer 201 with its id. It runs behind the product's whole
middleware stack (sessions, CSRF exemption, security headers), so the ratio of a product endpoint
to it is the cost of the product's own work, not of Django or the machine.
"""

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import BaselineRow


@csrf_exempt
@require_POST
def baseline_insert(request: HttpRequest) -> JsonResponse:
    try:
        data = json.loads(request.body)
        to, body = str(data["to"]), str(data["body"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": {"code": "invalid_json"}}, status=400)
    row = BaselineRow.objects.create(to=to, body=body)
    return JsonResponse({"id": row.pk}, status=201)
