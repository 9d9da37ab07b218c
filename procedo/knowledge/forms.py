from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.core.forms import FormTokenMixin
from procedo.knowledge import search, services
from procedo.knowledge.models import Article, Audience, Category, Kind, Language, Status, Technique


class ArticleForm(FormTokenMixin):
    """One form for a new article and for a new revision of one (kind and language fixed then)."""

    kind = forms.ChoiceField(label=_("Kind"), choices=Kind.choices)
    language = forms.ChoiceField(label=_("Language of the text"), choices=Language.choices)
    audience = forms.ChoiceField(label=_("Who may read it"), choices=Audience.choices)
    status = forms.ChoiceField(label=_("Status"), choices=Status.choices, initial=Status.DRAFT)
    title = forms.CharField(label=_("Title"), max_length=services.TITLE_MAX)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.all(), required=False
    )
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=services.TAGS_MAX * (services.TAG_MAX + 2),
        help_text=_("Separated by commas."),
    )
    body = forms.CharField(
        label=_("Text"),
        required=False,
        max_length=services.BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    objection = forms.CharField(
        label=_("The objection, as the customer says it"), required=False, max_length=200
    )
    technique = forms.ChoiceField(
        label=_("Technique"), choices=[("", "—"), *Technique.choices], required=False
    )
    script = forms.CharField(
        label=_("Response script"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    follow_up = forms.CharField(
        label=_("Follow-up questions"),
        required=False,
        max_length=3000,
        help_text=_("One a line."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    next_step = forms.CharField(label=_("Next step"), required=False, max_length=1000)
    note = forms.CharField(label=_("What changed"), required=False, max_length=services.NOTE_MAX)
    based_on = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args: Any, article: Article | None = None, **kwargs: Any) -> None:
        if article is not None and "initial" not in kwargs:
            protocol = article.protocol or {}
            kwargs["initial"] = {
                "kind": article.kind,
                "language": article.language,
                "audience": article.audience,
                "status": article.status,
                "title": article.title,
                "category": article.category_id,
                "tags": ", ".join(sorted(tag.name for tag in article.tags.all())),
                "body": article.body,
                "objection": protocol.get("objection", ""),
                "technique": protocol.get("technique", ""),
                "script": protocol.get("script", ""),
                "follow_up": "\n".join(protocol.get("follow_up", [])),
                "next_step": protocol.get("next_step", ""),
                "based_on": article.revision,
            }
        super().__init__(*args, **kwargs)
        if article is not None:  # a revision keeps the kind, the language and the status
            for name in ("kind", "language", "status"):
                del self.fields[name]

    def protocol(self, kind: str) -> dict[str, Any] | None:
        data = self.cleaned_data
        if kind != Kind.OBJECTION:
            return None
        return {
            "objection": data["objection"],
            "technique": data["technique"],
            "script": data["script"],
            "follow_up": [line.strip() for line in data["follow_up"].splitlines() if line.strip()],
            "next_step": data["next_step"],
        }

    def tag_names(self) -> list[str]:
        return [name for name in self.cleaned_data["tags"].split(",") if name.strip()]


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=search.QUERY_MAX)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All")), *Kind.choices], required=False
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All")), *Status.choices], required=False
    )
