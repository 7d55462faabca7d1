from django.db import models


class Item(models.Model):
    """A row of the benchmark's realistic request: read, rendered, summarised."""

    name = models.CharField(max_length=100)
    category = models.CharField(max_length=30, db_index=True)
    price_cents = models.IntegerField()
    description = models.TextField()

    class Meta:
        app_label = "bench_workload"

    def __str__(self) -> str:
        return self.name
