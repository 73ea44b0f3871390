"""The SQL store: schema, migrations, the group-commit writer and the tracking store."""
