"""Placeholder: being written (issue 4)."""

from django.views import View


class SourcesEditView(View):
    pass


class SourcePickerView(View):
    pass


class SettingsView(View):
    pass
