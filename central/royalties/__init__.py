"""Royalties: rate cards price closed plays; rights splits share each amount out (pure core in
tariff.py and splits.py; rows and jobs around them).

- tariff.py, splits.py (pure): rate cards, pricing, blanket weights; exact splits, ISRC/ISWC
- cards.py, rights.py (pure): rate card and shares documents checked, every problem at once
- accrual.py (pure): an amount split into one transfer's legs, suspense parts, explanation
- models.py: RateCardRow, RightsShare, RoyaltyAccrual, SuspenseItem, BlanketDistribution
- store.py: card versions, shares, station tariff, accounts opened on demand
- jobs.py: accrue_royalty(play_id), accrue_pending(limit), accrue_play; holds.py: hold,
  release, void; suspense.py: claims; blanket.py: monthly pools; queries.py, explain.py,
  cli.py: `zamio royalty ...`

Decisions: one transfer per play, key `royalty:play:<id>`, committed with the accrual row; the
station pays from `station:<code>:wallet`, opened on demand without a floor (a payable: the
royalty is owed whether or not the station prepaid); a wallet given a floor by an operator leaves
accruals `unfunded` until it has funds.
"""
