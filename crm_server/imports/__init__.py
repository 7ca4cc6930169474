"""Imports of spreadsheets: leads, clients with contacts, contacts, products with opening stock."""
