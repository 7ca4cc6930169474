"""Website forms: admin-defined lead forms a website embeds and posts to (/webhooks/forms/<key>)."""
