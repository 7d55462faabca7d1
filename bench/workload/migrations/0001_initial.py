from django.db import migrations, models

CATEGORIES = ["books", "music", "tools", "garden", "toys"]


def seed(apps, schema_editor):
    Item = apps.get_model("bench_workload", "Item")
    Item.objects.bulk_create(
        Item(
            name=f"item {i}",
            category=CATEGORIES[i % len(CATEGORIES)],
            price_cents=100 + (i * 37) % 5000,
            description=("A fairly ordinary description of an ordinary item. " * (1 + i % 4)).strip(),
        )
        for i in range(500)
    )


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("category", models.CharField(db_index=True, max_length=30)),
                ("price_cents", models.IntegerField()),
                ("description", models.TextField()),
            ],
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
