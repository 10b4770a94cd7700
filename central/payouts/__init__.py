"""Payouts: money out to artists and rights holders by mobile money, and money in from stations.

- provider.py (pure): what a payment provider does (check an account, take a transfer under our
  reference, tell its status); the reference is made from the ledger hold, before any request
- momo.py: the MTN MoMo Disbursement API connector; momo_sim.py: a simulator of that API
"""
