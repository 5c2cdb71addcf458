"""osa-console's Textual operator console: a face on osa_core, owning no logic of its own."""
