"""Commissions (issue #25): policies, earned / by-hand / reversed commissions, payouts."""
