"""What a run is asked to do: the schema, its YAML files and the census and WPP tables."""
