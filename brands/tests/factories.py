import factory
from django.contrib.auth import get_user_model

from brands.models import Brand, Store
from brands.services import pos_device_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffUserFactory(UserFactory):
    is_staff = True


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")
    currency = "EUR"
    time_zone = "Europe/Paris"


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    brand = factory.SubFactory(BrandFactory)
    code = factory.Sequence(lambda n: f"store-{n}")
    name = factory.Sequence(lambda n: f"Store {n}")
    time_zone = "Europe/Paris"


def make_device(store=None, name="Till 1"):
    """A POS device and its plain key."""
    return pos_device_create(store=store or StoreFactory(), name=name)
