"""The customer's in-app inbox."""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.permissions import IsCustomer, request_customer
from notifications import selectors
from notifications.api.serializers import InboxMessageOutputSerializer
from notifications.models import InboxMessage
from notifications.services import inbox_message_mark_read

_EXAMPLE = {
    "id": 42,
    "event": "loyalty.points.earned",
    "brand": "burger-town",
    "subject": "You earned 120 points",
    "body": "Hi Ana, your order earned you 120 points.",
    "created_at": "2025-05-01T12:00:00Z",
    "read_at": None,
    "is_read": False,
}


class InboxFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", help_text="true: only unread messages."
    )
    brand = django_filters.CharFilter(
        field_name="notification__brand__slug", help_text="Only messages of this brand (slug)."
    )

    class Meta:
        model = InboxMessage
        fields = ["unread", "brand"]


class MyNotificationListView(generics.ListAPIView):
    """The authenticated customer's inbox, newest first."""

    permission_classes = [IsCustomer]
    serializer_class = InboxMessageOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = InboxFilter

    def get_queryset(self):
        return selectors.inbox_messages_for(customer=request_customer(self.request))

    @extend_schema(
        tags=["notifications"],
        responses={
            200: InboxMessageOutputSerializer(many=True),
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: PAGE_NOT_FOUND,
        },
        examples=[OpenApiExample("Inbox message", value=_EXAMPLE, response_only=True)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MyNotificationReadView(APIView):
    """Mark one of the customer's messages read. Marking it again changes nothing."""

    permission_classes = [IsCustomer]

    @extend_schema(
        tags=["notifications"],
        request=None,
        responses={
            200: InboxMessageOutputSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "Read message",
                value={**_EXAMPLE, "read_at": "2025-05-01T12:05:00Z", "is_read": True},
                response_only=True,
            )
        ],
    )
    def post(self, request, message_id: int):
        message = inbox_message_mark_read(customer=request_customer(request), message_id=message_id)
        return Response(InboxMessageOutputSerializer(message).data)
