"""The desktop app. Qt lives here and only here: the core never imports it."""
