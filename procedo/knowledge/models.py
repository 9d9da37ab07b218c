"""The knowledge base: articles (FAQ, solutions, procedures, objection-handling protocols).

An article's current text lives on its row; every edit also writes a `Revision`
(its author, its date, the whole text), so the history is never lost and the page
shows it. Search reads an index the services keep (see `procedo.knowledge.search`),
not these columns. Which article was opened from which task is an `ArticleOpen`
row, one per (article, task, person), so the SOP review can ask "were the scripts used".
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    FAQ = "faq", _("FAQ")
    SOLUTION = "solution", _("Solution")
    PROCEDURE = "procedure", _("Internal procedure")
    OBJECTION = "objection", _("Objection-handling protocol")


class Audience(models.TextChoices):
    INTERNAL = "internal", _("Internal")
    PUBLIC = "public", _("Public")


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class Language(models.TextChoices):
    UK = "uk", _("Ukrainian")
    EN = "en", _("English")
    RU = "ru", _("Russian")


class Technique(models.TextChoices):
    REFRAME = "reframe", _("Acknowledge and reframe")
    QUESTIONS = "questions", _("Questions")
    SOCIAL_PROOF = "social_proof", _("Social proof")
    FACTS = "facts", _("Facts")
    COMPENSATION = "compensation", _("Compensation")


class Category(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("category")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(_("tag"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("tag")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    # The address and the name SOP definitions use to link to the article.
    slug = models.SlugField(_("address"), max_length=80, unique=True, allow_unicode=False)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    audience = models.CharField(
        _("audience"), max_length=10, choices=Audience.choices, default=Audience.INTERNAL
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default="draft")
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True, default="")
    # An objection-handling protocol's parts (procedo.knowledge.protocol.Protocol), {} otherwise.
    protocol = models.JSONField(default=dict, blank=True)
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("article")
        indexes = [models.Index(fields=["kind", "status", "audience"], name="knowledge_kind")]

    def __str__(self) -> str:
        return self.title


class Revision(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True, default="")
    protocol = models.JSONField(default=dict, blank=True)
    note = models.CharField(_("what changed"), max_length=300, blank=True, default="")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("date"), default=timezone.now)

    class Meta:
        verbose_name = _("revision")
        ordering = ["article", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="knowledge_revision_once")
        ]

    def __str__(self) -> str:
        return f"{self.article_id} r{self.number}"


class ArticleOpen(models.Model):
    """Someone opened an article from a task (or a deal, a ticket…); first and last time, count."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="opens")
    # Where it was opened from: ("task", 12), ("deal", 4), ("ticket", 9)…
    subject_type = models.CharField(max_length=20)
    subject_id = models.BigIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_opened_at = models.DateTimeField(default=timezone.now)
    last_opened_at = models.DateTimeField(default=timezone.now)
    times = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("article opened")
        indexes = [
            models.Index(fields=["subject_type", "subject_id"], name="knowledge_open_subject")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "user", "subject_type", "subject_id"],
                name="knowledge_open_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.article_id} from {self.subject_type}:{self.subject_id}"
