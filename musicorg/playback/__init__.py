"""Playback: a streaming decoder, the player (one output device, a decoder thread, events), the
play queue, and the rules of what counts as a play or a skip. Used by the app layer only
(``musicorg.app.playback``); no Qt here."""
