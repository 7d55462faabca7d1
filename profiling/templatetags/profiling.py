"""Template tags of the dashboard's pages."""

from django import template

from profiling.views.assets import asset_url

register = template.Library()


@register.simple_tag
def profiling_asset(name: str) -> str:
    """`{% profiling_asset "dashboard.js" %}`: the URL of one of the dashboard's own files."""
    return asset_url(name)
