"""WhatsApp on the desktop: the composer of a lead or client."""
