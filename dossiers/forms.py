"""Forms of the dossier pages. They parse what a person typed (types,
lengths); every rule of the domain (required applicant data, citizen ID,
channel, service point, postal delivery, location inside the province) is
checked by `services.dossier_submit`, whose errors the page puts next to the
same fields."""

from django import forms
from django.utils.translation import gettext_lazy as _

from gisportal.api import message
from layers.models import ServicePointKind
from layers.selectors import service_point_list, units_valid_on

from .models import Delivery, PostalPickup


def _limits(limit: int) -> dict[str, str]:
    return {"max_length": message(f"Tối đa {limit} ký tự.", f"At most {limit} characters.")}


def _number_errors(low: float, high: float) -> dict[str, str]:
    text = message(f"Phải là số trong [{low:g}, {high:g}].", f"Must be a number within [{low:g}, {high:g}].")
    return {"invalid": text, "min_value": text, "max_value": text}


def _coordinate(bound: float) -> forms.FloatField:
    """A longitude (180) or latitude (90) the map fills in."""
    return forms.FloatField(
        required=False,
        min_value=-bound,
        max_value=bound,
        widget=forms.HiddenInput,
        error_messages=_number_errors(-bound, bound),
    )


_CHOICE_ERROR = {"invalid_choice": message("Lựa chọn không hợp lệ.", "Not one of the choices.")}


def commune_choices() -> list[tuple[str, str]]:
    """The communes and wards in force today (2025 arrangement), by name."""
    units = units_valid_on().filter(era="2025", level="commune").only("code", "name").order_by("name", "code")
    return [("", _("— choose —"))] + [(u.code, u.name) for u in units]


def post_office_choices() -> list[tuple[str, str]]:
    """Post offices where an applicant may drop a dossier sent by post."""
    points = service_point_list(kind=ServicePointKind.POST_OFFICE, bbox=None).select_related(None).only("code", "name")
    return [("", _("— choose —"))] + [(p.code, p.name) for p in points.order_by("name", "code")]


def receiving_point_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Where an online dossier may go: a provincial centre site or a commune desk."""
    groups = []
    for kind, label in (
        (ServicePointKind.PROVINCIAL_CENTRE, _("Provincial public administration service centre")),
        (ServicePointKind.COMMUNE_DESK, _("Commune one-stop desk")),
    ):
        # Names only: the selector's joined unit would bring its polygon along.
        points = service_point_list(kind=kind, bbox=None).select_related(None).only("code", "name")
        points = points.order_by("name", "code")
        groups.append((label, [(p.code, p.name) for p in points]))
    return [("", _("— choose —"))] + groups


class SubmitForm(forms.Form):
    # Not required here: the service names each missing field, bilingually.
    applicant_name = forms.CharField(label=_("Full name"), max_length=150, required=False, error_messages=_limits(150))
    applicant_id_number = forms.CharField(
        label=_("Citizen ID number (CCCD)"),
        max_length=12,
        required=False,
        error_messages=_limits(12),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "pattern": "[0-9]{12}"}),
    )
    applicant_phone = forms.CharField(
        label=_("Phone"),
        max_length=20,
        required=False,
        error_messages=_limits(20),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    applicant_email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        required=False,
        error_messages={**_limits(254), "invalid": message("Địa chỉ email không hợp lệ.", "Enter a valid email.")},
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    applicant_address = forms.CharField(
        label=_("Address"),
        max_length=300,
        required=False,
        error_messages=_limits(300),
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    applicant_commune = forms.ChoiceField(
        label=_("Commune or ward (2025)"), required=False, choices=(), error_messages=_CHOICE_ERROR
    )
    lon = _coordinate(180)
    lat = _coordinate(90)
    receiving_point = forms.ChoiceField(
        label=_("Receiving point"), required=False, choices=(), error_messages=_CHOICE_ERROR
    )
    result_delivery = forms.ChoiceField(
        label=_("Receive the result"),
        required=False,
        choices=[(Delivery.DESK, _("At the desk")), (Delivery.POST, _("By post (public postal service)"))],
        initial=Delivery.DESK,
        widget=forms.RadioSelect,
        error_messages=_CHOICE_ERROR,
    )
    delivery_address = forms.CharField(
        label=_("Postal address for the result"),
        max_length=300,
        required=False,
        error_messages=_limits(300),
    )
    delivery_lon = _coordinate(180)
    delivery_lat = _coordinate(90)
    delivery_commune = forms.ChoiceField(
        label=_("Commune or ward of that address (2025)"), required=False, choices=(), error_messages=_CHOICE_ERROR
    )
    postal_pickup = forms.ChoiceField(
        label=_("Send the paper dossier by post"),
        required=False,
        choices=[
            ("", _("No")),
            (PostalPickup.HOME, _("Yes: a postal worker collects it at my address")),
            (PostalPickup.POST_OFFICE, _("Yes: I drop it at a post office")),
        ],
        initial="",
        widget=forms.RadioSelect,
        error_messages=_CHOICE_ERROR,
    )
    pickup_address = forms.CharField(
        label=_("Address where the postal worker collects it"),
        max_length=300,
        required=False,
        error_messages=_limits(300),
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    pickup_point = forms.ChoiceField(
        label=_("Post office where you drop it"), required=False, choices=(), error_messages=_CHOICE_ERROR
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=4000,
        required=False,
        error_messages=_limits(4000),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # Made when the form is first shown; the service turns a second POST of
    # the same form (double click, reload) into the first dossier.
    form_token = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args,
        postal_result_allowed: bool = True,
        choose_point: bool = True,
        postal_pickup_allowed: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        communes = commune_choices()
        self.fields["applicant_commune"].choices = communes
        self.fields["delivery_commune"].choices = communes
        if postal_pickup_allowed:
            self.fields["pickup_point"].choices = post_office_choices()
        else:
            # Only an online dossier of a procedure that accepts it by post.
            for name in ("postal_pickup", "pickup_address", "pickup_point"):
                del self.fields[name]
        if choose_point:
            self.fields["receiving_point"].choices = receiving_point_choices()
        else:
            # A desk officer receives at their own desk.
            del self.fields["receiving_point"]
        if not postal_result_allowed:
            self.fields["result_delivery"].choices = [(Delivery.DESK, _("At the desk"))]
        for name in ("applicant_name", "applicant_id_number", "applicant_address"):
            self.fields[name].widget.attrs["required"] = True
            self.fields[name].widget.attrs["aria-required"] = "true"

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Puts the service's messages next to the fields they name."""
        placed = {"location": "lon", "delivery_location": "delivery_commune", "procedure": None, "channel": None}
        for name, messages in errors.items():
            if name == "attachments":
                continue  # shown by the file input, which is not a form field
            field = placed.get(name, name)
            if field not in self.fields:
                field = None
            for text in messages:
                self.add_error(field, text)
