"""Wire formats of the experiments API: plain input and output serializers.

Results: money figures (and the differences and intervals of money metrics) are decimal
strings in the brand's currency, rounded half up to the cent; rates, their differences and
p-values are floats (estimates, not amounts)."""

from decimal import ROUND_HALF_UP

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.filters import MAX_ID
from experiments.models import Experiment, ExperimentVariant
from experiments.results import CONFIDENCE
from experiments.services import MAX_VARIANTS

# A variant's weight is a relative share: 10,000 is fine enough for shares in basis points.
MAX_WEIGHT = 10_000
MONEY = {"max_digits": 14, "decimal_places": 2, "rounding": ROUND_HALF_UP}
# A difference of two means of money can be twice as large as either; rounded half up.
MONEY_DIFFERENCE = {"max_digits": 16, "decimal_places": 2, "rounding": ROUND_HALF_UP}
Z_TEST = "two_proportion_z_test"
WELCH = "welch_t_test"


# --- Input --------------------------------------------------------------------------------------


class VariantInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    promotion = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        allow_null=True,
        default=None,
        help_text="Id of a promotion of the experiment's brand; null: no promotion (a control "
        "that keeps things as they are).",
    )
    weight = serializers.IntegerField(
        min_value=1,
        max_value=MAX_WEIGHT,
        default=1,
        help_text="Share of the customers, relative to the other variants' weights.",
    )
    is_control = serializers.BooleanField(
        default=False, help_text="Exactly one variant is the control."
    )


class ExperimentChangeInputSerializer(serializers.Serializer):
    """A draft experiment as a whole: its fields and its variants (replaced)."""

    name = serializers.CharField(max_length=120)
    hypothesis = serializers.CharField(
        max_length=2000, allow_blank=True, default="", help_text="What it should show."
    )
    audience = serializers.ChoiceField(
        choices=Experiment.Audience.choices, default=Experiment.Audience.EVERYONE
    )
    audience_label = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        allow_null=True,
        default=None,
        help_text="Audience `label`: id of a customer label of the brand (or a global one).",
    )
    audience_tier = serializers.CharField(
        max_length=80,
        allow_blank=True,
        default="",
        help_text="Audience `tier`: the name of a loyalty tier.",
    )
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(help_text="After `starts_at`.")
    gross_margin_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        required=False,
        help_text="Gross margin on sales, for each variant's margin per customer (default 30).",
    )
    variants = VariantInputSerializer(
        many=True,
        max_length=MAX_VARIANTS,
        help_text=f"Between 2 and {MAX_VARIANTS}, exactly one of them the control.",
    )


class ExperimentInputSerializer(ExperimentChangeInputSerializer):
    brand = serializers.SlugField(max_length=60, help_text="Slug of one of your brands.")


class PromoteInputSerializer(serializers.Serializer):
    variant = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="Id of the experiment's variant that won."
    )


# --- Experiments --------------------------------------------------------------------------------


class VariantOutputSerializer(serializers.ModelSerializer):
    promotion_name = serializers.CharField(source="promotion.name", allow_null=True, default=None)

    class Meta:
        model = ExperimentVariant
        fields = ["id", "name", "promotion", "promotion_name", "weight", "is_control"]


class VariantDetailOutputSerializer(VariantOutputSerializer):
    exposures = serializers.IntegerField(
        source="exposed_customers", help_text="Customers exposed to this variant so far."
    )

    class Meta(VariantOutputSerializer.Meta):
        fields = [*VariantOutputSerializer.Meta.fields, "exposures"]


class ExperimentOutputSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")
    variants = VariantOutputSerializer(many=True)

    class Meta:
        model = Experiment
        fields = [
            "id",
            "brand",
            "name",
            "hypothesis",
            "status",
            "audience",
            "audience_label",
            "audience_tier",
            "starts_at",
            "ends_at",
            "gross_margin_percent",
            "winner",
            "stopped_at",
            "variants",
            "created_at",
            "updated_at",
        ]


class ExperimentDetailOutputSerializer(ExperimentOutputSerializer):
    variants = VariantDetailOutputSerializer(many=True)


