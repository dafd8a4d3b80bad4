"""Citizen registration form. The account itself is created by
`services.citizen_register`; this form only checks what a person typed."""

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gisportal.api import message

from .models import Profile
from .validators import citizen_id_problem

_REQUIRED = {"required": message("Trường này là bắt buộc.", "This field is required.")}


def _max_length(limit: int) -> dict[str, str]:
    return {**_REQUIRED, "max_length": message(f"Tối đa {limit} ký tự.", f"At most {limit} characters.")}


class CitizenRegistrationForm(forms.Form):
    username = forms.CharField(
        label=_("User name"),
        help_text=_("Letters, digits and @ . + - _ only."),
        max_length=150,
        validators=[
            UnicodeUsernameValidator(
                message=message("Tên đăng nhập chỉ gồm chữ, số và @ . + - _.", "Letters, digits and @ . + - _ only.")
            )
        ],
        error_messages=_max_length(150),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=150,
        error_messages=_max_length(150),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        error_messages={**_max_length(254), "invalid": message("Địa chỉ email không hợp lệ.", "Enter a valid email.")},
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.RegexField(
        label=_("Phone"),
        regex=r"^\+?[0-9 .-]{8,20}$",
        max_length=20,
        required=False,
        error_messages={
            "invalid": message("Số điện thoại không hợp lệ.", "Enter a valid phone number."),
            "max_length": message("Tối đa 20 ký tự.", "At most 20 characters."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    id_number = forms.CharField(
        label=_("Citizen ID number (CCCD)"),
        help_text=_("12 digits. Kept private: other people see only the last four digits."),
        max_length=12,
        error_messages=_max_length(12),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "pattern": "[0-9]{12}"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        help_text=_("At least 8 characters, not only digits, not like your name."),
        strip=False,
        error_messages=_REQUIRED,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        error_messages=_REQUIRED,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise ValidationError(message("Tên đăng nhập đã được dùng.", "This user name is taken."))
        return username

    def clean_id_number(self) -> str:
        value = self.cleaned_data["id_number"].strip()
        problem = citizen_id_problem(value)
        if problem:
            raise ValidationError(message(*problem))
        if Profile.objects.filter(id_number=value).exists():
            raise ValidationError(
                message("Số CCCD này đã có tài khoản.", "This citizen ID number already has an account.")
            )
        return value

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", message("Hai mật khẩu không khớp.", "The two passwords differ."))
        elif first:
            # The validators compare the password with the user's name and email.
            candidate = get_user_model()(username=cleaned.get("username", ""), email=cleaned.get("email", ""))
            candidate.first_name = cleaned.get("full_name", "")
            try:
                password_validation.validate_password(first, user=candidate)
            except ValidationError as problems:
                self.add_error("password1", problems)
        return cleaned
