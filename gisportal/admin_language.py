"""The admin in one language: choice labels of the domain are written
"Tiếng Việt / English" (the API's contract); the admin shows the half of the
page's language, as the pages do (`gisportal.messages.in_language`).

- list filters of choice fields: every admin, registered here (imported by
  the accounts app's admin);
- choice fields of forms and list columns: `OneLanguageChoicesMixin` on a
  ModelAdmin or inline."""

from django.contrib import admin

from gisportal.messages import in_language


class OneLanguageChoicesFieldListFilter(admin.ChoicesFieldListFilter):
    def choices(self, changelist):
        for choice in super().choices(changelist):
            yield {**choice, "display": in_language(choice["display"])}


admin.FieldListFilter.register(lambda field: bool(field.choices), OneLanguageChoicesFieldListFilter, take_priority=True)


class OneLanguageChoicesMixin:
    """Select boxes of choice fields with one language's labels."""

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        field = super().formfield_for_choice_field(db_field, request, **kwargs)
        field.choices = [(value, in_language(label)) for value, label in field.choices]
        return field


def choice_column(name: str, description):
    """A list column showing the choice field `name` in the page's language."""

    @admin.display(description=description, ordering=name)
    def column(model_admin, obj):
        return in_language(getattr(obj, f"get_{name}_display")())

    column.__name__ = f"{name}_shown"
    return column
