"""The inbound email pipe: mail from a provider's webhook or a mail server's pipe becomes tickets
and ticket replies, every message kept raw in a log with its outcome."""
