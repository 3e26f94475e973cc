import factory

from labels.models import Label


class LabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Label

    name = factory.Sequence(lambda n: f"Label_{n}")
    type = Label.Type.CUSTOMER
    brand = None
