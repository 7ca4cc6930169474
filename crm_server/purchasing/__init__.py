"""Purchasing: purchase orders from vendors, received into stock by receipt documents."""
