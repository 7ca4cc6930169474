"""Stock: warehouses, the ledger of moves, balances, documents and reservations."""
