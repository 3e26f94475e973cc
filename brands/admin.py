"""Admin for brands, stores and POS devices, and the brand scoping every admin shares.

Staff belong to brands (`Brand.staff`) and see and change only their brands' data; superusers
see everything. `BrandScopedAdminMixin` is the one mechanism: querysets, choices of related
fields, and saves are all checked against the user's brands (`brands.selectors`).
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count
from django.template.response import TemplateResponse

from brands.models import Brand, PosDevice, Store
from brands.selectors import brand_ids_for_user, scope_to_user_brands
from brands.services import pos_device_create, pos_device_revoke, pos_device_rotate_key

# How the choices of a related field reach their brand, by model label: `(brand_path,
# include_global)`. A foreign key or many-to-many field to one of these models only offers the
# rows of the user's brands. Apps add their own models with `register_brand_scoped_choices`.
_CHOICE_BRAND_PATHS: dict[str, tuple[str, bool]] = {
    "brands.brand": ("pk", False),
    "brands.store": ("brand", False),
    "brands.posdevice": ("store__brand", False),
    "catalog.category": ("brand", False),
    "catalog.product": ("brand", False),
    "customers.customer": ("brand_links__brand", False),
    "labels.label": ("brand", True),
    "orders.order": ("brand", False),
}

NOT_YOUR_BRAND = "You can only save data of the brands you work for."


def register_brand_scoped_choices(
    model_label: str, brand_path: str, *, include_global: bool = False
) -> None:
    """Scope the choices of every admin field pointing at `model_label` ("app.model")."""
    _CHOICE_BRAND_PATHS[model_label.lower()] = (brand_path, include_global)


def scoped_choices(model: type[models.Model], user) -> models.QuerySet | None:
    """The rows of `model` the user may pick in a form, or None if the model is not scoped."""
    path = _CHOICE_BRAND_PATHS.get(model._meta.label_lower)
    if path is None:
        return None
    brand_path, include_global = path
    return scope_to_user_brands(
        model._default_manager.all(), user, brand_path, include_global=include_global
    )


def object_brand_ids(obj: models.Model, brand_path: str) -> set[int | None] | None:
    """The ids of the brands `obj` belongs to, following `brand_path`; None for a global row.

    Returns None as a whole when it cannot be known yet: a new object reached through a
    many-valued relation (a new customer has no brand links before its inlines are saved).
    """
    current: list = [obj]
    for part in brand_path.split("__"):
        following: list = []
        for item in current:
            if item is None:
                following.append(None)
                continue
            if item.pk is None and _is_many_valued(item, part):
                return None
            try:
                value = getattr(item, part)
            except ObjectDoesNotExist:
                value = None
            if isinstance(value, models.Manager):
                if item.pk is None:
                    return None
                following.extend(value.all())
            else:
                following.append(value)
        current = following
    return {item.pk if isinstance(item, models.Model) else item for item in current}


def _with_select_related(queryset: models.QuerySet) -> models.QuerySet:
    """Choices whose label shows their brand or store (`Store`, `Label`, `PosDevice`)."""
    label = queryset.model._meta.label_lower
    related = {
        "brands.store": ("brand",),
        "brands.posdevice": ("store__brand",),
        "labels.label": ("brand",),
    }.get(label)
    return queryset.select_related(*related) if related else queryset


class BrandScopedChoicesMixin:
    """Related-field choices limited to the user's brands. For model admins and inlines."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            queryset = scoped_choices(db_field.related_model, request.user)
            if queryset is not None:
                kwargs["queryset"] = _with_select_related(queryset)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            queryset = scoped_choices(db_field.related_model, request.user)
            if queryset is not None:
                kwargs["queryset"] = _with_select_related(queryset)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class BrandScopedInlineMixin(BrandScopedChoicesMixin):
    """An inline whose rows are scoped to the user's brands through `brand_path`."""

    brand_path: str = "brand"
    include_global: bool = False

    def get_queryset(self, request):
        return scope_to_user_brands(
            super().get_queryset(request),
            request.user,
            self.brand_path,
            include_global=self.include_global,
        )


