"""Products and services sold, and the VAT rates they carry (the first room of the sales area)."""
