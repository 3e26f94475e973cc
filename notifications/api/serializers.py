from rest_framework import serializers

from notifications.models import InboxMessage


class InboxMessageOutputSerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="notification.event", read_only=True)
    brand = serializers.CharField(
        source="notification.brand.slug",
        read_only=True,
        allow_null=True,
        help_text="Slug of the brand the message is about; null for a message of no brand.",
    )
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = InboxMessage
        fields = ["id", "event", "brand", "subject", "body", "created_at", "read_at", "is_read"]
        read_only_fields = fields
