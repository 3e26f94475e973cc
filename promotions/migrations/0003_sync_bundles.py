import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("brands", "0003_roles_notifications"),
        ("promotions", "0002_roles"),
    ]

    operations = [
        migrations.CreateModel(
            name="BundleManifest",
            fields=[
                ("bundle_hash", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("entries", models.JSONField(default=dict)),
                ("last_used_at", models.DateTimeField()),
            ],
            options={
                "indexes": [models.Index(fields=["last_used_at"], name="bundle_manifest_used")],
            },
        ),
        migrations.CreateModel(
            name="PromotionSnapshot",
            fields=[
                (
                    "content_hash",
                    models.CharField(max_length=64, primary_key=True, serialize=False),
                ),
                (
                    "canonical",
                    models.TextField(help_text="The compiled promotion as canonical JSON."),
                ),
                ("last_used_at", models.DateTimeField()),
            ],
            options={
                "indexes": [models.Index(fields=["last_used_at"], name="promotion_snapshot_used")],
            },
        ),
        migrations.CreateModel(
            name="BundleRelease",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.PositiveIntegerField()),
                (
                    "valid_from",
                    models.DateTimeField(help_text="Start of the window the bundle covers."),
                ),
                (
                    "valid_until",
                    models.DateTimeField(help_text="End of the window the bundle covers."),
                ),
                ("engine_version", models.CharField(max_length=16)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "manifest",
                    models.ForeignKey(
                        db_column="bundle_hash",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="releases",
                        to="promotions.bundlemanifest",
                    ),
                ),
                (
                    "store",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="brands.store",
                    ),
                ),
            ],
            options={
                "ordering": ["store", "-version"],
                "indexes": [models.Index(fields=["store", "manifest"], name="bundle_release_hash")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("store", "version"), name="bundle_release_unique"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("version__gte", 1)), name="bundle_release_version"
                    ),
                ],
            },
        ),
    ]
