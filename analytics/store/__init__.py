"""Storage: the one owner of connections and execution, the schema, the uploads registry, privacy."""