class BrandScopedAdminMixin(BrandScopedChoicesMixin):
    """Scope a model admin to the brands of the staff user.

    - `brand_path`: how a row reaches its brand ("brand", "store__brand", "order__brand",
      "brand_links__brand", "pk" for `Brand` itself).
    - `include_global`: also list rows without a brand (global labels, global templates). Brand
      staff see them but only superusers change or delete them.

    The changelist, change, delete and history views only find the user's rows (another
    brand's object is "not found"); related-field choices are limited to the user's brands; a
    save whose object would end up outside them is refused as a form error, and `save_model`
    refuses it again with `PermissionDenied` as the last guard.
    """

    brand_path: str = "brand"
    include_global: bool = False

    def get_queryset(self, request):
        return scope_to_user_brands(
            super().get_queryset(request),
            request.user,
            self.brand_path,
            include_global=self.include_global,
        )

    def user_may_change_object(self, request, obj) -> bool:
        """Whether the user may save `obj` as it is now (its brand after the change)."""
        allowed = brand_ids_for_user(request.user)
        if allowed is None:
            return True
        brand_ids = object_brand_ids(obj, self.brand_path)
        if brand_ids is None:
            return True
        if not brand_ids or None in brand_ids:
            return False  # a global row, or one without a brand: superusers only
        if _is_many_valued(obj, self.brand_path):
            # Shared rows (a customer known to several brands): one of the user's is enough.
            return bool(brand_ids & set(allowed))
        return brand_ids <= set(allowed)

    def has_change_permission(self, request, obj=None):
        if obj is not None and not self.user_may_change_object(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not self.user_may_change_object(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        if brand_ids_for_user(request.user) is None:
            return form_class
        model_admin = self

        class BrandScopedForm(form_class):
            def _post_clean(self):
                super()._post_clean()
                if not model_admin.user_may_change_object(request, self.instance):
                    self.add_error(None, ValidationError(NOT_YOUR_BRAND, code="brand_not_allowed"))

        BrandScopedForm.__name__ = form_class.__name__
        return BrandScopedForm

    def save_model(self, request, obj, form, change):
        if not self.user_may_change_object(request, obj):
            raise PermissionDenied(NOT_YOUR_BRAND)
        super().save_model(request, obj, form, change)


def _is_many_valued(obj: models.Model, brand_path: str) -> bool:
    """Whether the first step of `brand_path` is a to-many relation (customers' brand links)."""
    first = brand_path.split("__", 1)[0]
    try:
        field = obj._meta.get_field(first)
    except Exception:
        return False
    return bool(field.many_to_many or field.one_to_many)


class ScopedListFilter(admin.SimpleListFilter):
    """A list filter whose choices are scoped to the user's brands.

    A value that is not one of the choices (another brand's id typed into the URL) matches
    nothing, exactly as an id that does not exist: on rows shared by brands (customers) it
    would otherwise tell what the user may not see. Subclasses implement `filter`.
    """

    def queryset(self, request, queryset):
        value = self.value()
        if value in (None, ""):
            return queryset
        if value not in {str(choice) for choice, _ in self.lookup_choices}:
            return queryset.none()
        return self.filter(request, queryset, value)

    def filter(self, request, queryset, value: str):
        raise NotImplementedError


class BrandListFilter(ScopedListFilter):
    """Filter by one of the user's brands, following the admin's `brand_path`."""

    title = "brand"
    parameter_name = "brand"

    def __init__(self, request, params, model, model_admin):
        self.brand_path = getattr(model_admin, "brand_path", "brand")
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        brands = scope_to_user_brands(Brand.objects.all(), request.user, "pk")
        return [(str(pk), name) for pk, name in brands.values_list("pk", "name")]

    def filter(self, request, queryset, value: str):
        filtered = queryset.filter(**{self.brand_path: value})
        return filtered.distinct() if "__" in self.brand_path else filtered


class StoreListFilter(ScopedListFilter):
    """Filter by one of the user's stores (one query, whatever the number of stores)."""

    title = "store"
    parameter_name = "store"

    def __init__(self, request, params, model, model_admin):
        self.store_path = getattr(model_admin, "store_path", "store")
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        stores = scope_to_user_brands(Store.objects.select_related("brand"), request.user, "brand")
        return [(str(store.pk), str(store)) for store in stores]

    def filter(self, request, queryset, value: str):
        return queryset.filter(**{self.store_path: value})


# --- Brands ---------------------------------------------------------------------------------


class StoreInline(BrandScopedChoicesMixin, admin.TabularInline):
    model = Store
    extra = 0
    fields = ["code", "name", "time_zone"]
    show_change_link = True


@admin.register(Brand)
class BrandAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    brand_path = "pk"
    list_display = ["name", "slug", "currency", "time_zone", "storefront_host", "store_count"]
    list_filter = ["currency"]
    search_fields = ["name", "slug", "storefront_host"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["staff"]
    inlines = [StoreInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_store_count=Count("stores"))

    @admin.display(description="stores", ordering="_store_count")
    def store_count(self, obj) -> int:
        return obj._store_count

    def get_readonly_fields(self, request, obj=None):
        # The slug and currency are fixed once orders exist; only superusers change them.
        if obj is not None and not request.user.is_superuser:
            return ["slug", "currency"]
        return []

    def get_prepopulated_fields(self, request, obj=None):
        if obj is not None and not request.user.is_superuser:
            return {}
        return super().get_prepopulated_fields(request, obj)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "staff":
            users = get_user_model().objects.filter(is_staff=True, is_active=True)
            brand_ids = brand_ids_for_user(request.user)
            if brand_ids is not None:
                # Staff of the user's brands only. A staff user of no brand (a new hire, or
                # someone whose brand access was removed) is given a brand by a superuser:
                # otherwise any brand admin could claim them, and their role, for their brand.
                users = users.filter(staff_brands__in=brand_ids).distinct()
            kwargs["queryset"] = users.order_by("username")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Store)
class StoreAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    brand_path = "brand"
    list_display = ["code", "name", "brand", "time_zone", "device_count"]
    list_filter = [BrandListFilter, "time_zone"]
    search_fields = ["code", "name", "brand__name"]
    list_select_related = ["brand"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_device_count=Count("devices"))

    @admin.display(description="devices", ordering="_device_count")
    def device_count(self, obj) -> int:
        return obj._device_count


# --- POS devices ----------------------------------------------------------------------------


class DeviceStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(PosDevice)
class PosDeviceAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """Keys are created, rotated and revoked by `brands.services`; a plain key is shown once."""

    brand_path = "store__brand"
    list_display = ["name", "store", "brand", "key_prefix", "is_active", "last_seen_at"]
    list_filter = [DeviceStatusFilter, BrandListFilter]
    search_fields = ["name", "key_prefix", "store__code", "store__name"]
    list_select_related = ["store__brand"]
    readonly_fields = ["key_prefix", "revoked_at", "last_seen_at", "created_at"]
    actions = ["revoke_keys", "rotate_keys"]
    key_template = "admin/brands/posdevice/device_keys.html"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["store", "name"]
        return ["store", "name", "key_prefix", "created_at", "last_seen_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["store", *self.readonly_fields]

    @admin.display(description="brand", ordering="store__brand__name")
    def brand(self, obj) -> Brand:
        return obj.store.brand

    @admin.display(description="active", boolean=True, ordering="revoked_at")
    def is_active(self, obj) -> bool:
        return obj.is_active

    def save_model(self, request, obj, form, change):
        if not self.user_may_change_object(request, obj):
            raise PermissionDenied(NOT_YOUR_BRAND)
        if change:
            obj.save(update_fields=["name", "updated_at"])
            return
        device, raw_key = pos_device_create(store=obj.store, name=obj.name)
        for field in PosDevice._meta.concrete_fields:
            setattr(obj, field.attname, getattr(device, field.attname))
        obj._state.adding = False
        obj._state.db = device._state.db
        request._new_device_keys = [(device, raw_key)]

    def response_add(self, request, obj, post_url_continue=None):
        keys = getattr(request, "_new_device_keys", None)
        if keys:
            # Rendered in this response, never put in a message: the key is stored nowhere.
            return self._render_keys(request, keys, title="POS device created")
        return super().response_add(request, obj, post_url_continue)

    def _render_keys(self, request, keys, *, title: str) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "keys": keys,
        }
        return TemplateResponse(request, self.key_template, context)

    @admin.action(description="Revoke the selected devices", permissions=["change"])
    def revoke_keys(self, request, queryset):
        revoked = 0
        for device in queryset.filter(revoked_at__isnull=True):
            pos_device_revoke(device=device)
            revoked += 1
        self.message_user(request, f"{revoked} device(s) revoked.", messages.SUCCESS)

    @admin.action(description="Rotate the key of the selected devices", permissions=["change"])
    def rotate_keys(self, request, queryset):
        keys = []
        for device in queryset.select_related("store__brand"):
            if not device.is_active:
                self.message_user(
                    request, f"{device} is revoked; its key was not rotated.", messages.ERROR
                )
                continue
            keys.append((device, pos_device_rotate_key(device=device)))
        if not keys:
            return None
        return self._render_keys(request, keys, title="New POS device keys")
