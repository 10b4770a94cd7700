"""Station funding: prepaid stations top up their wallet (a payment an admin records with its
bank, MoMo or cash reference), postpaid stations are invoiced each month for what their wallet
was charged. Both are read from, or written to, the ledger (central/ledger/) by idempotent keys."""
