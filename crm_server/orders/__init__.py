"""Sales orders: orders taken in the web shop (WooCommerce), with their stock held and delivered."""
