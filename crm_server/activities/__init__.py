"""Activities on leads and clients: notes, follow-ups with reminders, the timeline, notification choices."""
