"""How the API names a model line in a request: by its name (a slug), as the README shows.

A number is still read as the line's id, so clients written against the first API keep working;
a name is looked up first, so a line named "12" is never mistaken for the line with id 12.
"""

from typing import Any

from rest_framework import serializers

from apps.modellines.models import ModelLine

MAX_NAME = ModelLine._meta.get_field("name").max_length


class ModelLineField(serializers.SlugRelatedField):
    default_error_messages = {
        "does_not_exist": 'no model line is named {value} (give its name, e.g. "demo")',
        "pk_does_not_exist": "model line {value} does not exist",
        "invalid": "give the model line's name",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "the model line's name (its id is accepted too)")
        super().__init__(slug_field="name", queryset=ModelLine.objects.all(), **kwargs)

    def to_internal_value(self, data: object) -> ModelLine:
        # A float (1.5) is not an id; a text that no name could be (NUL, too long) is not looked up at all.
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, str) and (len(data) > MAX_NAME or not data.isprintable()):
            self.fail("invalid")
        by_name = ModelLine.objects.filter(name=str(data)).first()
        if by_name is not None:
            return by_name
        if isinstance(data, int) or data.isdigit():
            by_id = ModelLine.objects.filter(pk=int(data)).first()
            if by_id is None:
                self.fail("pk_does_not_exist", value=data)
            return by_id
        self.fail("does_not_exist", value=data)
