"""The dashboard: widgets contributed by core and the enabled plugins."""
