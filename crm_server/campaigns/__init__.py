"""E-mail campaigns (issue #22): audience, throttled batches, tracking, results, engagement."""
