"""Support tickets: the queue, the conversation with the customer, routing to teams, the SLA."""
