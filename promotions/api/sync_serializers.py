"""Wire format of the POS sync endpoints (documentation and input parsing)."""

from rest_framework import serializers

BULK_GET_MAX_IDS = 500


class SyncVersionSerializer(serializers.Serializer):
    store = serializers.IntegerField()
    version = serializers.IntegerField(min_value=1)
    hash = serializers.CharField(help_text="SHA-256 of the bundle's promotions.")
    engine_version = serializers.CharField(help_text="The engine the bundle was compiled for.")
    generated_at = serializers.DateTimeField()


class SyncHorizonSerializer(serializers.Serializer):
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()


class SyncBundleSerializer(serializers.Serializer):
    store = serializers.IntegerField()
    version = serializers.IntegerField(min_value=1)
    hash = serializers.CharField()
    engine_version = serializers.CharField()
    horizon = SyncHorizonSerializer()
    promotions = serializers.ListField(
        child=serializers.JSONField(), help_text="Compiled promotions (ENGINE.md), by id."
    )


class SyncDeltaSerializer(serializers.Serializer):
    since = serializers.IntegerField()
    version = serializers.IntegerField(min_value=1)
    hash = serializers.CharField()
    engine_version = serializers.CharField()
    horizon = SyncHorizonSerializer()
    full_required = serializers.BooleanField(
        help_text="True when `since` is unknown or no longer kept: fetch the full bundle."
    )
    added = serializers.ListField(child=serializers.JSONField())
    updated = serializers.ListField(child=serializers.JSONField())
    removed = serializers.ListField(child=serializers.IntegerField())


class SyncSinceInputSerializer(serializers.Serializer):
    since = serializers.IntegerField(
        required=False, min_value=0, max_value=2**31 - 1, help_text="A version the device holds."
    )


class SyncPromotionSerializer(serializers.Serializer):
    store = serializers.IntegerField()
    version = serializers.IntegerField(min_value=1)
    hash = serializers.CharField()
    promotion = serializers.JSONField(help_text="The compiled promotion (ENGINE.md).")


class SyncBulkGetInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=BULK_GET_MAX_IDS,
        help_text=f"Promotion ids, at most {BULK_GET_MAX_IDS}.",
    )


class SyncBulkGetSerializer(serializers.Serializer):
    store = serializers.IntegerField()
    version = serializers.IntegerField(min_value=1)
    hash = serializers.CharField()
    promotions = serializers.ListField(child=serializers.JSONField())
    missing = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids not in the store's current bundle."
    )
