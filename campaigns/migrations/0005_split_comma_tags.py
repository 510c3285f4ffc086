"""Split stored tags that contain a comma into one tag per part.

Tag names may no longer contain a comma (``campaigns.sources.tags_clean``): a comma separates
tags in ``?tag=`` filters and in the UI's tag fields, so a tag "a,b" could never be filtered
by, an API client sending back the tags it read would be refused, and the goal builder already
turns it into "a" and "b" when the goal is saved. This gives every object carrying such a tag
the parts instead ("a,b" -> "a", "b"; blank parts dropped), each in the object's own spelling,
a part the object already carries (compared case-insensitively) not added twice, and deletes
the comma tags. Campaigns, broadcasts and goals alike: they share taggit's tables.

Not reversible (the parts cannot be told from tags that were separate): unapplying does
nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.utils.text import slugify


def _free_slug(tag_model: Any, db: str, name: str) -> str:
    """A slug no tag has, made the way taggit's ``TagBase.save`` makes one (historical models
    have no custom ``save``)."""
    base = slugify(name, allow_unicode=True)
    taken = set(
        tag_model.objects.using(db).filter(slug__startswith=base).values_list("slug", flat=True)
    )
    slug, i = base, 1
    while slug in taken:
        slug, i = f"{base}_{i}", i + 1
    return slug


def split_comma_tags(apps: Any, schema_editor: Any) -> None:
    tag_model = apps.get_model("taggit", "Tag")
    item_model = apps.get_model("taggit", "TaggedItem")
    db = schema_editor.connection.alias
    tags = tag_model.objects.using(db)
    items = item_model.objects.using(db)

    def tag_named(name: str) -> Any:
        # Exact (case-sensitive) match: the object keeps the spelling it was given.
        tag = tags.filter(name=name).first()
        if tag is None:
            tag = tags.create(name=name, slug=_free_slug(tag_model, db, name))
        return tag

    for comma_tag in list(tags.filter(name__contains=",").order_by("pk")):
        parts = [part.strip() for part in comma_tag.name.split(",") if part.strip()]
        for item in list(items.filter(tag=comma_tag).order_by("pk")):
            obj = {"content_type_id": item.content_type_id, "object_id": item.object_id}
            others = items.filter(**obj).exclude(pk=item.pk)
            carried = {name.casefold() for name in others.values_list("tag__name", flat=True)}
            for part in parts:
                if part.casefold() not in carried:
                    carried.add(part.casefold())
                    items.create(tag=tag_named(part), **obj)
            item.delete()
        comma_tag.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_pendingmetric"),
        ("taggit", "0006_rename_taggeditem_content_type_object_id_taggit_tagg_content_8fc721_idx"),
    ]

    operations = [migrations.RunPython(split_comma_tags, migrations.RunPython.noop)]