# --- Results ------------------------------------------------------------------------------------


class RateComparisonOutputSerializer(serializers.Serializer):
    test = serializers.SerializerMethodField(help_text="The test: a two-proportion z-test.")
    difference = serializers.FloatField(help_text="The variant's rate less the control's.")
    low = serializers.FloatField(allow_null=True, help_text="Low end of the 95% interval.")
    high = serializers.FloatField(allow_null=True, help_text="High end of the 95% interval.")
    p_value = serializers.FloatField(
        allow_null=True, help_text="Null when it cannot be computed (no variance)."
    )

    def get_test(self, comparison) -> str:
        return Z_TEST


class MoneyComparisonOutputSerializer(serializers.Serializer):
    test = serializers.SerializerMethodField(help_text="The test: Welch's t-test.")
    difference = serializers.DecimalField(
        **MONEY_DIFFERENCE, help_text="The variant's mean less the control's."
    )
    low = serializers.DecimalField(
        **MONEY_DIFFERENCE, allow_null=True, help_text="Low end of the 95% interval."
    )
    high = serializers.DecimalField(
        **MONEY_DIFFERENCE, allow_null=True, help_text="High end of the 95% interval."
    )
    p_value = serializers.FloatField(
        allow_null=True, help_text="Null when it cannot be computed (too few values, no variance)."
    )

    def get_test(self, comparison) -> str:
        return WELCH


class ComparisonsOutputSerializer(serializers.Serializer):
    """A variant against the control, metric by metric."""

    conversion_rate = RateComparisonOutputSerializer()
    revenue_per_customer = MoneyComparisonOutputSerializer()
    average_order_value = MoneyComparisonOutputSerializer()
    discount_cost_per_customer = MoneyComparisonOutputSerializer()
    incremental_margin = MoneyComparisonOutputSerializer(
        help_text="Margin per customer less the control's."
    )


class VariantResultOutputSerializer(serializers.Serializer):
    variant = serializers.IntegerField(source="variant_id")
    name = serializers.CharField()
    is_control = serializers.BooleanField()
    promotion = serializers.IntegerField(source="promotion_id", allow_null=True)
    customers = serializers.IntegerField(help_text="Exposed customers.")
    buyers = serializers.IntegerField(help_text="Exposed customers with a paid order since.")
    orders = serializers.IntegerField()
    conversion_rate = serializers.FloatField(help_text="Buyers / customers.")
    conversion_low = serializers.FloatField(
        allow_null=True, help_text="Low end of the rate's 95% Wilson interval (null: nobody)."
    )
    conversion_high = serializers.FloatField(
        allow_null=True, help_text="High end of the rate's 95% Wilson interval (null: nobody)."
    )
    revenue_per_customer = serializers.DecimalField(**MONEY)
    average_order_value = serializers.DecimalField(**MONEY)
    discount_cost_per_customer = serializers.DecimalField(**MONEY)
    margin_per_customer = serializers.DecimalField(**MONEY)
    comparisons = serializers.SerializerMethodField(
        help_text="Against the control; null for the control itself."
    )

    @extend_schema_field(ComparisonsOutputSerializer(allow_null=True))
    def get_comparisons(self, result):
        if not result.comparisons:
            return None
        return ComparisonsOutputSerializer(result.comparisons).data


class ExperimentResultsOutputSerializer(serializers.Serializer):
    experiment = serializers.IntegerField(source="experiment_id")
    currency = serializers.CharField()
    confidence = serializers.SerializerMethodField(help_text="Of the intervals and tests.")
    window_end = serializers.DateTimeField(
        help_text="Orders and exposures count until then: the experiment's end, its stop, or "
        "the time of the figures, whichever is first."
    )
    computed_at = serializers.SerializerMethodField(
        help_text="When the figures were computed (they are cached for a few minutes)."
    )
    variants = VariantResultOutputSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())

    def get_confidence(self, results) -> float:
        return CONFIDENCE

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_computed_at(self, results) -> str:
        return serializers.DateTimeField().to_representation(self.context["computed_at"])
