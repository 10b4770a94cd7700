"""The ledger: double-entry, append-only, in integer minor units (GHS pesewas), after TigerBeetle.

- accounts.py: kinds (station wallet, earnings, society pools, suspense, ...), open_account
- transfer.py (pure): TransferRequest -> Draft (canonical legs, content hash); holds, reversals
- balances.py (pure): four totals per account, balance rules (a floor per account)
- chain.py (pure): content and chain hashes; audit.py (pure): the invariants verify checks
- posting.py: post_transfer, post_pending, void_pending, reverse; retry.py: run_in_transaction
- queries.py: balance, statement; verify.py: verify; cli.py: `zamio ledger ...`

Decisions: the journal (ledger_transfer, ledger_entry) is never updated: a hold is a pending
transfer resolved by a new transfer, a correction is a reversal; the database refuses UPDATE and
DELETE itself (triggers, migration 0008). A transfer's id is made from its idempotency key. The
only rows that change are account totals (under row locks, in account-id order, in the same
transaction as the entries) and the one-row chain head, which serializes postings so the hash
chain follows commit order.
"""
