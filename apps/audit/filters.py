"""Filtering audit events by model line, fact, actor, action and date; shared by the UI and the API."""

import django_filters
from django import forms
from django.db.models import QuerySet

from apps.audit.models import AuditEvent
from apps.core.api import IdFilter


class AuditEventFilter(django_filters.FilterSet):
    model_line = IdFilter(field_name="model_line_id")
    fact = IdFilter(field_name="fact_id")
    actor = django_filters.CharFilter(field_name="actor_name", help_text="username, or 'automation'")
    action = django_filters.CharFilter(
        method="filter_action", help_text="exact action (fact.approved) or a prefix ending in a dot (fact.)"
    )
    since = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = AuditEvent
        fields = ["model_line", "fact", "actor", "action", "since", "until"]

    def filter_action(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        if not value:
            return queryset
        return queryset.filter(action__startswith=value) if value.endswith(".") else queryset.filter(action=value)
