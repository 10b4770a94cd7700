"""Royalties: rate cards price closed plays; rights splits share each amount out (pure core in
tariff.py and splits.py; rows and jobs around them)."""
